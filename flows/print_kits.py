"""Print flow (распечатка форм и индивидуальных комплектов, seed 000 rows 6 and 8): one kit
per registered participant with a unique work code, reserve kits, additional answer blanks,
room forms, one PDF per school, the layouts and the print manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.domain.print_kits import PrintOptions
from tasks.plan import read_plan
from tasks.print_kits import check_print_gate, print_session


@stage_flow("print")
def print_kits(
    out: str = "out",
    plan: str = "kemerovo-2017-essay",
    session: str | None = None,
    reserve_per_school: int = 2,
    additional_share: float = 0.1,
    additional_min: int = 2,
    workers: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Print one session. Refused while reconciliation has open critical discrepancies; safe to
    run again (codes already issued are kept, unchanged schools are not rebuilt)."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_code = session or the_plan.sessions[0].id
    check_print_gate(settings, the_plan.id, session_code)
    options = PrintOptions(reserve_per_school, additional_share, additional_min)
    return print_session(
        settings, the_plan.id, session_code, the_plan.title, options, workers, seed
    )
