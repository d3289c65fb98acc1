"""The database key that keeps one stage of one session from running twice at once.

A run takes the `stage_lock` row of (session, stage) — the unique constraint decides between
two runs that try together — as a lease: it expires a few minutes after it was taken
(`RCOI_STAGE_LEASE_S`) unless the run renews it. A live run renews it from a background thread
(`StageLease`, every third of the lease, in a session of its own) however long the stage
waits; a run killed on its host stops renewing, and the key is free again within one lease.
The coordinator may also give a key back by hand (`release_by_hand`, `rcoi stage release`),
which is written to the audit log.

Every expiry is stamped and compared with the database's clock, never a host's: the runs that
compete for a key may sit on hosts whose clocks disagree by minutes, and a host whose clock is
ahead would otherwise take a live key over. A takeover is a compare-and-set on the row as it
was read (holder and expiry) and on the database's own «expired now», so a renewal that lands
between the read and the update wins. A run learns that it lost its key (`StageLease.lost`,
`ensure_held`) before its next side effect: a key past its deadline on the run's own monotonic
clock counts as lost even before the database says so."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Interval,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tasks.adapters.models import AuditLog, StageLock, UtcDateTime
from tasks.errors import RcoiError

__all__ = [
    "DEFAULT_TTL",
    "HeldKey",
    "StageKeyLost",
    "StageLease",
    "acquire",
    "current_lease",
    "database_now",
    "ensure_current_lease_held",
    "held_key",
    "holder_of",
    "refresh",
    "release",
    "release_by_hand",
]

DEFAULT_TTL = timedelta(minutes=5)
RETRY_S = 3.0  # between attempts to renew after a failed one

_log = logging.getLogger(__name__)
_current: contextvars.ContextVar[StageLease | None] = contextvars.ContextVar(
    "rcoi_stage_lease", default=None
)


class StageKeyLost(RcoiError):
    """This run no longer holds its stage's key: it must stop before its next side effect.
    The message is the Russian sentence the coordinator reads."""


def _clock(session: Session, plus: timedelta = timedelta(0)) -> ColumnElement[datetime]:
    """The database's «now» (+ `plus`) as an SQL expression of the column's type. SQLite: its
    UTC text in the very format SQLAlchemy stores instants in ('YYYY-MM-DD HH:MM:SS.ffffff'),
    so that stored and computed values compare as text; PostgreSQL: `clock_timestamp()`."""
    dialect = session.get_bind().dialect.name
    expression: Any
    if dialect == "sqlite":
        shift = f"{plus.total_seconds():+.3f} seconds"
        # %f gives milliseconds (SS.SSS): three zeros make the six digits SQLAlchemy writes
        expression = func.strftime("%Y-%m-%d %H:%M:%f", "now", shift).op("||")("000")
    elif dialect == "postgresql":
        expression = func.clock_timestamp() + literal(plus, Interval())
    else:  # pragma: no cover - the regional database is SQLite or PostgreSQL
        expression = func.current_timestamp() + literal(plus, Interval())
    return type_coerce(expression, UtcDateTime())


def _instant(session: Session, now: datetime | None, plus: timedelta = timedelta(0)) -> Any:
    """`now + plus` when a moment is given (tests, simulations), else the database's clock."""
    return _clock(session, plus) if now is None else now + plus


def database_now(session: Session) -> datetime:
    """The database's clock (UTC): what every expiry is stamped and compared with."""
    return session.execute(select(_clock(session))).scalar_one()


