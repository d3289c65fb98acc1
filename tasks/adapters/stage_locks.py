"""The database key that keeps one stage of one session from running twice at once.

A run takes the `stage_lock` row of (session, stage) — the unique constraint decides between
two runs that try together — and gives it back at the end. A run that died holding it (a
killed worker) leaves a row that expires; long waits (verification, the federal receipt)
refresh it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tasks.adapters.models import StageLock

__all__ = ["DEFAULT_TTL", "acquire", "holder_of", "refresh", "release"]

DEFAULT_TTL = timedelta(hours=2)


def acquire(
    session: Session,
    session_id: int,
    stage: str,
    holder: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> bool:
    """Take the key (committing at once so that others see it); True if taken, or already
    held by `holder`. An expired key is taken over."""
    row = session.scalars(
        select(StageLock).where(StageLock.session_id == session_id, StageLock.stage == stage)
    ).one_or_none()
    if row is not None:
        if row.holder != holder and row.expires_at > now:
            return False
        taken = session.execute(  # compare-and-set: only one of two takers updates the row
            update(StageLock)
            .where(StageLock.id == row.id, StageLock.holder == row.holder)
            .values(holder=holder, acquired_at=now, expires_at=now + ttl)
        )
        session.commit()
        return bool(taken.rowcount)  # type: ignore[attr-defined]
    session.add(
        StageLock(
            session_id=session_id,
            stage=stage,
            holder=holder,
            acquired_at=now,
            expires_at=now + ttl,
        )
    )
    try:
        session.commit()
    except IntegrityError:  # another run inserted it first
        session.rollback()
        return False
    return True


def refresh(
    session: Session,
    session_id: int,
    stage: str,
    holder: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> bool:
    """Push the expiry on while the holder still holds the key."""
    done = session.execute(
        update(StageLock)
        .where(
            StageLock.session_id == session_id,
            StageLock.stage == stage,
            StageLock.holder == holder,
        )
        .values(expires_at=now + ttl)
    )
    session.commit()
    return bool(done.rowcount)  # type: ignore[attr-defined]


def release(session: Session, session_id: int, stage: str, holder: str) -> None:
    session.execute(
        delete(StageLock).where(
            StageLock.session_id == session_id,
            StageLock.stage == stage,
            StageLock.holder == holder,
        )
    )
    session.commit()


def holder_of(session: Session, session_id: int, stage: str) -> str | None:
    return session.scalars(
        select(StageLock.holder).where(StageLock.session_id == session_id, StageLock.stage == stage)
    ).one_or_none()
