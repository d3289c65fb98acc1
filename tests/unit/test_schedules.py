"""The watchdog's schedule: every 15 minutes in the region's own zone."""

from __future__ import annotations

import pytest
from prefect.client.schemas.schedules import CronSchedule

from flows.watchdog import WATCHDOG_CRON, watchdog_schedule
from tasks.adapters.plan_files import load_plan, resolve_plan_path


@pytest.mark.parametrize(
    ("plan", "zone"),
    [("kemerovo-2017-essay", "Asia/Novokuznetsk"), ("kalmykia-2017-essay", "Europe/Moscow")],
)
def test_the_watchdog_runs_every_quarter_hour_in_the_regions_zone(plan: str, zone: str) -> None:
    schedule = watchdog_schedule(load_plan(resolve_plan_path(plan)))
    assert schedule.cron == WATCHDOG_CRON
    assert schedule.timezone == zone
    assert schedule.slug == f"watchdog-{plan}"
    # what the server stores: Prefect's own schedule model accepts the cron and the zone
    stored = CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    assert stored.timezone == zone
    with pytest.raises(ValueError, match="timezone"):
        CronSchedule(cron=schedule.cron, timezone="Asia/Nowhere")
