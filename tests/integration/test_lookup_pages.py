"""The public pages of `rcoi web` over HTTP (Starlette's TestClient, SQLite): the results
lookup answers an exact match only, tells not-found, malformed and a wrong document apart in
nothing, stops an enumeration at the client's limit and an IPv6 /64's, leaves the many
participants behind one IPv4 /24 (a carrier's NAT) alone, lets no flood from many addresses
lock everyone out, honours no GET parameters, logs nothing submitted; the acknowledgement link
shows on GET and records on a POST from its own page only (its origin compared as a browser
spells it). All people here are invented."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config.settings import Settings
from tasks.adapters.acknowledgements import issue
from tasks.adapters.database import bootstrap
from tasks.adapters.models import Acknowledgement, LookupAttempt
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.identifiers import make_work_code
from tests.integration.test_lookup_store import World  # the store tests' invented people
from web.app import create_app
from web.lookup import GLOBAL_FACTOR, NOT_FOUND, SUBNET_FACTOR, PublicSite, origin_of, public_site

pytestmark = pytest.mark.integration  # a real database behind the pages

LIMIT = 10
CAMPAIGN, SESSION = "test-2017", "2017-12-06"
SENT = datetime(2017, 12, 18, 5, 0, tzinfo=UTC)
SEEN = datetime(2017, 12, 18, 8, 30, tzinfo=UTC)
CLICKED_AGAIN = datetime(2017, 12, 19, 2, 0, tzinfo=UTC)
SAME_ORIGIN = {"Origin": "http://testserver"}  # TestClient's own


@dataclass
class Served:
    app: Starlette
    client: TestClient
    codes: dict[str, str]
    token: str
    settings: Settings

    def other_client(self, n: int) -> TestClient:
        """Another browser: a different address (TestClient's `client`)."""
        return TestClient(self.app, client=(f"198.51.100.{n}", 40000 + n))

    def client_at(self, address: str) -> TestClient:
        return TestClient(self.app, client=(address, 40000))

    @property
    def public(self) -> PublicSite:
        site: PublicSite = self.app.state.public
        return site


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = Settings(out_dir=tmp_path, lookup_limit=LIMIT)
    database = bootstrap(settings)
    with database.session_factory() as session:
        world = World(session)
        ivanov = world.person("Иванов", "Иван", "Петрович", "3200", "654321")
        world.result(ivanov, 0, "failed", label="ivanov-dec")
        world.result(ivanov, 1, "passed", label="ivanov-feb")
        world.result(ivanov, 2, "passed", label="ivanov-may-unverified", verified=False)
        yolkina = world.person("Ёлкина", "Анна", "Олеговна", "3201", "123456")
        world.result(yolkina, 0, "passed", label="yolkina", form="exposition")
        token = issue(session, world.exams[0].id, "42-05", "results", "a" * 64, SENT)
        assert token is not None
        session.commit()
        codes = dict(world.codes)
    database.dispose()
    app = create_app(settings, CAMPAIGN, SESSION)
    with TestClient(app) as client:
        yield Served(app, client, codes, token, settings)


def ask(client: TestClient, **fields: str) -> tuple[int, str]:
    response = client.post("/results/", data=fields)
    return response.status_code, response.text


# --- the form ----------------------------------------------------------------------------------


def test_the_form_asks_for_surname_and_document_or_work_code_in_russian(served: Served) -> None:
    response = served.client.get("/results/")
    assert response.status_code == 200
    for text in ("Фамилия", "Номер документа", "серия и номер слитно", "Код работы", "Найти"):
        assert text.lower() in response.text.lower()
    assert 'method="post"' in response.text
    assert NOT_FOUND not in response.text


def test_every_page_sends_the_privacy_headers(served: Served) -> None:
    responses = [
        served.client.get("/results/"),
        served.client.post("/results/", data={"work_code": "1"}),
        served.client.get(f"/ack/{served.token}"),
        served.client.get("/ack/unknown-token-0000000000"),
    ]
    for response in responses:
        assert response.headers["cache-control"] == "no-store"
        # The acknowledgement page's POST must carry its origin (web/lookup.py).
        button = response.url.path.startswith("/ack/") and response.status_code == 200
        policy = "same-origin" if button else "no-referrer"
        assert response.headers["referrer-policy"] == policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src" not in policy  # no scripts at all


def test_get_with_query_parameters_shows_only_the_empty_form(served: Served) -> None:
    plain = served.client.get("/results/").text
    code = served.codes["ivanov-feb"]
    for query in (
        f"?work_code={code}",
        "?surname=Иванов&document=3200654321",
        "?q=Иванов",
        "?surname=%25&document=%25",
    ):
        response = served.client.get(f"/results/{query}")
        assert response.status_code == 200
        assert response.text == plain
    with UnitOfWork(served.public.database.session_factory) as uow:
        assert uow.session.scalars(select(LookupAttempt)).all() == []


def test_the_stylesheet_is_served(served: Served) -> None:
    response = served.client.get("/static/lookup.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["content-type"]


# --- answers -----------------------------------------------------------------------------------


def test_surname_and_document_show_each_session_with_initials_only(served: Served) -> None:
    status, body = ask(served.client, surname=" иванов ", document="3200 654321")
    assert status == 200
    assert re.search(r"И\. П\.", body)
    for text in ("6 декабря 2017 г.", "7 февраля 2018 г.", "незачет", "зачет", "сочинение"):
        assert text in body
    assert "16 мая 2018" not in body  # not verified yet
    for personal in ("Иванов", "иванов", "Иван ", "Петрович", "654321", "3200"):
        assert personal not in body


def test_a_work_code_shows_that_result_without_any_name(served: Served) -> None:
    status, body = ask(served.client, work_code=served.codes["yolkina"])
    assert status == 200
    assert "изложение" in body
    assert "зачет" in body
    for personal in ("Ёлкина", "Анна", "А. О.", "Участник", served.codes["yolkina"]):
        assert personal not in body


def test_not_found_malformed_and_a_wrong_document_give_the_same_page(served: Served) -> None:
    answers = {
        "nobody": ask(served.client, surname="Петрова", document="4500000001"),
        "existing surname, wrong document": ask(
            served.client, surname="Иванов", document="3200654320"
        ),
        "another's document": ask(served.client, surname="Иванов", document="3201123456"),
        "partial surname": ask(served.client, surname="Иван", document="3200654321"),
        "wildcard": ask(served.client, surname="%", document="3200654321"),
    }
    other = served.other_client(1)
    answers |= {
        "empty": ask(other),
        "empty fields": ask(other, surname="", document=""),
        "short code": ask(other, work_code="12345"),
        "letters": ask(other, work_code="абвгдежзийкл"),
        "both modes": ask(other, surname="Иванов", document="3200654321", work_code="1" * 12),
        "unknown field": ask(other, surname="Иванов", document="3200654321", extra="1"),
    }
    raw = other.post(
        "/results/", content=b"\xff\xfe", headers={"content-type": "application/octet-stream"}
    )
    answers["not a form"] = (raw.status_code, raw.text)
    huge = other.post("/results/", data={"surname": "И" * 5000, "document": "1"})
    answers["huge"] = (huge.status_code, huge.text)
    assert {status for status, _ in answers.values()} == {200}
    bodies = {body for _, body in answers.values()}
    assert len(bodies) == 1, "the pages differ"
    assert NOT_FOUND in bodies.pop()


def test_a_query_string_on_the_post_is_ignored(served: Served) -> None:
    code = served.codes["ivanov-feb"]
    response = served.client.post(f"/results/?work_code={code}", data={})
    assert NOT_FOUND in response.text


def test_an_enumeration_of_work_codes_stops_at_the_limit_and_learns_nothing(
    served: Served,
) -> None:
    """Existing codes without a verified result, codes no one has and malformed ones answer
    alike; after `lookup_limit` tries even the right code is refused."""
    existing = served.codes["ivanov-may-unverified"]  # issued, but no verified result
    guesses = [existing] + [make_work_code("42", 2017, 1, serial) for serial in range(500, 509)]
    assert len(guesses) == LIMIT
    bodies = set()
    for guess in guesses:
        status, body = ask(served.client, work_code=guess)
        assert status == 200
        bodies.add(body)
    assert len(bodies) == 1
    assert NOT_FOUND in bodies.pop()
    for guess in (served.codes["ivanov-feb"], served.codes["yolkina"], "0" * 12):
        status, body = ask(served.client, work_code=guess)
        assert status == 429
        assert "Слишком много запросов" in body
        assert "зачет" not in body
    assert served.client.post("/results/", data={}).headers["retry-after"] == "600"
    # Another client is not affected and finds the right code at once.
    status, body = ask(served.other_client(2), work_code=served.codes["ivanov-feb"])
    assert (status, "зачет" in body) == (200, True)


def test_a_successful_lookup_counts_against_the_limit(served: Served) -> None:
    for _ in range(LIMIT):
        status, body = ask(served.client, surname="Иванов", document="3200654321")
        assert status == 200
        assert "И. П." in body
    status, body = ask(served.client, surname="Иванов", document="3200654321")
    assert status == 429
    assert "И. П." not in body


def test_a_flood_from_many_addresses_does_not_lock_out_a_participant_arriving_after_it(
    served: Served,
) -> None:
    """50 clients in 50 networks use up their 10 lookups each: the global ceiling is reached.
    A participant arriving now still finds his result, while the flooders get less each."""
    flooders = [served.client_at(f"10.{n}.0.1") for n in range(GLOBAL_FACTOR)]
    for client in flooders:
        assert [ask(client, work_code="1" * 12)[0] for _ in range(LIMIT)] == [200] * LIMIT
    status, body = ask(served.client_at("203.0.113.5"), work_code=served.codes["ivanov-feb"])
    assert (status, "зачет" in body) == (200, True)
    latecomers = [served.client_at(f"172.16.{n}.1") for n in range(3)]
    for client in latecomers:  # a few queries each while the flood lasts, not ten
        statuses = [ask(client, work_code="1" * 12)[0] for _ in range(LIMIT)]
        assert 200 in statuses
        assert statuses[-1] == 429
    assert ask(flooders[0], work_code="1" * 12)[0] == 429


def test_many_participants_behind_one_ipv4_24_are_not_limited_as_a_whole(
    served: Served,
) -> None:
    """A mobile carrier's NAT: many addresses of one /24, a few lookups each, more than the
    old /24 limit (SUBNET_FACTOR clients' worth) in all. Under normal load none is refused."""
    addresses = 2 * SUBNET_FACTOR + 2
    for n in range(addresses):
        client = served.client_at(f"203.0.113.{n + 1}")
        assert [ask(client, work_code="1" * 12)[0] for _ in range(LIMIT // 2)] == [200] * (
            LIMIT // 2
        )
    assert addresses * (LIMIT // 2) > SUBNET_FACTOR * LIMIT


def test_the_addresses_of_one_ipv6_64_share_its_limit(served: Served) -> None:
    """One /64 is one subscriber's, who may change his address within it at will: its
    addresses together get SUBNET_FACTOR clients' worth of lookups; another /64 is not
    affected."""
    for n in range(SUBNET_FACTOR):
        client = served.client_at(f"2001:db8:0:1::{n + 1}")
        assert [ask(client, work_code="1" * 12)[0] for _ in range(LIMIT)] == [200] * LIMIT
    assert ask(served.client_at("2001:db8:0:1:ffff::9"), work_code="1" * 12)[0] == 429
    assert ask(served.client_at("2001:db8:0:2::1"), work_code="1" * 12)[0] == 200


def test_the_database_keeps_a_keyed_hash_of_the_client_not_its_address(served: Served) -> None:
    ask(served.other_client(77), work_code="1" * 12)
    with UnitOfWork(served.public.database.session_factory) as uow:
        [stored] = uow.session.scalars(select(LookupAttempt.client_key)).all()
    assert "198.51.100.77" not in stored
    assert len(stored) == 64
    assert stored != hashlib.sha256(b"198.51.100.77").hexdigest()  # keyed
    key = served.settings.out_dir / "secrets" / "lookup.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_nothing_submitted_reaches_the_logs(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ask(served.client, surname="Иванов", document="3200654321")
    ask(served.client, work_code=served.codes["yolkina"])
    ask(served.client, surname="Несуществующая", document="9999000000")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for value in ("Иванов", "3200654321", served.codes["yolkina"], "Несуществующая", "9999"):
        assert value not in logged


# --- acknowledgements --------------------------------------------------------------------------


def acknowledged_at(served: Served) -> datetime | None:
    with UnitOfWork(served.public.database.session_factory) as uow:
        digest = hashlib.sha256(served.token.encode()).hexdigest()
        row = uow.session.scalars(
            select(Acknowledgement).where(Acknowledgement.token_sha256 == digest)
        ).one()
        return row.acknowledged_at


def test_the_link_shows_what_is_acknowledged_and_a_get_changes_nothing(served: Served) -> None:
    for _ in range(3):  # a mail scanner prefetching the link
        response = served.client.get(f"/ack/{served.token}")
        assert response.status_code == 200
    for text in (
        "МОУО 42-05",
        "Результаты итогового сочинения (изложения)",
        "6 декабря 2017 г.",
        "18.12.2017 12:00 (Asia/Novokuznetsk, UTC+7)",
        "Подтвердить получение",
    ):
        assert text in response.text
    assert acknowledged_at(served) is None


def test_the_post_acknowledges_once_and_shows_the_local_time(served: Served) -> None:
    served.public.now = lambda: SEEN
    response = served.client.post(f"/ack/{served.token}", headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert "Получение подтверждено 18.12.2017 15:30 (Asia/Novokuznetsk, UTC+7)" in response.text
    served.public.now = lambda: CLICKED_AGAIN
    again = served.client.post(f"/ack/{served.token}", headers=SAME_ORIGIN)
    assert "Получение подтверждено 18.12.2017 15:30" in again.text
    assert acknowledged_at(served) == SEEN
    shown = served.client.get(f"/ack/{served.token}").text
    assert "Получение уже подтверждено 18.12.2017 15:30" in shown
    assert "Подтвердить получение" not in shown


@pytest.mark.parametrize("token", ["unknown-token-0000000000000000", "x", "%2e%2e%2fetc"])
def test_an_unknown_link_is_a_russian_404(served: Served, token: str) -> None:
    for response in (
        served.client.get(f"/ack/{token}"),
        served.client.post(f"/ack/{token}", headers=SAME_ORIGIN),
    ):
        assert response.status_code == 404
        assert "Ссылка недействительна" in response.text
    assert acknowledged_at(served) is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "null", "Referer": "https://evil.example/ack/x"},
        {"Referer": "http://testserver.evil.example/ack/x"},
        {"Origin": "http://testserver:8080"},
        {"Origin": "https://testserver"},
        {"Origin": "http://testserver:99999"},
        {"Origin": "http://xn--e1aybc.testserver"},
    ],
)
def test_an_acknowledgement_from_another_origin_is_refused(
    served: Served, headers: dict[str, str]
) -> None:
    response = served.client.post(f"/ack/{served.token}", headers=headers)
    assert response.status_code == 403
    assert "Запрос отклонён" in response.text
    assert "Подтвердить получение" in response.text  # the way to do it
    assert acknowledged_at(served) is None


@pytest.mark.parametrize(
    "headers",
    [
        SAME_ORIGIN,
        {"Referer": "http://testserver/ack/some-token"},
        {"Origin": "http://127.0.0.1:8000"},  # RCOI_PUBLIC_BASE_URL's: the mailed links'
        {"Origin": "HTTP://TestServer:80"},  # the default port, another case
        {"Origin": "null", "Referer": "http://user:secret@testserver:80/ack/x"},
    ],
)
def test_an_acknowledgement_from_its_own_page_is_recorded(
    served: Served, headers: dict[str, str]
) -> None:
    served.public.now = lambda: SEEN
    assert served.client.post(f"/ack/{served.token}", headers=headers).status_code == 200
    assert acknowledged_at(served) == SEEN


def test_a_cyrillic_public_address_matches_the_origin_a_browser_sends(
    served: Served, tmp_path: Path
) -> None:
    """RCOI_PUBLIC_BASE_URL as the region writes it, https://рцои42.рф; a browser sends its
    Origin in punycode, and may name the default port."""
    settings = Settings(out_dir=tmp_path, public_base_url="https://рцои42.рф/")
    database = bootstrap(settings)
    try:
        assert public_site(database, settings).origin == "https://xn--42-vlcxj0b.xn--p1ai"
    finally:
        database.dispose()
    served.public.origin = origin_of(settings.public_base_url)
    served.public.now = lambda: SEEN
    for refused in (
        "https://xn--42-vlcxj0b.xn--p1ai.evil.example",
        "http://xn--42-vlcxj0b.xn--p1ai",
    ):
        response = served.client.post(f"/ack/{served.token}", headers={"Origin": refused})
        assert response.status_code == 403
    punycode = {"Origin": "https://XN--42-vlcxj0b.xn--p1ai:443"}
    assert served.client.post(f"/ack/{served.token}", headers=punycode).status_code == 200
    assert acknowledged_at(served) == SEEN


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://рцои42.рф", "https://xn--42-vlcxj0b.xn--p1ai"),
        ("HTTPS://РЦОИ42.РФ:443/ack/x", "https://xn--42-vlcxj0b.xn--p1ai"),
        ("https://user:pw@Example.org.:8443/", "https://example.org:8443"),
        ("http://example.org:80", "http://example.org"),
        ("http://[2001:DB8::1]:8000/x", "http://[2001:db8::1]:8000"),
        ("null", None),
        ("ftp://example.org", None),
        ("https://a..b", None),
        ("http://example.org:99999", None),
    ],
)
def test_an_origin_is_spelt_as_a_browser_spells_it(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


# --- composition -------------------------------------------------------------------------------


def test_the_verification_pages_are_served_by_the_same_app(served: Served) -> None:
    response = served.client.get("/verify/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/verify/login")
    assert "Вход для операторов" in served.client.get("/verify/login").text
