"""The publish deployments: one per region's plan and session, each a one-off schedule at the
release instant (09:45) in the region's own zone, so that a national plan publishes at 09:45
local in every zone — once, never on that date of a later year."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from prefect.server.schemas.schedules import RRuleSchedule

from flows.deployments import plan_deployments
from flows.publish import demo_start, publish_instant
from tasks.adapters.plan_files import load_plan, resolve_plan_path
from tests.publish_support import EXAM_DAY, UTC_0945, publish_plan


def _runs(rrule: str, zone: str, start: datetime) -> list[datetime]:
    """Every run Prefect's server would create from `start` on (UTC)."""
    schedule = RRuleSchedule(rrule=rrule, timezone=zone)
    return [
        datetime.fromisoformat(d.isoformat()).astimezone(UTC)
        for d in asyncio.run(schedule.get_dates(n=100, start=start))
    ]


def _publish_schedules(plans: list) -> list:  # type: ignore[type-arg]
    return [
        s
        for d in plan_deployments(plans, "/srv/rcoi")
        if d.flow_name == "publish"
        for s in d.schedules or []
    ]


@pytest.mark.parametrize("region", sorted(UTC_0945))
def test_the_schedule_fires_once_at_0945_in_the_regions_zone(region: str) -> None:
    plan = publish_plan(region)
    [schedule] = _publish_schedules([plan])
    assert schedule.schedule.timezone == plan.region.timezone
    assert schedule.slug == f"publish-{plan.id}-{EXAM_DAY}"
    instant = datetime.fromisoformat(UTC_0945[region])
    assert publish_instant(plan, EXAM_DAY) == instant
    start = datetime(2017, 1, 1, tzinfo=UTC)
    assert _runs(schedule.schedule.rrule, schedule.schedule.timezone, start) == [instant]


def test_kamchatka_runs_the_evening_before_in_utc() -> None:
    [schedule] = _publish_schedules([publish_plan("41")])
    start = datetime(2017, 1, 1, tzinfo=UTC)
    assert _runs(schedule.schedule.rrule, "Asia/Kamchatka", start) == [
        datetime(2017, 12, 5, 21, 45, tzinfo=UTC)
    ]


def test_the_shipped_plans_publish_at_their_instants_and_never_a_year_later() -> None:
    kemerovo = load_plan(resolve_plan_path("kemerovo-2017-essay"))
    february = publish_instant(kemerovo, "2018-02-07")
    assert february == datetime(2018, 2, 7, 2, 45, tzinfo=UTC)  # 09:45 +07
    tomsk = load_plan(resolve_plan_path("tomsk-2024-interview"))
    assert publish_instant(tomsk, "2024-02-14") == datetime(2024, 2, 14, 0, 30, tzinfo=UTC)
    for schedule in _publish_schedules([kemerovo]):
        later = datetime(2018, 6, 1, tzinfo=UTC)  # after every session of the school year
        assert _runs(schedule.schedule.rrule, schedule.schedule.timezone, later) == []
    roadmap = load_plan(resolve_plan_path("kuzbass-2024-roadmap"))
    assert publish_instant(roadmap, "2024-05-28") is None  # no publish stage


def test_a_deployment_per_region_and_session() -> None:
    plans = [publish_plan(region, plan_id=f"essay-{region}") for region in sorted(UTC_0945)]
    plans.append(load_plan(resolve_plan_path("kemerovo-2017-essay")))  # three sessions
    plans.append(load_plan(resolve_plan_path("kuzbass-2024-roadmap")))  # no publish stage
    publishing = [d for d in plan_deployments(plans, "/srv/rcoi") if d.flow_name == "publish"]
    assert len(publishing) == len({d.name for d in publishing}) == 4 + 3
    assert all(d.concurrency_limit == 1 for d in publishing)
    zones = {s.schedule.timezone for d in publishing for s in d.schedules or []}
    assert zones == {"Europe/Moscow", "Asia/Novokuznetsk", "Asia/Yekaterinburg", "Asia/Kamchatka"}
    assert {d.parameters["session"] for d in publishing} == {EXAM_DAY, "2018-02-07", "2018-05-16"}


def test_the_demo_clock_starts_a_minute_before_the_instant() -> None:
    kemerovo = load_plan(resolve_plan_path("kemerovo-2017-essay"))
    start = demo_start(kemerovo, EXAM_DAY)
    assert start is not None
    assert start.astimezone(UTC) == datetime(2017, 12, 6, 2, 44, tzinfo=UTC)
    assert start + timedelta(minutes=1) == publish_instant(kemerovo, EXAM_DAY)
    roadmap = load_plan(resolve_plan_path("kuzbass-2024-roadmap"))
    assert demo_start(roadmap, "2024-05-28") is None
