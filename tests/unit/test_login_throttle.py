"""The operators' login throttle (web/throttle.py) on an injected clock: locks that double and
expire, a bounded table whose flushing never lifts a lock, IPv6 clients counted by their /64,
and a known browser's tag that nobody else's failures can lock."""

from __future__ import annotations

import pytest

from web.throttle import (
    BASE_LOCK,
    CLIENT_FAILURES,
    FORGET,
    LOGIN_FAILURES,
    MAX_ENTRIES,
    MAX_LOCK,
    OVERFLOW_FAILURES,
    PAIR_FAILURES,
    TAG_FAILURES,
    LoginThrottle,
    client_of,
)

TAG = "1700000000-" + "b" * 16 + "-" + "a" * 32  # a valid tag, as web/verify.py found it


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(throttle: LoginThrottle, login: str, address: str, tag: str | None = None) -> float:
    """One attempt with a wrong password: 0 when it was checked (and counted), else the wait."""
    return throttle.admit(login, address, tag=tag).wait


def test_the_pair_locks_after_its_failures_and_a_refused_attempt_counts_nothing(
    clock: Clock,
) -> None:
    throttle = LoginThrottle(clock)
    assert [fail(throttle, "ivanova", "192.0.2.1") for _ in range(PAIR_FAILURES)] == [0.0] * 5
    assert fail(throttle, "ivanova", "192.0.2.1") == BASE_LOCK
    clock.now += BASE_LOCK / 2
    assert fail(throttle, "ivanova", "192.0.2.1") == BASE_LOCK / 2  # not lengthened
    assert fail(throttle, "ivanova", "192.0.2.2") == 0.0  # another address
    assert fail(throttle, "petrov", "192.0.2.1") == 0.0  # another login


def test_each_failure_past_the_threshold_doubles_the_lock_up_to_the_maximum(
    clock: Clock,
) -> None:
    throttle = LoginThrottle(clock)
    for _ in range(PAIR_FAILURES):
        fail(throttle, "ivanova", "192.0.2.1")
    locks = []
    for _ in range(6):
        wait = fail(throttle, "ivanova", "192.0.2.1")
        locks.append(wait)
        clock.now += wait
        assert fail(throttle, "ivanova", "192.0.2.1") == 0.0  # lifted: tried and counted
    assert locks == [BASE_LOCK * 2**n for n in range(4)] + [MAX_LOCK, MAX_LOCK]


def test_a_counter_is_forgotten_an_hour_after_its_last_failure_but_never_while_locked(
    clock: Clock,
) -> None:
    throttle = LoginThrottle(clock)
    for _ in range(PAIR_FAILURES - 1):
        fail(throttle, "ivanova", "192.0.2.1")
    clock.now += FORGET + 1
    assert [fail(throttle, "ivanova", "192.0.2.1") for _ in range(PAIR_FAILURES)] == [0.0] * 5
    assert fail(throttle, "ivanova", "192.0.2.1") > 0  # a fresh counter, locked at its fifth


def test_a_right_password_clears_the_pair_and_the_client_but_only_its_own_login_failure(
    clock: Clock,
) -> None:
    throttle = LoginThrottle(clock)
    for n in range(PAIR_FAILURES - 1):
        fail(throttle, "ivanova", "192.0.2.1")
        fail(throttle, "ivanova", f"198.51.100.{n}")
    throttle.succeeded(throttle.admit("ivanova", "192.0.2.1"))
    assert fail(throttle, "ivanova", "192.0.2.1") == 0.0  # the pair starts afresh
    # The login kept its 8 failures (now 9): its tenth locks it.
    assert fail(throttle, "ivanova", "203.0.113.1") == 0.0
    assert fail(throttle, "ivanova", "203.0.113.2") == BASE_LOCK


def test_made_up_logins_cannot_flush_a_locked_login(clock: Clock) -> None:
    """The review's attack: fill the table with junk until the target's lock falls out. Locked
    counters are never dropped, so the target stays locked however much junk comes."""
    throttle = LoginThrottle(clock)
    for n in range(LOGIN_FAILURES):
        assert fail(throttle, "ivanova", f"10.0.{n}.1") == 0.0
    assert fail(throttle, "ivanova", "10.1.0.1") == BASE_LOCK
    for n in range(MAX_ENTRIES):  # far more junk than ever fits: three counters each
        fail(throttle, f"junk-{n}", f"10.2.{n // 250}.{n % 250}")
    assert fail(throttle, "ivanova", "10.3.0.1") > 0
    clock.now += BASE_LOCK
    assert fail(throttle, "ivanova", "10.3.0.1") == 0.0  # it lifts when it should, not sooner


