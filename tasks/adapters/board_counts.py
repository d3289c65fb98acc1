"""The board's figures from the regional database: the automated stages' counts per session,
the last run of each automated row, and a МОУО's files, rejected rows and acknowledgements
for its drill-down.

Each count is one query over all the sessions of a plan (grouped by session), never one per
row. Nothing personal leaves here: file names, states, row numbers and the reasons the
submission contract gave (which name the column and the rule, never a value of a person).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tasks.adapters.board import BoardScope
from tasks.adapters.models import (
    Acknowledgement,
    Campaign,
    Discrepancy,
    Evaluation,
    ExamSession,
    Mouo,
    Page,
    Region,
    StageCompletion,
    StageLock,
    Submission,
    SubmissionRow,
    VerificationItem,
    Work,
)
from tasks.domain.board_view import LastRun, StageCounts
from tasks.domain.verify import OPEN_STATUSES

__all__ = [
    "MouoAcknowledgement",
    "MouoFile",
    "PlanListing",
    "RejectedRow",
    "last_runs",
    "mouo_acknowledgements",
    "mouo_files",
    "plan_listing",
    "region_mouos",
    "rejected_rows",
    "stage_counts",
]

_RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _by_session(session: Session, query: Any) -> dict[int, int]:
    return {session_id: int(value or 0) for session_id, value in session.execute(query)}


def stage_counts(session: Session, scope: BoardScope) -> dict[str, StageCounts]:
    """Per session code of the scope: what collect, reconcile, print, scan, verify, grade and
    inform have done so far."""
    ids = list(scope.sessions)
    mouo_total = session.scalar(
        select(func.count(Mouo.id)).where(Mouo.region_code == scope.region_code)
    )
    accepted = Submission.status == "accepted"
    submitted = _by_session(
        session,
        select(Submission.session_id, func.count(func.distinct(Submission.mouo_id)))
        .where(Submission.session_id.in_(ids), accepted)
        .group_by(Submission.session_id),
    )
    rejected = _by_session(
        session,
        select(Submission.session_id, func.sum(Submission.rows_rejected))
        .where(Submission.session_id.in_(ids), accepted)
        .group_by(Submission.session_id),
    )
    discrepancies = _by_session(
        session,
        select(Discrepancy.session_id, func.count(Discrepancy.id))
        .where(Discrepancy.session_id.in_(ids), Discrepancy.status == "open")
        .group_by(Discrepancy.session_id),
    )
    kits = _by_session(
        session,
        select(Work.session_id, func.count(Work.id))
        .where(Work.session_id.in_(ids), Work.kind == "kit", Work.printed_at.is_not(None))
        .group_by(Work.session_id),
    )
    pages = _by_session(
        session,
        select(Page.session_id, func.count(Page.id))
        .where(Page.session_id.in_(ids))
        .group_by(Page.session_id),
    )
    queue = _by_session(
        session,
        select(VerificationItem.session_id, func.count(VerificationItem.id))
        .where(VerificationItem.session_id.in_(ids), VerificationItem.status.in_(OPEN_STATUSES))
        .group_by(VerificationItem.session_id),
    )
    graded = _by_session(
        session,
        select(Work.session_id, func.count(func.distinct(Evaluation.work_id)))
        .join(Evaluation, Evaluation.work_id == Work.id)
        .where(Work.session_id.in_(ids), Evaluation.source == "protocol")
        .group_by(Work.session_id),
    )
    results = (Acknowledgement.session_id.in_(ids), Acknowledgement.document == "results")
    sent = _by_session(
        session,
        select(Acknowledgement.session_id, func.count(func.distinct(Acknowledgement.party)))
        .where(*results)
        .group_by(Acknowledgement.session_id),
    )
    received = _by_session(
        session,
        select(Acknowledgement.session_id, func.count(func.distinct(Acknowledgement.party)))
        .where(*results, Acknowledgement.acknowledged_at.is_not(None))
        .group_by(Acknowledgement.session_id),
    )
    return {
        code: StageCounts(
            mouo_submitted=submitted.get(id_, 0),
            mouo_total=int(mouo_total or 0),
            rows_rejected=rejected.get(id_, 0),
            discrepancies_open=discrepancies.get(id_, 0),
            kits_printed=kits.get(id_, 0),
            pages_scanned=pages.get(id_, 0),
            queue_open=queue.get(id_, 0),
            works_graded=graded.get(id_, 0),
            acks_received=received.get(id_, 0),
            acks_sent=sent.get(id_, 0),
        )
        for id_, code in scope.sessions.items()
    }


def last_runs(session: Session, scope: BoardScope, now: datetime) -> dict[int, LastRun]:
    """Per automated row (plan stage id): the run that holds its stage's key now, else the one
    that recorded its latest completion. A holder that is not a flow run id (a process of
    `rcoi` run by hand) links nowhere and is left out."""
    automated = [row for row in scope.rows if row.automated]
    runs: dict[int, LastRun] = {}
    for stage_id, run_id, at in session.execute(
        select(
            StageCompletion.plan_stage_id,
            StageCompletion.flow_run_id,
            StageCompletion.completed_at,
        )
        .where(
            StageCompletion.plan_stage_id.in_([row.plan_stage_id for row in automated]),
            StageCompletion.flow_run_id.is_not(None),
        )
        .order_by(StageCompletion.completed_at)
    ):
        if _RUN_ID.match(str(run_id).lower()):
            runs[stage_id] = LastRun(str(run_id).lower(), at)
    holders = {
        (session_id, stage): (holder, acquired)
        for session_id, stage, holder, acquired in session.execute(
            select(
                StageLock.session_id, StageLock.stage, StageLock.holder, StageLock.acquired_at
            ).where(StageLock.session_id.in_(list(scope.sessions)), StageLock.expires_at > now)
        )
    }
    codes = {code: id_ for id_, code in scope.sessions.items()}
    for row in automated:
        found = holders.get((codes[row.session_code], row.automated or ""))
        if found and _RUN_ID.match(found[0].lower()):
            runs[row.plan_stage_id] = LastRun(found[0].lower(), found[1], running=True)
    return runs


@dataclass(frozen=True, slots=True)
class MouoFile:
    session_code: str
    file_name: str
    received_at: datetime
    status: str  # accepted | rejected | superseded
    reason: str
    rows_accepted: int
    rows_rejected: int


@dataclass(frozen=True, slots=True)
class RejectedRow:
    session_code: str
    file_name: str
    row_number: int
    reasons: tuple[str, ...]  # «column: message» per problem of the row


@dataclass(frozen=True, slots=True)
class MouoAcknowledgement:
    session_code: str
    document: str
    sent_at: datetime
    acknowledged_at: datetime | None


def _mouo_id(session: Session, code: str) -> int | None:
    return session.scalar(select(Mouo.id).where(Mouo.code == code))


def mouo_files(session: Session, mouo_code: str, sessions: dict[int, str]) -> list[MouoFile]:
    """Every file the МОУО sent for the sessions, newest first (superseded ones too)."""
    mouo_id = _mouo_id(session, mouo_code)
    if mouo_id is None:
        return []
    found = session.execute(
        select(
            Submission.session_id,
            Submission.file_name,
            Submission.received_at,
            Submission.status,
            Submission.reason,
            Submission.rows_accepted,
            Submission.rows_rejected,
        )
        .where(Submission.mouo_id == mouo_id, Submission.session_id.in_(list(sessions)))
        .order_by(Submission.received_at.desc(), Submission.id.desc())
    )
    return [
        MouoFile(sessions[s], name, at, status, reason or "", accepted, rejected)
        for s, name, at, status, reason, accepted, rejected in found
    ]


def _reasons(problems: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    out = []
    for problem in problems:
        if problem.get("severity", "critical") != "critical":
            continue
        column, message = str(problem.get("column") or ""), str(problem.get("message") or "")
        named = not column or message.casefold().startswith(column.casefold())
        out.append(message if named else f"{column}: {message}")
    return tuple(out)


def rejected_rows(
    session: Session, mouo_code: str, sessions: dict[int, str], limit: int = 200
) -> tuple[int, list[RejectedRow]]:
    """(how many, the first `limit`) rejected rows of the МОУО's current (accepted) files:
    their row numbers and reasons only, never the row's data."""
    mouo_id = _mouo_id(session, mouo_code)
    if mouo_id is None:
        return 0, []
    where = (
        Submission.mouo_id == mouo_id,
        Submission.session_id.in_(list(sessions)),
        Submission.status == "accepted",
        SubmissionRow.status == "rejected",
    )
    total = session.scalar(
        select(func.count(SubmissionRow.id))
        .join(Submission, SubmissionRow.submission_id == Submission.id)
        .where(*where)
    )
    found = session.execute(
        select(
            Submission.session_id,
            Submission.file_name,
            SubmissionRow.row_number,
            SubmissionRow.problems,
        )
        .join(Submission, SubmissionRow.submission_id == Submission.id)
        .where(*where)
        .order_by(Submission.session_id, Submission.id, SubmissionRow.row_number)
        .limit(limit)
    )
    return int(total or 0), [
        RejectedRow(sessions[s], name, number, _reasons(problems or []))
        for s, name, number, problems in found
    ]


