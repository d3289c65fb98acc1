"""Prefect tasks of the copy stage: room records and commissions in, assignment, the copy
register per school and the experts' packages out (codes only in logs and artifacts)."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from sqlalchemy import select

from config.settings import Settings
from tasks import progress
from tasks.adapters.copy_files import (
    PackageJob,
    build_packages,
    read_commissions,
    read_room_record_file,
    room_record_files,
    write_register,
    write_rejected_room_rows,
)
from tasks.adapters.copy_store import (
    assign_session,
    issued_kits,
    recognised_topics,
    register_rows,
    scanned_pages,
    store_commissions,
    store_room_records,
)
from tasks.adapters.models import RoomRecord, School, Work
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import open_unit_of_work
from tasks.artifacts import markdown_artifact, markdown_table, table_artifact
from tasks.domain.blanks import BlankType
from tasks.domain.copy import COPY_STATUS_RU, RejectedRow, read_room_rows
from tasks.domain.exam_day import page_key
from tasks.errors import DataError
from tasks.retries import transient_failure

__all__ = [
    "ASSIGNER",
    "assign_works",
    "build_expert_packages",
    "load_commissions",
    "load_room_records",
    "write_copy_registers",
]

ASSIGNER = "rcoi copy stage (load balanced)"
_DB_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [5, 30],
    "retry_condition_fn": transient_failure,
}


@task(name="load-room-records", cache_policy=NONE, **_DB_RETRIES)
def load_room_records(
    settings: Settings, campaign: str, session: str, folder: Path, report_dir: Path
) -> dict[str, Any]:
    """Every school's ИС-05 rows: checked, accepted rows stored (a re-sent file replaces the
    previous rows), rejected ones kept in `report_dir/<school>.csv` with the reason."""
    logger = get_run_logger()
    now = datetime.now(UTC)
    accepted = rejected = warned = 0
    by_school = []
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        kits = issued_kits(uow.session, info.id)
        for school, path in room_record_files(folder):
            try:
                rows = read_room_record_file(path)
            except DataError as exc:  # the school's whole file is unreadable: say so, go on
                write_rejected_room_rows(
                    report_dir / f"{school}.csv", [RejectedRow(1, {}, str(exc))]
                )
                rejected += 1
                logger.warning("room records of school %s unreadable", school)
                continue
            good, bad = read_room_rows(rows, school, kits)
            store_room_records(uow.session, info.id, good, str(path), now)
            report = report_dir / f"{school}.csv"
            if bad:
                write_rejected_room_rows(report, bad)
            elif report.exists():
                report.unlink()
            accepted, rejected = accepted + len(good), rejected + len(bad)
            warned += sum(1 for r in good if r.warnings)
            by_school.append({"ОО": school, "принято строк": len(good), "отклонено": len(bad)})
        uow.commit()
    logger.info("room records: %d rows accepted, %d rejected", accepted, rejected)
    if by_school:
        table_artifact("copy-room-records", campaign, session, by_school, "Ведомости ИС-05 по ОО")
    return {
        "schools": len(by_school),
        "accepted": accepted,
        "rejected": rejected,
        "warnings": warned,
    }


@task(name="load-commissions", cache_policy=NONE, **_DB_RETRIES)
def load_commissions(settings: Settings, path: Path) -> int:
    """The schools' grading commissions (expert codes) into the regional database."""
    commissions = read_commissions(path)
    with open_unit_of_work(settings) as uow:
        experts = store_commissions(uow.session, commissions)
        uow.commit()
    get_run_logger().info("commissions: %d experts of %d schools", experts, len(commissions))
    return experts


@task(name="assign-works", cache_policy=NONE, **_DB_RETRIES)
def assign_works(settings: Settings, campaign: str, session: str) -> dict[str, Any]:
    """Each work to copy to one expert of its school's commission (kept on a re-run)."""
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        counts, problems = assign_session(uow.session, info.id, ASSIGNER, datetime.now(UTC))
        uow.commit()
    for school, reason in problems.items():
        get_run_logger().warning("school %s: works not assigned: %s", school, reason)
    return {"assigned": sum(counts.values()), "schools_without_commission": sorted(problems)}


