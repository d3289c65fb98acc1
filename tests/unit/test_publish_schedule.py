"""The publish deployment: one cron per region's plan and session, a few minutes before 09:45
in the region's own zone, so that a national plan publishes at 09:45 local in every zone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from prefect.server.schemas.schedules import CronSchedule

from flows.publish import demo_start, publish_deployment, publish_schedule
from tasks.adapters.plan_files import load_plan, resolve_plan_path
from tests.publish_support import EXAM_DAY, UTC_0945, publish_plan


def _first_run(cron: str, zone: str) -> datetime:
    """When Prefect's server would first run the schedule in 2017 (UTC)."""
    schedule = CronSchedule(cron=cron, timezone=zone)
    [first] = asyncio.run(schedule.get_dates(n=1, start=datetime(2017, 1, 1, tzinfo=UTC)))
    return datetime.fromisoformat(first.isoformat()).astimezone(UTC)


@pytest.mark.parametrize("region", sorted(UTC_0945))
def test_the_schedule_fires_five_minutes_before_0945_in_the_regions_zone(region: str) -> None:
    plan = publish_plan(region)
    schedule = publish_schedule(plan, EXAM_DAY)
    assert schedule.cron == "40 9 6 12 *"
    assert schedule.timezone == plan.region.timezone
    assert schedule.slug == f"publish-{plan.id}-{EXAM_DAY}"
    assert schedule.parameters == {"plan": plan.id, "session": EXAM_DAY}
    instant = datetime.fromisoformat(UTC_0945[region])
    assert _first_run(schedule.cron, str(schedule.timezone)) == instant - timedelta(minutes=5)


def test_kamchatka_runs_the_evening_before_in_utc() -> None:
    schedule = publish_schedule(publish_plan("41"), EXAM_DAY)
    assert _first_run(schedule.cron, "Asia/Kamchatka") == datetime(2017, 12, 5, 21, 40, tzinfo=UTC)


def test_the_shipped_plans_are_scheduled_in_their_zones() -> None:
    kemerovo = load_plan(resolve_plan_path("kemerovo-2017-essay"))
    schedule = publish_schedule(kemerovo, "2018-02-07")
    assert (schedule.cron, schedule.timezone) == ("40 9 7 2 *", "Asia/Novokuznetsk")
    tomsk = load_plan(resolve_plan_path("tomsk-2024-interview"))
    interview = publish_schedule(tomsk, "2024-02-14")
    assert (interview.cron, interview.timezone) == ("25 7 14 2 *", "Asia/Tomsk")  # КИМ at 07:30


def test_one_deployment_holds_a_schedule_per_region_and_session() -> None:
    plans = [publish_plan(region, plan_id=f"essay-{region}") for region in sorted(UTC_0945)]
    plans.append(load_plan(resolve_plan_path("kemerovo-2017-essay")))  # three sessions
    plans.append(load_plan(resolve_plan_path("kuzbass-2024-roadmap")))  # no publish stage
    deployment = publish_deployment(plans, out="/srv/rcoi")
    assert deployment.name == "publish"
    assert deployment.parameters == {"out": "/srv/rcoi"}
    assert deployment.concurrency_limit == 1
    slugs = [s.slug for s in deployment.schedules or []]
    assert len(slugs) == len(set(slugs)) == 4 + 3
    zones = {s.schedule.timezone for s in deployment.schedules or []}
    assert zones == {"Europe/Moscow", "Asia/Novokuznetsk", "Asia/Yekaterinburg", "Asia/Kamchatka"}
    assert {s.parameters["session"] for s in deployment.schedules or []} == {
        EXAM_DAY,
        "2018-02-07",
        "2018-05-16",
    }


def test_the_demo_clock_starts_a_minute_before_the_instant() -> None:
    kemerovo = load_plan(resolve_plan_path("kemerovo-2017-essay"))
    start = demo_start(kemerovo, EXAM_DAY)
    assert start is not None
    assert start.astimezone(UTC) == datetime(2017, 12, 6, 2, 44, tzinfo=UTC)
    roadmap = load_plan(resolve_plan_path("kuzbass-2024-roadmap"))
    assert demo_start(roadmap, "2024-05-28") is None