def mouo_acknowledgements(
    session: Session, mouo_code: str, sessions: dict[int, str]
) -> list[MouoAcknowledgement]:
    """The documents sent to the МОУО for acknowledgement and whether it acknowledged them."""
    found = session.execute(
        select(
            Acknowledgement.session_id,
            Acknowledgement.document,
            Acknowledgement.sent_at,
            Acknowledgement.acknowledged_at,
        )
        .where(
            Acknowledgement.party == mouo_code,
            Acknowledgement.session_id.in_(list(sessions)),
        )
        .order_by(Acknowledgement.sent_at)
    )
    return [MouoAcknowledgement(sessions[s], doc, sent, ack) for s, doc, sent, ack in found]


def region_mouos(session: Session, region_codes: Sequence[str]) -> list[tuple[str, str, str]]:
    """(code, name, region) of every МОУО of the regions, by code."""
    return [
        (code, name, region)
        for code, name, region in session.execute(
            select(Mouo.code, Mouo.name, Mouo.region_code)
            .where(Mouo.region_code.in_(list(region_codes)))
            .order_by(Mouo.code)
        )
    ]


@dataclass(frozen=True, slots=True)
class PlanListing:
    """A plan stored in the regional database, as the board's filters list it."""

    code: str
    title: str
    procedure: str
    region_code: str
    region_name: str
    zone: str
    sessions: tuple[tuple[str, str], ...]  # (code, label) in plan order, the year session last


