"""Deadlines in the regional database: the completion checks the watchdog evaluates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tasks.adapters.models import (
    Acknowledgement,
    ExamSession,
    Mouo,
    PlanStage,
    School,
    StageCompletion,
    Work,
)
from tasks.domain.board import AUTOMATED_PARTY
from tasks.domain.publish import PUBLISH_GRACE
from tasks.domain.watchdog import Check

__all__ = ["DUE_AFTER_START", "TRACKED_STAGES", "completion_checks"]

# Stages whose completion the system itself records (stage -> the responsible party kind of
# the plan): the board's `AUTOMATED_PARTY`. The watchdog itself checks every plan row through
# the board (tasks/adapters/board.py); these checks remain for the stages' own lookups.
TRACKED_STAGES: Mapping[str, str] = AUTOMATED_PARTY
# Stages due a grace after their start instead of at their end: topics due at 09:45 are late
# at 09:47, although the plan row runs to the end of the day (or has no end, «с 07.30»).
DUE_AFTER_START: Mapping[str, timedelta] = {"publish": PUBLISH_GRACE}


def completion_checks(
    session: Session, session_ids: list[int], tracked: Mapping[str, str] = TRACKED_STAGES
) -> list[Check]:
    """One check per (tracked plan stage with a deadline, responsible party) of the sessions."""
    stages = session.execute(
        select(PlanStage, ExamSession.code)
        .join(ExamSession, PlanStage.session_id == ExamSession.id)
        .where(
            PlanStage.session_id.in_(session_ids),
            or_(
                PlanStage.due_at.is_not(None),
                and_(
                    PlanStage.automated_stage.in_(list(DUE_AFTER_START)),
                    PlanStage.starts_at.is_not(None),
                ),
            ),
            PlanStage.automated_stage.in_(list(tracked)),
        )
    ).all()
    done: set[tuple[int, str]] = {
        (stage_id, party)
        for stage_id, party in session.execute(
            select(StageCompletion.plan_stage_id, StageCompletion.party).where(
                StageCompletion.plan_stage_id.in_([stage.id for stage, _ in stages])
            )
        ).all()
    }
    done |= {
        (stage.id, party)
        for stage, _ in stages
        if stage.automated_stage == "inform"
        for party in session.scalars(
            select(Acknowledgement.party).where(
                Acknowledgement.session_id == stage.session_id,
                Acknowledgement.document == "results",
                Acknowledgement.acknowledged_at.is_not(None),
            )
        )
    }
    mouos = sorted(session.scalars(select(Mouo.code)))
    checks = []
    for stage, session_code in stages:
        kind = tracked[stage.automated_stage or ""]
        if kind not in stage.responsible:
            continue
        if kind == "mouo":
            parties = mouos
        elif kind == "school":
            parties = _schools_of(session, stage.session_id)
        else:
            parties = ["rcoi"]
        grace = DUE_AFTER_START.get(stage.automated_stage or "")
        due = stage.starts_at + grace if grace and stage.starts_at else stage.due_at
        assert due is not None
        checks += [
            Check(
                plan_stage_id=stage.id,
                session_code=session_code,
                stage_key=stage.stage_key,
                title=stage.title,
                due=due,
                zone=stage.zone,
                party=party,
                completed=(stage.id, party) in done,
            )
            for party in parties
        ]
    return checks


def _schools_of(session: Session, session_id: int) -> list[str]:
    """The schools that hold the session (they have participants' kits)."""
    query = (
        select(School.code)
        .join(Work, Work.school_id == School.id)
        .where(Work.session_id == session_id, Work.kind == "kit")
        .distinct()
    )
    return sorted(session.scalars(query))
