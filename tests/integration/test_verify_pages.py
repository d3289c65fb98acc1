"""The operators' pages of `rcoi web` over HTTP (Starlette's TestClient, SQLite): failed logins
are throttled per login, per client and per pair with a Russian 429, the operator's own
browser is spared a lock others caused (behind the same address too) by a tag bound to her
password, its age and a failure limit of its own; a full password-check queue answers 503 at
once; a second check shows nothing of the first; crops only of items offered to the operator;
malformed ids answer 400/404 in Russian, never 500; every response, crops, static files,
redirects and errors included, carries the security headers, and HSTS under https."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tasks.adapters.models import Operator
from tasks.adapters.operators import add_operator
from tasks.adapters.unit_of_work import UnitOfWork
from tests.web_support import CROP, PASSWORD, SESSION, Items, login_token, serve_session
from web.app import create_app
from web.headers import HSTS, SECURITY_HEADERS, STATIC_CACHE
from web.throttle import BASE_LOCK, CLIENT_FAILURES, LOGIN_FAILURES, PAIR_FAILURES, TAG_FAILURES
from web.verify import BUSY, HASHES_AT_ONCE, HASHES_WAITING, KNOWN_MAX_AGE, VerifySite

pytestmark = pytest.mark.integration  # a real database behind the pages

PLAN = "kemerovo-2017-essay"
LOCKED = "Слишком много неудачных попыток входа"


class Clock:
    """The throttle's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    app: Starlette
    items: Items
    clock: Clock

    @property
    def site(self) -> VerifySite:
        site: VerifySite = self.app.state.site
        return site

    def browser(self, n: int = 1) -> TestClient:
        """A browser at its own address."""
        return TestClient(self.app, client=(f"192.0.2.{n}", 50000 + n))

    def browser_at(self, address: str) -> TestClient:
        """Another browser at `address` (behind one NAT, many browsers share it)."""
        return TestClient(self.app, client=(address, 50000))

    def stored_hash(self, login: str) -> str:
        with UnitOfWork(self.site.database.session_factory) as uow:
            return uow.session.scalars(
                select(Operator.password_hash).where(Operator.login == login)
            ).one()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings, items = serve_session(tmp_path)
    app = create_app(settings, PLAN, SESSION)
    clock = Clock()
    app.state.site.throttle.now = clock
    with TestClient(app):
        yield Served(app, items, clock)


def try_login(client: TestClient, login: str, password: str) -> tuple[int, str]:
    token = login_token(client.get("/verify/login").text)
    response = client.post(
        "/verify/login",
        data={"login": login, "password": password, "csrf": token},
        follow_redirects=False,
    )
    return response.status_code, response.text


def signed_in(served: Served, login: str, n: int = 1) -> TestClient:
    client = served.browser(n)
    assert try_login(client, login, PASSWORD)[0] == 303
    return client


def csrf_of(client: TestClient) -> str:
    html = client.get("/verify/").text
    return login_token(html)


# --- the login throttle -----------------------------------------------------------------------


def test_wrong_passwords_lock_the_login_at_that_client_with_a_russian_429(
    served: Served,
) -> None:
    client = served.browser()
    for _ in range(PAIR_FAILURES):
        status, body = try_login(client, "ivanova", "не тот пароль")
        assert (status, "Неверный логин или пароль" in body) == (401, True)
    response_status, body = try_login(client, "ivanova", PASSWORD)  # even the right one
    assert response_status == 429
    assert LOCKED in body
    assert "Повторите через 1 мин." in body
    token = login_token(client.get("/verify/login").text)
    refused = client.post(
        "/verify/login", data={"login": "ivanova", "password": "x", "csrf": token}
    )
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(int(BASE_LOCK))
    # Another operator at another address is not affected.
    assert try_login(served.browser(2), "petrov", PASSWORD)[0] == 303


