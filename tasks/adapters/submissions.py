"""Submissions in the regional database: what each МОУО sent, row by row, with the verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from tasks.adapters.models import (
    Campaign,
    ExamSession,
    Mouo,
    PlanStage,
    Region,
    School,
    StageCompletion,
    Submission,
    SubmissionRow,
)
from tasks.errors import RegistryError

__all__ = [
    "MouoInfo",
    "SessionInfo",
    "find_submission",
    "mark_stage_completed",
    "mouo_directory",
    "plan_stage_id",
    "record_submission",
    "session_info",
]

_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class MouoInfo:
    id: int
    code: str
    name: str
    emails: tuple[str, ...]
    schools: frozenset[str]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: int
    code: str
    exam_date: Any
    zone: str
    collect_stage_id: int | None
    collect_due: datetime | None


def session_info(session: Session, campaign_code: str, session_code: str) -> SessionInfo:
    row = session.execute(
        select(ExamSession, Campaign)
        .join(Campaign)
        .where(Campaign.code == campaign_code, ExamSession.code == session_code)
    ).one_or_none()
    if row is None:
        raise RegistryError(
            f"no session {session_code!r} of campaign {campaign_code!r}: store the plan first"
        )
    exam, campaign = row
    stage = session.scalars(
        select(PlanStage).where(
            PlanStage.session_id == exam.id, PlanStage.automated_stage == "collect"
        )
    ).first()
    zone = (
        stage.zone
        if stage
        else session.scalars(
            select(Region.timezone).where(Region.code == campaign.region_code)
        ).one()
    )
    return SessionInfo(
        exam.id,
        exam.code,
        exam.exam_date,
        zone,
        stage.id if stage else None,
        stage.due_at if stage else None,
    )


def plan_stage_id(session: Session, session_id: int, automated_stage: str) -> int | None:
    """The plan stage of this session run by `automated_stage` (collect, reconcile, ...)."""
    return session.scalars(
        select(PlanStage.id).where(
            PlanStage.session_id == session_id, PlanStage.automated_stage == automated_stage
        )
    ).first()


def mouo_directory(session: Session) -> dict[str, MouoInfo]:
    """Every МОУО with its contacts and the codes of its schools."""
    schools: dict[int, set[str]] = {}
    for mouo_id, code in session.execute(select(School.mouo_id, School.code)):
        schools.setdefault(mouo_id, set()).add(code)
    return {
        m.code: MouoInfo(m.id, m.code, m.name, tuple(m.emails), frozenset(schools.get(m.id, ())))
        for m in session.scalars(select(Mouo))
    }


def find_submission(
    session: Session, session_id: int, mouo_id: int, content_hash: str
) -> Submission | None:
    return session.scalars(
        select(Submission).where(
            Submission.session_id == session_id,
            Submission.mouo_id == mouo_id,
            Submission.content_hash == content_hash,
        )
    ).one_or_none()


def record_submission(
    session: Session, submission: Submission, rows: pl.DataFrame | None
) -> Submission:
    """Store a submission and its rows (`row_number`, `status`, `data`, `problems`); an accepted
    one supersedes the МОУО's earlier accepted submissions for the session (kept as history)."""
    if submission.status == "accepted":
        session.execute(
            update(Submission)
            .where(
                Submission.session_id == submission.session_id,
                Submission.mouo_id == submission.mouo_id,
                Submission.status == "accepted",
            )
            .values(status="superseded")
        )
    session.add(submission)
    session.flush()
    if rows is not None and rows.height:
        records = rows.select("row_number", "status", "data", "problems").to_dicts()
        for record in records:
            record["submission_id"] = submission.id
        for start in range(0, len(records), _BATCH):
            session.execute(insert(SubmissionRow), records[start : start + _BATCH])
    return submission


def mark_stage_completed(
    session: Session,
    stage_id: int | None,
    party: str,
    at: datetime,
    details: dict[str, Any],
    flow_run_id: str | None = None,
) -> None:
    """Record (once) that `party` completed the plan stage; later calls update the details."""
    if stage_id is None:
        return
    existing = session.scalars(
        select(StageCompletion).where(
            StageCompletion.plan_stage_id == stage_id, StageCompletion.party == party
        )
    ).one_or_none()
    if existing is None:
        session.add(
            StageCompletion(
                plan_stage_id=stage_id,
                party=party,
                completed_at=at,
                flow_run_id=flow_run_id,
                details=details,
            )
        )
    else:
        existing.details = details
