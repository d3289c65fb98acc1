"""The operators' login throttle: failed passwords lock a login, a client, or the pair, for a
time that doubles with each further failure.

Three counters, each keyed by what it protects against:
- the pair (login, client): one source guessing one login — locked after PAIR_FAILURES;
- the client (all logins): one source sweeping logins — locked after CLIENT_FAILURES;
- the login (all clients): many sources guessing one login — locked after LOGIN_FAILURES,
  except for a browser the login has signed in from before (it holds the login's «known
  browser» tag, web/verify.py): so an attacker who keeps a login locked locks it only for
  browsers the operator never used, never the operator's own.

A lock lasts BASE_LOCK, doubled for every failure past the threshold, at most MAX_LOCK; a
refused attempt (during a lock) checks no password and counts nothing, so hammering a locked
login does not lengthen its lock. An attempt counts as failed from its start (`begin`), so that
parallel attempts cannot all slip in under the threshold, and is taken back when the password
was right (`succeeded`, which also clears the pair's and the client's counters). A counter is
forgotten FORGET after its last failure. The state lives in this process: `rcoi web`
is one uvicorn process (no workers), so every request sees it; a restart forgets it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginThrottle"]

PAIR_FAILURES = 5
CLIENT_FAILURES = 20
LOGIN_FAILURES = 10
BASE_LOCK = 60.0  # seconds
MAX_LOCK = 15 * 60.0
FORGET = 60 * 60.0
MAX_ENTRIES = 10_000  # the oldest counters go first: made-up logins cannot exhaust memory


@dataclass(slots=True)
class _Counter:
    failures: int
    last: float
    locked_until: float


class LoginThrottle:
    """Failed logins by login, by client and by the pair; `now` is a monotonic clock."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self._counters: OrderedDict[tuple[str, ...], _Counter] = OrderedDict()

    def _keys(self, login: str, client: str, known: bool) -> list[tuple[tuple[str, ...], int]]:
        keys = [(("pair", login, client), PAIR_FAILURES), (("client", client), CLIENT_FAILURES)]
        if not known:
            keys.append((("login", login), LOGIN_FAILURES))
        return keys

    def _counter(self, key: tuple[str, ...], now: float) -> _Counter | None:
        counter = self._counters.get(key)
        if counter is not None and now - counter.last > FORGET and now >= counter.locked_until:
            del self._counters[key]
            return None
        return counter

    def wait(self, login: str, client: str, *, known: bool = False) -> float:
        """Seconds until this login may be tried from this client; 0 when it may now."""
        now = self.now()
        waits = [
            counter.locked_until - now
            for key, _ in self._keys(login, client, known)
            if (counter := self._counter(key, now)) is not None
        ]
        return max([0.0, *waits])

    def begin(self, login: str, client: str) -> None:
        """An attempt about to be checked: counted as failed (every counter, the login's too)
        until `succeeded` says otherwise."""
        now = self.now()
        for key, threshold in self._keys(login, client, known=False):
            counter = self._counter(key, now) or _Counter(0, now, now)
            counter.failures += 1
            counter.last = now
            if counter.failures >= threshold:
                lock = min(BASE_LOCK * 2 ** (counter.failures - threshold), MAX_LOCK)
                counter.locked_until = now + lock
            self._counters[key] = counter
            self._counters.move_to_end(key)
        while len(self._counters) > MAX_ENTRIES:
            self._counters.popitem(last=False)

    def succeeded(self, login: str, client: str) -> None:
        """The attempt begun had the right password: the pair and the client start afresh.
        The login's counter only loses this attempt (the rest decays by itself), so an operator
        signing in hands a distributed attacker no fresh allowance."""
        self._counters.pop(("pair", login, client), None)
        self._counters.pop(("client", client), None)
        counter = self._counters.get(("login", login))
        if counter is not None:
            counter.failures -= 1
            if counter.failures < LOGIN_FAILURES:
                counter.locked_until = counter.last
