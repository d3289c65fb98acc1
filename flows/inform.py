"""Inform flow (информирование участников, seed 000 row 19): the results lists per school and
per МОУО (PDF, XLSX; graduates of past years in the list of their МОУО of residence), the
statistics report with charts, the retake list, and the lists mailed to every МОУО with a link
to acknowledge receipt; the watchdog alerts on a МОУО that has not acknowledged by the plan's
deadline. Participants look their result up on `rcoi web` (`/results/`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.inform import mail_results, write_documents
from tasks.plan import read_plan

__all__ = ["inform"]


@stage_flow("inform")
def inform(
    out: str = "out", plan: str = "kemerovo-2017-essay", session: str | None = None
) -> dict[str, Any]:
    """Documents under `<out>/inform/<session>/`, then the mail. Safe to run again: unchanged
    documents are not mailed twice."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_code = session or the_plan.sessions[0].id
    documents = write_documents(settings, the_plan.id, session_code)
    mailed = mail_results(settings, the_plan.id, session_code, documents)
    return {**{k: v for k, v in documents.items() if k != "schools_of_mouo"}, "mail": mailed}
