"""Collect flow: every МОУО file in the inbox checked, staged and answered (seed 000 row 4)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.collect import collect_file, find_submissions, publish_collect_table, submitted_mouos
from tasks.domain.collect import FileVerdict
from tasks.plan import read_plan


@stage_flow("collect")
def collect(
    inbox: str, out: str = "out", plan: str = "kemerovo-2017-essay", session: str | None = None
) -> dict[str, Any]:
    """Check every new or changed file under `<inbox>/<mouo_code>/` against the submission
    contract; a file that fails is answered and kept, and never stops the others."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_code = session or the_plan.sessions[0].id
    verdicts: list[FileVerdict] = []
    for mouo_code, path in find_submissions(Path(inbox)):
        state = collect_file(
            settings,
            the_plan.id,
            session_code,
            the_plan.procedure,
            mouo_code,
            path,
            return_state=True,
        )
        if state.is_completed():
            verdicts.append(state.result())
        else:  # a bug or an outage on one file: reported, the batch goes on
            get_run_logger().error("file %s of %s failed: %s", path.name, mouo_code, state.name)
            verdicts.append(
                FileVerdict(
                    mouo_code, path.name, "", "error", reason=f"сбой обработки: {state.name}"
                )
            )
    publish_collect_table(verdicts, the_plan.id, session_code)
    summary = summarise(verdicts)
    summary["mouos_submitted"] = submitted_mouos(settings, the_plan.id, session_code)
    return summary


def summarise(verdicts: list[FileVerdict]) -> dict[str, Any]:
    """Counts of the run for summary.json (no personal data)."""
    processed = [v for v in verdicts if v.status != "skipped"]
    by_rule: dict[str, int] = {}
    for verdict in processed:
        for rule, count in verdict.rejected_by_rule:
            by_rule[rule] = by_rule.get(rule, 0) + count
    return {
        "files": len(verdicts),
        "files_skipped": len(verdicts) - len(processed),
        "files_accepted": sum(v.status == "accepted" for v in processed),
        "files_rejected": sum(v.status in ("rejected", "error") for v in processed),
        "rows_read": sum(v.rows_read for v in processed),
        "rows_accepted": sum(v.rows_accepted for v in processed),
        "rows_rejected": sum(v.rows_rejected for v in processed),
        "rows_warned": sum(v.rows_warned for v in processed),
        "rejected_by_rule": dict(sorted(by_rule.items())),
        # the notes quote the МОУО's headers and sheet names: their count here, the text in the
        # report and the mail to the МОУО
        "verdicts": [
            {k: v for k, v in asdict(x).items() if k not in ("rejected_by_rule", "notes")}
            | {"file_notes": len(x.notes)}
            for x in processed
        ],
    }
