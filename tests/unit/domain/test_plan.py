"""The plan-schedule model: every kind of time specification, offsets, zones, schema, checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from tasks.domain.calendar import ProductionCalendar
from tasks.domain.plan import (
    Plan,
    PlanProblem,
    ResolvedStage,
    Severity,
    check_plan,
    resolve_plan,
)
from tasks.errors import PlanError

NOVOKUZNETSK = "Asia/Novokuznetsk"
EXAM = "2017-12-06"

# A hand-built production calendar: 04.11.2017 (Saturday) moved to Monday 06.11.2017;
# Saturday 28.04.2018 is a working day, 30.04-02.05.2018 are holidays.
CALENDAR = ProductionCalendar(
    name="test",
    years=frozenset({2017, 2018}),
    holidays=frozenset({date(2017, 11, 6), date(2018, 4, 30), date(2018, 5, 1), date(2018, 5, 2)}),
    workdays=frozenset({date(2018, 4, 28)}),
)


def make_plan(
    *stages: dict[str, Any],
    sessions: tuple[tuple[str, str], ...] = ((EXAM, EXAM),),
    timezone: str | None = NOVOKUZNETSK,
    school_year: str = "2017/18",
) -> Plan:
    return Plan.model_validate(
        {
            "schema_version": 1,
            "id": "test-plan",
            "title": "Тестовый план-график",
            "procedure": "ИС-11",
            "school_year": school_year,
            "region": {"code": "42", "name": "Кемеровская область", "timezone": timezone},
            "sessions": [{"id": sid, "exam_date": day} for sid, day in sessions],
            "stages": list(stages),
        }
    )


def stage(stage_id: str, time: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": stage_id, "title": f"Этап {stage_id}", "time": time, **extra}


def on(day: str, at: str | None = None) -> dict[str, Any]:
    return {"date": day} if at is None else {"date": day, "time": at}


def window(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "window", "start": start, "end": end}


def only(
    plan: Plan, session_id: str | None = None, calendar: ProductionCalendar | None = None
) -> ResolvedStage:
    resolved = resolve_plan(plan, session_id, calendar)
    assert len(resolved) == 1
    return resolved[0]


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, zone: str = NOVOKUZNETSK
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def codes(problems: list[PlanProblem]) -> list[str]:
    return [problem.code for problem in problems]


# --- kinds of time specification ----------------------------------------------------------------


def test_a_window_of_days_ends_at_the_midnight_after_its_last_day() -> None:
    resolved = only(make_plan(stage("enter", window(on("2017-11-13"), on("2017-11-15")))))
    assert resolved.kind == "window"
    assert resolved.start == local(2017, 11, 13)
    assert resolved.end == local(2017, 11, 16)
    assert resolved.due == resolved.end
    assert resolved.start_timed is False
    assert resolved.start.tzinfo == ZoneInfo(NOVOKUZNETSK)


def test_a_window_may_start_at_a_time_of_day() -> None:
    resolved = only(make_plan(stage("hold", window(on(EXAM, "10:00"), on(EXAM)))))
    assert resolved.start == local(2017, 12, 6, 10)
    assert resolved.start == utc(2017, 12, 6, 3)
    assert resolved.end == local(2017, 12, 7)
    assert resolved.start_timed is True


def test_an_exact_trigger_starts_at_its_time_and_runs_to_the_end_of_that_day() -> None:
    resolved = only(make_plan(stage("publish", {"kind": "exact", "at": on(EXAM, "09:45")})))
    assert resolved.kind == "exact"
    assert resolved.start == local(2017, 12, 6, 9, 45)
    assert resolved.end == local(2017, 12, 7)
    assert resolved.start_timed is True


def test_an_exact_trigger_may_end_at_a_given_moment() -> None:
    time = {"kind": "exact", "at": on("2017-12-04", "10:00"), "until": on("2017-12-04", "11:30")}
    resolved = only(make_plan(stage("meeting", time)))
    assert resolved.end == local(2017, 12, 4, 11, 30)


def test_a_not_before_embargo_has_a_start_and_no_end_unless_given() -> None:
    open_kim = stage("open_kim", {"kind": "not_before", "at": on("2024-02-14", "07:30")})
    resolved = only(make_plan(open_kim, sessions=(), school_year="2023/24"))
    assert resolved.kind == "not_before"
    assert resolved.start == local(2024, 2, 14, 7, 30)
    assert resolved.start == utc(2024, 2, 14, 0, 30)
    assert resolved.end is None
    assert resolved.due is None

    bounded = {"kind": "not_before", "at": on("2024-02-07", "10:00"), "until": on("2024-02-13")}
    resolved = only(make_plan(stage("docs", bounded), sessions=(), school_year="2023/24"))
    assert resolved.end == local(2024, 2, 14)


@pytest.mark.parametrize(
    ("inclusive", "end", "ambiguous"),
    [
        (True, local(2024, 2, 20), False),  # «не позднее 19.02», «до 19.02 включительно»
        (False, local(2024, 2, 19), False),  # «до 19.02», read as excluding that day
        (None, local(2024, 2, 19), True),  # bare «до 19.02»: strict until someone decides
    ],
)
def test_a_deadline_ends_after_or_before_its_day_by_its_wording(
    inclusive: bool | None, end: datetime, ambiguous: bool
) -> None:
    time = {"kind": "deadline", "by": on("2024-02-19"), "inclusive": inclusive}
    resolved = only(make_plan(stage("check", time), sessions=(), school_year="2023/24"))
    assert resolved.kind == "deadline"
    assert resolved.start is None
    assert resolved.end == end
    assert resolved.due == end
    assert resolved.ambiguous is ambiguous


def test_a_deadline_may_have_a_start_and_a_time_of_day() -> None:
    time = {
        "kind": "deadline",
        "start": on("2024-02-07", "10:00"),
        "by": on("2024-02-13", "18:00"),
        "inclusive": True,
    }
    resolved = only(make_plan(stage("print", time), sessions=(), school_year="2023/24"))
    assert resolved.start == local(2024, 2, 7, 10)
    assert resolved.start_timed is True
    assert resolved.end == local(2024, 2, 13, 18)


def test_a_month_window_covers_the_whole_month() -> None:
    resolved = only(
        make_plan(
            stage("ris", {"kind": "month", "month": "2023-11"}), sessions=(), school_year="2023/24"
        )
    )
    assert resolved.kind == "month"
    assert resolved.start == local(2023, 11, 1)
    assert resolved.end == local(2023, 12, 1)


@pytest.mark.parametrize(
    ("month", "through", "end"),
    [
        ("2023-12", None, local(2024, 1, 1)),
        ("2023-11", "2024-02", local(2024, 3, 1)),  # «ноябрь 2023 года – февраль 2024 года»
        ("2023-08", "2024-08", local(2024, 9, 1)),
    ],
)
def test_a_run_of_months_may_cross_the_year_end(
    month: str, through: str | None, end: datetime
) -> None:
    time = {"kind": "month", "month": month, "through": through}
    resolved = only(make_plan(stage("ris", time), sessions=(), school_year="2023/24"))
    assert resolved.start == local(int(month[:4]), int(month[5:]), 1)
    assert resolved.end == end


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2024-01-01", "2024-04-30", [(1, 31), (2, 29), (3, 31), (4, 30)]),  # leap February
        ("2023-01-01", "2023-03-31", [(1, 31), (2, 28), (3, 31)]),
    ],
)
def test_a_monthly_item_on_the_31st_falls_on_the_last_day_of_short_months(
    start: str, end: str, expected: list[tuple[int, int]]
) -> None:
    time = {
        "kind": "recurring",
        "every": "month",
        "day": 31,
        "start": on(start),
        "end": on(end),
        "time": "10:00",
    }
    resolved = only(make_plan(stage("report", time), sessions=(), school_year="2023/24"))
    year = int(start[:4])
    assert resolved.kind == "recurring"
    assert resolved.occurrences == tuple(local(year, m, d, 10) for m, d in expected)
    assert resolved.start == local(year, 1, 1)


def test_a_monthly_item_keeps_only_the_days_inside_its_range_end_day_included() -> None:
    time = {
        "kind": "recurring",
        "every": "month",
        "day": 5,
        "start": on("2023-09-10"),
        "end": on("2023-12-05"),
    }
    resolved = only(make_plan(stage("report", time), sessions=(), school_year="2023/24"))
    assert resolved.occurrences == (local(2023, 10, 5), local(2023, 11, 5), local(2023, 12, 5))
    assert resolved.end == local(2023, 12, 6)


@pytest.mark.parametrize(
    ("weekday", "days"),
    [
        (1, [4, 11, 18, 25]),  # Mondays; 01.09.2023 is a Friday
        (5, [1, 8, 15, 22, 29]),  # Fridays, the first day of the range included
        (7, [3, 10, 17, 24]),  # Sundays
    ],
)
def test_a_weekly_item_falls_on_its_iso_weekday(weekday: int, days: list[int]) -> None:
    time = {
        "kind": "recurring",
        "every": "week",
        "day": weekday,
        "start": on("2023-09-01"),
        "end": on("2023-09-30"),
    }
    resolved = only(make_plan(stage("meeting", time), sessions=(), school_year="2023/24"))
    assert resolved.occurrences == tuple(local(2023, 9, day) for day in days)
    assert all(moment.isoweekday() == weekday for moment in resolved.occurrences)


def test_a_weekly_item_needs_an_iso_weekday() -> None:
    time = {
        "kind": "recurring",
        "every": "week",
        "day": 10,
        "start": on("2023-09-01"),
        "end": on("2023-09-30"),
    }
    with pytest.raises(ValidationError, match="день недели"):
        make_plan(stage("meeting", time), sessions=(), school_year="2023/24")


def test_an_unresolved_external_reference_has_no_instants() -> None:
    time = {"kind": "external", "reference": "по графику ФЦТ"}
    resolved = only(make_plan(stage("federal", time)))
    assert resolved.kind == "external"
    assert resolved.unresolved is True
    assert (resolved.start, resolved.end) == (None, None)


def test_a_resolved_external_reference_is_a_window() -> None:
    time = {
        "kind": "external",
        "reference": "по графику ФЦТ",
        "resolved": window(on("2017-12-18"), on("2017-12-20")),
    }
    resolved = only(make_plan(stage("federal", time)))
    assert resolved.kind == "external"
    assert resolved.unresolved is False
    assert resolved.start == local(2017, 12, 18)
    assert resolved.end == local(2017, 12, 21)


# --- offsets from the exam day --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "day"),
    [
        (-14, date(2017, 11, 22)),
        (-1, date(2017, 12, 5)),
        (0, date(2017, 12, 6)),
        (13, date(2017, 12, 19)),
    ],
)
def test_calendar_day_offsets_count_every_day(offset: int, day: date) -> None:
    ref = {"offset": offset}
    resolved = only(make_plan(stage("step", window(ref, ref))))
    assert resolved.start == datetime.combine(day, datetime.min.time(), ZoneInfo(NOVOKUZNETSK))
    assert resolved.end == resolved.start + timedelta(days=1)


@pytest.mark.parametrize(
    ("exam", "offset", "days", "day"),
    [
        # Wednesday 08.11.2017; Monday 06.11 is a holiday, the weekend before it too.
        ("2017-11-08", -2, "working", date(2017, 11, 3)),
        ("2017-11-08", -2, "calendar", date(2017, 11, 6)),
        ("2017-12-06", 3, "working", date(2017, 12, 11)),
        ("2017-12-06", 0, "working", date(2017, 12, 6)),
        # Friday 27.04.2018: Saturday 28.04 is a working day, 30.04-02.05 are holidays.
        ("2018-04-27", 1, "working", date(2018, 4, 28)),
        ("2018-04-27", 2, "working", date(2018, 5, 3)),
        ("2018-04-27", 2, "calendar", date(2018, 4, 29)),
    ],
)
def test_working_day_offsets_follow_the_production_calendar(
    exam: str, offset: int, days: str, day: date
) -> None:
    ref = {"offset": offset, "days": days}
    plan = make_plan(stage("step", window(ref, ref)), sessions=((exam, exam),))
    start = only(plan, calendar=CALENDAR).start
    assert start is not None
    assert start.date() == day


def test_working_day_offsets_need_a_calendar_that_covers_the_year() -> None:
    ref = {"offset": -1, "days": "working"}
    plan = make_plan(stage("step", window(ref, ref)))
    with pytest.raises(PlanError, match="производственного календаря"):
        resolve_plan(plan)
    other_years = ProductionCalendar("test", frozenset({2023}), frozenset(), frozenset())
    with pytest.raises(PlanError, match="2017"):
        resolve_plan(plan, calendar=other_years)


def test_an_offset_deadline_counts_from_each_session_exam_day() -> None:
    two_weeks = {
        "kind": "deadline",
        "by": {"offset": -14},
        "inclusive": True,
        "wording": "не позднее чем за две недели до проведения",
    }
    plan = make_plan(
        stage("applications", two_weeks), sessions=((EXAM, EXAM), ("2018-02-07", "2018-02-07"))
    )
    assert only(plan, EXAM).end == local(2017, 11, 23)
    assert only(plan, "2018-02-07").end == local(2018, 1, 25)


# --- sessions: overrides and restrictions -----------------------------------------------------


KEMEROVO_SESSIONS = ((EXAM, EXAM), ("2018-05-16", "2018-05-16"))


def test_an_override_replaces_the_time_for_one_session_only() -> None:
    inform = stage(
        "inform",
        window({"offset": 13}, {"offset": 13}),
        overrides={"2018-05-16": window({"offset": 12}, {"offset": 12})},
    )
    plan = make_plan(inform, sessions=KEMEROVO_SESSIONS)
    assert only(plan, EXAM).start == local(2017, 12, 19)
    assert only(plan, "2018-05-16").start == local(2018, 5, 28)


def test_an_override_may_change_the_kind() -> None:
    inform = stage(
        "inform",
        window({"offset": 13}, {"offset": 13}),
        overrides={"2018-05-16": {"kind": "external", "reference": "по графику ФЦТ"}},
    )
    plan = make_plan(inform, sessions=KEMEROVO_SESSIONS)
    assert only(plan, EXAM).kind == "window"
    assert only(plan, "2018-05-16").kind == "external"


def test_a_stage_restricted_to_sessions_is_absent_from_the_others() -> None:
    plan = make_plan(
        stage("everywhere", window({"offset": 0}, {"offset": 0})),
        stage("may_only", window({"offset": 1}, {"offset": 1}), sessions=["2018-05-16"]),
        sessions=KEMEROVO_SESSIONS,
    )
    assert [s.stage_id for s in resolve_plan(plan, EXAM)] == ["everywhere"]
    may = resolve_plan(plan, "2018-05-16")
    assert [s.stage_id for s in may] == ["everywhere", "may_only"]
    assert {s.session_id for s in may} == {"2018-05-16"}


def test_resolution_names_its_session() -> None:
    plan = make_plan(stage("a", window(on(EXAM), on(EXAM))), sessions=KEMEROVO_SESSIONS)
    with pytest.raises(PlanError, match="сроков: 2"):
        resolve_plan(plan)
    with pytest.raises(PlanError, match="нет срока 2019-01-01"):
        resolve_plan(plan, "2019-01-01")
    assert only(make_plan(stage("a", window(on(EXAM), on(EXAM))))).session_id == EXAM
    assert only(make_plan(stage("a", window(on(EXAM), on(EXAM))), sessions=())).session_id is None


# --- time zones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "utc_hour"),
    [
        ("Asia/Novokuznetsk", 2),  # UTC+7
        ("Europe/Moscow", 6),  # UTC+3
        ("Asia/Yekaterinburg", 4),  # UTC+5
        ("Asia/Tomsk", 2),  # UTC+7
    ],
)
@pytest.mark.parametrize("day", ["2017-12-06", "2018-06-06"])  # winter and summer: no DST
def test_0945_local_is_one_utc_instant_per_zone_all_year(
    zone: str, utc_hour: int, day: str
) -> None:
    plan = make_plan(stage("publish", {"kind": "exact", "at": on(day, "09:45")}), timezone=zone)
    resolved = only(plan)
    year, month, dom = (int(part) for part in day.split("-"))
    assert resolved.start == utc(year, month, dom, utc_hour, 45)
    assert resolved.start.strftime("%H:%M") == "09:45"
    assert resolved.zone == zone


RUSSIAN_ZONES = [
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novokuznetsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
]


def test_0945_local_is_eleven_instants_across_russia() -> None:
    instants = []
    for zone in RUSSIAN_ZONES:
        publish = {"kind": "exact", "at": on(EXAM, "09:45")}
        start = only(make_plan(stage("publish", publish), timezone=zone)).start
        assert start is not None
        instants.append(start)
    assert instants[0] == utc(2017, 12, 6, 7, 45)  # UTC+2
    assert instants[-1] == utc(2017, 12, 5, 21, 45)  # UTC+12: the evening before in UTC
    assert all(a - b == timedelta(hours=1) for a, b in pairwise(instants))


def test_a_federal_event_keeps_moscow_time_in_a_novokuznetsk_plan() -> None:
    plan = make_plan(
        stage(
            "readiness_meeting",
            {"kind": "exact", "at": on("2017-12-04", "10:00")},
            zone="Europe/Moscow",
        ),
        stage("local_meeting", {"kind": "exact", "at": on("2017-12-04", "10:00")}),
    )
    federal, regional = resolve_plan(plan)
    assert federal.zone == "Europe/Moscow"
    assert regional.zone == NOVOKUZNETSK
    assert federal.start == utc(2017, 12, 4, 7)
    assert federal.start.astimezone(ZoneInfo(NOVOKUZNETSK)).hour == 14
    assert regional.start == utc(2017, 12, 4, 3)
    assert federal.end == datetime(2017, 12, 5, tzinfo=ZoneInfo("Europe/Moscow"))


def test_stages_in_different_zones_are_ordered_by_instant() -> None:
    # 12:00 in Novokuznetsk (05:00 UTC) is earlier than 10:00 in Moscow (07:00 UTC).
    plan = make_plan(
        stage("federal", {"kind": "exact", "at": on(EXAM, "10:00")}, zone="Europe/Moscow"),
        stage("regional", {"kind": "exact", "at": on(EXAM, "12:00")}, after=["federal"]),
    )
    assert codes(check_plan(plan)) == ["before-predecessor"]
    later = make_plan(
        stage("federal", {"kind": "exact", "at": on(EXAM, "10:00")}, zone="Europe/Moscow"),
        stage("regional", {"kind": "exact", "at": on(EXAM, "14:00")}, after=["federal"]),
    )
    assert "before-predecessor" not in codes(check_plan(later))


@pytest.mark.parametrize("timezone", [None, "Mars/Olympus", "Asia"])
def test_resolution_refuses_a_missing_or_unknown_zone(timezone: str | None) -> None:
    plan = make_plan(stage("a", window(on(EXAM), on(EXAM))), timezone=timezone)
    with pytest.raises(PlanError, match="часовой пояс"):
        resolve_plan(plan)


# --- schema -------------------------------------------------------------------------------------


def _plan_dict(**changes: Any) -> dict[str, Any]:
    data = make_plan(stage("a", window(on(EXAM), on(EXAM)))).model_dump(mode="json")
    data.update(changes)
    return data


def test_the_schema_accepts_a_plan_it_dumped() -> None:
    assert Plan.model_validate(_plan_dict()).stages[0].id == "a"


@pytest.mark.parametrize(
    ("where", "bad"),
    [
        ("plan", {"stage": []}),
        ("stage", {"deadline": "2017-12-06"}),
        ("time", {"inclusive": True}),
        ("date", {"hour": 10}),
    ],
)
def test_the_schema_refuses_unknown_keys(where: str, bad: dict[str, Any]) -> None:
    data = _plan_dict()
    target = {
        "plan": data,
        "stage": data["stages"][0],
        "time": data["stages"][0]["time"],
        "date": data["stages"][0]["time"]["start"],
    }[where]
    target.update(bad)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Plan.model_validate(data)


@pytest.mark.parametrize(
    ("time", "message"),
    [
        ({"kind": "exact", "at": on(EXAM)}, "нужно время суток"),
        (window({"date": EXAM, "offset": 0}, on(EXAM)), "ровно одно из 'date' и 'offset'"),
        (window({"time": "10:00"}, on(EXAM)), "ровно одно из 'date' и 'offset'"),
        (window({"date": EXAM, "days": "working"}, on(EXAM)), "вместе с 'offset'"),
        ({"kind": "deadline", "by": on(EXAM)}, "inclusive"),  # null must be written out
        ({"kind": "month", "month": "2023-13"}, "pattern"),
        ({"kind": "month", "month": "ноябрь 2023"}, "pattern"),
        (
            {"kind": "recurring", "every": "month", "day": 32, "start": on(EXAM), "end": on(EXAM)},
            "less than or equal to 31",
        ),
        ({"kind": "monthly", "month": "2023-11"}, "does not match any of the expected tags"),
        ({"kind": "window", "start": {"date": "2017-02-30"}, "end": on(EXAM)}, "date"),
    ],
)
def test_the_schema_refuses_malformed_time_specifications(
    time: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_plan(stage("a", time))


def test_the_schema_refuses_a_bad_stage_id_and_region_code() -> None:
    with pytest.raises(ValidationError, match="pattern"):
        make_plan(stage("Publish-Topics", window(on(EXAM), on(EXAM))))
    data = _plan_dict(region={"code": "8", "name": "Калмыкия", "timezone": "Europe/Moscow"})
    with pytest.raises(ValidationError, match=r"region\.code"):
        Plan.model_validate(data)


# --- checks -------------------------------------------------------------------------------------


def _clean_plan() -> Plan:
    return make_plan(
        stage("deliver", window(on("2017-12-11"), on("2017-12-13")), row="16"),
        stage("scan", window(on("2017-12-14"), on("2017-12-18")), row="17", after=["deliver"]),
        stage(
            "meeting",
            {"kind": "exact", "at": on("2017-12-04", "10:00")},
            row="18",
            zone="Europe/Moscow",
        ),
    )


def test_a_clean_plan_has_no_problems() -> None:
    assert check_plan(_clean_plan(), CALENDAR) == []


def test_duplicate_row_numbers_are_a_warning() -> None:
    plan = make_plan(
        stage("hand_over", window(on("2017-11-30"), on("2017-12-01")), row="8"),
        stage("meeting", window(on("2017-12-04"), on("2017-12-04")), row="8"),
        stage("check", window(on("2017-12-05"), on("2017-12-05")), row="9"),
    )
    problems = check_plan(plan)
    assert codes(problems) == ["duplicate-row"]
    assert problems[0].severity is Severity.WARNING
    assert "8" in problems[0].message
    assert "hand_over, meeting" in problems[0].message


def test_duplicate_stage_ids_are_an_error() -> None:
    plan = make_plan(stage("a", window(on(EXAM), on(EXAM))), stage("a", window(on(EXAM), on(EXAM))))
    assert codes(check_plan(plan)) == ["duplicate-id"]
    assert check_plan(plan)[0].severity is Severity.ERROR


def test_a_bare_do_deadline_is_flagged_as_ambiguous() -> None:
    bare = {"kind": "deadline", "by": on("2018-01-31"), "inclusive": None, "wording": "До 31.01"}
    plan = make_plan(stage("assign", bare))
    problems = check_plan(plan)
    assert codes(problems) == ["ambiguous-deadline"]
    assert problems[0].stage_id == "assign"
    assert "До 31.01" in problems[0].message

    clear = {
        "kind": "deadline",
        "by": on("2018-01-31"),
        "inclusive": True,
        "wording": "Не позднее 31.01",
    }
    assert check_plan(make_plan(stage("assign", clear))) == []


def test_an_ambiguous_deadline_in_an_override_is_flagged_for_its_session() -> None:
    inclusive = {"kind": "deadline", "by": {"offset": -14}, "inclusive": True}
    plan = make_plan(
        stage(
            "apply",
            inclusive,
            overrides={
                "2018-05-16": {
                    "kind": "deadline",
                    "by": {"offset": -10},
                    "inclusive": None,
                    "wording": "до 06.05",
                }
            },
        ),
        sessions=KEMEROVO_SESSIONS,
    )
    problems = check_plan(plan)
    assert codes(problems) == ["ambiguous-deadline"]
    assert (problems[0].stage_id, problems[0].session_id) == ("apply", "2018-05-16")


@pytest.mark.parametrize(
    ("wording", "flagged"),
    [("до 31.01", True), ("до 31.01 включительно", False), ("не позднее 31.01", False)],
)
def test_a_decided_bare_do_is_reported_as_interpreted(wording: str, flagged: bool) -> None:
    time = {"kind": "deadline", "by": on("2018-01-31"), "inclusive": False, "wording": wording}
    problems = check_plan(make_plan(stage("assign", time)))
    assert codes(problems) == (["interpreted-deadline"] if flagged else [])
    if flagged:
        assert problems[0].severity is Severity.INFO
        assert "не включая" in problems[0].message


def test_a_missing_zone_is_an_error_unless_every_stage_has_one() -> None:
    plan = make_plan(stage("a", window(on(EXAM), on(EXAM))), timezone=None)
    problems = check_plan(plan)
    assert codes(problems) == ["missing-zone"]
    assert problems[0].severity is Severity.ERROR

    zoned = make_plan(stage("a", window(on(EXAM), on(EXAM)), zone="Europe/Moscow"), timezone=None)
    assert check_plan(zoned) == []


@pytest.mark.parametrize("zone", ["Europe/Moskow", "UTC+7", "Asia", ""])
def test_an_unknown_zone_is_an_error_not_a_crash(zone: str) -> None:
    problems = check_plan(make_plan(stage("a", window(on(EXAM), on(EXAM))), timezone=zone))
    assert codes(problems) == ["unknown-zone"]
    assert problems[0].stage_id is None

    problems = check_plan(make_plan(stage("a", window(on(EXAM), on(EXAM)), zone=zone)))
    assert codes(problems) == ["unknown-zone"]
    assert problems[0].stage_id == "a"


def test_a_stage_starting_before_its_predecessor_is_an_error() -> None:
    plan = make_plan(
        stage("print", window(on("2017-11-27"), on("2017-11-28"))),
        stage("reconcile", window(on("2017-11-20"), on("2017-11-22")), after=["print"]),
    )
    problems = check_plan(plan)
    assert codes(problems) == ["before-predecessor"]
    assert (problems[0].stage_id, problems[0].session_id) == ("reconcile", EXAM)


def test_timed_stages_compare_by_time_and_day_only_stages_by_day() -> None:
    early = make_plan(
        stage("publish", {"kind": "exact", "at": on(EXAM, "09:45")}),
        stage("hold", window(on(EXAM, "09:30"), on(EXAM)), after=["publish"]),
    )
    assert codes(check_plan(early)) == ["before-predecessor"]
    in_time = make_plan(
        stage("publish", {"kind": "exact", "at": on(EXAM, "09:45")}),
        stage("hold", window(on(EXAM, "10:00"), on(EXAM)), after=["publish"]),
    )
    assert "before-predecessor" not in codes(check_plan(in_time))
    same_day = make_plan(
        stage("publish", {"kind": "exact", "at": on(EXAM, "09:45")}),
        stage("copy", window(on(EXAM), on(EXAM)), after=["publish"]),
    )
    assert "before-predecessor" not in codes(check_plan(same_day))


def test_a_same_day_hand_off_is_reported_as_no_slack() -> None:
    plan = make_plan(
        stage("deliver", window(on("2017-12-11"), on("2017-12-13"))),
        stage("scan", window(on("2017-12-13"), on("2017-12-18")), after=["deliver"]),
    )
    problems = check_plan(plan)
    assert codes(problems) == ["no-slack"]
    assert problems[0].severity is Severity.INFO
    assert problems[0].stage_id == "scan"
    assert "deliver" in problems[0].message
    assert check_plan(_clean_plan()) == []  # scanning there starts the day after delivery


@pytest.mark.parametrize(
    ("time", "stale"),
    [
        (window(on("2016-12-06"), on("2016-12-06")), True),  # last year's date left in
        (window(on("2018-09-01"), on("2018-09-01")), True),
        (window(on("2017-11-25"), on("2018-09-03")), True),
        (window(on("2017-07-01"), on("2017-07-01")), False),
        (window(on("2018-08-31"), on("2018-08-31")), False),  # ends at 24:00 of 31.08
        ({"kind": "month", "month": "2017-08", "through": "2018-08"}, False),
    ],
)
def test_dates_outside_the_school_year_are_stale(time: dict[str, Any], stale: bool) -> None:
    problems = check_plan(make_plan(stage("a", time)))
    assert codes(problems) == (["stale-year"] if stale else [])


def test_a_dependency_cycle_is_an_error() -> None:
    day = window(on(EXAM), on(EXAM))
    plan = make_plan(
        stage("a", day, after=["c"]), stage("b", day, after=["a"]), stage("c", day, after=["b"])
    )
    assert "cycle" in codes(check_plan(plan))
    assert "cycle" in codes(check_plan(make_plan(stage("a", day, after=["a"]))))
    chain = make_plan(
        stage("a", day), stage("b", day, after=["a"]), stage("c", day, after=["a", "b"])
    )
    assert "cycle" not in codes(check_plan(chain))


def test_an_unknown_predecessor_is_an_error() -> None:
    day = window(on(EXAM), on(EXAM))
    problems = check_plan(make_plan(stage("a", day), stage("b", day, after=["scan"])))
    assert codes(problems) == ["unknown-predecessor"]
    assert problems[0].stage_id == "b"
    assert "scan" in problems[0].message


@pytest.mark.parametrize("field", ["sessions", "overrides"])
def test_a_reference_to_an_unknown_session_is_an_error(field: str) -> None:
    day = window(on(EXAM), on(EXAM))
    value: Any = ["2018-02-07"] if field == "sessions" else {"2018-02-07": day}
    problems = check_plan(make_plan(stage("a", day, **{field: value})))
    assert codes(problems) == ["unknown-session"]
    assert "2018-02-07" in problems[0].message
    known = make_plan(
        stage("a", day, **{field: value}), sessions=((EXAM, EXAM), ("2018-02-07", "2018-02-07"))
    )
    assert check_plan(known) == []


def test_an_unresolved_external_reference_is_a_warning() -> None:
    external = {"kind": "external", "reference": "по графику ФЦТ"}
    problems = check_plan(make_plan(stage("federal", external)))
    assert codes(problems) == ["unresolved-external"]
    assert problems[0].severity is Severity.WARNING
    assert "по графику ФЦТ" in problems[0].message

    resolved = {**external, "resolved": window(on("2017-12-18"), on("2017-12-20"))}
    assert check_plan(make_plan(stage("federal", resolved))) == []


def test_an_unresolved_external_reference_in_an_override_is_a_warning() -> None:
    plan = make_plan(
        stage(
            "federal",
            window(on(EXAM), on(EXAM)),
            overrides={"2018-05-16": {"kind": "external", "reference": "по графику ФЦТ"}},
        ),
        sessions=KEMEROVO_SESSIONS,
    )
    problems = check_plan(plan)
    assert codes(problems) == ["unresolved-external"]
    assert problems[0].session_id == "2018-05-16"


def test_dates_that_cannot_be_computed_are_reported_per_session() -> None:
    working = {"offset": -1, "days": "working"}
    plan = make_plan(
        stage("observers", {"kind": "deadline", "by": working, "inclusive": True}),
        sessions=KEMEROVO_SESSIONS,
    )
    problems = check_plan(plan)  # no production calendar
    assert codes(problems) == ["unresolvable", "unresolvable"]
    assert {p.session_id for p in problems} == {EXAM, "2018-05-16"}
    assert check_plan(plan, CALENDAR) == []


def test_offsets_without_a_session_are_an_error() -> None:
    offset = make_plan(stage("apply", window({"offset": -14}, {"offset": -14})), sessions=())
    assert codes(check_plan(offset)) == ["no-session"]
    absolute = make_plan(stage("apply", window(on("2017-11-22"), on("2017-11-22"))), sessions=())
    assert check_plan(absolute) == []


def test_problems_come_errors_first() -> None:
    day = window(on(EXAM), on(EXAM))
    plan = make_plan(
        stage("a", {"kind": "external", "reference": "по графику ФЦТ"}, row="1"),
        stage("b", day, row="1"),
        stage("c", day, after=["nope"]),
    )
    severities = [problem.severity for problem in check_plan(plan)]
    assert severities[0] is Severity.ERROR
    assert severities == sorted(
        severities, key=[Severity.ERROR, Severity.WARNING, Severity.INFO].index
    )
    assert set(codes(check_plan(plan))) == {
        "unknown-predecessor",
        "duplicate-row",
        "unresolved-external",
    }


def test_a_window_that_ends_before_it_starts_is_an_error() -> None:
    backwards = {"kind": "month", "month": "2017-09", "through": "2017-04"}
    codes = {problem.code for problem in check_plan(make_plan(stage("typo", backwards)))}
    assert "end-before-start" in codes


def test_a_window_in_order_is_not_flagged_as_backwards() -> None:
    forward = {"kind": "month", "month": "2017-09", "through": "2018-04"}
    codes = {problem.code for problem in check_plan(make_plan(stage("ok", forward)))}
    assert "end-before-start" not in codes


def test_a_time_with_its_own_offset_is_refused() -> None:
    with pytest.raises(ValidationError, match="не указывается смещение"):
        make_plan(stage("x", {"kind": "exact", "at": on(EXAM, "09:45+03:00")}))


# --- 24:00 and clock changes (issue 16, item 9) ---------------------------------------------------


def test_24_00_is_the_end_of_its_day_as_plan_show_prints_it() -> None:
    from tasks.domain.plan_text import format_instant

    days = make_plan(stage("enter", window(on("2017-11-13", "24:00"), on("2017-11-15", "24:00"))))
    resolved = only(days)
    assert resolved.start == local(2017, 11, 14)  # 24:00 of 13.11 is 00:00 of 14.11
    assert resolved.end == local(2017, 11, 16)  # the same as a day-only end of 15.11
    assert format_instant(resolved.end, end=True) == "15.11.2017 24:00"
    deadline = {"kind": "deadline", "by": {"offset": -1, "time": "24:00"}, "inclusive": False}
    assert only(make_plan(stage("submit", deadline))).due == local(2017, 12, 6)
    # it survives a dump and is never mistaken for 00:00 of the same day
    dumped = days.model_dump(mode="json")
    assert dumped["stages"][0]["time"]["start"]["time"] == "24:00"
    assert Plan.model_validate(dumped) == days
    midnight = make_plan(stage("enter", window(on("2017-11-13", "00:00"), on("2017-11-15"))))
    assert midnight != days


def test_an_exact_trigger_at_24_00_runs_through_the_day_it_falls_on() -> None:
    resolved = only(make_plan(stage("open", {"kind": "exact", "at": on(EXAM, "24:00")})))
    assert resolved.start == local(2017, 12, 7)
    assert resolved.end == local(2017, 12, 8)


@pytest.mark.parametrize("at", ["24:01", "25:00", "24:00:01"])
def test_a_time_past_24_00_is_refused(at: str) -> None:
    with pytest.raises(ValidationError):
        make_plan(stage("open", {"kind": "exact", "at": on(EXAM, at)}))


@pytest.mark.parametrize(
    ("zone", "day", "at", "utc_reading"),
    [
        # the clocks went from 02:00 to 03:00: 02:30 never came
        ("Europe/Moscow", "2011-03-27", "02:30", utc(2011, 3, 26, 23, 30)),
        ("Europe/Kaliningrad", "2010-03-28", "02:30", utc(2010, 3, 28, 0, 30)),
    ],
)
def test_a_local_time_that_a_clock_change_skipped_is_an_error(
    zone: str, day: str, at: str, utc_reading: datetime
) -> None:
    plan = make_plan(
        stage("publish", {"kind": "exact", "at": on(day, at)}),
        sessions=(),
        timezone=zone,
        school_year="2010/11" if day.startswith("2011") else "2009/10",
    )
    resolved = only(plan)
    assert resolved.start == utc_reading  # read with the offset before the change
    [problem] = check_plan(plan)
    assert (problem.severity, problem.code, problem.stage_id) == (
        Severity.ERROR,
        "nonexistent-time",
        "publish",
    )
    assert f"{day[8:]}.{day[5:7]}.{day[:4]} {at} ({zone}) не существует" in problem.message
    assert "часы переводили вперёд" in problem.message


def test_a_local_time_a_clock_change_repeated_is_a_warning_and_read_on_the_safe_side() -> None:
    # 31.10.2010 in Moscow: 03:00 (UTC+04) went back to 02:00 (UTC+03); 02:30 came twice.
    plan = make_plan(
        stage("hold", window(on("2010-10-31", "02:30"), on("2010-10-31", "03:30"))),
        stage("submit", {"kind": "deadline", "by": on("2010-10-31", "02:30"), "inclusive": True}),
        sessions=(),
        timezone="Europe/Moscow",
        school_year="2010/11",
    )
    hold, submit = resolve_plan(plan)
    assert hold.start is not None
    assert hold.start.astimezone(UTC) == utc(2010, 10, 30, 23, 30)  # a start: the later
    assert submit.due is not None
    assert submit.due.astimezone(UTC) == utc(2010, 10, 30, 22, 30)  # a due time: the earlier
    problems = [p for p in check_plan(plan) if p.code == "ambiguous-time"]
    assert {(p.stage_id, p.severity) for p in problems} == {
        ("hold", Severity.WARNING),
        ("submit", Severity.WARNING),
    }
    assert all("наступает дважды" in p.message for p in problems)
    assert any("взято второе (это начало этапа" in p.message for p in problems)
    assert any("взято первое (это окончание или срок" in p.message for p in problems)


def test_a_window_inside_the_repeated_hour_never_ends_before_it_starts() -> None:
    plan = make_plan(
        stage("hold", window(on("2010-10-31", "02:30"), on("2010-10-31", "02:45"))),
        sessions=(),
        timezone="Europe/Moscow",
        school_year="2010/11",
    )
    hold = only(plan)
    assert hold.start is not None
    assert hold.end is not None
    # both the second 02:30 and 02:45: a quarter of an hour, not minus three quarters
    assert hold.start.astimezone(UTC) == utc(2010, 10, 30, 23, 30)
    assert hold.end.astimezone(UTC) == utc(2010, 10, 30, 23, 45)
    problems = check_plan(plan)
    assert {p.code for p in problems} == {"ambiguous-time"}
    assert any("как и у начала этапа" in p.message for p in problems)


def test_a_window_backwards_in_the_repeated_hour_is_an_error() -> None:
    plan = make_plan(
        stage("hold", window(on("2010-10-31", "02:45"), on("2010-10-31", "02:30"))),
        sessions=(),
        timezone="Europe/Moscow",
        school_year="2010/11",
    )
    assert "end-before-start" in {p.code for p in check_plan(plan)}


@pytest.mark.parametrize(
    ("zone", "day", "first_instant"),
    [
        # the clocks jumped from 00:00 to 01:00: the day began at 01:00
        ("America/Sao_Paulo", "2018-11-04", utc(2018, 11, 4, 3)),
        ("America/Santiago", "2019-09-08", utc(2019, 9, 8, 4)),
        ("Asia/Beirut", "2019-03-31", utc(2019, 3, 30, 22)),
    ],
)
def test_a_day_whose_midnight_was_skipped_starts_at_its_first_instant_unflagged(
    zone: str, day: str, first_instant: datetime
) -> None:
    weekday = date.fromisoformat(day).isoweekday()
    plan = make_plan(
        stage("enter", window(on(day), on(day))),
        stage("submit", {"kind": "deadline", "by": on(day), "inclusive": False}),
        stage(
            "weekly",
            {
                "kind": "recurring",
                "every": "week",
                "day": weekday,
                "start": on(f"{day[:4]}-01-01"),
                "end": on(f"{day[:4]}-12-31"),
            },
        ),
        sessions=(),
        timezone=zone,
        school_year=f"{day[:4]}/{int(day[2:4]) + 1:02d}",
    )
    enter, submit, weekly = resolve_plan(plan)
    assert enter.start is not None
    assert enter.start.astimezone(UTC) == first_instant
    assert submit.due is not None
    assert submit.due.astimezone(UTC) == first_instant
    assert first_instant in {moment.astimezone(UTC) for moment in weekly.occurrences}
    codes = {p.code for p in check_plan(plan)}
    assert not codes & {"nonexistent-time", "ambiguous-time", "shifted-occurrence"}


def test_one_occurrence_of_a_weekly_item_in_a_skipped_hour_is_a_warning_with_its_shift() -> None:
    # Moscow 27.03.2011 (a Sunday): 02:00 jumped to 03:00; the weekly 02:30 of that day moved
    weekly = {
        "kind": "recurring",
        "every": "week",
        "day": 7,
        "start": on("2011-03-01"),
        "end": on("2011-04-30"),
        "time": "02:30",
    }
    plan = make_plan(
        stage("weekly", weekly), sessions=(), timezone="Europe/Moscow", school_year="2010/11"
    )
    [problem] = check_plan(plan)
    assert (problem.severity, problem.code) == (Severity.WARNING, "shifted-occurrence")
    assert "сдвинуто на 60 мин" in problem.message
    assert "27.03.2011 03:30" in problem.message
    resolved = only(plan)
    assert len(resolved.occurrences) == 8  # every Sunday of 06.03–24.04, none dropped
    # a one-off trigger at the same moment stays an error
    one_off = make_plan(
        stage("publish", {"kind": "exact", "at": on("2011-03-27", "02:30")}),
        sessions=(),
        timezone="Europe/Moscow",
        school_year="2010/11",
    )
    assert [p.code for p in check_plan(one_off)] == ["nonexistent-time"]


def test_24_00_cannot_be_mistaken_for_midnight_or_turned_into_another_time() -> None:
    from datetime import time

    from tasks.domain.plan import END_OF_DAY

    with pytest.raises(TypeError, match="24:00"):
        END_OF_DAY.replace(hour=5)
    assert END_OF_DAY > time(23, 59, 59)
    assert not END_OF_DAY < time(9)
    assert time(9) < END_OF_DAY
    assert time(0) <= END_OF_DAY
    assert END_OF_DAY >= END_OF_DAY
    assert END_OF_DAY <= END_OF_DAY
    assert END_OF_DAY != time(0)
    assert time(0) != END_OF_DAY
    assert not END_OF_DAY == time(0)  # noqa: SIM201
    assert max(time(9), END_OF_DAY, time(0)) is END_OF_DAY
    assert sorted([END_OF_DAY, time(9), time(0)]) == [time(0), time(9), END_OF_DAY]


def test_times_away_from_a_clock_change_are_not_flagged() -> None:
    plan = make_plan(
        stage("publish", {"kind": "exact", "at": on("2011-03-27", "03:30")}),
        stage("hold", window(on("2010-10-31", "03:30"), on("2010-10-31"))),
        sessions=(),
        timezone="Europe/Moscow",
        school_year="2010/11",
    )
    assert check_plan(plan) == []
