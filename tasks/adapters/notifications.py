"""Messages sent exactly once: the notification table is the memory, the mailer the channel."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tasks.adapters.mail import Mailer, OutgoingMail
from tasks.adapters.models import Notification
from tasks.adapters.unit_of_work import UnitOfWork

__all__ = ["already_sent", "send_once"]


def already_sent(session: Session, key: str) -> bool:
    return (
        session.scalars(select(Notification.id).where(Notification.dedup_key == key)).first()
        is not None
    )


def send_once(
    session_factory: sessionmaker[Session],
    mailer: Mailer,
    mail: OutgoingMail,
    kind: str,
    plan_stage_id: int | None = None,
) -> bool:
    """Send `mail` unless a notification with its key was recorded; True if sent now.

    At least once, not exactly once, across a crash between sending and recording: the outbox
    mailer dedups by key itself, and an SMTP message may then go twice, never zero times."""
    with UnitOfWork(session_factory) as uow:
        if already_sent(uow.session, mail.key):
            return False
    where = mailer.send(mail)
    with UnitOfWork(session_factory) as uow:
        if not already_sent(uow.session, mail.key):
            uow.session.add(
                Notification(
                    dedup_key=mail.key,
                    kind=kind,
                    channel=where.split(":", 1)[0],
                    recipient=", ".join(mail.to),
                    subject=mail.subject,
                    plan_stage_id=plan_stage_id,
                    sent_at=datetime.now(UTC),
                )
            )
            uow.commit()
    return True
