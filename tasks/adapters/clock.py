"""Clocks for stages that wait for an instant: the system clock sleeps, a simulated one jumps."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

__all__ = ["SimulatedClock", "SystemClock", "clock_for"]

# A long wait wakes up now and then, so a stepped system clock (NTP) cannot make it overshoot.
_MAX_NAP_S = 30.0


class SystemClock:
    """The real time; `sleep_until` returns at the instant or just after, never before."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, instant: datetime) -> None:
        while (left := (instant - self.now()).total_seconds()) > 0:
            time.sleep(min(left, _MAX_NAP_S))

    def __repr__(self) -> str:
        return "SystemClock()"


class SimulatedClock:
    """A clock that stands still at `start` and jumps forward when asked to wait: the demo
    and the tests reach 09:45 instantly. Not a dataclass on purpose: tasks share the one
    instance (Prefect passes plain objects through unchanged)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a simulated clock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def sleep_until(self, instant: datetime) -> None:
        self._now = max(self._now, instant.astimezone(UTC))

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def __repr__(self) -> str:
        return f"SimulatedClock({self._now.isoformat()})"


def clock_for(now: datetime | None) -> SystemClock | SimulatedClock:
    """The system clock, or a simulated one standing at `now` (operators' --now, the demo)."""
    return SystemClock() if now is None else SimulatedClock(now)