@task(name="write-copy-registers", cache_policy=NONE)
def write_copy_registers(
    settings: Settings, campaign: str, session: str, folder: Path
) -> dict[str, Any]:
    """`folder/<school>.csv`: the copy register of each school; counts by status."""
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        rows = register_rows(uow.session, info.id)
    by_school: dict[str, list[Any]] = {}
    for row in rows:
        by_school.setdefault(row.school_code, []).append(
            (row.work_code, row.room or "", row.form, row.status, row.expert)
        )
    for school, lines in by_school.items():
        write_register(folder / f"{school}.csv", lines)
    statuses = Counter(row.status for row in rows)
    markdown_artifact(
        "copy-register",
        campaign,
        session,
        f"## Копирование работ, срок {session}\n\n"
        + markdown_table(
            ("состояние по реестру", "работ"),
            [(COPY_STATUS_RU[s], statuses[s]) for s in COPY_STATUS_RU],
        ),
        "Реестр копирования: итог",
    )
    return {
        "schools": len(by_school),
        "works": len(rows),
        **{s: statuses[s] for s in COPY_STATUS_RU},
    }


# The registration blank is not copied for the expert: the package's protocol sheet is the
# expert's result area, and the expert never sees the participant's name or document.
_LABELS = {
    (BlankType.ANSWER, 1): "Бланк записи, с. 1",
    (BlankType.ANSWER, 2): "Бланк записи, с. 2",
}


def _expected_pages(code: str, additional: str) -> list[tuple[str, str]]:
    """(page key, label) of every page a written work should have, in reading order."""
    pages = [(page_key(t, code, n), label) for (t, n), label in _LABELS.items()]
    for blank in additional.split():
        pages += [
            (
                page_key(BlankType.ADDITIONAL, blank, n),
                f"Дополнительный бланк записи № {blank}, с. {n}",
            )
            for n in (1, 2)
        ]
    return pages


@task(name="build-expert-packages", cache_policy=NONE)
def build_expert_packages(
    settings: Settings, campaign: str, session: str, folder: Path, workers: int | None = None
) -> dict[str, Any]:
    """`folder/<school>/<expert>.pdf`: each expert's works (protocol sheet and page copies);
    a page not received is listed as missing in the package instead."""
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        rows = [r for r in register_rows(uow.session, info.id) if r.expert]
        pages = scanned_pages(uow.session, info.id)
        additional = dict(
            uow.session.execute(
                select(Work.work_code, RoomRecord.additional_blanks)
                .join(RoomRecord, RoomRecord.work_id == Work.id)
                .where(Work.session_id == info.id)
            )
            .tuples()
            .all()
        )
        names = dict(uow.session.execute(select(School.code, School.name)).tuples().all())
        topics = recognised_topics(uow.session, info.id)
    grouped: dict[tuple[str, str], list[Any]] = {}
    missing = 0
    for row in rows:
        found = {key: (source, frame) for key, source, frame in pages.get(row.work_code, [])}
        copies: list[tuple[str, str | None, int | str]] = []
        for key, label in _expected_pages(row.work_code, additional.get(row.work_code, "")):
            if key in found:
                copies.append((label, found[key][0], found[key][1]))
            else:
                missing += 1
                copies.append((label, None, "страница не получена при сканировании"))
        grouped.setdefault((row.school_code, row.expert or ""), []).append(
            (row.work_code, row.form, topics.get(row.work_code), tuple(copies))
        )
    jobs = [
        PackageJob(
            folder / school / f"{expert}.pdf",
            session,
            school,
            names.get(school, ""),
            expert,
            tuple(works),
        )
        for (school, expert), works in sorted(grouped.items())
    ]
    schools = len({job.school_code for job in jobs})
    shown = progress.bar("Комплекты экспертам", schools, "ОО")
    sizes = build_packages(jobs, workers or os.cpu_count() or 1, shown)
    # An expert left without works (reassigned, newly flagged) keeps no stale package.
    built = {job.target for job in jobs}
    for stale in folder.glob("*/*.pdf") if folder.is_dir() else ():
        if stale not in built:
            stale.unlink()
    get_run_logger().info(
        "expert packages: %d experts, %d works, %d pages missing", len(jobs), len(rows), missing
    )
    return {
        "packages": len(sizes),
        "works": len(rows),
        "pages_missing": missing,
        "megabytes": round(sum(sizes.values()) / 1e6, 1),
    }
