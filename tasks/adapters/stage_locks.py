"""The database key that keeps one stage of one session from running twice at once.

A run takes the `stage_lock` row of (session, stage) — the unique constraint decides between
two runs that try together — as a lease: it expires a few minutes after it was taken
(`RCOI_STAGE_LEASE_S`) unless the run renews it. A live run renews it from a background thread
(`StageLease`, every third of the lease, in a session of its own) however long the stage
waits; a run killed on its host stops renewing, and the key is free again within one lease.
The coordinator may also give a key back by hand (`release_by_hand`, `rcoi stage release`),
which is written to the audit log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tasks.adapters.models import AuditLog, StageLock

__all__ = [
    "DEFAULT_TTL",
    "HeldKey",
    "StageLease",
    "acquire",
    "held_key",
    "holder_of",
    "refresh",
    "release",
    "release_by_hand",
]

DEFAULT_TTL = timedelta(minutes=5)

_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
    """Push the expiry on while the holder still holds the key; False when it does not (the
    key was given back by hand, or expired and was taken over)."""
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


@dataclass(frozen=True, slots=True)
class HeldKey:
    """Who holds a stage's key, since when and until when (UTC)."""

    holder: str
    acquired_at: datetime
    expires_at: datetime

    def as_record(self) -> dict[str, str]:
        return {
            "holder": self.holder,
            "acquired_at": self.acquired_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


def held_key(session: Session, session_id: int, stage: str) -> HeldKey | None:
    row = session.scalars(
        select(StageLock).where(StageLock.session_id == session_id, StageLock.stage == stage)
    ).one_or_none()
    if row is None:
        return None
    return HeldKey(row.holder, row.acquired_at, row.expires_at)


def release_by_hand(
    session: Session,
    session_id: int,
    stage: str,
    actor: str,
    note: str,
    now: datetime,
) -> HeldKey | None:
    """Give back a stage's key whoever holds it, with the audit record of who did it and why
    (`stage_lock.released`, the holder and its times before). None when the key is not held."""
    key = held_key(session, session_id, stage)
    if key is None:
        return None
    session.execute(
        delete(StageLock).where(
            StageLock.session_id == session_id,
            StageLock.stage == stage,
            StageLock.holder == key.holder,
        )
    )
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action="stage_lock.released",
            entity="stage_lock",
            entity_id=f"{session_id}:{stage}",
            old=key.as_record(),
            new={"note": note},
        )
    )
    session.commit()
    return key


class StageLease:
    """A run's hold on a stage's key: `take()` it, then, while the `with` block runs, a daemon
    thread renews it every third of `ttl` in a session of its own; the block's end stops the
    thread and gives the key back. `lost` is set when a renewal finds the key no longer this
    run's (given back by hand, or taken over after the run stalled past its lease)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        session_id: int,
        stage: str,
        holder: str,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.session_factory, self.session_id, self.stage = session_factory, session_id, stage
        self.holder, self.ttl, self.clock = holder, ttl, clock
        self.other: str | None = None  # who holds the key when `take()` was refused
        self.renewals = 0
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> bool:
        """True when this run now holds the key (and renews it until the block ends)."""
        with self.session_factory() as session:
            taken = acquire(
                session, self.session_id, self.stage, self.holder, self.clock(), self.ttl
            )
            self.other = None if taken else holder_of(session, self.session_id, self.stage)
        if taken:
            self._thread = threading.Thread(
                target=self._heartbeat, name=f"stage-lease-{self.stage}", daemon=True
            )
            self._thread.start()
        return taken

    def _heartbeat(self) -> None:
        interval = self.ttl.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                with self.session_factory() as session:
                    held = refresh(
                        session, self.session_id, self.stage, self.holder, self.clock(), self.ttl
                    )
            except SQLAlchemyError as exc:  # a busy or unreachable database: try next beat
                _log.warning("stage key %s not renewed: %s", self.stage, exc)
                continue
            if not held:
                _log.error(
                    "stage key %s of session %s is no longer held by %s (released by hand or "
                    "taken over): another run may start this stage",
                    self.stage,
                    self.session_id,
                    self.holder,
                )
                self.lost.set()
                return
            self.renewals += 1

    def release(self) -> None:
        """Stop renewing and give the key back (only if it is still this run's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self.session_factory() as session:
            release(session, self.session_id, self.stage, self.holder)

    def __enter__(self) -> StageLease:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
