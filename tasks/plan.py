"""Prefect tasks of the plan-schedule: read, check, resolve and store a plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.plan_files import inspect_plan, load_calendar
from tasks.adapters.registry import upsert_campaign
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.plan import Plan, ResolvedStage, Severity, resolve_plan
from tasks.domain.plan_text import located_problem
from tasks.errors import PlanError

__all__ = ["read_plan", "store_plan"]


@task(name="read-plan", cache_policy=NONE)
def read_plan(path: Path) -> Plan:
    """The plan at `path`; fails on errors (in Russian: the file, the stage, the session, the
    problem), logs warnings (ambiguous deadlines, ambiguous local times, ...)."""
    logger = get_run_logger()
    report = inspect_plan(path)
    for problem in report.problems:
        if problem.severity is Severity.WARNING:
            logger.warning("plan %s: %s", path.name, located_problem(problem))
    if report.plan is None or not report.ok:
        errors = [located_problem(p) for p in report.problems if p.severity is Severity.ERROR]
        raise PlanError(f"план {path} с ошибками (rcoi plan check): {'; '.join(errors)}")
    return report.plan


@task(name="store-plan", cache_policy=NONE)
def store_plan(settings: Settings, plan: Plan) -> dict[str, Any]:
    """Resolve every session of the plan to instants and store them as plan stages."""
    calendar = load_calendar(plan.calendar)
    resolved: dict[str, list[ResolvedStage]] = {
        s.id: resolve_plan(plan, s.id, calendar) for s in plan.board_sessions()
    }
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            counts = upsert_campaign(uow.session, plan, resolved)
            uow.commit()
    finally:
        database.dispose()
    summary: dict[str, Any] = {
        name: {"offered": c.offered, "inserted": c.inserted} for name, c in counts.items()
    }
    get_run_logger().info("stored plan %s: %s", plan.id, summary)
    return summary