def plan_listing(session: Session) -> list[PlanListing]:
    """Every plan (campaign) in the database with its region and sessions, by region, then
    by its first session's date."""
    found = session.execute(
        select(Campaign.id, Campaign.code, Campaign.title, Campaign.procedure, Region)
        .join(Region, Campaign.region_code == Region.code)
        .order_by(Campaign.region_code, Campaign.code)
    ).all()
    sessions: dict[int, list[tuple[str, str]]] = {}
    firsts: dict[int, Any] = {}
    for campaign_id, code, label, exam_date in session.execute(
        select(
            ExamSession.campaign_id, ExamSession.code, ExamSession.label, ExamSession.exam_date
        ).order_by(ExamSession.ordinal == 0, ExamSession.ordinal)
    ):
        sessions.setdefault(campaign_id, []).append((code, label))
        firsts.setdefault(campaign_id, exam_date)
    listing = [
        PlanListing(
            code=code,
            title=title,
            procedure=procedure,
            region_code=region.code,
            region_name=region.name,
            zone=region.timezone,
            sessions=tuple(sessions.get(campaign_id, ())),
        )
        for campaign_id, code, title, procedure, region in found
    ]
    order = {code: n for n, (_, code, *_rest) in enumerate(found)}
    firsts_by_code = {code: firsts.get(campaign_id) for campaign_id, code, *_rest in found}
    return sorted(
        listing,
        key=lambda p: (p.region_code, str(firsts_by_code.get(p.code) or ""), order[p.code]),
    )
