"""Prefect tasks around a scheduled stage run: the database key that keeps a stage of a
session from running twice at once, and the coordinator's alert when a stage cannot go on yet
because it waits for people (a gate, an open queue, missing results)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.notifications import alert_coordinator
from tasks.adapters.stage_locks import DEFAULT_TTL, acquire, holder_of, release
from tasks.adapters.submissions import plan_stage_id, session_info
from tasks.adapters.unit_of_work import UnitOfWork

__all__ = ["alert_waiting", "lock_stage", "unlock_stage"]


@task(name="lock-stage", cache_policy=NONE)
def lock_stage(
    settings: Settings,
    campaign: str,
    session: str,
    stage: str,
    holder: str,
    ttl: timedelta = DEFAULT_TTL,
) -> bool:
    """Take the stage's key for this run; False (logged) when another run holds it."""
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign, session)
            taken = acquire(uow.session, info.id, stage, holder, datetime.now(UTC), ttl)
            other = None if taken else holder_of(uow.session, info.id, stage)
    finally:
        database.dispose()
    if not taken:
        get_run_logger().warning(
            "%s of %s is already running (%s): this run does nothing", stage, session, other
        )
    return taken


@task(name="unlock-stage", cache_policy=NONE)
def unlock_stage(settings: Settings, campaign: str, session: str, stage: str, holder: str) -> None:
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign, session)
            release(uow.session, info.id, stage, holder)
    finally:
        database.dispose()


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
