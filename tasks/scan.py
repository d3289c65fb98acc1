"""Prefect tasks of the scan stage: plan the batch, recognise it (local pool or Dask), check,
quarantine, write the records, check the recognition contract, store in the database."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from config.settings import Settings
from tasks.adapters.contracts import load_contract, run_contract
from tasks.adapters.database import bootstrap
from tasks.adapters.digits import font_model
from tasks.adapters.scan_batch import (
    Chunk,
    FileRead,
    ScanJob,
    chunks_of,
    plan_jobs,
    recognise_chunk,
    recognise_local,
    save_quarantine,
)
from tasks.adapters.scan_files import count_frames
from tasks.adapters.scan_store import session_codes, store_records
from tasks.adapters.submissions import mark_stage_completed, plan_stage_id, session_info
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.artifacts import (
    NO_PLAN,
    artifact_key,
    markdown_artifact,
    markdown_table,
    status_ru,
    table_artifact,
)
from tasks.domain.page_reading import REASONS, REJECTED, STATUSES
from tasks.domain.scan_checks import BatchSummary, SessionCodes, check_batch, contract_frame
from tasks.errors import ContractError, DataError
from tasks.progress import progress_counter
from tasks.retries import transient_failure

__all__ = [
    "ScanBatch",
    "chunk_rows",
    "finish_scan",
    "plan_scan",
    "recognise_chunk_task",
    "recognise_scans",
    "scan_accuracy",
    "scan_session_codes",
    "store_scan",
]


class ScanBatch:
    """The batch as planned: its files and chunks (for the flow to hand out)."""

    def __init__(self, folder: Path, jobs: list[ScanJob], chunks: list[Chunk]) -> None:
        self.folder, self.jobs, self.chunks = folder, jobs, chunks


@task(name="plan-scan", cache_policy=NONE)
def plan_scan(folder: Path, work_dir: Path, workers: int, topics: Sequence[str] = ()) -> ScanBatch:
    """Every scan file under `folder` with its content hash, dealt into chunks."""
    if not folder.is_dir():
        raise DataError(f"папка со сканами не найдена: {folder}")
    jobs = plan_jobs(folder)
    chunks = chunks_of(jobs, work_dir / "pages", workers, tuple(topics))
    get_run_logger().info("scan batch: %d files in %d chunks", len(jobs), len(chunks))
    return ScanBatch(folder, jobs, chunks)


@task(name="recognise-scans", cache_policy=NONE)
def recognise_scans(
    chunks: list[Chunk], workers: int, plan_id: str = NO_PLAN, session: str | None = None
) -> list[FileRead]:
    """The chunks on a local process pool, a progress artifact advancing per chunk (keyed by
    the plan and the session, or the folder's name for a scan outside any plan)."""
    advance = progress_counter(
        artifact_key("scan-progress", plan_id, session), "Распознавание: готово, %", len(chunks)
    )
    return recognise_local(chunks, workers, advance)


@task(name="recognise-chunk", cache_policy=NONE)
def recognise_chunk_task(
    files: list[tuple[str, str, str, int]], cache: str, topics: list[str]
) -> list[FileRead]:
    """One chunk on a Dask worker (the flow maps this over the chunks). Plain values in: a
    chunk travels as (path, name, digest, size) rows, which Prefect's parameter handling
    leaves as they are."""
    jobs = tuple(ScanJob(Path(p), rel, digest, size) for p, rel, digest, size in files)
    return recognise_chunk(Chunk(jobs, Path(cache), tuple(topics)))


def chunk_rows(chunk: Chunk) -> list[tuple[str, str, str, int]]:
    return [(str(j.path), j.rel, j.digest, j.size) for j in chunk.jobs]


def _write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(partial, path)


def _check_contract(
    records: Sequence[dict[str, Any]],
    jobs: Sequence[ScanJob],
    files: dict[str, FileRead],
    session: SessionCodes,
    kept: set[str],
) -> None:
    # Pages per file as the workers counted them (apart from decoding); a file no worker
    # reported is counted here, so that its missing records fail the contract.
    frames = {
        job.rel: files[job.rel].frames if job.rel in files else count_frames(job.path)
        for job in jobs
    }
    run = run_contract(contract_frame(records, frames, session, kept), load_contract("recognition"))
    if not run.success:
        broken = {rule: count for rule, count in run.rules.items() if count}
        raise ContractError(f"recognition contract violated: {broken}")


@task(name="finish-scan", cache_policy=NONE)
def finish_scan(
    batch: ScanBatch,
    files: list[FileRead],
    session: SessionCodes,
    results: Path,
    quarantine: Path,
    started: float,
    plan_id: str = NO_PLAN,
    session_code: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, Any]]:
    """Cross-check the batch, quarantine the rejected pages' images, write the records
    (JSON lines, in file order), check the recognition contract; artifacts for the
    coordinator. Returns the records, where each page's image is kept, and the summary."""
    logger = get_run_logger()
    by_file = {f.rel: f for f in files}
    order = [by_file[job.rel] for job in batch.jobs if job.rel in by_file]
    pages = [page for f in order for page in f.pages]
    records, summary = check_batch(pages, font_model(), session)
    paths = {job.rel: job.path for job in batch.jobs}
    images: dict[str, str] = {}
    kept: set[str] = set()
    for record in records:
        source = paths[record["source_file"]]
        image = str(source)
        if record["status"] == REJECTED:
            copy = save_quarantine(quarantine, source, int(record["frame"]), record["page_id"])
            if copy is not None:
                record["quarantine"] = image = str(copy)
                kept.add(record["page_id"])
        # Byte-identical files share their page ids; the database keeps the first record of
        # each (store_records), so the image is the first's too.
        images.setdefault(record["page_id"], image)
    _write_jsonl(results, records)
    _check_contract(records, batch.jobs, by_file, session, kept)
    seconds = time.perf_counter() - started
    recognised = [f for f in files if not f.cached]
    out = {
        **summary.as_dict(),
        "files": len(batch.jobs),
        "files_recognised": len(recognised),
        "files_from_cache": len(files) - len(recognised),
        "seconds": round(seconds, 1),
        "pages_per_second": round(summary.pages / seconds, 1) if seconds > 0 else None,
        "results": str(results),
        "quarantine": str(quarantine),
    }
    _artifacts(out, summary, plan_id, session_code)
    logger.info(
        "scanned %d pages: %s; %d missing, %d orphan",
        summary.pages,
        ", ".join(f"{s} {summary.statuses.get(s, 0)}" for s in STATUSES),
        len(summary.missing),
        len(summary.orphans),
    )
    return records, images, out


