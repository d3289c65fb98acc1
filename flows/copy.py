"""Copy flow (копирование бланков для проверки, seed 000 rows 12–14): the schools' ИС-05 room
records and grading commissions in; the copy register of each school (every written work but
those flagged «Не закончил»/«Удален») and each expert's package of copies out; every work to
copy assigned to exactly one expert of its school's commission, load balanced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.copy import (
    assign_works,
    build_expert_packages,
    load_commissions,
    load_room_records,
    write_copy_registers,
)
from tasks.plan import read_plan

__all__ = ["copy"]


@stage_flow("copy")
def copy(
    out: str = "out",
    plan: str = "kemerovo-2017-essay",
    session: str | None = None,
    records: str | None = None,
    commissions: str | None = None,
    packages: bool = True,
    workers: int | None = None,
) -> dict[str, Any]:
    """Room records from `records` (default `<out>/exam_day/<session>/room_records`), the
    commissions from `commissions` (default beside them), then assignment, registers under
    `<out>/copy/<session>/registers/` and packages under `.../packages/<school>/`. Safe to
    run again: records are replaced, assignments kept, files rewritten whole."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_code = session or the_plan.sessions[0].id
    day = settings.out_dir / "exam_day" / session_code
    folder = settings.out_dir / "copy" / session_code
    summary: dict[str, Any] = {
        "room_records": load_room_records(
            settings,
            the_plan.id,
            session_code,
            Path(records) if records else day / "room_records",
            folder / "rejected_room_records",
        )
    }
    summary["experts"] = load_commissions(
        settings, Path(commissions) if commissions else day / "commissions.csv"
    )
    summary["assignment"] = assign_works(settings, the_plan.id, session_code)
    summary["register"] = write_copy_registers(
        settings, the_plan.id, session_code, folder / "registers"
    )
    if packages:
        summary["packages"] = build_expert_packages(
            settings, the_plan.id, session_code, folder / "packages", workers
        )
    return summary
