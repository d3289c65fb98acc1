"""The flow every scheduled stage runs under (`rcoi serve --plan`): it takes the stage's
database key for the session as a lease it renews while it runs (a second run at the same time
does nothing; a killed run's key is free again within minutes), runs the stage's
own flow, and, when the stage must wait for people — printing behind its gate, the package
behind an open verification queue, the lists behind missing results — alerts the coordinator
and ends as waiting instead of failing; the next scheduled run tries again. A run whose key was
taken over or given back by hand while it ran stops at its next side effect (the upload checks
before each file) and fails."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect.runtime import flow_run

from config.settings import Settings
from flows.labels import is_waiting, stage_flow, waiting
from tasks.adapters.plan_files import resolve_plan_path
from tasks.errors import DataError
from tasks.plan import read_plan
from tasks.plan_stage import alert_waiting, ensure_key_held, stage_key

__all__ = ["STAGE_FLOWS", "plan_stage"]


def _run(stage: str, out: str, plan: str, session: str) -> dict[str, Any]:
    """The stage's own flow with the served folders: `<out>/inbox/<session>/` for МОУО
    files, `<out>/incoming/<session>/` for scans (MINUTES: how long verify and upload wait)."""
    from flows import collect, copy, grade, inform, print_kits, reconcile, scan, upload, verify

    common = {"out": out, "plan": plan, "session": session}
    base = Path(out)
    runs: dict[str, Any] = {
        "collect": lambda: collect.collect(inbox=str(base / "inbox" / session), **common),
        "reconcile": lambda: reconcile.reconcile(**common),
        "print": lambda: print_kits.print_kits(**common),
        "copy": lambda: copy.copy(**common),
        "grade": lambda: grade.grade(**common),
        "scan": lambda: scan.run_scan(folder=str(base / "incoming" / session), **common),
        "verify": lambda: verify.verify(**common, poll_seconds=60.0, timeout_seconds=23 * 3600.0),
        "upload": lambda: upload.upload(**common, poll_seconds=300.0, timeout_seconds=5 * 3600.0),
        "inform": lambda: inform.inform(**common),
    }
    return dict(runs[stage]())


STAGE_FLOWS = (
    "collect",
    "reconcile",
    "print",
    "copy",
    "grade",
    "scan",
    "verify",
    "upload",
    "inform",
)


@stage_flow(None, name="plan-stage")
def plan_stage(stage: str, plan: str, session: str, out: str = "out") -> Any:
    """Run `stage` of `session` of `plan` once, guarded by the stage's database key. A stage
    that must wait for people ends «Ожидание» (Completed) with the reason, and the coordinator
    is mailed once a day per stage and reason."""
    if stage not in STAGE_FLOWS:
        raise ValueError(f"unknown stage {stage!r}: one of {', '.join(STAGE_FLOWS)}")
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    holder = str(flow_run.get_id() or f"local-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    with stage_key(settings, the_plan.id, session, stage, holder) as taken:
        if not taken:
            return {"stage": stage, "status": "skipped: already running"}
        try:
            summary = _run(stage, out, plan, session)
        except DataError as exc:  # raised outside a stage flow's own guard: the same wait
            summary = {"status": "waiting", "reason": exc.reason}
        ensure_key_held()  # taken over meanwhile: fail, neither alert nor report completed
    if is_waiting(summary):
        day = f"{datetime.now(UTC):%Y-%m-%d}"
        reason = str(summary["reason"])
        alerted = alert_waiting(settings, the_plan.id, session, stage, reason, day)
        return waiting(reason, stage=stage, alerted=alerted)
    return {"stage": stage, "status": "completed", "summary": summary}
