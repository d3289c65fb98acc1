"""When the stages of a plan run by themselves (tasks/domain/plan_schedules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prefect.server.schemas.schedules import RRuleSchedule

from tasks.adapters.plan_files import load_calendar, load_plan, resolve_plan_path
from tasks.domain.plan import resolve_plan
from tasks.domain.plan_schedules import CADENCE, StageRun, rrule_text, stage_runs


def runs(plan_id: str, session: str) -> dict[str, StageRun]:
    plan = load_plan(resolve_plan_path(plan_id))
    resolved = resolve_plan(plan, session, load_calendar(plan.calendar))
    return {run.stage: run for run in stage_runs(plan.id, session, resolved)}


def instants(run: StageRun) -> list[datetime]:
    """The run instants as Prefect's own schedule expands the rule (its zone applied)."""
    schedule = RRuleSchedule(rrule=rrule_text(run), timezone=run.zone)
    return [t.astimezone(ZoneInfo(run.zone)) for t in schedule.to_rrule()]


def test_every_automated_stage_of_the_kemerovo_plan_has_runs_and_publish_is_not_among_them() -> (
    None
):
    got = runs("kemerovo-2017-essay", "2017-12-06")
    assert set(got) == set(CADENCE)
    assert "publish" not in got


def test_grading_runs_hourly_in_local_time_from_10_00_on_the_exam_day_to_the_end_of_day_6() -> None:
    grade = runs("kemerovo-2017-essay", "2017-12-06")["grade"]
    times = instants(grade)
    zone = ZoneInfo("Asia/Novokuznetsk")
    assert times[0] == datetime(2017, 12, 6, 10, 0, tzinfo=zone)
    assert times[1] - times[0] == timedelta(hours=1)
    assert times[-1] == datetime(2017, 12, 12, 23, 0, tzinfo=zone)  # the window ends at 24:00
    assert len(times) == 24 * 6 + 14  # 10:00 on day 0 to 23:00 on day 6: no hour lost
    assert grade.slug == "grade-kemerovo-2017-essay-2017-12-06"


def test_the_same_stage_of_another_region_runs_at_its_own_local_time() -> None:
    kemerovo = instants(runs("kemerovo-2017-essay", "2017-12-06")["copy"])[0]
    kalmykia = instants(runs("kalmykia-2017-essay", "2017-12-06")["copy"])[0]
    assert kemerovo.astimezone(UTC) == datetime(2017, 12, 6, 3, 0, tzinfo=UTC)  # 10:00 +07
    assert kalmykia.astimezone(UTC) == datetime(2017, 12, 5, 21, 0, tzinfo=UTC)  # 00:00 +03


def test_a_deadline_without_a_start_begins_its_runs_a_week_before() -> None:
    collect = runs("kemerovo-2017-essay", "2017-12-06")["collect"]
    assert collect.until - collect.start == timedelta(days=7)
    assert instants(collect)[-1] < collect.until


def test_verify_follows_the_scan_window_and_upload_runs_two_days_after_the_scan() -> None:
    got = runs("kemerovo-2017-essay", "2017-12-06")
    assert (got["verify"].start, got["verify"].until) == (got["scan"].start, got["scan"].until)
    assert got["upload"].start == got["scan"].until
    assert got["upload"].until == got["scan"].until + timedelta(days=2)
    assert len(instants(got["upload"])) == 8  # every 6 hours


def test_a_plan_row_for_the_upload_wins_over_the_derived_window() -> None:
    got = runs("kalmykia-2017-essay", "2017-12-06")
    zone = ZoneInfo("Europe/Moscow")
    assert got["upload"].start == datetime(2017, 12, 18, tzinfo=zone)
    assert got["upload"].until == datetime(2017, 12, 21, tzinfo=zone)


@pytest.mark.parametrize(
    "plan_id", ["kemerovo-2017-essay", "kalmykia-2017-essay", "tomsk-2024-interview"]
)
def test_every_rule_is_one_prefect_accepts_and_ends_inside_its_window(plan_id: str) -> None:
    from prefect.schedules import RRule

    plan = load_plan(resolve_plan_path(plan_id))
    for session in plan.sessions:
        for run in runs(plan_id, session.id).values():
            RRule(rrule_text(run), timezone=run.zone)  # raises on a rule Prefect refuses
            times = instants(run)
            assert times
            assert times[0] == run.start
            assert times[-1] < run.until
