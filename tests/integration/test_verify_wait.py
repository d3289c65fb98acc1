"""The verify stage waits for people: until the queue is empty or the coordinator closes it,
polling the regional database; with a timeout it says what is left instead of results."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger

from config.settings import Settings
from tasks.adapters.database import Database, bootstrap
from tasks.adapters.models import VerificationItem
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import UnitOfWork, open_unit_of_work
from tasks.adapters.verify_store import apply_decision, close_queue
from tasks.plan import read_plan, store_plan
from tasks.verify import wait_for_queue

pytestmark = pytest.mark.integration

PLAN, SESSION = "kemerovo-2017-essay", "2017-12-06"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """A session with one open item."""
    settings = Settings(out_dir=tmp_path)
    with disable_run_logger():
        store_plan.fn(settings, read_plan.fn(resolve_plan_path(PLAN)))
    with open_unit_of_work(settings) as uow:
        session_id = session_info(uow.session, PLAN, SESSION).id
        uow.session.add(
            VerificationItem(
                key="test:one",
                session_id=session_id,
                kind="scan",
                field="topic_number",
                reason="цифры поля распознаны неуверенно",
                recognised_value="101",
                status="open",
            )
        )
        uow.commit()
    yield settings
    bootstrap(settings).dispose()


def _later(action: object, seconds: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()))  # type: ignore[operator]
    thread.start()
    return thread


def _decide(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        item = uow.session.query(VerificationItem).one()
        apply_decision(uow.session, item.id, "ivanova", "operator", "101", datetime.now(UTC))
        uow.commit()


def _close(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        session_id = session_info(uow.session, PLAN, SESSION).id
        close_queue(uow.session, session_id, "coordinator", "сроки", datetime.now(UTC))
        uow.commit()


def test_with_a_timeout_the_wait_returns_what_is_still_open(settings: Settings) -> None:
    with disable_run_logger():
        waited = wait_for_queue.fn(settings, PLAN, SESSION, 0.05, 0.3)
    assert waited == {"open": 1, "closed_by_coordinator": False, "timed_out": True}


def test_the_wait_ends_when_an_operator_resolves_the_last_item(settings: Settings) -> None:
    database = bootstrap(settings)  # built here: Alembic's migration is not thread-safe
    thread = _later(lambda: _decide(database), 0.3)
    with disable_run_logger():
        waited = wait_for_queue.fn(settings, PLAN, SESSION, 0.05, 30.0)
    thread.join()
    database.dispose()
    assert waited["open"] == 0
    assert waited["closed_by_coordinator"] is False
    assert waited["waited_s"] >= 0.2


def test_the_wait_ends_when_the_coordinator_closes_the_queue_with_items_open(
    settings: Settings,
) -> None:
    database = bootstrap(settings)
    thread = _later(lambda: _close(database), 0.3)
    with disable_run_logger():
        waited = wait_for_queue.fn(settings, PLAN, SESSION, 0.05, 30.0)
    thread.join()
    database.dispose()
    assert waited["open"] == 1
    assert waited["closed_by_coordinator"] is True
