"""Production calendar: days off, moved working Saturdays and offsets counted in working days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tasks.adapters.plan_files import load_calendar
from tasks.domain.calendar import ProductionCalendar
from tasks.errors import PlanError


@pytest.fixture(scope="module")
def ru() -> ProductionCalendar:
    """The shipped Russian calendar, config/calendars/ru.yaml."""
    return load_calendar()


def days_of(year: int, month: int | None = None) -> list[date]:
    day = date(year, month or 1, 1)
    days = []
    while day.year == year and (month is None or day.month == month):
        days.append(day)
        day += timedelta(days=1)
    return days


def tiny_calendar() -> ProductionCalendar:
    """January 2030 by hand: Tue 1 Jan a holiday, Sat 5 Jan a moved working day, Sun 6 Jan and
    Mon 7 Jan holidays (a holiday on a weekend stays a day off)."""
    return ProductionCalendar(
        name="tiny",
        years=frozenset({2030}),
        holidays=frozenset({date(2030, 1, 1), date(2030, 1, 6), date(2030, 1, 7)}),
        workdays=frozenset({date(2030, 1, 5)}),
    )


# --- the shipped calendar ----------------------------------------------------------------------


def test_the_shipped_calendar_is_named_ru_and_covers_the_campaign_years(
    ru: ProductionCalendar,
) -> None:
    assert ru.name == "ru"
    assert {2017, 2018, 2023, 2024} <= ru.years
    assert all(ru.covers(date(year, 6, 15)) for year in (2017, 2018, 2023, 2024))
    assert not ru.covers(date(2019, 6, 15))


def test_every_listed_holiday_and_workday_falls_in_a_covered_year(ru: ProductionCalendar) -> None:
    assert {day.year for day in ru.holidays | ru.workdays} <= ru.years
    assert ru.holidays.isdisjoint(ru.workdays)


def test_every_moved_working_day_is_a_saturday_or_sunday(ru: ProductionCalendar) -> None:
    assert ru.workdays
    assert [day for day in ru.workdays if day.weekday() < 5] == []


@pytest.mark.parametrize(
    "day",
    [
        date(2018, 1, 13),  # Saturday
        date(2018, 1, 14),  # Sunday
        date(2018, 6, 2),  # Saturday
        date(2024, 5, 4),  # Saturday between the May holidays
        date(2024, 5, 12),  # Sunday
        date(2017, 12, 30),  # Saturday before the New Year holidays of 2018
    ],
)
def test_an_ordinary_weekend_day_is_off(ru: ProductionCalendar, day: date) -> None:
    assert day.weekday() >= 5
    assert ru.is_working_day(day) is False


@pytest.mark.parametrize(
    "day",
    [
        date(2017, 2, 24),  # Friday, moved from 1 January
        date(2017, 11, 6),  # Monday, National Unity Day on a Saturday
        date(2018, 1, 1),
        date(2018, 1, 8),  # Monday, the last day of the New Year holidays
        date(2018, 3, 9),  # Friday, moved from 6 January
        date(2018, 4, 30),  # Monday, moved from Saturday 28 April
        date(2018, 5, 2),  # Wednesday, moved from 7 January
        date(2018, 6, 11),  # Monday, moved from Saturday 9 June
        date(2018, 12, 31),  # Monday, moved from Saturday 29 December
        date(2023, 2, 24),
        date(2023, 5, 8),
        date(2024, 4, 29),
        date(2024, 4, 30),
        date(2024, 5, 1),
        date(2024, 5, 9),
        date(2024, 5, 10),  # Friday, moved from 6 January
        date(2024, 12, 31),
    ],
)
def test_a_weekday_holiday_is_off(ru: ProductionCalendar, day: date) -> None:
    assert day.weekday() < 5
    assert ru.is_working_day(day) is False


@pytest.mark.parametrize(
    "day",
    [
        date(2018, 4, 28),
        date(2018, 6, 9),
        date(2018, 12, 29),
        date(2024, 4, 27),
        date(2024, 11, 2),
        date(2024, 12, 28),
    ],
)
def test_a_saturday_moved_to_a_working_day_is_on(ru: ProductionCalendar, day: date) -> None:
    assert day.weekday() == 5
    assert ru.is_working_day(day) is True
    assert ru.is_working_day(day - timedelta(days=7)) is False  # the Saturday before is not


@pytest.mark.parametrize(
    "day",
    [
        date(2018, 1, 9),  # Tuesday after the New Year holidays
        date(2018, 2, 5),  # the essay day of the 2017/18 school year
        date(2017, 12, 29),
        date(2024, 5, 2),
        date(2024, 5, 8),
        date(2024, 12, 27),
    ],
)
def test_an_ordinary_weekday_is_a_working_day(ru: ProductionCalendar, day: date) -> None:
    assert day.weekday() < 5
    assert ru.is_working_day(day) is True


@pytest.mark.parametrize(
    ("year", "month", "working_days"),
    [
        (2018, 1, 17),
        (2018, 3, 20),
        (2018, 4, 21),  # 21 weekdays, less Monday 30 April, plus Saturday 28 April
        (2018, 5, 20),
        (2018, 12, 21),
        (2024, 1, 17),
        (2024, 4, 21),
        (2024, 5, 20),
        (2024, 11, 21),
        (2024, 12, 21),
    ],
)
def test_month_totals_match_the_official_production_calendar(
    ru: ProductionCalendar, year: int, month: int, working_days: int
) -> None:
    assert sum(ru.is_working_day(day) for day in days_of(year, month)) == working_days


@pytest.mark.parametrize(
    ("year", "working_days"), [(2017, 247), (2018, 247), (2023, 247), (2024, 248)]
)
def test_year_totals_match_the_official_production_calendar(
    ru: ProductionCalendar, year: int, working_days: int
) -> None:
    assert sum(ru.is_working_day(day) for day in days_of(year)) == working_days


# --- add_working_days across the New Year holidays of 2018 and the May holidays of 2024 --------


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # New Year 2018: 30 Dec 2017 – 8 Jan 2018 are all off.
        (date(2017, 12, 29), 1, date(2018, 1, 9)),
        (date(2017, 12, 28), 2, date(2018, 1, 9)),
        (date(2017, 12, 25), 5, date(2018, 1, 9)),
        (date(2017, 12, 25), 6, date(2018, 1, 10)),
        (date(2017, 12, 30), 1, date(2018, 1, 9)),  # counting from a day off
        (date(2018, 1, 1), 1, date(2018, 1, 9)),
        (date(2018, 1, 9), -1, date(2017, 12, 29)),
        (date(2018, 1, 10), -2, date(2017, 12, 29)),
        (date(2018, 1, 8), -1, date(2017, 12, 29)),  # counting back from a holiday
        (date(2018, 1, 15), -10, date(2017, 12, 22)),
        # May 2024: Sat 27 Apr works; 28 Apr – 1 May off; 2–3 May work; 4–5 off;
        # 6–8 May work; 9–12 May off.
        (date(2024, 4, 26), 1, date(2024, 4, 27)),
        (date(2024, 4, 26), 2, date(2024, 5, 2)),
        (date(2024, 4, 27), 1, date(2024, 5, 2)),
        (date(2024, 5, 3), 1, date(2024, 5, 6)),
        (date(2024, 5, 8), 1, date(2024, 5, 13)),
        (date(2024, 4, 26), 7, date(2024, 5, 13)),
        (date(2024, 5, 13), -1, date(2024, 5, 8)),
        (date(2024, 5, 2), -1, date(2024, 4, 27)),
        (date(2024, 5, 2), -2, date(2024, 4, 26)),
        (date(2024, 5, 13), -7, date(2024, 4, 26)),
    ],
)
def test_add_working_days_skips_weekends_and_holidays_and_counts_moved_saturdays(
    ru: ProductionCalendar, start: date, count: int, expected: date
) -> None:
    assert ru.add_working_days(start, count) == expected


@pytest.mark.parametrize(
    "start",
    [date(2018, 1, 1), date(2018, 1, 9), date(2024, 5, 4), date(2024, 4, 27), date(2024, 5, 9)],
)
def test_add_zero_working_days_returns_the_start_even_on_a_day_off(
    ru: ProductionCalendar, start: date
) -> None:
    assert ru.add_working_days(start, 0) == start


@pytest.mark.parametrize("year", [2018, 2024])
def test_add_working_days_always_lands_on_a_working_day(ru: ProductionCalendar, year: int) -> None:
    for start in days_of(year, 1) + days_of(year, 5):
        for count in (1, 3, -1, -3):
            assert ru.is_working_day(ru.add_working_days(start, count)), (start, count)


@pytest.mark.parametrize("year", [2018, 2024])
def test_forward_then_backward_from_a_working_day_comes_back(
    ru: ProductionCalendar, year: int
) -> None:
    working = [day for day in days_of(year) if ru.is_working_day(day) and 2 <= day.month <= 11]
    for start in working:
        for count in (1, 2, 5, 10):
            there = ru.add_working_days(start, count)
            assert there > start
            assert ru.add_working_days(there, -count) == start, (start, count)


def test_consecutive_working_days_are_one_working_day_apart(ru: ProductionCalendar) -> None:
    working = [day for day in days_of(2024) if ru.is_working_day(day)]
    assert [ru.add_working_days(a, 1) for a in working[:-1]] == working[1:]
    assert [ru.add_working_days(b, -1) for b in working[1:]] == working[:-1]


# --- years the calendar does not cover ---------------------------------------------------------


@pytest.mark.parametrize("day", [date(2019, 3, 1), date(2016, 12, 30), date(2022, 12, 30)])
def test_is_working_day_refuses_a_year_the_calendar_does_not_cover(
    ru: ProductionCalendar, day: date
) -> None:
    with pytest.raises(PlanError, match=rf"'ru'.*{day.year}"):
        ru.is_working_day(day)


@pytest.mark.parametrize(
    ("start", "count", "missing_year"),
    [
        (date(2018, 12, 28), 2, 2019),  # 29 Dec works, 30–31 Dec off, then 2019
        (date(2019, 1, 10), 1, 2019),
        (date(2023, 1, 9), -1, 2022),  # 1–8 Jan 2023 off, then 2022
        (date(2017, 1, 9), -2, 2016),
    ],
)
def test_add_working_days_refuses_to_count_into_an_uncovered_year(
    ru: ProductionCalendar, start: date, count: int, missing_year: int
) -> None:
    with pytest.raises(PlanError, match=str(missing_year)):
        ru.add_working_days(start, count)


def test_add_working_days_still_counts_up_to_the_last_covered_working_day(
    ru: ProductionCalendar,
) -> None:
    assert ru.add_working_days(date(2018, 12, 28), 1) == date(2018, 12, 29)
    assert ru.add_working_days(date(2023, 1, 10), -1) == date(2023, 1, 9)


# --- hand-built calendars ----------------------------------------------------------------------


def test_a_calendar_without_holidays_keeps_monday_to_friday() -> None:
    plain = ProductionCalendar("plain", frozenset({2031}), frozenset(), frozenset())
    week = [date(2031, 1, 6) + timedelta(days=i) for i in range(7)]  # Monday 6 January 2031
    assert week[0].weekday() == 0
    assert [plain.is_working_day(day) for day in week] == [True] * 5 + [False] * 2


def test_a_hand_built_calendar_applies_holidays_and_moved_workdays() -> None:
    calendar = tiny_calendar()
    first_week = {day.day: calendar.is_working_day(day) for day in days_of(2030, 1)[:10]}
    assert first_week == {
        1: False,  # Tuesday, holiday
        2: True,
        3: True,
        4: True,
        5: True,  # Saturday, moved working day
        6: False,  # Sunday and holiday
        7: False,  # Monday, holiday
        8: True,
        9: True,
        10: True,
    }


def test_a_moved_workday_wins_over_a_holiday_listed_on_the_same_day() -> None:
    day = date(2030, 6, 1)  # Saturday
    calendar = ProductionCalendar("both", frozenset({2030}), frozenset({day}), frozenset({day}))
    assert calendar.is_working_day(day) is True


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2029, 12, 31), 0, date(2029, 12, 31)),  # zero never looks at the calendar
        (date(2030, 1, 4), 1, date(2030, 1, 5)),  # onto the moved Saturday
        (date(2030, 1, 5), 1, date(2030, 1, 8)),  # over Sunday and the Monday holiday
        (date(2030, 1, 4), 2, date(2030, 1, 8)),
        (date(2030, 1, 8), -1, date(2030, 1, 5)),
        (date(2030, 1, 8), -4, date(2030, 1, 2)),
        (date(2030, 1, 9), 4, date(2030, 1, 15)),  # an ordinary weekend
    ],
)
def test_add_working_days_on_a_hand_built_calendar(start: date, count: int, expected: date) -> None:
    assert tiny_calendar().add_working_days(start, count) == expected


def test_a_hand_built_calendar_refuses_the_year_before_and_after() -> None:
    calendar = tiny_calendar()
    with pytest.raises(PlanError, match=r"'tiny'.*2029"):
        calendar.add_working_days(date(2030, 1, 2), -1)
    with pytest.raises(PlanError, match="2031"):
        calendar.is_working_day(date(2031, 1, 1))
