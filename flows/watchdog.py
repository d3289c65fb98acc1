"""Deadline watchdog flow: reminders, alerts and escalations for the plan's deadlines, every
15 minutes in the region's zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect.schedules import Cron

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.domain.plan import Plan
from tasks.domain.watchdog import Policy
from tasks.plan import read_plan
from tasks.watchdog import watch_deadlines

WATCHDOG_CRON = "*/15 * * * *"


@stage_flow("watchdog", all_sessions=True, waits=False)
def watchdog(
    out: str = "out",
    plan: str = "kemerovo-2017-essay",
    session: str | None = None,
    now: datetime | None = None,
    reminder_hours: list[int] | None = None,
    authority_delay_hours: int = 24,
) -> dict[str, Any]:
    """Evaluate every watched deadline of the plan (one session, or all) at `now`: an
    injected clock for simulations and tests; the real one when scheduled."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    policy = Policy(
        reminders=tuple(timedelta(hours=h) for h in (reminder_hours or [72, 24])),
        authority_delay=timedelta(hours=authority_delay_hours),
    )
    sessions = [session] if session else None
    return watch_deadlines(
        settings, the_plan.id, sessions, now, policy, region=the_plan.region.code
    )


def watchdog_schedule(the_plan: Plan) -> Cron:
    """Every 15 minutes in the region's zone: deadlines are local, and so is the schedule's
    slug in the UI. Outside the plan's windows a run only reads the checks and sends nothing."""
    return Cron(WATCHDOG_CRON, timezone=the_plan.region.timezone, slug=f"watchdog-{the_plan.id}")


def demo_instants(the_plan: Plan, session_id: str, authority_delay: timedelta) -> list[datetime]:
    """Simulated clock for the demo: a day before the submission deadline (reminder), an hour
    after it (alert and escalation), and after the authority delay (the last level)."""
    from tasks.adapters.plan_files import load_calendar
    from tasks.domain.plan import StageKind, resolve_plan

    stages = resolve_plan(the_plan, session_id, load_calendar(the_plan.calendar))
    dues = [s.due for s in stages if s.stage is StageKind.COLLECT and s.due is not None]
    if not dues:  # a plan without a submission deadline: nothing to simulate around
        return []
    due = dues[0]
    hour = timedelta(hours=1)
    return [due - timedelta(days=1) + hour, due + hour, due + authority_delay + hour]