def test_a_table_full_of_locks_counts_new_sources_on_one_overflow_counter_that_locks(
    clock: Clock,
) -> None:
    # Four logins × two addresses, five failures each: every pair (8), login (10 failures
    # each) and address (20 each) is locked, and they fill the table.
    throttle = LoginThrottle(clock, capacity=8 + 4 + 2)
    for n in range(4):
        for address in ("10.0.0.1", "10.0.0.2"):
            for _ in range(PAIR_FAILURES):
                assert fail(throttle, f"login-{n}", address) == 0.0
    assert [fail(throttle, f"new-{n}", f"10.9.0.{n}") for n in range(OVERFLOW_FAILURES)] == [
        0.0
    ] * OVERFLOW_FAILURES
    assert fail(throttle, "new-x", "10.9.1.1") == BASE_LOCK  # new sources now wait
    assert fail(throttle, "login-0", "10.7.0.1") > 0  # the locks held all along
    assert throttle.admit("login-1", "10.8.0.1", tag=TAG).wait == 0.0  # a known browser: not


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("192.0.2.1", "192.0.2.2", False),
        ("192.0.2.1", "::ffff:192.0.2.1", True),
        ("testclient", "testclient", True),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(one: str, other: str, same: bool) -> None:
    assert (client_of(one) == client_of(other)) is same


def test_addresses_of_one_ipv6_64_share_the_client_counter(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for n in range(CLIENT_FAILURES):  # a sweep of logins, each from a new address in the /64
        assert fail(throttle, f"guess-{n}", f"2001:db8:0:1::{n + 1:x}") == 0.0
    assert fail(throttle, "petrov", "2001:db8:0:1:abcd::1") > 0
    assert fail(throttle, "petrov", "2001:db8:0:2::1") == 0.0


def test_a_known_browsers_tag_is_spared_every_lock_others_caused(clock: Clock) -> None:
    """Behind the operators' NAT an attacker locks the login, the address and the pair; the
    operator's browser, counted by its tag alone, still gets to try."""
    throttle = LoginThrottle(clock)
    for _ in range(PAIR_FAILURES):
        fail(throttle, "ivanova", "192.0.2.1")  # the office's one address: the pair
    for n in range(CLIENT_FAILURES - PAIR_FAILURES):
        fail(throttle, f"guess-{n}", "192.0.2.1")  # the address
    for n in range(LOGIN_FAILURES - PAIR_FAILURES):
        fail(throttle, "ivanova", f"203.0.113.{n}")  # the login, from elsewhere
    for login, address in (("ivanova", "192.0.2.1"), ("petrov", "192.0.2.1"), ("ivanova", "::1")):
        assert fail(throttle, login, address) > 0
    right = throttle.admit("ivanova", "192.0.2.1", tag=TAG)
    assert right.wait == 0.0
    throttle.succeeded(right)
    # Her sign-in lifted nothing for the others: the login, the address, the pair stay locked.
    for login, address in (("ivanova", "203.0.113.9"), ("petrov", "192.0.2.1")):
        assert fail(throttle, login, address) > 0
    assert fail(throttle, "ivanova", "192.0.2.1") > 0


def test_a_tag_allows_its_own_failures_then_is_ignored_until_a_successful_login(
    clock: Clock,
) -> None:
    throttle = LoginThrottle(clock)
    assert [fail(throttle, "ivanova", "192.0.2.1", TAG) for _ in range(TAG_FAILURES)] == [
        0.0
    ] * TAG_FAILURES
    assert not throttle.spares(TAG)
    clock.now += 30 * 24 * 3600.0  # no decay: a month later it is still ignored
    assert not throttle.spares(TAG)
    # Ignored, the browser is counted like any other: its pair locks after five more.
    for _ in range(PAIR_FAILURES):
        assert fail(throttle, "ivanova", "192.0.2.1", TAG) == 0.0
    assert fail(throttle, "ivanova", "192.0.2.1", TAG) > 0
    clock.now += BASE_LOCK
    throttle.succeeded(throttle.admit("ivanova", "192.0.2.1", tag=TAG))
    assert throttle.spares(TAG)  # a successful login: its failures are forgotten
