"""Exam-day simulator flow (issue 4): from the printed kits to what the schools send back —
scanned originals of every issued page, handwritten and marked, as office scanners deliver
them — with the ground truth the scan stage is measured against (docs/exam-day-simulator.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.utilities.annotations import quote

from tasks.adapters.plan_files import load_plan, resolve_plan_path
from tasks.domain.exam_day_scans import scan_options
from tasks.simulate import plan_exam_day, scan_batches, write_exam_day


@flow(name="simulate-exam", flow_run_name="simulate-exam · {print_dir}")
def simulate_exam(
    print_dir: str,
    out: str = "out",
    seed: int = 42,
    topics: list[str] | None = None,
    preset: str = "moderate",
    effects: dict[str, Any] | None = None,
    off: list[str] | None = None,
    exam: dict[str, Any] | None = None,
    workers: int | None = None,
    plan: str | None = None,
) -> dict[str, Any]:
    """Simulate the exam day of the session printed in `print_dir` and write
    `<out>/exam_day/<session>/` (scans per school, ground truth, room records). The same seed
    gives the same files, byte for byte; a re-run replaces the previous output. `plan` (an id
    or a file) only names the run's artifacts; without it they carry the region's code."""
    plan_id = load_plan(resolve_plan_path(plan)).id if plan else None
    scan = scan_options(preset, effects, off or ())
    day = plan_exam_day(Path(print_dir), seed, topics, exam, scan, preset)
    folder = Path(out) / "exam_day" / day.manifest.session
    work_dir = folder.with_name(f".{folder.name}.partial")
    # quote: the day's plan holds every page's ink; Prefect must not walk it for futures.
    run = scan_batches(quote(day), work_dir, workers, plan_id)
    return write_exam_day(quote(day), quote(run), work_dir, folder, plan_id)
