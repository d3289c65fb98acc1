"""`rcoi web` as its command serves it: a real uvicorn with the options flows/cli builds. A
login's password check never stalls the other pages (it runs in a worker thread, a bounded
number at a time, a bounded number waiting: the rest are answered 503 at once), and a client's
X-Forwarded-For and X-Forwarded-Proto are believed only from a trusted proxy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from flows.cli.grading import web_command
from tests.web_support import PLAN, SESSION, login_token, serve_session
from web.headers import HSTS
from web.verify import BUSY, HASHES_AT_ONCE, HASHES_WAITING

pytestmark = pytest.mark.integration  # a real server on a real socket

WAIT = 20.0  # seconds before a request that should take milliseconds counts as stalled


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def rcoi_web(out: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`rcoi web --out OUT` on a free port of 127.0.0.1; yields its base URL."""
    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: given.update(app=app, **options))
    port = _free_port()
    web_command(port=port, host="127.0.0.1", out=out, plan=PLAN, session=SESSION)
    server = uvicorn.Server(uvicorn.Config(given.pop("app"), **given))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert time.monotonic() < deadline, "rcoi web did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(WAIT)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    serve_session(tmp_path)
    return tmp_path


def test_pages_are_answered_while_logins_wait_for_their_password_check(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password check is held on an event until the test lets it go: while several logins
    are inside it, the results form and a stylesheet are still answered."""
    release = threading.Event()
    entered = threading.Semaphore(0)
    state = {"inside": 0, "peak": 0}
    guard = threading.Lock()

    def held_check(password: str, stored: str) -> bool:
        with guard:
            state["inside"] += 1
            state["peak"] = max(state["peak"], state["inside"])
        entered.release()
        release.wait(3 * WAIT)  # never forever, whatever happens to the test
        with guard:
            state["inside"] -= 1
        return False

    monkeypatch.setattr("tasks.adapters.operators.verify_password", held_check)
    monkeypatch.setattr("web.verify.verify_password", held_check, raising=False)

    def wrong_login(base: str) -> int:
        with httpx.Client(base_url=base, timeout=3 * WAIT) as client:
            token = login_token(client.get("/verify/login").text)
            answer = client.post(
                "/verify/login", data={"login": "ivanova", "password": "x", "csrf": token}
            )
            return answer.status_code

    with rcoi_web(out, monkeypatch) as base, ThreadPoolExecutor(4) as pool:
        logins = [pool.submit(wrong_login, base) for _ in range(4)]
        try:
            for _ in range(HASHES_AT_ONCE):
                assert entered.acquire(timeout=WAIT), "the checks do not run side by side"
            with httpx.Client(base_url=base, timeout=WAIT) as other:
                assert other.get("/results/").status_code == 200
                assert other.get("/verify/static/verify.css").status_code == 200
            assert state["inside"] == HASHES_AT_ONCE  # all of them still held meanwhile
            assert not release.is_set()
        finally:
            release.set()
        assert [login.result() for login in logins] == [401] * 4
    assert state["peak"] == HASHES_AT_ONCE  # the other logins waited for a free slot


def test_logins_past_the_queue_of_password_checks_are_answered_503_at_once(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every check is held: HASHES_AT_ONCE run, HASHES_WAITING wait for a thread, and every
    further login is answered «busy» at once instead of joining an unbounded queue."""
    release = threading.Event()

    def held_check(password: str, stored: str) -> bool:
        release.wait(3 * WAIT)
        return False

    monkeypatch.setattr("web.verify.verify_password", held_check)
    held, extra = HASHES_AT_ONCE + HASHES_WAITING, 6

    def wrong_login(base: str, n: int) -> tuple[int, str]:
        with httpx.Client(base_url=base, timeout=3 * WAIT) as client:
            token = login_token(client.get("/verify/login").text)
            answer = client.post(
                "/verify/login", data={"login": f"guess-{n}", "password": "x", "csrf": token}
            )
            return answer.status_code, answer.text

    with rcoi_web(out, monkeypatch) as base, ThreadPoolExecutor(held + extra) as pool:
        logins = [pool.submit(wrong_login, base, n) for n in range(held + extra)]
        try:
            answered: set[object] = set()
            deadline = time.monotonic() + WAIT
            while len(answered) < extra and time.monotonic() < deadline:
                pending = [login for login in logins if login not in answered]
                done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                answered |= done
            assert not release.is_set()
            busy = [login.result() for login in logins if login in answered]
            assert [status for status, _ in busy] == [503] * extra
            assert all(BUSY in body for _, body in busy)
        finally:
            release.set()
        statuses = [login.result()[0] for login in logins]
    assert sorted(statuses) == [401] * held + [503] * extra


def lookups(base: str, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=base, timeout=WAIT) as client:
        return [
            client.post(
                "/results/",
                data={"work_code": "1" * 12},
                headers={"X-Forwarded-For": address},
            ).status_code
            for address in forwarded_for
        ]


def test_a_made_up_forwarded_address_from_loopback_is_ignored_by_default(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without RCOI_TRUSTED_PROXIES every query from 127.0.0.1 is 127.0.0.1's, whatever
    X-Forwarded-For it claims: the limit (10 per window) stops it."""
    monkeypatch.delenv("RCOI_TRUSTED_PROXIES", raising=False)
    spoofed = [f"203.0.{n}.7" for n in range(12)]
    with rcoi_web(out, monkeypatch) as base:
        assert lookups(base, spoofed) == [200] * 10 + [429] * 2
        claimed = httpx.get(f"{base}/results/", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in claimed.headers


def test_a_trusted_proxy_passes_the_clients_address_on(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RCOI_TRUSTED_PROXIES", '["127.0.0.1"]')
    behind_the_proxy = [f"203.0.{n}.7" for n in range(12)]
    with rcoi_web(out, monkeypatch) as base:
        assert lookups(base, behind_the_proxy) == [200] * 12  # twelve clients, one query each
        assert lookups(base, ["198.51.100.9"] * 11)[-1] == 429  # one client, over its limit
        # The proxy says the browser came over https: HSTS, which the proxy need not add.
        secure = httpx.get(f"{base}/results/", headers={"X-Forwarded-Proto": "https"})
        assert secure.headers["strict-transport-security"] == HSTS
        assert "strict-transport-security" not in httpx.get(f"{base}/results/").headers
