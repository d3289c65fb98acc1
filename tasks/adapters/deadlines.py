"""Deadlines in the regional database: the completion checks the watchdog evaluates."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from tasks.adapters.models import ExamSession, Mouo, PlanStage, StageCompletion
from tasks.domain.watchdog import Check

__all__ = ["TRACKED_STAGES", "completion_checks"]

# Stages whose completion the system itself records (stage -> the responsible party kind of
# the plan). A stage joins here when its flow marks `stage_completion`; the others are people's
# work outside the system (forming commissions, holding the exam) and are not watched.
TRACKED_STAGES: Mapping[str, str] = {"collect": "mouo", "reconcile": "rcoi"}


def completion_checks(
    session: Session, session_ids: list[int], tracked: Mapping[str, str] = TRACKED_STAGES
) -> list[Check]:
    """One check per (tracked plan stage with a deadline, responsible party) of the sessions."""
    stages = session.execute(
        select(PlanStage, ExamSession.code)
        .join(ExamSession, PlanStage.session_id == ExamSession.id)
        .where(
            PlanStage.session_id.in_(session_ids),
            PlanStage.due_at.is_not(None),
            PlanStage.automated_stage.in_(list(tracked)),
        )
    ).all()
    done = set(
        session.execute(
            select(StageCompletion.plan_stage_id, StageCompletion.party).where(
                StageCompletion.plan_stage_id.in_([stage.id for stage, _ in stages])
            )
        ).all()
    )
    mouos = sorted(session.scalars(select(Mouo.code)))
    checks = []
    for stage, session_code in stages:
        kind = tracked[stage.automated_stage or ""]
        if kind not in stage.responsible:
            continue
        parties = mouos if kind == "mouo" else ["rcoi"]
        assert stage.due_at is not None
        checks += [
            Check(
                plan_stage_id=stage.id,
                session_code=session_code,
                stage_key=stage.stage_key,
                title=stage.title,
                due=stage.due_at,
                zone=stage.zone,
                party=party,
                completed=(stage.id, party) in done,
            )
            for party in parties
        ]
    return checks
