"""The deployments of every shipped plan, read through Prefect's own schedule objects: the runs
the server will create are the plan's instants in the region's zone, none outside its
session's window or school year; publish runs once, at its instant; the names list the
stages in plan order and the tags say what every run is."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prefect.server.schemas.schedules import CronSchedule, RRuleSchedule

from flows.deployments import STAGE_ORDER, deployment_name, plan_deployments
from tasks.adapters.plan_files import load_calendar, load_plan, resolve_plan_path
from tasks.domain.plan import ResolvedStage, resolve_plan
from tasks.domain.plan_schedules import CADENCE, stage_runs
from tasks.domain.publish import release_rule

SHIPPED = (
    "kemerovo-2017-essay",
    "kalmykia-2017-essay",
    "tomsk-2024-interview",
    "kuzbass-2024-roadmap",
    "megion-2024-roadmap",
)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def server_dates(rrule: str, zone: str, start: datetime = EPOCH, n: int = 5000) -> list[datetime]:
    """What Prefect's server computes for the schedule (its own model, as stored)."""
    schedule = RRuleSchedule(rrule=rrule, timezone=zone)
    return [
        datetime.fromisoformat(d.isoformat())
        for d in asyncio.run(schedule.get_dates(n=n, start=start))
    ]


def school_year(text: str) -> tuple[date, date]:
    first = int(text[:4])
    return date(first, 9, 1), date(first + 1, 8, 31)


@pytest.mark.parametrize("plan_id", SHIPPED)
def test_every_scheduled_run_is_an_instant_of_its_plan_window_in_the_regions_zone(
    plan_id: str,
) -> None:
    plan = load_plan(resolve_plan_path(plan_id))
    zone = ZoneInfo(plan.region.timezone or "UTC")
    year_from, year_to = school_year(plan.school_year)
    deployments = {
        d.name: d for d in plan_deployments([plan], "/srv/rcoi") if d.flow_name != "watchdog"
    }
    calendar = load_calendar(plan.calendar)
    checked = 0
    for session in plan.sessions:
        resolved = resolve_plan(plan, session.id, calendar)
        windows = plan_windows(resolved)
        for run in stage_runs(plan.id, session.id, resolved):
            deployment = deployments[deployment_name(plan.id, session.id, run.stage)]
            [schedule] = deployment.schedules or []
            assert schedule.schedule.timezone == plan.region.timezone
            dates = server_dates(schedule.schedule.rrule, schedule.schedule.timezone)
            # the plan's own rows give the window (verify and upload follow the scan's: the
            # derivation is tasks/domain/plan_schedules.py's, tested there)
            start, end = windows.get(run.stage, (run.start, run.until))
            expected = []
            moment = start
            while moment < end:  # from the window's start at the stage's cadence
                expected.append(moment)
                moment += CADENCE[run.stage]
            assert dates == expected, (run.stage, session.id)
            for moment in dates:  # named in the region's zone, inside its school year
                assert moment.astimezone(zone).utcoffset() == moment.utcoffset()
                assert year_from <= moment.astimezone(zone).date() <= year_to
            checked += 1
        if any(s.stage is not None and s.stage.value == "publish" for s in resolved):
            name = deployment_name(plan.id, session.id, "publish")
            [schedule] = deployments[name].schedules or []
            instant = release_rule(resolved).instant()
            assert server_dates(schedule.schedule.rrule, schedule.schedule.timezone) == [instant]
            after = instant + timedelta(seconds=1)
            assert server_dates(schedule.schedule.rrule, schedule.schedule.timezone, after) == []
            checked += 1
    assert checked == len(deployments)
    if plan_id.endswith("-roadmap"):  # a road map: no automated stage, only its watchdog
        assert checked == 0
        assert [d.flow_name for d in plan_deployments([plan], "/srv/rcoi")] == ["watchdog"]


def plan_windows(resolved: list[ResolvedStage]) -> dict[str, tuple[datetime, datetime]]:
    """Each automated stage's window straight from the plan's rows: from the row's start (a
    deadline alone: a week before it) to its end; two rows of one stage, their union."""
    windows: dict[str, tuple[datetime, datetime]] = {}
    for row in resolved:
        if row.stage is None or row.stage.value not in CADENCE or row.end is None:
            continue
        start = row.start or row.end - timedelta(days=7)
        if row.stage.value in windows:
            before = windows[row.stage.value]
            start, end = min(before[0], start), max(before[1], row.end)
        else:
            end = row.end
        windows[row.stage.value] = (start, end)
    return windows


def test_the_publish_run_of_the_february_session_is_at_0945_novokuznetsk_and_never_again() -> None:
    plan = load_plan(resolve_plan_path("kemerovo-2017-essay"))
    [deployment] = [
        d
        for d in plan_deployments([plan], "/srv/rcoi")
        if d.name == "kemerovo-2017-essay · 2018-02-07 · 04 publish"
    ]
    [schedule] = deployment.schedules or []
    zone = ZoneInfo("Asia/Novokuznetsk")
    now = datetime(2018, 1, 10, tzinfo=zone)  # after the December session, before February
    dates = server_dates(schedule.schedule.rrule, schedule.schedule.timezone, now)
    assert dates == [datetime(2018, 2, 7, 9, 45, tzinfo=zone)]
    assert "TZID=Asia/Novokuznetsk" in schedule.schedule.rrule  # the UI shows the zone
    assert deployment.parameters == {
        "plan": "kemerovo-2017-essay",
        "session": "2018-02-07",
        "out": "/srv/rcoi",
    }


def test_deployments_read_in_plan_order_and_carry_the_labels_of_their_runs() -> None:
    plans = [
        load_plan(resolve_plan_path(p)) for p in ("kemerovo-2017-essay", "kalmykia-2017-essay")
    ]
    deployments = plan_deployments(plans, "/srv/rcoi")
    names = [d.name for d in deployments]
    for plan in plans:  # the UI's A–Z is each plan's own order
        of_plan = [n for n in names if n.startswith(f"{plan.id} · ")]
        assert of_plan == sorted(of_plan)
    december = [
        n.rsplit(" ", 1)[-1] for n in names if n.startswith("kemerovo-2017-essay · 2017-12-06")
    ]
    assert december == [s for s in STAGE_ORDER if s in december]
    assert december[:4] == ["collect", "reconcile", "print", "publish"]
    scan = next(d for d in deployments if d.name == "kalmykia-2017-essay · 2017-12-06 · 07 scan")
    assert set(scan.tags) == {
        "rcoi",
        "plan:kalmykia-2017-essay",
        "region:08",
        "session:2017-12-06",
        "stage:scan",
    }
    assert scan.entrypoint_type.value == "module_path"
    assert "Europe/Moscow" in (scan.description or "")
    watchdog = next(d for d in deployments if d.name == "kalmykia-2017-essay · 00 watchdog")
    [schedule] = watchdog.schedules or []
    cron = CronSchedule(cron=schedule.schedule.cron, timezone=schedule.schedule.timezone)
    assert cron.timezone == "Europe/Moscow"
