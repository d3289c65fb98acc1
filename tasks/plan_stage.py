"""Prefect tasks around a scheduled stage run: the database key that keeps a stage of a
session from running twice at once (a lease the run renews while it lives), and the
coordinator's alert when a stage cannot go on yet
because it waits for people (a gate, an open queue, missing results)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.notifications import alert_coordinator
from tasks.adapters.stage_locks import StageLease, ensure_current_lease_held
from tasks.adapters.submissions import plan_stage_id, session_info
from tasks.adapters.unit_of_work import UnitOfWork

__all__ = ["alert_waiting", "ensure_key_held", "stage_key"]


@contextmanager
def stage_key(
    settings: Settings, campaign: str, session: str, stage: str, holder: str
) -> Iterator[bool]:
    """The stage's key for this run, as a lease of `settings.stage_lease_s` renewed in the
    background while the block runs and given back at its end. Yields False (logged) when
    another run holds it: then the block must do nothing."""
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign, session)
        ttl = timedelta(seconds=settings.stage_lease_s)
        lease = StageLease(database.session_factory, info.id, stage, holder, ttl)
        if not lease.take():
            get_run_logger().warning(
                "%s of %s is already running (%s): this run does nothing",
                stage,
                session,
                lease.other,
            )
            yield False
            return
        with lease:
            yield True
    finally:
        database.dispose()


def ensure_key_held() -> None:
    """Raise `StageKeyLost` (the Russian reason) when this run's stage key was taken over or
    given back by hand while it ran: the run goes no further, and fails rather than reporting
    a stage another run may be doing at the same time."""
    ensure_current_lease_held()


@task(name="alert-waiting", cache_policy=NONE)
def alert_waiting(
    settings: Settings, campaign: str, session: str, stage: str, reason: str, day: str
) -> int:
    """Tell the coordinator, once a day per stage and reason, why a stage waits (the Russian
    reason of the refusal: codes and counts, no personal data)."""
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign, session)
            stage_id = plan_stage_id(uow.session, info.id, stage)
        digest = hashlib.sha256(reason.encode()).hexdigest()[:12]
        return alert_coordinator(
            settings,
            database.session_factory,
            f"stage-waiting:{campaign}:{session}:{stage}:{day}:{digest}",
            f"Этап «{stage}» сеанса {session} ожидает",
            f"Этап «{stage}» сеанса {session} не может продолжиться:\n{reason}\n\n"
            "Запуск повторится по расписанию.\nРЦОИ\n",
            stage_id,
        )
    finally:
        database.dispose()