def acquire(
    session: Session,
    session_id: int,
    stage: str,
    holder: str,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> bool:
    """Take the key (committing at once so that others see it); True if taken, or already
    held by `holder`. An expired key is taken over. `now` None: the database's clock (what a
    run uses); a moment is for tests and simulations."""
    row = session.scalars(
        select(StageLock).where(StageLock.session_id == session_id, StageLock.stage == stage)
    ).one_or_none()
    if row is None:
        return _insert(session, session_id, stage, holder, now, ttl)
    return _take_over(session, row.id, row.holder, row.expires_at, holder, now, ttl)


def _insert(
    session: Session,
    session_id: int,
    stage: str,
    holder: str,
    now: datetime | None,
    ttl: timedelta,
) -> bool:
    try:
        session.execute(
            insert(StageLock).values(
                session_id=session_id,
                stage=stage,
                holder=holder,
                acquired_at=_instant(session, now),
                expires_at=_instant(session, now, ttl),
            )
        )
        session.commit()
    except IntegrityError:  # another run inserted it first
        session.rollback()
        return False
    return True


def _take_over(
    session: Session,
    row_id: int,
    read_holder: str,
    read_expiry: datetime,
    holder: str,
    now: datetime | None,
    ttl: timedelta,
) -> bool:
    """Compare-and-set on the row as it was read: it goes to `holder` only if nobody renewed
    or took it since (holder and expiry unchanged) and it is `holder`'s own or expired now."""
    taken = session.execute(
        update(StageLock)
        .where(
            StageLock.id == row_id,
            StageLock.holder == read_holder,
            StageLock.expires_at == read_expiry,
            or_(StageLock.holder == holder, StageLock.expires_at <= _instant(session, now)),
        )
        .values(
            holder=holder,
            acquired_at=_instant(session, now),
            expires_at=_instant(session, now, ttl),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def refresh(
    session: Session,
    session_id: int,
    stage: str,
    holder: str,
    now: datetime | None = None,
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
        .values(expires_at=_instant(session, now, ttl))
        .execution_options(synchronize_session=False)
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
    (`stage_lock.released`, the holder and its times before). None when the key is not held
    (nothing is audited then: a key already given back or gone between the look and the
    delete is not «released»)."""
    for _ in range(3):  # the key may change hands between the look and the delete
        key = held_key(session, session_id, stage)
        if key is None:
            return None
        deleted = session.execute(
            delete(StageLock).where(
                StageLock.session_id == session_id,
                StageLock.stage == stage,
                StageLock.holder == key.holder,
            )
        )
        if not deleted.rowcount:  # type: ignore[attr-defined]
            session.rollback()
            continue
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
    return None


def current_lease() -> StageLease | None:
    """The lease of the `with StageLease(...)` block this code runs in (this thread or a
    context copied from it), if any."""
    return _current.get()


def ensure_current_lease_held() -> None:
    """Raise `StageKeyLost` when the code runs under a lease that is lost; nothing without one.
    The hook a side effect calls before it starts (a file sent, a manifest, a mail)."""
    lease = _current.get()
    if lease is not None:
        lease.ensure_held()


class StageLease:
    """A run's hold on a stage's key: `take()` it, then, while the `with` block runs, a daemon
    thread renews it every third of `ttl` in a session of its own; the block's end stops the
    thread and gives the key back. `lost` is set when a renewal finds the key no longer this
    run's (given back by hand, or taken over after the run stalled past its lease), or when
    no renewal succeeded before the lease ran out (an unreachable database: after it the key
    may be taken over). A failed renewal is tried again every `retry_s` seconds.

    Inside the block the lease is `current_lease()`; `ensure_held()` raises `StageKeyLost`
    once it is lost, and the run calls it before each side effect. The deadline is kept on
    `monotonic` (this host's clock that only counts seconds): it starts before the request
    that stamps the expiry, so it ends before the expiry the database holds."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        session_id: int,
        stage: str,
        holder: str,
        ttl: timedelta = DEFAULT_TTL,
        monotonic: Callable[[], float] = time.monotonic,
        retry_s: float = RETRY_S,
    ) -> None:
        self.session_factory, self.session_id, self.stage = session_factory, session_id, stage
        self.holder, self.ttl, self.monotonic = holder, ttl, monotonic
        self.retry_s = min(retry_s, ttl.total_seconds() / 3)
        self.other: str | None = None  # who holds the key when `take()` was refused
        self.renewals = 0
        self.failures = 0  # renewals that did not reach the database
        self.lost = threading.Event()
        self.lost_reason = ""
        self.deadline = 0.0  # on `monotonic`: the key is this run's at least until then
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._token: contextvars.Token[StageLease | None] | None = None

    def take(self) -> bool:
        """True when this run now holds the key (and renews it until the block ends)."""
        started = self.monotonic()
        with self.session_factory() as session:
            taken = acquire(session, self.session_id, self.stage, self.holder, None, self.ttl)
            self.other = None if taken else holder_of(session, self.session_id, self.stage)
        if taken:
            self.deadline = started + self.ttl.total_seconds()
            self._thread = threading.Thread(
                target=self._heartbeat, name=f"stage-lease-{self.stage}", daemon=True
            )
            self._thread.start()
        return taken

    def renew_once(self) -> bool | None:
        """One renewal: True renewed, False the key is no longer this run's, None the database
        did not answer (logged)."""
        started = self.monotonic()
        try:
            with self.session_factory() as session:
                held = refresh(session, self.session_id, self.stage, self.holder, None, self.ttl)
        except SQLAlchemyError as exc:  # a busy or unreachable database: try again soon
            self.failures += 1
            _log.warning("stage key %s not renewed: %s", self.stage, exc)
            return None
        if held:
            self.deadline = started + self.ttl.total_seconds()
            self.renewals += 1
        return held

    def beat(self) -> float | None:
        """One step of the heartbeat: renew; the seconds until the next step, or None once the
        key is lost (no longer this run's, or not renewed before its deadline)."""
        held = self.renew_once()
        if held:
            return self.ttl.total_seconds() / 3
        if held is False:
            self._lose(
                "его снял координатор или взял другой запуск", "released by hand or taken over"
            )
            return None
        left = self.deadline - self.monotonic()
        if left <= 0:
            self._lose(
                "база данных не отвечала весь срок ключа, и его мог взять другой запуск",
                "not renewed before it expired",
            )
            return None
        return min(self.retry_s, left)

    def _heartbeat(self) -> None:
        wait: float | None = self.ttl.total_seconds() / 3
        while wait is not None and not self._stop.wait(wait):
            wait = self.beat()

    def _lose(self, why_ru: str, why: str) -> None:
        _log.error(
            "stage key %s of session %s is no longer held by %s (%s): another run may start "
            "this stage",
            self.stage,
            self.session_id,
            self.holder,
            why,
        )
        self.lost_reason = why_ru
        self.lost.set()

    def ensure_held(self) -> None:
        """Raise `StageKeyLost` when the key is no longer this run's — lost, or not renewed
        before its deadline — so that the run stops before its next side effect."""
        if not self.lost.is_set() and self.monotonic() > self.deadline:
            self._lose(
                "он не продлён до конца своего срока, и его мог взять другой запуск",
                "past its deadline",
            )
        if self.lost.is_set():
            raise StageKeyLost(
                f"ключ этапа {self.stage} потерян: "
                f"{self.lost_reason}; этот запуск остановлен, чтобы этап не выполнялся дважды"
            )

    def release(self) -> None:
        """Stop renewing and give the key back (only if it is still this run's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self.session_factory() as session:
            release(session, self.session_id, self.stage, self.holder)

    def __enter__(self) -> StageLease:
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:  # left in another context than the one it was entered in
                _current.set(None)
            self._token = None
        self.release()