def test_the_right_password_works_once_the_lock_lifts_and_further_failures_lock_longer(
    served: Served,
) -> None:
    client = served.browser()
    for _ in range(PAIR_FAILURES):
        try_login(client, "ivanova", "не тот пароль")
    served.clock.now += BASE_LOCK + 1
    assert try_login(client, "ivanova", "снова не тот")[0] == 401  # the lock lifted: tried
    assert try_login(client, "ivanova", PASSWORD)[0] == 429  # and locked again, longer
    served.clock.now += BASE_LOCK + 1
    assert try_login(client, "ivanova", PASSWORD)[0] == 429  # two minutes this time
    served.clock.now += BASE_LOCK
    assert try_login(client, "ivanova", PASSWORD)[0] == 303
    # Signed in: the pair starts afresh.
    assert try_login(client, "ivanova", "не тот пароль")[0] == 401


def test_one_client_sweeping_logins_is_locked_for_every_login(served: Served) -> None:
    client = served.browser()
    for n in range(CLIENT_FAILURES):
        assert try_login(client, f"guess-{n}", "пароль")[0] == 401
    status, body = try_login(client, "petrov", PASSWORD)
    assert (status, LOCKED in body) == (429, True)


def test_many_clients_guessing_a_login_lock_it_except_in_the_operators_own_browser(
    served: Served,
) -> None:
    """The trade-off: a login guessed from many addresses is locked for every browser that
    never signed in as it, so an attacker cannot lock the operator out of his own one."""
    own = signed_in(served, "ivanova", n=1)
    own.post("/verify/logout", data={"csrf": csrf_of(own)})
    for n in range(LOGIN_FAILURES):  # one wrong password from each of many addresses
        assert try_login(served.browser(100 + n), "ivanova", "подбор")[0] == 401
    status, body = try_login(served.browser(200), "ivanova", PASSWORD)  # a new browser
    assert (status, LOCKED in body) == (429, True)
    assert try_login(own, "ivanova", PASSWORD)[0] == 303  # her own browser is spared
    # A made-up «known browser» cookie spares nothing.
    forged = served.browser(201)
    forged.cookies.set("rcoi_known", "0" * 32, path="/verify")
    assert try_login(forged, "ivanova", PASSWORD)[0] == 429
    forged.cookies.set("rcoi_known", "1700000000-" + "0" * 16 + "-" + "0" * 32, path="/verify")
    assert try_login(forged, "ivanova", PASSWORD)[0] == 429


def lock_everything_at(served: Served, address: str) -> None:
    """Someone at `address` locks ivanova's pair there, the address itself, and (with a few
    other addresses) the login ivanova."""
    attacker = served.browser_at(address)
    for _ in range(PAIR_FAILURES):
        assert try_login(attacker, "ivanova", "подбор")[0] == 401
    for n in range(CLIENT_FAILURES - PAIR_FAILURES):
        assert try_login(attacker, f"guess-{n}", "подбор")[0] == 401
    for n in range(LOGIN_FAILURES - PAIR_FAILURES):
        assert try_login(served.browser(100 + n), "ivanova", "подбор")[0] == 401
    assert try_login(served.browser_at(address), "ivanova", PASSWORD)[0] == 429
    assert try_login(served.browser_at(address), "petrov", PASSWORD)[0] == 429


def test_someone_behind_the_operators_nat_cannot_lock_her_out_of_her_own_browser(
    served: Served,
) -> None:
    office = "192.0.2.50"
    own = served.browser_at(office)
    assert try_login(own, "ivanova", PASSWORD)[0] == 303
    own.post("/verify/logout", data={"csrf": csrf_of(own)})
    lock_everything_at(served, office)
    assert try_login(own, "ivanova", PASSWORD)[0] == 303


def test_each_sign_in_gets_its_own_tag_and_replaces_the_browsers_earlier_one(
    served: Served,
) -> None:
    one, other = signed_in(served, "ivanova", n=1), signed_in(served, "ivanova", n=2)
    first = one.cookies.get("rcoi_known")
    assert first
    assert first != other.cookies.get("rcoi_known")
    assert try_login(one, "petrov", PASSWORD)[0] == 303  # a shared computer
    assert try_login(one, "ivanova", PASSWORD)[0] == 303
    tags = (one.cookies.get("rcoi_known") or "").split(".")
    assert len(tags) == 2  # ivanova's new tag and petrov's, not ivanova's old one
    assert first not in tags


