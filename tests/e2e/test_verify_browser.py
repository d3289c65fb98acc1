"""The operators' verification pages in a real headless Chromium (Debian's, through
Playwright): login, keyboard-only answers, double verification by two operators, the group
view, a senior's page item, the queue empty; and what is refused without a login or token."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from prefect.logging import disable_run_logger
from sqlalchemy import select, update

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.models import AuditLog, VerificationItem, WebSession
from tasks.adapters.operators import add_operator
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.adapters.verify_crops import render_crop
from tasks.plan import read_plan, store_plan
from web.verify import create_app

pytestmark = pytest.mark.integration  # a real browser

PLAN, SESSION = "kemerovo-2017-essay", "2017-12-06"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SAMPLE = Path(__file__).resolve().parents[1] / "scan_samples" / "registration_plain.jpg"
DOCS = Path(__file__).resolve().parents[2] / "docs"
PASSWORD = "пароль-оператора-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    """A served session with five items: three topic numbers (one read «162», two «102»), a
    result field that needs two operators, a rejected page for the senior verifier."""
    out = tmp_path_factory.mktemp("verify-web")
    settings = Settings(out_dir=out)
    with disable_run_logger():
        store_plan.fn(settings, read_plan.fn(resolve_plan_path(PLAN)))
    database = bootstrap(settings)
    crops = out / "verify" / SESSION / "crops"
    crops.mkdir(parents=True)
    with UnitOfWork(database.session_factory) as uow:
        session_id = _session_id(uow)
        items = [
            VerificationItem(
                key=f"test:topic:{n}",
                session_id=session_id,
                kind="scan",
                field="topic_number",
                reason="цифры поля распознаны неуверенно",
                recognised_value="162" if n == 0 else "102",
                status="open",
            )
            for n in range(3)
        ] + [
            VerificationItem(
                key="test:k3",
                session_id=session_id,
                kind="result",
                field="k3",
                reason="К3: отметка в оригинале бланка не совпадает с протоколом эксперта",
                recognised_value="незачет",
                double_check=True,
                detail={"finding": "transcription_mismatch", "expected": "зачет"},
                status="open",
            ),
            VerificationItem(
                key="test:page",
                session_id=session_id,
                kind="page",
                field=None,
                reason="страница отклонена при распознавании: markers_not_found",
                status="open",
            ),
        ]
        uow.session.add_all(items)
        for login, role in (
            ("ivanova", "operator"),
            ("petrov", "operator"),
            ("smirnova", "senior"),
        ):
            add_operator(uow.session, login, PASSWORD, role, actor="test")
        uow.commit()
        ids = [item.id for item in items]
    # Real crops, cut from a scanned registration blank through its corner markers.
    topic = render_crop(
        {
            "image": str(SAMPLE),
            "frame": 0,
            "blank_type": "registration",
            "page": 1,
            "field": "topic_number",
            "kind": "scan",
        }
    )
    row = render_crop(
        {
            "image": str(SAMPLE),
            "frame": 0,
            "blank_type": "registration",
            "page": 1,
            "field": "k3",
            "kind": "result",
        }
    )
    page = render_crop({"image": str(SAMPLE), "frame": 0, "kind": "page"})
    assert topic
    assert row
    assert page
    for item_id, data in zip(ids, [topic, topic, topic, row, page], strict=True):
        (crops / f"{item_id}.png").write_bytes(data)
    database.dispose()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, PLAN, SESSION), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the verification server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", settings
    server.should_exit = True
    thread.join(10)


def _session_id(uow: UnitOfWork) -> int:
    from tasks.adapters.submissions import session_info

    return session_info(uow.session, PLAN, SESSION).id


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def _login(browser: Browser, base: str, login: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="ru-RU")
    page.goto(f"{base}/verify/")
    expect(page).to_have_url(f"{base}/verify/login")
    page.keyboard.type(login)  # the login field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Очередь верификации")
    return page


def _send(page: Page, keys: str = "") -> None:
    """Type the answer and press Enter; returns once the next page has loaded."""
    if keys:
        page.keyboard.type(keys)
    before = page.url
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url != before)
    page.wait_for_load_state()


def _status(settings: Settings, key: str) -> tuple[str, str | None]:
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            item = uow.session.scalars(
                select(VerificationItem).where(VerificationItem.key == key)
            ).one()
            return item.status, item.resolved_value
    finally:
        database.dispose()


def test_without_a_login_every_page_and_crop_is_refused(site: tuple[str, Settings]) -> None:
    base, _ = site
    for path in ("/verify/", "/verify/item/1", "/verify/group?item=1"):
        with urllib.request.urlopen(f"{base}{path}") as response:  # follows the redirect
            assert response.url == f"{base}/verify/login"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/verify/crop/1")
    assert refused.value.code == 401
    request = urllib.request.Request(f"{base}/verify/item/1", data=b"answer=201", method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.url == f"{base}/verify/login"


def test_a_wrong_password_is_refused_with_a_message(
    site: tuple[str, Settings], browser: Browser
) -> None:
    base, _ = site
    page = browser.new_page()
    page.goto(f"{base}/verify/login")
    page.fill("input[name=login]", "ivanova")
    page.fill("input[name=password]", "не тот пароль")
    page.keyboard.press("Enter")
    expect(page.locator(".error")).to_have_text("Неверный логин или пароль")
    page.close()


def test_a_post_without_the_sessions_token_is_refused(
    site: tuple[str, Settings], browser: Browser
) -> None:
    base, _ = site
    page = _login(browser, base, "ivanova")
    response = page.request.post(f"{base}/verify/item/1", form={"answer": "201", "csrf": "forged"})
    assert response.status == 403
    page.close()


def test_operators_resolve_the_queue_by_keyboard_with_a_second_check_of_results(
    site: tuple[str, Settings], browser: Browser
) -> None:
    base, settings = site
    first = _login(browser, base, "ivanova")
    expect(first.locator("table tbody tr")).to_have_count(4)  # the page item is the senior's
    first.keyboard.press("Enter")  # «Начать»
    expect(first.locator("h1")).to_have_text("Номер темы")
    expect(first.locator("#recognised")).to_have_text("162")
    expect(first.locator("#answer")).to_be_focused()
    first.screenshot(
        path=str(DOCS / "verify-page.png") if os.environ.get("RCOI_SCREENSHOTS") else None
    )
    _send(first, "102")  # the operator reads «102» on the crop
    assert _status(settings, "test:topic:0") == ("resolved", "102")
    # The group view: the other two «102» crops, both confirmed by Enter.
    expect(first.locator("h1")).to_have_text("Номер темы")
    first.keyboard.press("g")
    expect(first.locator(".tile")).to_have_count(2)
    _send(first)
    expect(first.locator("h1")).to_have_text("Очередь верификации")
    assert _status(settings, "test:topic:1") == ("resolved", "102")
    assert _status(settings, "test:topic:2") == ("resolved", "102")
    # The result field: the first answer waits for a second operator.
    first.keyboard.press("Enter")
    expect(first.locator("h1")).to_have_text("К3")
    _send(first, "1")
    assert _status(settings, "test:k3") == ("second", None)
    expect(first.locator("#queue-waiting")).to_be_visible()
    second = _login(browser, base, "petrov")
    second.keyboard.press("Enter")
    expect(second.locator("h1")).to_have_text("К3")
    expect(second.locator("text=ivanova")).to_have_count(0)  # blind: not the first answer
    expect(second.locator("text=ожидает второй проверки")).to_have_count(1)
    _send(second, "1")
    assert _status(settings, "test:k3") == ("resolved", "зачет")
    # The rejected page: only the senior verifier sees it; then the queue is empty.
    senior = _login(browser, base, "smirnova")
    senior.keyboard.press("Enter")
    expect(senior.locator("h1")).to_have_text("страница")
    _send(senior, "1")
    expect(senior.locator("#queue-empty")).to_have_text("Очередь пуста: все элементы решены.")
    database = bootstrap(settings)
    with UnitOfWork(database.session_factory) as uow:
        entries = [
            (e.actor, e.old, e.new)
            for e in uow.session.scalars(select(AuditLog).where(AuditLog.action == "verify"))
        ]
    database.dispose()
    assert {actor for actor, _, _ in entries} == {"ivanova", "petrov", "smirnova"}
    assert (
        "ivanova",
        {"status": "open", "value": "162"},
        {"status": "resolved", "value": "102"},
    ) in entries
    for page in (first, second, senior):
        page.close()


def test_an_expired_session_goes_back_to_the_login(
    site: tuple[str, Settings], browser: Browser
) -> None:
    base, settings = site
    page = _login(browser, base, "ivanova")
    database = bootstrap(settings)
    with UnitOfWork(database.session_factory) as uow:
        uow.session.execute(
            update(WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        uow.commit()
    database.dispose()
    page.goto(f"{base}/verify/")
    expect(page).to_have_url(f"{base}/verify/login")
    page.close()
