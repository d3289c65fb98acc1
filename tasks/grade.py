"""Prefect tasks of the grade stage: the schools' expert protocols in (contract `evaluations`),
the marks read on the originals, the consistency checks into the verification queue, and the
progress of each school against the 7-day deadline (codes and counts only)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from sqlalchemy import select

from config.settings import Settings
from tasks.adapters.contracts import load_contract, run_contract
from tasks.adapters.grade_store import (
    evaluations_of,
    store_evaluations,
    store_findings,
    work_evidence,
    works_to_grade,
)
from tasks.adapters.grading_files import (
    UnreadableProtocol,
    grading_rules,
    read_protocol,
    write_rejected_rows,
)
from tasks.adapters.models import Campaign
from tasks.adapters.submissions import mark_stage_completed, plan_stage_id, session_info
from tasks.adapters.unit_of_work import open_unit_of_work
from tasks.artifacts import markdown_artifact, markdown_table, table_artifact
from tasks.domain.evaluation_rules import EvaluationContext, ProtocolRow, prepare, split_rows
from tasks.domain.grade_checks import FINDINGS, work_findings
from tasks.retries import transient_failure

__all__ = ["check_grades", "load_protocols", "protocol_files"]

PROTOCOL_SUFFIXES = (".csv", ".xlsx")


def protocol_files(folder: Path) -> list[tuple[str, Path]]:
    """(school code, file) of every `<school>.csv` or `<school>.xlsx` in the folder."""
    if not folder.is_dir():
        return []
    return sorted((p.stem, p) for p in folder.iterdir() if p.suffix.lower() in PROTOCOL_SUFFIXES)


def _school_year(settings: Settings, campaign: str) -> str:
    with open_unit_of_work(settings) as uow:
        return str(
            uow.session.scalars(select(Campaign.school_year).where(Campaign.code == campaign)).one()
        )


@task(
    name="load-protocols",
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=transient_failure,
)
def load_protocols(
    settings: Settings, campaign: str, session: str, folder: Path, report_dir: Path
) -> dict[str, Any]:
    """Every school's protocol checked by the contract: accepted rows stored as the work's
    evaluation (a re-sent protocol replaces it), rejected rows reported to the school in
    `report_dir/<school>.csv`; an unreadable file is reported whole and the rest go on."""
    logger = get_run_logger()
    contract = load_contract("evaluations")
    rules = grading_rules(_school_year(settings, campaign))
    now = datetime.now(UTC)
    totals: Counter[str] = Counter()
    per_school = []
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        works = works_to_grade(uow.session, info.id)
        for school, path in protocol_files(folder):
            try:
                rows = read_protocol(path)
            except UnreadableProtocol as exc:
                write_rejected_rows(report_dir / f"{school}.csv", [(1, {}, [exc.reason])])
                totals["files_rejected"] += 1
                logger.warning("protocol of school %s unreadable", school)
                continue
            frame = prepare(rows, contract, EvaluationContext(school, works, rules))
            accepted, rejected = split_rows(frame, run_contract(frame, contract).failures, contract)
            experts = {r.work_code: works[r.work_code].expert for r in accepted}
            store_evaluations(uow.session, info.id, accepted, experts, "protocol", now)
            report = report_dir / f"{school}.csv"
            if rejected:
                write_rejected_rows(report, rejected)
            elif report.exists():
                report.unlink()
            totals.update(
                accepted=len(accepted),
                rejected=len(rejected),
                warnings=sum(1 for r in accepted if r.warnings),
            )
            per_school.append({"ОО": school, "принято": len(accepted), "отклонено": len(rejected)})
        uow.commit()
    logger.info("protocols: %d rows accepted, %d rejected", totals["accepted"], totals["rejected"])
    if per_school:
        table_artifact(
            "grade-protocols", campaign, session, per_school, "Протоколы экспертов по ОО"
        )
    return {"files": len(per_school) + totals["files_rejected"], **dict(totals)}


@task(name="check-grades", cache_policy=NONE)
def check_grades(settings: Settings, campaign: str, session: str) -> dict[str, Any]:
    """The marks read on the originals stored as evaluations, every work's consistency
    findings into the verification queue, and each school's progress: a school whose every
    work to grade has its protocol row completes the grading stage."""
    rules = grading_rules(_school_year(settings, campaign))
    now = datetime.now(UTC)
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        protocol = evaluations_of(uow.session, info.id, "protocol")
        evidence = work_evidence(uow.session, info.id, protocol)
        originals = [
            ProtocolRow(0, code, None, dict(e.original), ())
            for code, e in evidence.items()
            if e.original is not None
        ]
        store_evaluations(uow.session, info.id, originals, {}, "original", now)
        findings = {code: work_findings(rules, e) for code, e in evidence.items()}
        stored = store_findings(uow.session, info.id, findings, now)
        works = works_to_grade(uow.session, info.id)
        progress: dict[str, Counter[str]] = {}
        for code, work in works.items():
            if work.status == "copy":
                progress.setdefault(work.school_code, Counter()).update(
                    to_grade=1, graded=int(code in protocol)
                )
        stage = plan_stage_id(uow.session, info.id, "grade")
        for school, counts in progress.items():
            if counts["graded"] == counts["to_grade"]:
                mark_stage_completed(uow.session, stage, school, now, dict(counts), None)
        uow.commit()
    by_kind = Counter(f.code for found in findings.values() for f in found)
    behind = sorted(s for s, c in progress.items() if c["graded"] < c["to_grade"])
    table_artifact(
        "grade-progress",
        campaign,
        session,
        [
            {
                "ОО": school,
                "к проверке": c["to_grade"],
                "оценено": c["graded"],
                "готово, %": round(100 * c["graded"] / c["to_grade"]) if c["to_grade"] else 100,
            }
            for school, c in sorted(progress.items())
        ],
        "Проверка работ: ход по ОО",
    )
    markdown_artifact(
        "grade-findings",
        campaign,
        session,
        f"## Проверка согласованности оценок, срок {session}\n\n"
        + (
            markdown_table(
                ("находка", "работ"),
                [(FINDINGS.get(kind, kind), n) for kind, n in sorted(by_kind.items())],
            )
            if by_kind
            else "Несоответствий не найдено.\n"
        )
        + f"\nОО, не завершившие проверку: {len(behind)}\n",
        "Проверка работ: несоответствия на верификацию",
    )
    get_run_logger().info(
        "grade checks: %d findings, %d schools behind", sum(by_kind.values()), len(behind)
    )
    return {
        "to_grade": sum(c["to_grade"] for c in progress.values()),
        "graded": sum(c["graded"] for c in progress.values()),
        "originals_read": len(originals),
        "findings": dict(sorted(by_kind.items())),
        "verification_opened": stored["opened"],
        "schools_behind": behind,
    }


@task(name="grade-accuracy", cache_policy=NONE)
def grade_accuracy(settings: Settings, campaign: str, session: str, truth: Path) -> dict[str, Any]:
    """The transcription findings scored against the exam-day simulator's ground truth (demo
    only): every group the simulator transcribed wrongly, and what the checks found."""
    import json

    from tasks.adapters.models import VerificationItem, Work

    document = json.loads(truth.read_text(encoding="utf-8"))
    made = {(w["work_code"], g) for w in document["works"] for g in w["transcription_errors"]}
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        keys = uow.session.execute(
            select(Work.work_code, VerificationItem.key)
            .join(Work, Work.id == VerificationItem.work_id)
            .where(
                VerificationItem.session_id == info.id,
                VerificationItem.key.like("grade:%:transcription_mismatch:%"),
                VerificationItem.status != "gone",
            )
        )
        found = {(code, key.rsplit(":", 1)[1]) for code, key in keys}
    return {
        "transcription_errors": len(made),
        "found": len(found & made),
        "false_findings": len(found - made),
        "missed": len(made - found),
    }
