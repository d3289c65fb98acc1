"""The regional database side of the inform stage: every registered participant's result line
for the lists, the МОУО to mail, and the session's next session (for the retake list)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from tasks.adapters.models import (
    Campaign,
    ExamSession,
    Mouo,
    Participant,
    Region,
    Registration,
    Result,
    School,
    Work,
)
from tasks.domain.inform import ResultLine, SessionInfo

__all__ = ["inform_session", "mouo_contacts", "next_session", "result_lines"]


def inform_session(session: Session, session_id: int) -> SessionInfo:
    exam, campaign, region = session.execute(
        select(ExamSession, Campaign, Region)
        .join(Campaign, Campaign.id == ExamSession.campaign_id)
        .join(Region, Region.code == Campaign.region_code)
        .where(ExamSession.id == session_id)
    ).one()
    return SessionInfo(
        region_code=region.code,
        region_name=region.name,
        session=exam.code,
        exam_date=exam.exam_date,
        label=exam.label,
        school_year=campaign.school_year,
        procedure=campaign.procedure,
    )


def next_session(session: Session, session_id: int) -> tuple[str, str] | None:
    """The campaign's next session after this one (code, label with date), if any."""
    exam = session.get(ExamSession, session_id)
    assert exam is not None
    later = session.scalars(
        select(ExamSession)
        .where(ExamSession.campaign_id == exam.campaign_id, ExamSession.ordinal > exam.ordinal)
        .order_by(ExamSession.ordinal)
    ).first()
    if later is None:
        return None
    return later.code, f"{later.exam_date:%d.%m.%Y} ({later.label})".replace(" ()", "")


def result_lines(session: Session, session_id: int) -> list[ResultLine]:
    """One line per registered participant of the session with a kit: the verified result,
    or `unresolved` where there is none yet (annulled results count as none)."""
    own = aliased(School)
    venue = aliased(School)
    rows = session.execute(
        select(Work, Registration, Participant, Mouo, own, venue, Result)
        .join(Registration, Registration.id == Work.registration_id)
        .join(Participant, Participant.id == Registration.participant_id)
        .join(Mouo, Mouo.id == Participant.mouo_id)
        .outerjoin(own, own.id == Participant.school_id)
        .join(venue, venue.id == Work.school_id)
        .outerjoin(Result, Result.registration_id == Registration.id)
        .where(Work.session_id == session_id, Work.kind == "kit")
        .order_by(Work.work_code)
    ).all()
    lines = []
    for work, registration, person, mouo, school, where, result in rows:
        usable = result is not None and not result.annulled and result.verified_at is not None
        lines.append(
            ResultLine(
                work_code=work.work_code,
                surname=person.surname,
                name=person.name,
                patronymic=person.patronymic,
                category=person.category,
                mouo_code=mouo.code,
                mouo_name=mouo.name,
                school_code=school.code if school else None,
                school_name=school.name if school else None,
                venue_code=where.code,
                venue_name=where.name,
                class_name=person.class_name,
                form=registration.form,
                oral=bool(work.oral or registration.oral),
                attempt=registration.attempt,
                outcome=result.outcome if usable and result else "unresolved",
                marks=dict(result.marks) if usable and result and result.marks else None,
            )
        )
    return lines


def mouo_contacts(session: Session) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every МОУО: code -> (name, e-mail addresses)."""
    return {m.code: (m.name, tuple(m.emails or ())) for m in session.scalars(select(Mouo))}
