"""Reconcile flow (выверка РБД, seed 000 row 5): consolidate every МОУО's accepted rows into
the regional database, report discrepancies, and open or keep closed the print gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.plan import read_plan
from tasks.reconcile import reconcile_session


@stage_flow("reconcile")
def reconcile(
    out: str = "out", plan: str = "kemerovo-2017-essay", session: str | None = None
) -> dict[str, Any]:
    """Run the reconciliation of one session; safe to run again at any time (decisions kept,
    registrations and discrepancies updated in place, reports mailed only when they change)."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_code = session or the_plan.sessions[0].id
    return reconcile_session(
        settings, the_plan.id, session_code, the_plan.school_year, the_plan.procedure
    )
