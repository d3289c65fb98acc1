"""Scan flow (сканирование оригиналов бланков, issue 5): every page of the scanned originals
identified, its marks and handwritten codes read, cross-checked against the session, and
accounted for (accepted, to verify, or rejected into quarantine); records as JSON lines
(docs/recognition.md), in the regional database for a campaign's session.

Recognition runs on a local process pool, or on a Dask cluster when an address is given
(`RCOI_DASK_ADDRESS` or `dask_address`): then every chunk of files is a task run there."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed
from prefect.utilities.annotations import quote, unmapped

from config import TOPICS_DIR
from config.settings import Settings
from flows.labels import stage_flow
from tasks import progress
from tasks.adapters.exam_day_files import session_topics
from tasks.adapters.plan_files import resolve_plan_path
from tasks.artifacts import NO_PLAN, artifact_key
from tasks.plan import read_plan
from tasks.scan import (
    chunk_rows,
    finish_scan,
    plan_scan,
    recognise_chunk_task,
    recognise_scans,
    scan_session_codes,
    store_scan,
)

__all__ = ["run_scan", "scan"]


@stage_flow("scan")
def scan(
    folder: str,
    out: str = "out",
    results: str | None = None,
    plan: str | None = None,
    session: str | None = None,
    print_dir: str | None = None,
    topics: list[str] | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Recognise every scan under `folder`. With `plan` and `session` the session's codes come
    from the regional database and the records go there too; with `print_dir` from its print
    manifest; with neither, the batch stands alone. Safe to run again: files already
    recognised (same content) are taken from the work folder, and the outcome is the same."""
    started = time.perf_counter()
    settings = Settings(out_dir=Path(out))
    campaign_code = session_code = None
    if plan is not None:
        the_plan = read_plan(resolve_plan_path(plan))
        campaign_code, session_code = the_plan.id, session or the_plan.sessions[0].id
    topic_numbers = tuple(topics or ()) or tuple(
        (session_topics(TOPICS_DIR, session_code) if session_code else None) or ()
    )
    name = session_code or Path(folder).name
    scope = (campaign_code or NO_PLAN, name)  # the artifacts' keys: plan and session
    results_path = Path(results) if results else settings.out_dir / "scan" / name / "results.jsonl"
    work_dir = results_path.with_name(f".{results_path.stem}.work")
    cores = workers or os.cpu_count() or 1
    batch = plan_scan(Path(folder), work_dir, cores, topic_numbers)
    codes = scan_session_codes(
        settings, campaign_code, session_code, Path(print_dir) if print_dir else None, topic_numbers
    )
    if dask_address:
        futures = recognise_chunk_task.map(
            [chunk_rows(chunk) for chunk in batch.chunks],
            unmapped(str(work_dir / "pages")),
            unmapped(list(topic_numbers)),
        )
        artifact = create_progress_artifact(
            0.0, key=artifact_key("scan-progress", *scope), description="Распознавание: готово, %"
        )
        shown = progress.bar("Распознавание", len(batch.chunks))
        files = []
        for done, future in enumerate(as_completed(futures), start=1):
            files += future.result()
            update_progress_artifact(artifact, 100.0 * done / max(len(batch.chunks), 1))  # type: ignore[arg-type]
            shown.advance()
    else:
        files = recognise_scans(quote(batch.chunks), cores, *scope)
    records, images, summary = finish_scan(
        quote(batch),
        quote(files),
        quote(codes),
        results_path,
        work_dir.with_name("quarantine"),
        started,
        *scope,
    )
    if campaign_code and session_code:
        summary["stored"] = store_scan(
            settings, campaign_code, session_code, quote(records), quote(images), summary
        )
    return summary


def run_scan(dask_address: str | None = None, **parameters: Any) -> dict[str, Any]:
    """Run the flow, on the Dask cluster at `dask_address` (or `RCOI_DASK_ADDRESS`) if any."""
    address = dask_address or os.environ.get("RCOI_DASK_ADDRESS") or None
    if not address:
        return scan(**parameters)
    from prefect_dask import DaskTaskRunner

    runner = DaskTaskRunner(address=address)
    return scan.with_options(task_runner=runner)(dask_address=address, **parameters)