def _artifacts(
    out: dict[str, Any], summary: BatchSummary, plan_id: str, session: str | None
) -> None:
    table_artifact(
        "scan-reasons",
        plan_id,
        session,
        [
            {"причина": REASONS[code][1], "код": code, "страниц": count}
            for code, count in sorted(summary.reasons.items(), key=lambda kv: -kv[1])
        ],
        "Распознавание: причины верификации и отклонения (без персональных данных)",
    )
    statuses = out["statuses"]
    rows: list[tuple[str, Any]] = [
        ("страниц", out["pages"]),
        ("файлов", out["files"]),
        ("файлов из кэша", out["files_from_cache"]),
        *((f"страниц: {status_ru(s)}", statuses.get(s, 0)) for s in STATUSES),
        ("работ", out["works"]),
        ("страниц не получено", out["missing_pages"]),
        ("страниц без бланка регистрации", out["orphan_pages"]),
        ("страниц в секунду", out["pages_per_second"]),
    ]
    where = f", срок {session}" if session else ""
    markdown_artifact(
        "scan-summary",
        plan_id,
        session,
        f"## Распознавание{where}\n\n" + markdown_table(("показатель", "значение"), rows),
        "Распознавание: итог",
    )


@task(name="scan-session-codes", cache_policy=NONE)
def scan_session_codes(
    settings: Settings,
    campaign_code: str | None,
    session_code: str | None,
    print_dir: Path | None,
    topics: Sequence[str],
) -> SessionCodes:
    """What the session issued: from the regional database (a campaign's session), else from
    a print manifest, else nothing (codes then come from the batch itself)."""
    if campaign_code and session_code:
        database = bootstrap(settings)
        try:
            with UnitOfWork(database.session_factory) as uow:
                info = session_info(uow.session, campaign_code, session_code)
                return session_codes(uow.session, info.id, topics)
        finally:
            database.dispose()
    if print_dir is not None:
        path = print_dir / "manifest.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"манифест печати не читается: {path}") from exc
        codes = {w["work_code"]: (w["kind"], w["school_code"]) for w in manifest["works"]}
        codes |= {a["code"]: ("additional", a["school_code"]) for a in manifest["additional"]}
        return SessionCodes(codes, tuple(topics))
    return SessionCodes({}, tuple(topics))


@task(
    name="store-scan",
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=transient_failure,
)
def store_scan(
    settings: Settings,
    campaign_code: str,
    session_code: str,
    records: list[dict[str, Any]],
    images: dict[str, str],
    summary: dict[str, Any],
) -> dict[str, int]:
    """The records in the regional database; the stage is completed when no page is missing."""
    database = bootstrap(settings)
    now = datetime.now(UTC)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign_code, session_code)
            counts = store_records(uow.session, info.id, records, images, now)
            if summary["missing_pages"] == 0:
                stage = plan_stage_id(uow.session, info.id, "scan")
                if stage is not None:
                    mark_stage_completed(
                        uow.session,
                        stage,
                        "rcoi",
                        now,
                        {"pages": summary["pages"], **summary["statuses"]},
                        None,
                    )
            uow.commit()
    finally:
        database.dispose()
    get_run_logger().info(
        "stored %d pages, %d verification items opened",
        counts["pages"],
        counts["verification_opened"],
    )
    return counts


@task(name="scan-accuracy", cache_policy=NONE)
def scan_accuracy(results: Path, truth: Path) -> dict[str, Any]:
    """The scan's records scored against the exam-day simulator's ground truth (demo only)."""
    from tasks.domain.scan_accuracy import score

    records = [
        json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line
    ]
    return score(records, json.loads(truth.read_text(encoding="utf-8")))
