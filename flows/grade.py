"""Grade flow (проверка работ экспертами, seed 000 row 15): the schools' electronic expert
protocols in, checked by the `evaluations` contract (bad rows rejected with a reason, the rest
accepted); the marks transcribed onto the scanned originals compared with them; the school
year's rule, flagged works and the amount of writing checked; every finding queued for
verification; each school's progress against the 7-day deadline (the watchdog alerts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.grade import check_grades, load_protocols
from tasks.plan import read_plan

__all__ = ["grade"]


@stage_flow("grade")
def grade(
    out: str = "out",
    plan: str = "kemerovo-2017-essay",
    session: str | None = None,
    protocols: str | None = None,
) -> dict[str, Any]:
    """Protocols from `protocols` (default `<out>/exam_day/<session>/protocols`), reports of
    rejected rows under `<out>/grade/<session>/rejected/`. Run it again whenever a school
    sends a protocol: evaluations are replaced, findings keyed, nothing is duplicated."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_code = session or the_plan.sessions[0].id
    folder = (
        Path(protocols) if protocols else settings.out_dir / "exam_day" / session_code / "protocols"
    )
    loaded = load_protocols(
        settings,
        the_plan.id,
        session_code,
        folder,
        settings.out_dir / "grade" / session_code / "rejected",
    )
    checked = check_grades(settings, the_plan.id, session_code)
    return {"protocols": loaded, **checked}
