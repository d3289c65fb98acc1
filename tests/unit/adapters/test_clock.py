"""The clocks the publish stage waits with: the system one sleeps, the simulated one jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks.adapters.clock import SimulatedClock, SystemClock, clock_for

START = datetime(2017, 12, 6, 2, 44, tzinfo=UTC)


def test_the_simulated_clock_stands_still_and_jumps_to_the_instant() -> None:
    clock = SimulatedClock(START)
    assert clock.now() == clock.now() == START
    clock.sleep_until(START + timedelta(minutes=1))
    assert clock.now() == START + timedelta(minutes=1)
    clock.sleep_until(START)  # never backwards
    assert clock.now() == START + timedelta(minutes=1)
    clock.advance(0.5)
    assert clock.now() == START + timedelta(minutes=1, milliseconds=500)


def test_the_simulated_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2017, 12, 6, 9, 44))


def test_the_system_clock_never_returns_before_the_instant() -> None:
    clock = SystemClock()
    instant = clock.now() + timedelta(milliseconds=50)
    clock.sleep_until(instant)
    assert clock.now() >= instant
    assert clock.now().tzinfo is UTC


def test_a_given_now_means_a_simulated_clock() -> None:
    assert isinstance(clock_for(START), SimulatedClock)
    assert isinstance(clock_for(None), SystemClock)
