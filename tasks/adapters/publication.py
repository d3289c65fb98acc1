"""The publish stage in the regional database: its plan stage, whether it was completed, and
who receives the topics (every МОУО and school with their addresses and zones)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tasks.adapters.models import Campaign, ExamSession, Mouo, PlanStage, School, StageCompletion
from tasks.domain.publish import Recipient
from tasks.errors import RegistryError

__all__ = ["PublishTarget", "publish_recipients", "publish_target"]

PARTY = "rcoi"


@dataclass(frozen=True, slots=True)
class PublishTarget:
    session_id: int
    plan_stage_id: int
    completion: dict[str, Any] | None  # the details recorded when the topics went out


def publish_target(
    session: Session, campaign_code: str, session_code: str, stage_key: str
) -> PublishTarget:
    """The plan stage of the publication and its completion, if already recorded."""
    row = session.execute(
        select(ExamSession.id, PlanStage.id)
        .join(Campaign, ExamSession.campaign_id == Campaign.id)
        .join(PlanStage, PlanStage.session_id == ExamSession.id)
        .where(
            Campaign.code == campaign_code,
            ExamSession.code == session_code,
            PlanStage.stage_key == stage_key,
        )
    ).one_or_none()
    if row is None:
        raise RegistryError(
            f"no stage {stage_key!r} of session {session_code!r} of campaign "
            f"{campaign_code!r}: store the plan first"
        )
    session_id, stage_id = row
    completion = session.scalars(
        select(StageCompletion).where(
            StageCompletion.plan_stage_id == stage_id, StageCompletion.party == PARTY
        )
    ).one_or_none()
    return PublishTarget(session_id, stage_id, dict(completion.details) if completion else None)


def publish_recipients(session: Session) -> list[Recipient]:
    """Every МОУО (the region's zone) and every school (its own zone, if it has one)."""
    mouos = [
        Recipient("mouo", m.code, tuple(m.emails or ()))
        for m in session.scalars(select(Mouo).order_by(Mouo.code))
    ]
    schools = [
        Recipient("school", s.code, tuple(s.emails or ()), s.timezone or None)
        for s in session.scalars(select(School).order_by(School.code))
    ]
    return mouos + schools
