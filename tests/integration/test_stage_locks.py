"""The database key that keeps one stage of one session from running twice at once, on SQLite
and PostgreSQL: the unique row decides between two runs, an expired key is taken over; a live
run's lease is renewed from a thread of its own, a stopped one is free within its lease; expiries
follow the database's clock and a takeover loses to a renewal that lands first; a failed renewal
is retried within seconds; a key given back by hand is audited and its holder learns it lost it
(and stops at its next side effect)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from prefect.logging import disable_run_logger
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tasks.adapters import stage_locks
from tasks.adapters.database import Database
from tasks.adapters.models import AuditLog, StageLock
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.stage_locks import (
    HeldKey,
    StageKeyLost,
    StageLease,
    _take_over,
    acquire,
    current_lease,
    database_now,
    ensure_current_lease_held,
    held_key,
    holder_of,
    refresh,
    release,
    release_by_hand,
)
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.plan import read_plan, store_plan

pytestmark = pytest.mark.integration

PLAN, SESSION = "kemerovo-2017-essay", "2017-12-06"
NOW = datetime(2017, 12, 13, 3, 0, tzinfo=UTC)


@pytest.fixture
def session_id(
    database: Database, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> int:
    settings = Settings(database_url=database_url, out_dir=tmp_path_factory.mktemp("out"))
    with disable_run_logger():
        store_plan.fn(settings, read_plan.fn(resolve_plan_path(PLAN)))
    with UnitOfWork(database.session_factory) as uow:
        return session_info(uow.session, PLAN, SESSION).id


def take(
    database: Database,
    session_id: int,
    holder: str,
    now: datetime | None = NOW,
    stage: str = "scan",
    ttl: timedelta = timedelta(hours=2),
) -> bool:
    with UnitOfWork(database.session_factory) as uow:
        return acquire(uow.session, session_id, stage, holder, now, ttl)


def test_a_second_run_does_not_get_the_key_while_the_first_holds_it(
    database: Database, session_id: int
) -> None:
    assert take(database, session_id, "run-1")
    assert not take(database, session_id, "run-2")
    assert take(database, session_id, "run-1")  # the holder itself may ask again
    with UnitOfWork(database.session_factory) as uow:
        assert holder_of(uow.session, session_id, "scan") == "run-1"


def test_other_stages_and_a_released_key_are_free(database: Database, session_id: int) -> None:
    assert take(database, session_id, "run-1")
    assert take(database, session_id, "run-2", stage="grade")
    with UnitOfWork(database.session_factory) as uow:
        release(uow.session, session_id, "scan", "run-2")  # not its key: nothing happens
        assert holder_of(uow.session, session_id, "scan") == "run-1"
        release(uow.session, session_id, "scan", "run-1")
    assert take(database, session_id, "run-2")


def test_an_expired_key_is_taken_over_and_a_refreshed_one_is_not(
    database: Database, session_id: int
) -> None:
    assert take(database, session_id, "dead-run")
    assert not take(database, session_id, "run-2", NOW + timedelta(hours=1))
    with UnitOfWork(database.session_factory) as uow:
        assert refresh(
            uow.session,
            session_id,
            "scan",
            "dead-run",
            NOW + timedelta(hours=1),
            timedelta(hours=2),
        )
    assert not take(database, session_id, "run-2", NOW + timedelta(hours=2, minutes=30))
    assert take(database, session_id, "run-2", NOW + timedelta(hours=3, minutes=1))
    with UnitOfWork(database.session_factory) as uow:
        assert not refresh(uow.session, session_id, "scan", "dead-run", NOW)


def test_of_many_runs_starting_together_exactly_one_gets_the_key(
    database: Database, session_id: int
) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def run(name: str) -> None:
        barrier.wait()
        results.append(take(database, session_id, name))

    threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


LEASE = timedelta(seconds=1.2)
WAIT_S = 30.0  # generous: the machine may be loaded; nothing here asserts how fast


def _now() -> datetime:
    return datetime.now(UTC)


def _until(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _key(database: Database, session_id: int, stage: str) -> HeldKey | None:
    with UnitOfWork(database.session_factory) as uow:
        return held_key(uow.session, session_id, stage)


def test_a_live_lease_is_renewed_and_a_stopped_one_is_free_within_its_ttl(
    database: Database, session_id: int
) -> None:
    lease = StageLease(database.session_factory, session_id, "upload", "run-1", LEASE)
    assert lease.take()
    first = _key(database, session_id, "upload")
    assert first is not None
    with lease:
        _until(lambda: lease.renewals >= 2, "the live lease was not renewed")
        renewed = _key(database, session_id, "upload")
        assert renewed is not None
        assert renewed.holder == "run-1"
        assert renewed.expires_at > first.expires_at  # pushed on by the beats
    assert take(database, session_id, "run-2", None, "upload", LEASE)  # given back at the end
    with UnitOfWork(database.session_factory) as uow:
        release(uow.session, session_id, "upload", "run-2")

    # a holder that stops beating (its process killed) loses the key within one lease: its
    # expiry is at most one lease past the database's clock, and then it is taken over
    dead = StageLease(database.session_factory, session_id, "upload", "run-3", LEASE)
    assert dead.take()
    dead._stop.set()
    with UnitOfWork(database.session_factory) as uow:
        key = held_key(uow.session, session_id, "upload")
        assert key is not None
        assert key.expires_at - database_now(uow.session) <= LEASE
    _until(
        lambda: take(database, session_id, "run-4", None, "upload", LEASE),
        "a stopped holder's key was never taken over",
    )


def test_expiries_are_stamped_and_compared_by_the_database_clock(
    database: Database, session_id: int
) -> None:
    # A run on a host whose clock is far ahead cannot take a live key: no host's clock is used.
    assert take(database, session_id, "run-1", None, "scan", timedelta(minutes=5))
    with UnitOfWork(database.session_factory) as uow:
        clock = database_now(uow.session)
        key = held_key(uow.session, session_id, "scan")
    assert key is not None
    assert clock.tzinfo is not None
    assert abs(clock - _now()) < timedelta(minutes=1)  # the test database runs on this host
    assert timedelta(minutes=4) < key.expires_at - clock <= timedelta(minutes=5)
    assert not take(database, session_id, "run-2", None, "scan")
    # pushed into the past on the database's clock, it is taken over by the database's clock
    assert take(database, session_id, "run-1", None, "scan", timedelta(seconds=-1))
    assert take(database, session_id, "run-2", None, "scan")
    with UnitOfWork(database.session_factory) as uow:
        assert holder_of(uow.session, session_id, "scan") == "run-2"


def test_a_takeover_loses_to_a_renewal_between_its_read_and_its_update(
    database: Database, session_id: int
) -> None:
    assert take(database, session_id, "slow-run", None, "scan", timedelta(seconds=-1))
    stale = _key(database, session_id, "scan")  # run-2 reads it expired ...
    assert stale is not None
    with UnitOfWork(database.session_factory) as uow:  # ... the holder renews meanwhile ...
        assert refresh(uow.session, session_id, "scan", "slow-run", None, timedelta(hours=1))
        row_id = uow.session.scalars(select(StageLock.id)).one()
    with UnitOfWork(database.session_factory) as uow:  # ... and run-2's update finds it changed
        assert not _take_over(
            uow.session, row_id, stale.holder, stale.expires_at, "run-2", None, timedelta(1)
        )
        assert holder_of(uow.session, session_id, "scan") == "slow-run"

    # The compare-and-set is on the row as read, expiry included: even a change that leaves the
    # key expired (here a renewal stamped in the past) makes a takeover read before it fail.
    assert take(database, session_id, "slow-run", None, "scan", timedelta(seconds=-2))
    stale = _key(database, session_id, "scan")
    assert stale is not None
    with UnitOfWork(database.session_factory) as uow:
        assert refresh(uow.session, session_id, "scan", "slow-run", None, timedelta(seconds=-1))
    with UnitOfWork(database.session_factory) as uow:
        assert not _take_over(
            uow.session, row_id, stale.holder, stale.expires_at, "run-2", None, timedelta(1)
        )
        fresh = held_key(uow.session, session_id, "scan")
        assert fresh is not None
        assert _take_over(  # read again, it is taken over
            uow.session, row_id, fresh.holder, fresh.expires_at, "run-2", None, timedelta(1)
        )


def test_acquire_interleaved_with_a_renewal_keeps_the_key_with_its_holder(
    database: Database, session_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert take(database, session_id, "slow-run", None, "grade", timedelta(seconds=-1))
    real = stage_locks._take_over

    def renewed_first(session: Session, *args: Any) -> bool:
        with UnitOfWork(database.session_factory) as other:
            assert refresh(other.session, session_id, "grade", "slow-run", None, timedelta(1))
        return real(session, *args)

    monkeypatch.setattr(stage_locks, "_take_over", renewed_first)
    assert not take(database, session_id, "run-2", None, "grade")
    with UnitOfWork(database.session_factory) as uow:
        assert holder_of(uow.session, session_id, "grade") == "slow-run"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _FlakyFactory:
    """A session factory whose first `failures` calls after `arm()` find the database down."""

    def __init__(self, database: Database) -> None:
        self.database, self.failures = database, 0

    def __call__(self) -> Session:
        if self.failures:
            self.failures -= 1
            raise OperationalError("UPDATE stage_lock", {}, ConnectionError("database down"))
        return self.database.session_factory()


HOUR = timedelta(hours=1)  # the heartbeat thread sleeps 20 min: the tests beat by hand


def test_a_lost_key_stops_the_run_at_its_next_side_effect(
    database: Database, session_id: int
) -> None:
    lease = StageLease(database.session_factory, session_id, "inform", "run-1", HOUR)
    assert current_lease() is None
    assert lease.take()
    with lease:
        assert current_lease() is lease
        ensure_current_lease_held()  # held: nothing happens
        with UnitOfWork(database.session_factory) as uow:
            assert release_by_hand(uow.session, session_id, "inform", "ivanova", "тест", _now())
        assert lease.beat() is None  # the next beat finds the key gone
        assert lease.lost.is_set()
        with pytest.raises(StageKeyLost, match="ключ этапа inform потерян: его снял"):
            ensure_current_lease_held()
        with pytest.raises(StageKeyLost):
            lease.ensure_held()
    assert current_lease() is None
    ensure_current_lease_held()  # outside a lease: nothing to check


def test_a_failed_renewal_is_retried_within_seconds_and_the_key_lost_at_its_deadline(
    database: Database, session_id: int
) -> None:
    clock, factory = _Clock(), _FlakyFactory(database)
    lease = StageLease(
        cast("sessionmaker[Session]", factory), session_id, "copy", "run-1", HOUR, clock, 3.0
    )
    assert lease.take()
    with lease:
        factory.failures = 1
        assert lease.beat() == 3.0  # the database is down: again in 3 s, not in 20 min
        assert (lease.failures, lease.renewals) == (1, 0)
        assert lease.beat() == HOUR.total_seconds() / 3  # back: renewed, the usual rhythm
        assert lease.renewals == 1
        deadline = lease.deadline
        assert deadline == clock.now + HOUR.total_seconds()
        factory.failures = 10**6
        clock.now = deadline - 1.0
        assert lease.beat() == 1.0  # never past the deadline
        lease.ensure_held()  # still this run's
        clock.now = deadline + 0.1
        assert lease.beat() is None
        assert lease.lost.is_set()
        with pytest.raises(StageKeyLost, match="база данных не отвечала"):
            lease.ensure_held()
        factory.failures = 0


def test_a_lease_past_its_deadline_counts_as_lost_even_if_the_heartbeat_hangs(
    database: Database, session_id: int
) -> None:
    clock = _Clock()
    lease = StageLease(database.session_factory, session_id, "reconcile", "r", HOUR, clock)
    assert lease.take()
    with lease:
        lease.ensure_held()
        clock.now += HOUR.total_seconds() + 1
        with pytest.raises(StageKeyLost, match="не продлён до конца своего срока"):
            lease.ensure_held()


def test_the_heartbeat_thread_retries_soon_after_a_failed_renewal(
    database: Database, session_id: int
) -> None:
    factory = _FlakyFactory(database)
    lease = StageLease(
        cast("sessionmaker[Session]", factory),
        session_id,
        "print",
        "run-1",
        timedelta(seconds=3),
        retry_s=0.05,
    )
    assert lease.take()
    factory.failures = 2
    with lease:
        _until(lambda: lease.renewals >= 1, "not renewed after the database came back")
        assert lease.failures == 2


def test_a_release_by_hand_that_deletes_nothing_is_not_audited(
    database: Database, session_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = stage_locks.held_key
    looks: list[HeldKey | None] = []

    def stale_once(session: Session, sid: int, stage: str) -> HeldKey | None:
        key = real(session, sid, stage)
        if not looks:  # the first look sees a holder that is gone by the delete
            key = HeldKey("gone-run", _now(), _now())
        looks.append(key)
        return key

    monkeypatch.setattr(stage_locks, "held_key", stale_once)
    with UnitOfWork(database.session_factory) as uow:
        assert release_by_hand(uow.session, session_id, "scan", "ivanova", "тест", _now()) is None
        assert len(looks) == 2
        assert not uow.session.scalars(select(AuditLog)).all()


def test_a_key_released_by_hand_is_audited_and_its_holder_learns_it_lost_it(
    database: Database, session_id: int
) -> None:
    lease = StageLease(database.session_factory, session_id, "verify", "run-1", LEASE)
    assert lease.take()
    with lease:
        with UnitOfWork(database.session_factory) as uow:
            key = release_by_hand(
                uow.session, session_id, "verify", "ivanova", "запуск завис", _now()
            )
            assert key is not None
            assert key.holder == "run-1"
            assert held_key(uow.session, session_id, "verify") is None
            assert (
                release_by_hand(uow.session, session_id, "verify", "ivanova", "ещё", _now()) is None
            )
        assert lease.lost.wait(timeout=WAIT_S)
        assert take(database, session_id, "run-2", None, "verify", LEASE)
    with UnitOfWork(database.session_factory) as uow:
        assert holder_of(uow.session, session_id, "verify") == "run-2"  # not run-1's to give back
        [record] = uow.session.scalars(
            select(AuditLog).where(AuditLog.action == "stage_lock.released")
        ).all()
        assert (record.actor, record.entity, record.entity_id) == (
            "ivanova",
            "stage_lock",
            f"{session_id}:verify",
        )
        assert record.old is not None
        assert record.old["holder"] == "run-1"
        assert record.new == {"note": "запуск завис"}
