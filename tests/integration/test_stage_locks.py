"""The database key that keeps one stage of one session from running twice at once, on SQLite
and PostgreSQL: the unique row decides between two runs, an expired key is taken over; a live
run's lease is renewed from a thread of its own, a stopped one is free within its lease; a key
given back by hand is audited and its holder learns it lost it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from prefect.logging import disable_run_logger
from sqlalchemy import select

from config.settings import Settings
from tasks.adapters.database import Database
from tasks.adapters.models import AuditLog
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.stage_locks import (
    StageLease,
    acquire,
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
    now: datetime = NOW,
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


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_live_lease_is_renewed_and_a_stopped_one_is_free_within_its_ttl(
    database: Database, session_id: int
) -> None:
    lease = StageLease(database.session_factory, session_id, "upload", "run-1", LEASE)
    assert lease.take()
    with lease:
        time.sleep(3 * LEASE.total_seconds())  # three leases long: kept alive by the beats
        assert not take(database, session_id, "run-2", _now(), "upload", LEASE)
        assert lease.renewals >= 4
    assert take(database, session_id, "run-2", _now(), "upload", LEASE)  # given back at the end
    with UnitOfWork(database.session_factory) as uow:
        release(uow.session, session_id, "upload", "run-2")

    # a holder that stops beating (its process killed) loses the key within one lease
    dead = StageLease(database.session_factory, session_id, "upload", "run-3", LEASE)
    assert dead.take()
    dead._stop.set()
    stopped = _now()
    while not take(database, session_id, "run-4", _now(), "upload", LEASE):
        assert _now() - stopped < LEASE + timedelta(seconds=2)
        time.sleep(0.05)


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
        assert lease.lost.wait(timeout=3 * LEASE.total_seconds())
        assert take(database, session_id, "run-2", _now(), "verify", LEASE)
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
