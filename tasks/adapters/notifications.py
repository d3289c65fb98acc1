"""Messages sent exactly once: the notification table is the memory, the mailer the channel."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tasks.adapters.mail import Mailer, OutgoingMail, mailer_from_settings
from tasks.adapters.models import Notification
from tasks.adapters.unit_of_work import UnitOfWork

__all__ = ["alert_coordinator", "already_sent", "record_sent", "send_once"]


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


def record_sent(
    session_factory: sessionmaker[Session],
    keys: list[tuple[str, int | None]],
    kind: str,
    recipient: str,
    subject: str,
    channel: str,
) -> int:
    """Remember notices that went out inside another mail (a digest), each under its own key,
    so that none goes out again; returns how many were new."""
    now = datetime.now(UTC)
    with UnitOfWork(session_factory) as uow:
        present = set(
            uow.session.scalars(
                select(Notification.dedup_key).where(
                    Notification.dedup_key.in_([key for key, _ in keys])
                )
            )
        )
        new = [(key, stage) for key, stage in keys if key not in present]
        uow.session.add_all(
            Notification(
                dedup_key=key,
                kind=kind,
                channel=channel,
                recipient=recipient,
                subject=subject,
                plan_stage_id=stage,
                sent_at=now,
            )
            for key, stage in new
        )
        uow.commit()
    return len(new)


def alert_coordinator(
    settings: Settings,
    session_factory: sessionmaker[Session],
    key: str,
    subject: str,
    body: str,
    plan_stage_id: int | None = None,
) -> int:
    """Mail the coordinator once per `key` (an alert: codes and counts, no personal data);
    1 if sent now, 0 if already sent or nobody is configured."""
    if not settings.coordinator_emails:
        return 0
    mail = OutgoingMail(key=key, to=tuple(settings.coordinator_emails), subject=subject, body=body)
    mailer = mailer_from_settings(settings)
    return int(send_once(session_factory, mailer, mail, "alert", plan_stage_id))
