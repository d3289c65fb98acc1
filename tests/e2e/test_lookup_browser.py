"""The public pages in a real headless Chromium (Debian's, through Playwright): a participant
finds the results by surname and document (initials only) or by work code, a wrong document
finds nothing; a МОУО opens its acknowledgement link and confirms. All people are invented."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from config.settings import Settings
from tasks.adapters.acknowledgements import issue
from tasks.adapters.database import bootstrap
from tests.integration.test_lookup_store import World  # the store tests' invented people
from web.app import create_app

pytestmark = pytest.mark.integration  # a real browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"
SENT = datetime(2017, 12, 18, 5, 0, tzinfo=UTC)
NOT_FOUND = "Результат не найден. Проверьте фамилию и номер документа или код работы."


@dataclass(frozen=True)
class Site:
    base: str
    codes: dict[str, str]
    token: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = Settings(out_dir=tmp_path_factory.mktemp("lookup-web"))
    database = bootstrap(settings)
    with database.session_factory() as session:
        world = World(session)
        person = world.person("Соловьёва", "Мария", "Андреевна", "3205", "246810")
        world.result(person, 0, "failed", label="dec")
        world.result(person, 1, "passed", label="feb")
        other = world.person("Кузнецов", "Олег", "Ильич", "3206", "135790")
        world.result(other, 0, "passed", label="other", form="exposition")
        token = issue(session, world.exams[0].id, "42-05", "results", "b" * 64, SENT)
        assert token is not None
        session.commit()
        codes = dict(world.codes)
    database.dispose()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, "test-2017", "2017-12-06"),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", codes, token)
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1100, "height": 720}, locale="ru-RU")
    yield page
    page.close()


def test_a_participant_finds_the_results_by_surname_and_document_with_initials_only(
    site: Site, page: Page
) -> None:
    page.goto(f"{site.base}/results/")
    expect(page.locator("h1")).to_have_text("Проверка результатов итогового сочинения (изложения)")
    page.fill("#surname", "соловьева")
    page.fill("#document", "3205 246810")
    page.locator("#by-person button").click()
    expect(page.locator("#initials")).to_have_text("М. А.")
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("6 декабря 2017 г.")
    expect(rows.nth(0)).to_contain_text("незачет")
    expect(rows.nth(1)).to_contain_text("7 февраля 2018 г.")
    expect(rows.nth(1)).to_contain_text("зачет")
    body = page.locator("body").inner_text()
    for personal in ("Соловьёва", "Соловьева", "Мария", "Андреевна", "246810"):
        assert personal not in body
    assert "/results/" in page.url
    assert "?" not in page.url  # nothing personal in the address
    if os.environ.get("RCOI_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / "lookup-page.png"), full_page=True)


def test_a_wrong_document_finds_nothing(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/results/")
    page.fill("#surname", "Соловьёва")
    page.fill("#document", "3206135790")  # somebody else's document
    page.locator("#by-person button").click()
    expect(page.locator("#not-found")).to_have_text(NOT_FOUND)
    expect(page.locator("table")).to_have_count(0)
    expect(page.locator("#surname")).to_have_value("")  # nothing typed is echoed


def test_a_work_code_finds_that_work_without_a_name(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/results/")
    page.fill("#work_code", site.codes["other"])
    page.keyboard.press("Enter")
    expect(page.locator("table.results tbody tr")).to_have_count(1)
    expect(page.locator("table.results")).to_contain_text("изложение")
    expect(page.locator("#initials")).to_have_count(0)


def test_a_mouo_confirms_receipt_through_its_link(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/ack/{site.token}")
    expect(page.locator("#party")).to_have_text("МОУО 42-05")
    expect(page.locator("#sent")).to_have_text("18.12.2017 12:00 (Asia/Novokuznetsk, UTC+7)")
    page.get_by_role("button", name="Подтвердить получение").click()
    expect(page.locator("#acknowledged")).to_contain_text("Получение подтверждено")
    page.goto(f"{site.base}/ack/{site.token}")
    expect(page.locator("#acknowledged")).to_contain_text("Получение уже подтверждено")
    page.goto(f"{site.base}/ack/no-such-token-000000000000")
    expect(page.locator("h1")).to_have_text("Ссылка недействительна")
