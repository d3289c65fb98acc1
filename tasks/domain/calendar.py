"""Production calendar: which days are working days, for offsets counted in working days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tasks.errors import PlanError

__all__ = ["ProductionCalendar"]


@dataclass(frozen=True, slots=True)
class ProductionCalendar:
    """Russia's production calendar: weekends and `holidays` are days off, `workdays` are
    Saturdays or Sundays moved to working days by a government decree."""

    name: str
    years: frozenset[int]
    holidays: frozenset[date]
    workdays: frozenset[date]

    def covers(self, day: date) -> bool:
        return day.year in self.years

    def is_working_day(self, day: date) -> bool:
        if not self.covers(day):
            raise PlanError(
                f"в производственном календаре {self.name!r} нет данных за {day.year} год"
            )
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, count: int) -> date:
        """The day `count` working days after (or, negative, before) `start`; 0 gives `start`."""
        step = timedelta(days=1 if count >= 0 else -1)
        day, left = start, abs(count)
        while left:
            day += step
            if self.is_working_day(day):
                left -= 1
        return day
