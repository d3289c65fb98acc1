"""Acknowledgements of documents sent to a party (the results lists to a МОУО): a one-time link
per (session, party, document) whose random token the database keeps only as a SHA-256.

Issuing the same content again gives no new token, so a re-run mails nothing twice; changed
content gives a new token and the old acknowledgement no longer counts. Acknowledging is
idempotent (the first instant stays) and audit-logged with the party's code as the actor.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from tasks.adapters.models import Acknowledgement, AuditLog, Campaign, ExamSession, Region

__all__ = ["AckView", "ack_url", "acknowledge", "issue", "pending", "view"]

_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,128}")  # what token_urlsafe gives, with room to spare


@dataclass(frozen=True, slots=True)
class AckView:
    """What the acknowledgement page shows: codes and instants, no personal data."""

    party: str  # a МОУО code
    document: str  # results
    session_code: str
    exam_date: date
    timezone: str  # the campaign region's IANA zone
    sent_at: datetime
    acknowledged_at: datetime | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def ack_url(base_url: str, token: str) -> str:
    """The link a mail carries: `<public base URL>/ack/<token>`."""
    return f"{base_url.rstrip('/')}/ack/{token}"


def issue(
    session: Session,
    session_id: int,
    party: str,
    document: str,
    content_sha256: str,
    now: datetime,
) -> str | None:
    """A fresh token to mail, or None when this content was already issued to the party (the
    caller then mails nothing). Changed content replaces the token and resets the
    acknowledgement. The token is returned once and never stored."""
    row = session.scalars(
        select(Acknowledgement).where(
            Acknowledgement.session_id == session_id,
            Acknowledgement.party == party,
            Acknowledgement.document == document,
        )
    ).one_or_none()
    if row is not None and row.content_sha256 == content_sha256:
        return None
    token = secrets.token_urlsafe(32)
    if row is None:
        row = Acknowledgement(session_id=session_id, party=party, document=document)
        session.add(row)
        old = None
    else:
        old = {
            "content_sha256": row.content_sha256,
            "acknowledged": row.acknowledged_at is not None,
        }
    row.token_sha256, row.content_sha256 = _hash(token), content_sha256
    row.sent_at, row.acknowledged_at = now, None
    session.flush()
    session.add(
        AuditLog(
            at=now,
            actor="rcoi",
            action="ack_issued",
            entity="acknowledgement",
            entity_id=str(row.id),
            old=old,
            new={"party": party, "document": document, "content_sha256": content_sha256},
        )
    )
    return token


def _row(session: Session, token: str) -> tuple[Acknowledgement, ExamSession, str] | None:
    if not _TOKEN.fullmatch(token):
        return None
    found = session.execute(
        select(Acknowledgement, ExamSession, Region.timezone)
        .join(ExamSession, ExamSession.id == Acknowledgement.session_id)
        .join(Campaign, Campaign.id == ExamSession.campaign_id)
        .join(Region, Region.code == Campaign.region_code)
        .where(Acknowledgement.token_sha256 == _hash(token))
    ).one_or_none()
    if found is None:
        return None
    row, exam, zone = found
    return row, exam, zone


def _view(row: Acknowledgement, exam: ExamSession, zone: str) -> AckView:
    return AckView(
        row.party,
        row.document,
        exam.code,
        exam.exam_date,
        zone,
        row.sent_at,
        row.acknowledged_at,
    )


def view(session: Session, token: str) -> AckView | None:
    """What the token acknowledges; None for an unknown (or replaced) token. Changes nothing."""
    found = _row(session, token)
    return _view(*found) if found else None


def acknowledge(session: Session, token: str, now: datetime) -> AckView | None:
    """Record the receipt at `now`, once: a second call keeps the first instant."""
    found = _row(session, token)
    if found is None:
        return None
    row, exam, zone = found
    # A conditional update, so that two clicks at once record (and audit) one receipt.
    outcome = session.execute(
        update(Acknowledgement)
        .where(Acknowledgement.id == row.id, Acknowledgement.acknowledged_at.is_(None))
        .values(acknowledged_at=now)
        .execution_options(synchronize_session=False)
    )
    changed = isinstance(outcome, CursorResult) and outcome.rowcount == 1
    session.refresh(row)
    if changed:
        session.add(
            AuditLog(
                at=now,
                actor=row.party,
                action="acknowledged",
                entity="acknowledgement",
                entity_id=str(row.id),
                old={"acknowledged_at": None},
                new={
                    "acknowledged_at": now.isoformat(),
                    "document": row.document,
                    "content_sha256": row.content_sha256,
                },
            )
        )
        session.flush()
    return _view(row, exam, zone)


def pending(session: Session, session_id: int, document: str) -> list[tuple[str, datetime]]:
    """(party, sent_at) of every party not yet acknowledged, by party code."""
    rows = session.execute(
        select(Acknowledgement.party, Acknowledgement.sent_at)
        .where(
            Acknowledgement.session_id == session_id,
            Acknowledgement.document == document,
            Acknowledgement.acknowledged_at.is_(None),
        )
        .order_by(Acknowledgement.party)
    ).all()
    return [(party, sent_at) for party, sent_at in rows]