def test_a_new_password_voids_the_tags_of_the_old_one(served: Served) -> None:
    own = signed_in(served, "ivanova", n=1)
    own.post("/verify/logout", data={"csrf": csrf_of(own)})
    with UnitOfWork(served.site.database.session_factory) as uow:
        add_operator(uow.session, "ivanova", PASSWORD, "operator", actor="test")  # a new salt
        uow.commit()
    lock_everything_at(served, "198.51.100.1")
    assert try_login(own, "ivanova", PASSWORD)[0] == 429


@pytest.mark.parametrize(("days", "spared"), [(179, True), (181, False)])
def test_a_tag_stands_for_its_browser_for_180_days(served: Served, days: int, spared: bool) -> None:
    assert KNOWN_MAX_AGE == 180 * 24 * 3600
    issued = int(datetime.now(UTC).timestamp()) - days * 24 * 3600
    tag = served.site.new_tag("ivanova", served.stored_hash("ivanova"), issued)
    browser = served.browser(60)
    browser.cookies.set("rcoi_known", tag, path="/verify")
    for n in range(LOGIN_FAILURES):
        try_login(served.browser(100 + n), "ivanova", "подбор")
    assert try_login(browser, "ivanova", PASSWORD)[0] == (303 if spared else 429)


def test_a_tagged_browser_has_its_own_failure_limit_then_is_throttled_like_any(
    served: Served,
) -> None:
    own = signed_in(served, "ivanova", n=1)
    own.post("/verify/logout", data={"csrf": csrf_of(own)})
    for n in range(LOGIN_FAILURES):  # others lock the login
        try_login(served.browser(100 + n), "ivanova", "подбор")
    # A stolen tag (or the operator mistyping): its own allowance of wrong passwords...
    assert [try_login(own, "ivanova", "подбор")[0] for _ in range(TAG_FAILURES)] == [
        401
    ] * TAG_FAILURES
    # ...then the tag is ignored: the login's lock applies to this browser too.
    assert try_login(own, "ivanova", PASSWORD)[0] == 429


def test_a_failed_login_is_audit_logged_without_the_password(served: Served) -> None:
    from sqlalchemy import select

    from tasks.adapters.models import AuditLog

    try_login(served.browser(), "ivanova", "секретная-опечатка")
    with served.site.database.session_factory() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "login_failed")).all()
    assert [(row.actor, row.entity_id) for row in rows] == [("ivanova", "ivanova")]
    assert "секретная-опечатка" not in repr([(r.old, r.new) for r in rows])


# --- the password checks' queue -----------------------------------------------------------------


def test_a_full_queue_of_password_checks_answers_503_at_once_but_not_a_known_browser(
    served: Served,
) -> None:
    own = signed_in(served, "ivanova", n=1)
    own.post("/verify/logout", data={"csrf": csrf_of(own)})
    served.site.hashes_pending = HASHES_AT_ONCE + HASHES_WAITING  # as if that many waited
    response_status, body = try_login(served.browser(2), "petrov", PASSWORD)
    assert (response_status, BUSY in body) == (503, True)
    assert try_login(own, "ivanova", PASSWORD)[0] == 303
    served.site.hashes_pending = HASHES_AT_ONCE + HASHES_WAITING - 1
    assert try_login(served.browser(2), "petrov", PASSWORD)[0] == 303


# --- the second check is blind -----------------------------------------------------------------


def test_the_second_check_shows_neither_the_first_answer_nor_the_protocols_value(
    served: Served,
) -> None:
    first = signed_in(served, "ivanova", n=1)
    page = first.get(f"/verify/item/{served.items.k3}").text
    assert "В протоколе эксперта" in page  # the first check sees the protocol's «зачет»
    first.post(
        f"/verify/item/{served.items.k3}",
        data={"answer": "1", "csrf": csrf_of(first)},
        follow_redirects=False,
    )
    second = signed_in(served, "petrov", n=2)
    response = second.get(f"/verify/item/{served.items.k3}")
    assert response.status_code == 200
    assert "ожидает второй проверки" in response.text
    for shown in ("В протоколе эксперта", "ivanova", ">зачет<"):
        assert shown not in response.text


# --- crops -------------------------------------------------------------------------------------


