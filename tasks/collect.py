"""Prefect tasks of the collect stage: find МОУО files, check each against the submission
contract, stage the rows, answer the МОУО with a report."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from sqlalchemy import select

from config.settings import Settings
from tasks.adapters.contracts import load_contract, run_contract
from tasks.adapters.database import Database, bootstrap
from tasks.adapters.mail import Attachment, OutgoingMail, mailer_from_settings
from tasks.adapters.models import Mouo, Submission
from tasks.adapters.notifications import send_once
from tasks.adapters.submission_files import UnreadableSubmission, read_submission
from tasks.adapters.submissions import (
    MouoInfo,
    SessionInfo,
    find_submission,
    mark_stage_completed,
    mouo_directory,
    record_submission,
    session_info,
)
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.artifacts import status_ru, table_artifact
from tasks.domain.collect import (
    FileVerdict,
    deadline_text,
    rejected_file_mail,
    report_mail,
    report_workbook,
    staged_rows,
)
from tasks.domain.submission_rules import (
    SubmissionContext,
    foreign_inbox_owner,
    prepare,
    split_rows,
)
from tasks.retries import transient_failure

__all__ = ["collect_file", "find_submissions", "publish_collect_table", "submitted_mouos"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_EMPTY_PROBLEMS = pl.DataFrame(
    schema={
        "row_number": pl.Int64,
        "column": pl.Utf8,
        "rule": pl.Utf8,
        "severity": pl.Utf8,
        "message": pl.Utf8,
    }
)


@task(name="find-submissions", cache_policy=NONE)
def find_submissions(inbox: Path) -> list[tuple[str, Path]]:
    """(МОУО code, file) for every file under `<inbox>/<mouo_code>/`, oldest first so that the
    latest file of a МОУО is processed last and wins. Hidden and office lock files are skipped."""
    found = []
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir()) if inbox.is_dir() else []:
        for path in folder.iterdir():
            if path.is_file() and not path.name.startswith((".", "~$")):
                found.append((folder.name, path))
    found.sort(key=lambda item: (item[0], item[1].stat().st_mtime_ns, item[1].name))
    get_run_logger().info(
        "inbox %s: %d files from %d folders", inbox, len(found), len({code for code, _ in found})
    )
    return found


def _store_copy(settings: Settings, mouo_code: str, digest: str, path: Path) -> Path:
    """Keep every received file, whatever becomes of it: nothing is lost."""
    target = settings.out_dir / "collect" / "received" / mouo_code / f"{digest[:16]}-{path.name}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return target


def _check(
    path: Path, mouo: MouoInfo, info: SessionInfo, digest: str
) -> tuple[FileVerdict, pl.DataFrame | None, pl.DataFrame]:
    """Read and check one file: its verdict, staged rows (None when rejected whole), problems."""
    try:
        table = read_submission(path)
    except UnreadableSubmission as exc:
        return (
            FileVerdict(mouo.code, path.name, digest, "rejected", reason=exc.reason),
            None,
            _EMPTY_PROBLEMS,
        )
    owner = foreign_inbox_owner(table.frame, mouo.code)
    if owner is not None:
        reason = (
            f"в файле коды ОО МОУО {owner}, а не {mouo.code}: похоже, файл положен в папку "
            "другого МОУО"
        )
        return (
            FileVerdict(
                mouo.code, path.name, digest, "rejected", table.frame.height, reason=reason
            ),
            None,
            _EMPTY_PROBLEMS,
        )
    contract = load_contract("submission")
    context = SubmissionContext(mouo.code, info.exam_date, mouo.schools or None)
    prepared = prepare(table.frame, contract, context)
    rows, problems = split_rows(prepared, run_contract(prepared, contract).failures, contract)
    rejected = rows.filter(pl.col("status") == "rejected").height
    warned = problems.filter(pl.col("severity") == "warning")["row_number"].n_unique()
    by_rule = problems.filter(pl.col("severity") == "critical").group_by("rule").len().sort("rule")
    verdict = FileVerdict(
        mouo.code,
        path.name,
        digest,
        "accepted",
        rows.height,
        rows.height - rejected,
        rejected,
        warned,
        rejected_by_rule=tuple((str(r), int(n)) for r, n in by_rule.iter_rows()),
        header_row=table.header_row,
        notes=table.notes,
    )
    return verdict, staged_rows(rows, problems), problems


def _answer(
    settings: Settings,
    database: Database,
    verdict: FileVerdict,
    problems: pl.DataFrame,
    mouo: MouoInfo,
    info: SessionInfo,
    procedure: str,
) -> None:
    """Write the report next to the received file and mail it to the МОУО (once)."""
    deadline = deadline_text(info.collect_due, info.zone)
    workbook = report_workbook(verdict, problems, deadline)
    report = (
        settings.out_dir
        / "collect"
        / "reports"
        / verdict.mouo_code
        / f"{verdict.content_hash[:16]}-отчёт.xlsx"
    )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_bytes(workbook)
    builder = report_mail if verdict.status == "accepted" else rejected_file_mail
    subject, body = builder(verdict, deadline, procedure)
    mail = OutgoingMail(
        key=f"collect-report:{info.code}:{verdict.mouo_code}:{verdict.content_hash}",
        to=mouo.emails,
        subject=subject,
        body=body,
        attachments=(Attachment(f"Отчёт_{verdict.mouo_code}.xlsx", workbook, XLSX),),
    )
    send_once(
        database.session_factory,
        mailer_from_settings(settings),
        mail,
        "collect-report",
        info.collect_stage_id,
    )


@task(
    name="collect-file",
    cache_policy=NONE,
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=transient_failure,
)
def collect_file(
    settings: Settings,
    campaign_code: str,
    session_code: str,
    procedure: str,
    mouo_code: str,
    path: Path,
) -> FileVerdict:
    """Check one МОУО file, stage its rows, answer the МОУО. A file already processed (same
    content hash) is skipped, so re-running collect changes nothing."""
    logger = get_run_logger()
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign_code, session_code)
            mouo = mouo_directory(uow.session).get(mouo_code)
            if mouo is None:
                reason = f"папка «{mouo_code}» не соответствует ни одному МОУО региона"
                logger.warning("inbox folder %s matches no МОУО; file kept in the inbox", mouo_code)
                return FileVerdict(mouo_code, path.name, digest, "rejected", reason=reason)
            if find_submission(uow.session, info.id, mouo.id, digest) is not None:
                return FileVerdict(mouo_code, path.name, digest, "skipped")
        stored = _store_copy(settings, mouo_code, digest, path)
        verdict, rows, problems = _check(path, mouo, info, digest)
        now = datetime.now(UTC)
        with UnitOfWork(database.session_factory) as uow:
            record_submission(
                uow.session,
                Submission(
                    session_id=info.id,
                    mouo_id=mouo.id,
                    file_name=path.name,
                    stored_path=str(stored),
                    content_hash=digest,
                    received_at=now,
                    status=verdict.status,
                    reason=verdict.reason or None,
                    rows_read=verdict.rows_read,
                    rows_accepted=verdict.rows_accepted,
                    rows_rejected=verdict.rows_rejected,
                    rows_warned=verdict.rows_warned,
                ),
                rows,
            )
            if verdict.status == "accepted":
                mark_stage_completed(
                    uow.session,
                    info.collect_stage_id,
                    mouo_code,
                    now,
                    {"submission": digest, "rows": verdict.rows_accepted},
                    str(flow_run.get_id() or "") or None,
                )
            uow.commit()
        _answer(settings, database, verdict, problems, mouo, info, procedure)
    finally:
        database.dispose()
    logger.info(
        "%s %s: %s, rows read %d, accepted %d, rejected %d",
        mouo_code,
        digest[:12],
        verdict.status,
        verdict.rows_read,
        verdict.rows_accepted,
        verdict.rows_rejected,
    )
    return verdict


@task(name="submitted-mouos", cache_policy=NONE)
def submitted_mouos(settings: Settings, campaign_code: str, session_code: str) -> list[str]:
    """МОУО with an accepted submission for the session, from this run or an earlier one."""
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign_code, session_code)
            codes = uow.session.scalars(
                select(Mouo.code)
                .join(Submission, Submission.mouo_id == Mouo.id)
                .where(Submission.session_id == info.id, Submission.status == "accepted")
                .distinct()
            )
            return sorted(codes)
    finally:
        database.dispose()


@task(name="publish-collect-table", cache_policy=NONE)
def publish_collect_table(verdicts: list[FileVerdict], plan_id: str, session_code: str) -> None:
    """The coordinator's view of the run: per МОУО and file, rows read/accepted/rejected."""
    table_artifact(
        "collect-files",
        plan_id,
        session_code,
        [
            {
                "МОУО": v.mouo_code,
                "файл": v.file_name,
                "строк": v.rows_read,
                "принято": v.rows_accepted,
                "отклонено": v.rows_rejected,
                "с предупреждениями": v.rows_warned,
                "замечаний к файлу": len(v.notes),
                "состояние": status_ru(v.status),
                "причина": v.reason or ("уже обработан ранее" if v.status == "skipped" else ""),
            }
            for v in verdicts
        ],
        "Сбор сведений от МОУО: файлы этого запуска",
    )
