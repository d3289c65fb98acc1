"""The operators' login throttle: failed passwords lock a login, a client, or the pair, for a
time that doubles with each further failure; a browser the login signed in from before has a
failure allowance of its own instead.

Three counters, each keyed by what it protects against:
- the pair (login, client): one source guessing one login — locked after PAIR_FAILURES;
- the client (all logins): one source sweeping logins — locked after CLIENT_FAILURES;
- the login (all clients): many sources guessing one login — locked after LOGIN_FAILURES.
The client is an IPv4 address, or the /64 of an IPv6 one (a subscriber holds the whole /64 and
may change its address within it at will).

A browser that holds a valid «known browser» tag of the login (web/verify.py: bound to the
login's password and at most KNOWN_MAX_AGE old) is counted by that tag alone: none of the
three counters apply to it, so nobody else — an attacker behind the operators' own NAT
included — can lock the operator out of his own browser. The tag's counter allows
TAG_FAILURES failures; after them the tag is ignored (the three counters apply as to any
browser) until a successful login, which issues a new tag.

A lock lasts BASE_LOCK, doubled for every failure past the threshold, at most MAX_LOCK; a
refused attempt (during a lock) checks no password and counts nothing, so hammering a locked
login does not lengthen its lock. An attempt counts as failed from its start (`admit`), so that
parallel attempts cannot all slip in under the threshold, and is taken back when the password
was right (`succeeded`). A counter is forgotten FORGET after its last failure, unless locked.

The counters are bounded (`capacity`): a full table forgets the counters past FORGET, then the
unlocked ones with the fewest failures; a locked counter is never dropped, so made-up logins
cannot flush a real login's lock. When every counter is locked, a key not in the table gets no
counter of its own: its attempts count on one shared overflow counter, which locks after
OVERFLOW_FAILURES like any other (new sources wait; known ones and tagged browsers do not).
The state lives in this process: `rcoi web` is one uvicorn process (no workers), so every
request sees it; a restart forgets it.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "BASE_LOCK",
    "CLIENT_FAILURES",
    "LOGIN_FAILURES",
    "MAX_ENTRIES",
    "MAX_LOCK",
    "OVERFLOW_FAILURES",
    "PAIR_FAILURES",
    "TAG_FAILURES",
    "Attempt",
    "LoginThrottle",
    "client_of",
]

PAIR_FAILURES = 5
CLIENT_FAILURES = 20
LOGIN_FAILURES = 10
TAG_FAILURES = 10  # failures from a known browser before its tag is ignored
OVERFLOW_FAILURES = 20  # failures of new sources while the table is full of locks
BASE_LOCK = 60.0  # seconds
MAX_LOCK = 15 * 60.0
FORGET = 60 * 60.0
TAG_FORGET = 180 * 24 * 3600.0  # a tag's failures last as long as the tag may
MAX_ENTRIES = 10_000
_LOW_WATER = 0.9  # a full table is thinned to this share at once: one scan per many inserts

Key = tuple[str, ...]


def client_of(address: str) -> str:
    """The client a throttle counts: an IPv4 address as it is, the /64 of an IPv6 one (an
    IPv4-mapped one is its IPv4 address); anything else (a test client's name) as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _doubling(excess: int) -> float:
    return min(BASE_LOCK * 2.0 ** min(excess, 32), MAX_LOCK)


def _until_the_tag_expires(excess: int) -> float:
    return TAG_FORGET


@dataclass(slots=True)
class _Counter:
    failures: int
    last: float
    locked_until: float

    def fail(self, threshold: int, now: float, lock: Callable[[int], float]) -> None:
        self.failures += 1
        self.last = now
        if self.failures >= threshold:
            self.locked_until = now + lock(self.failures - threshold)

    def locked(self, now: float) -> bool:
        return now < self.locked_until


class _Table:
    """Counters by key, at most `capacity` of them; a locked counter is never dropped."""

    def __init__(self, capacity: int, forget: float, lock: Callable[[int], float]) -> None:
        self.capacity, self.forget, self.lock = capacity, forget, lock
        self.counters: dict[Key, _Counter] = {}
        self._full_until = -math.inf  # a scan found every counter locked until then

    def get(self, key: Key, now: float) -> _Counter | None:
        counter = self.counters.get(key)
        if counter is not None and self._stale(counter, now):
            del self.counters[key]
            return None
        return counter

    def _stale(self, counter: _Counter, now: float) -> bool:
        return now - counter.last > self.forget and not counter.locked(now)

    def room(self, now: float) -> bool:
        """Whether a new key fits, thinning a full table if it can: the stale counters go
        first, then the unlocked ones with the fewest (and oldest) failures."""
        if len(self.counters) < self.capacity:
            return True
        if now < self._full_until:
            return False
        unlocked = sorted(
            ((key, c) for key, c in self.counters.items() if not c.locked(now)),
            key=lambda item: (not self._stale(item[1], now), item[1].failures, item[1].last),
        )
        excess = len(self.counters) - int(self.capacity * _LOW_WATER)
        for key, _ in unlocked[:excess]:
            del self.counters[key]
        if len(self.counters) >= self.capacity:
            self._full_until = min(c.locked_until for c in self.counters.values())
            return False
        return True

    def fail(self, key: Key, threshold: int, now: float) -> bool:
        """One more failure of `key`; False (nothing counted) when it has no counter and
        none fits."""
        counter = self.get(key, now)
        if counter is None:
            if not self.room(now):
                return False
            counter = self.counters[key] = _Counter(0, now, now)
        counter.fail(threshold, now, self.lock)
        return True

    def pop(self, key: Key) -> _Counter | None:
        self._full_until = -math.inf
        return self.counters.pop(key, None)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A login attempt as the throttle saw it: refused for `wait` seconds, or counted (on the
    `counted` keys, or on the overflow counter) until `succeeded` takes it back."""

    login: str
    client: str
    tag: str | None
    wait: float
    counted: tuple[Key, ...] = ()
    overflow: bool = False


class LoginThrottle:
    """Failed logins by login, by client, by the pair and by known-browser tag; `now` is a
    monotonic clock."""

    def __init__(
        self, now: Callable[[], float] = time.monotonic, capacity: int = MAX_ENTRIES
    ) -> None:
        self.now = now
        self._table = _Table(capacity, FORGET, _doubling)
        self._tags = _Table(capacity, TAG_FORGET, _until_the_tag_expires)
        self._overflow = _Counter(0, -math.inf, -math.inf)

    def _keys(self, login: str, client: str) -> list[tuple[Key, int]]:
        return [
            (("pair", login, client), PAIR_FAILURES),
            (("client", client), CLIENT_FAILURES),
            (("login", login), LOGIN_FAILURES),
        ]

    def spares(self, tag: str | None) -> bool:
        """Whether a valid tag still stands for its browser: fewer than TAG_FAILURES failures
        since it was issued (and room to count them)."""
        if tag is None:
            return False
        now = self.now()
        counter = self._tags.get(("tag", tag), now)
        if counter is None:
            return self._tags.room(now)
        return not counter.locked(now)

    def admit(self, login: str, address: str, *, tag: str | None = None) -> Attempt:
        """Refuse the attempt (`wait` > 0: checks no password, counts nothing) or count it as
        failed. `tag` is the browser's known-browser tag of this login, already found valid
        (web/verify.py), or None."""
        now, client = self.now(), client_of(address)
        if self.spares(tag):
            assert tag is not None
            self._tags.fail(("tag", tag), TAG_FAILURES, now)
            return Attempt(login, client, tag, 0.0, (("tag", tag),))
        keys = self._keys(login, client)
        waits, new = [0.0], False
        for key, _ in keys:
            counter = self._table.get(key, now)
            if counter is not None:
                waits.append(counter.locked_until - now)
            else:
                new = True
        if new and not self._table.room(now) and self._overflow.locked(now):
            waits.append(self._overflow.locked_until - now)
        if max(waits) > 0:
            return Attempt(login, client, tag, max(waits))
        counted = tuple(key for key, threshold in keys if self._table.fail(key, threshold, now))
        overflow = len(counted) < len(keys)
        if overflow:
            if now - self._overflow.last > FORGET and not self._overflow.locked(now):
                self._overflow = _Counter(0, now, now)
            self._overflow.fail(OVERFLOW_FAILURES, now, _doubling)
        return Attempt(login, client, tag, 0.0, counted, overflow)

    def succeeded(self, attempt: Attempt) -> None:
        """The attempt admitted had the right password: the tag used starts afresh, and so do
        the pair and the client if the attempt was counted on them (a tagged one was not: an
        operator signing in with her tag hands whoever shares her address nothing). The
        login's counter only loses this attempt (the rest decays by itself), so an operator
        signing in hands a distributed attacker no fresh allowance."""
        if attempt.tag is not None:
            self._tags.pop(("tag", attempt.tag))
        if ("client", attempt.client) in attempt.counted or attempt.overflow:
            self._table.pop(("pair", attempt.login, attempt.client))
            self._table.pop(("client", attempt.client))
        login_key = ("login", attempt.login)
        counter = self._table.counters.get(login_key)
        if login_key in attempt.counted and counter is not None:
            counter.failures -= 1
            if counter.failures < LOGIN_FAILURES:
                counter.locked_until = counter.last
        if attempt.overflow and self._overflow.failures > 0:
            self._overflow.failures -= 1
            if self._overflow.failures < OVERFLOW_FAILURES:
                self._overflow.locked_until = self._overflow.last