def test_an_operator_gets_only_the_crops_of_items_offered_to_him(served: Served) -> None:
    items = served.items
    operator = signed_in(served, "ivanova", n=1)
    topic = operator.get(f"/verify/crop/{items.topic}")
    assert (topic.status_code, topic.content) == (200, CROP)
    assert topic.headers["content-type"] == "image/png"
    for refused in (items.resolved, items.page, 999_999):
        assert operator.get(f"/verify/crop/{refused}").status_code in (403, 404)
    # Her own first answer waits for another operator: its crop is no longer hers.
    operator.post(f"/verify/item/{items.k3}", data={"answer": "1", "csrf": csrf_of(operator)})
    assert operator.get(f"/verify/crop/{items.k3}").status_code == 403
    assert signed_in(served, "petrov", n=2).get(f"/verify/crop/{items.k3}").status_code == 200
    senior = signed_in(served, "smirnova", n=3)
    assert senior.get(f"/verify/crop/{items.page}").status_code == 200


# --- malformed addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/verify/next?after=abc", 400),
        ("/verify/next?after=99999999999999999999999", 400),
        ("/verify/next?after=%C2%B2", 400),
        ("/verify/group?item=abc", 400),
        ("/verify/group?item=", 400),
        ("/verify/group", 400),
        ("/verify/item/99999999999999999999999", 404),
        ("/verify/crop/99999999999999999999999", 403),
    ],
)
def test_a_malformed_id_answers_a_russian_page_not_a_server_error(
    served: Served, path: str, status: int
) -> None:
    client = signed_in(served, "ivanova")
    client_raises = TestClient(served.app, raise_server_exceptions=False)
    client_raises.cookies = client.cookies
    response = client_raises.get(path, follow_redirects=False)
    assert response.status_code == status
    if status != 403:
        assert "text/html" in response.headers["content-type"]
        assert any(word in response.text for word in ("Неверный", "недоступен"))


def test_a_group_post_with_malformed_ids_decides_only_the_valid_ones(served: Served) -> None:
    client = signed_in(served, "ivanova")
    response = client.post(
        "/verify/group",
        data={
            "answer": "102",
            "csrf": csrf_of(client),
            "item": ["²", "99999999999999999999999", "abc", str(served.items.topic)],
        },
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/verify/?decided=1")


# --- security headers --------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(served: Served) -> None:
    client = signed_in(served, "ivanova")
    anonymous = served.browser(9)
    responses = {
        "crop": client.get(f"/verify/crop/{served.items.topic}"),
        "refused crop": client.get(f"/verify/crop/{served.items.page}"),
        "crop without login": anonymous.get(f"/verify/crop/{served.items.topic}"),
        "static": client.get("/verify/static/verify.css"),
        "public static": client.get("/static/lookup.css"),
        "redirect": anonymous.get("/verify/", follow_redirects=False),
        "home": anonymous.get("/", follow_redirects=False),
        "not found": anonymous.get("/no-such-page"),
        "wrong method": anonymous.put("/results/"),
        "bad request": client.get("/verify/next?after=abc"),
        "page": client.get("/verify/"),
        "alerts off": anonymous.post("/prefect/alerts", json={}),
    }
    for name, response in responses.items():
        for header in SECURITY_HEADERS:
            assert header in response.headers, f"{name}: no {header}"
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["x-frame-options"] == "DENY", name
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], name
    assert responses["not found"].status_code == 404
    assert "Страница не найдена" in responses["not found"].text
    assert responses["wrong method"].status_code == 405
    assert "Метод не поддерживается" in responses["wrong method"].text
    # The pages keep their own policy: their stylesheet and script are their own.
    assert "script-src 'self'" in responses["page"].headers["content-security-policy"]
    # Nothing personal is cached; the static files are, briefly.
    for name in ("crop", "redirect", "not found", "page"):
        assert responses[name].headers["cache-control"] == "no-store", name
    assert responses["static"].headers["cache-control"] == STATIC_CACHE
    assert all("strict-transport-security" not in r.headers for r in responses.values())


def test_hsts_is_sent_under_https_only(served: Served) -> None:
    secure = TestClient(served.app, base_url="https://testserver")
    for path in ("/verify/login", "/results/", "/verify/static/verify.css", "/no-such-page"):
        assert secure.get(path).headers["strict-transport-security"] == HSTS, path
    assert "strict-transport-security" not in served.browser().get("/verify/login").headers
