"""The coordinator's board (`/board/` of `rcoi web`) in a real headless Chromium (Debian's,
through Playwright) over a regional database holding four plans (Kemerovo essay, Tomsk
interview, Kuzbass and Megion road maps), two МОУО with three schools, a МОУО's files and
acknowledgement: the login and its way back, every plan's rows with their states on the
board's clock, the filters, a МОУО's drill-down without personal data, manual rows marked done
on the board and in the drill-down with the same audit rows as `rcoi plan done`, marking twice
changing nothing, reopening with a reason; an operator refused, a coordinator on /verify/ sent
to the board. One server for the module."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from prefect.logging import disable_run_logger
from sqlalchemy import select
from typer.testing import CliRunner

from config.settings import Settings
from flows.cli import app as cli
from tasks.adapters.database import bootstrap
from tasks.adapters.models import (
    Acknowledgement,
    AuditLog,
    Discrepancy,
    ExamSession,
    Mouo,
    PlanStage,
    School,
    StageCompletion,
    Submission,
    SubmissionRow,
)
from tasks.adapters.operators import add_operator
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.plan import read_plan, store_plan
from web.app import create_app

pytestmark = pytest.mark.integration  # a real browser and server

KEMEROVO, KUZBASS = "kemerovo-2017-essay", "kuzbass-2024-roadmap"
PLANS = (KEMEROVO, "tomsk-2024-interview", KUZBASS, "megion-2024-roadmap")
SESSION = "2017-12-06"
PASSWORD = "пароль-координатора-1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"
ZONE = ZoneInfo("Asia/Novokuznetsk")
ESSAY_NOW = datetime(2017, 11, 25, 10, 0, tzinfo=ZONE)  # submissions late, printing on
ROADMAP_NOW = datetime(2024, 3, 15, 10, 0, tzinfo=ZONE)
RUN = "3f1c2b9a-7d4e-4a51-9c0e-2b8f6d1e5a70"
UI = "http://prefect.rcoi.test:4200"
SURNAME = "Кузнецова"  # in a rejected row's data: never shown


class Clock:
    """The board's clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = ESSAY_NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Served:
    base: str
    settings: Settings
    clock: Clock


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session_id(uow: UnitOfWork, code: str) -> int:
    return uow.session.scalars(select(ExamSession.id).where(ExamSession.code == code)).first() or 0


def _stage_id(uow: UnitOfWork, session_code: str, key: str) -> int:
    return uow.session.scalars(
        select(PlanStage.id)
        .join(ExamSession, PlanStage.session_id == ExamSession.id)
        .where(ExamSession.code == session_code, PlanStage.stage_key == key)
    ).one()


def _fill(out: Path) -> Settings:
    settings = Settings(out_dir=out)
    with disable_run_logger():
        for plan in PLANS:
            store_plan.fn(settings, read_plan.fn(resolve_plan_path(plan)))
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            s = uow.session
            kemerovo = Mouo(code="42-01", region_code="42", name="Управление образования Кемерово")
            novokuznetsk = Mouo(code="42-02", region_code="42", name="КОиН Новокузнецка")
            s.add_all([kemerovo, novokuznetsk])
            s.flush()
            s.add_all(
                [
                    School(code="4201001", mouo_id=kemerovo.id, name="МБОУ «СОШ № 1»"),
                    School(code="4201002", mouo_id=kemerovo.id, name="МАОУ «Гимназия № 2»"),
                    School(code="4202001", mouo_id=novokuznetsk.id, name="МБОУ «Лицей № 1»"),
                ]
            )
            essay = _session_id(uow, SESSION)
            received = datetime(2017, 11, 20, 5, 0, tzinfo=UTC)
            old = Submission(
                session_id=essay,
                mouo_id=kemerovo.id,
                file_name="42-01_участники.csv",
                content_hash="a" * 64,
                received_at=received,
                status="superseded",
                rows_read=3,
                rows_accepted=3,
            )
            new = Submission(
                session_id=essay,
                mouo_id=kemerovo.id,
                file_name="42-01_участники_исправлено.xlsx",
                content_hash="b" * 64,
                received_at=received.replace(hour=9),
                status="accepted",
                rows_read=3,
                rows_accepted=2,
                rows_rejected=1,
            )
            s.add_all([old, new])
            s.flush()
            s.add(
                SubmissionRow(
                    submission_id=new.id,
                    row_number=7,
                    status="rejected",
                    data={"surname": SURNAME, "snils": "11223344595"},
                    problems=[
                        {
                            "column": "СНИЛС",
                            "rule": "snils_valid",
                            "severity": "critical",
                            "message": "СНИЛС: неверное контрольное число",
                        }
                    ],
                )
            )
            s.add(
                Acknowledgement(
                    session_id=essay,
                    party="42-01",
                    document="results",
                    token_sha256="c" * 64,
                    content_sha256="d" * 64,
                    sent_at=datetime(2017, 12, 18, 3, 0, tzinfo=UTC),
                    acknowledged_at=None,
                )
            )
            s.add(
                StageCompletion(
                    plan_stage_id=_stage_id(uow, SESSION, "submit_participants"),
                    party="42-02",
                    completed_at=datetime(2017, 11, 21, 4, 0, tzinfo=UTC),
                    flow_run_id=RUN,
                    details={},
                )
            )
            s.add(
                Discrepancy(
                    session_id=essay,
                    key="test:duplicate",
                    kind="duplicate",
                    severity="critical",
                    mouo_code="42-01",
                    message="участник повторяется",
                )
            )
            add_operator(s, "koord", PASSWORD, "coordinator", actor="test")
            add_operator(s, "ivanova", PASSWORD, "operator", actor="test")
            uow.commit()
    finally:
        database.dispose()
    return settings


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = _fill(tmp_path_factory.mktemp("board-web"))
    app = create_app(settings, KEMEROVO, SESSION)
    clock = Clock()
    app.state.board.clock = clock
    app.state.board.ui_base = UI
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the board's server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Served(f"http://127.0.0.1:{port}", settings, clock)
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def _sign_in(page: Page, login: str) -> None:
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _coordinator(browser: Browser, served: Served, path: str = "/board/") -> Page:
    """A signed-in coordinator's page on `path` (in a context of its own: more tabs share its
    session)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ru-RU")
    page = context.new_page()
    page.goto(f"{served.base}{path}")
    _sign_in(page, "koord")
    return page


def _line(page: Page, plan: str, stage: str, session: str) -> Any:
    return page.locator(f'#plan-{plan} tr[data-stage="{stage}"][data-session="{session}"]')


def _audit(settings: Settings, action: str) -> list[dict[str, Any]]:
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            rows = uow.session.scalars(
                select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
            ).all()
            return [
                {
                    "actor": r.actor,
                    "action": r.action,
                    "entity": r.entity,
                    "entity_id": r.entity_id,
                    "old": r.old,
                    "new": r.new,
                }
                for r in rows
            ]
    finally:
        database.dispose()


def _screenshot(page: Page, name: str) -> None:
    if os.environ.get("RCOI_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / name))


# --- who may see the board ---------------------------------------------------------------------


def test_without_a_login_the_board_asks_for_one_and_comes_back_after_it(
    served: Served, browser: Browser
) -> None:
    page = browser.new_page()
    page.goto(f"{served.base}/board/?plan={KEMEROVO}")
    expect(page).to_have_url(re.compile(r"/verify/login\?next="))
    expect(page.locator("h1")).to_have_text("Вход для операторов")
    _sign_in(page, "koord")
    expect(page).to_have_url(f"{served.base}/board/?plan={KEMEROVO}")
    expect(page.locator("h1")).to_have_text("Доска плана-графика")
    page.close()
    # Outside the board a `next` is ignored: the sign-in goes to the coordinator's board.
    other = browser.new_page()
    other.goto(f"{served.base}/verify/login?next=https://example.org/")
    _sign_in(other, "koord")
    expect(other).to_have_url(f"{served.base}/board/")
    other.close()


def test_a_plain_operator_is_refused_with_a_russian_403(served: Served, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{served.base}/verify/login")
    _sign_in(page, "ivanova")
    expect(page.locator("h1")).to_have_text("Очередь верификации")
    for path in ("/board/", "/board/mouo/42-01", f"/board/timeline/{KEMEROVO}/{SESSION}.png"):
        response = page.goto(f"{served.base}{path}")
        assert response is not None
        assert response.status == 403, path
        expect(page.locator("h1")).to_have_text("Доступ запрещён")
        expect(page.locator("main")).to_contain_text("только координатору")
    refused = page.request.post(
        f"{served.base}/board/mark",
        form={"plan": KEMEROVO, "session": SESSION, "stage": "applications", "party": "4201001"},
    )
    assert refused.status == 403
    page.close()


def test_a_coordinator_on_the_operators_pages_is_shown_the_way_to_the_board(
    served: Served, browser: Browser
) -> None:
    page = _coordinator(browser, served)
    response = page.goto(f"{served.base}/verify/")
    assert response is not None
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Это страница операторов верификации")
    page.click("text=Открыть доску плана-графика")
    expect(page.locator("h1")).to_have_text("Доска плана-графика")
    # Signing out from the board ends the session for both.
    page.click("header button:has-text('Выйти')")
    expect(page).to_have_url(f"{served.base}/verify/login")
    page.goto(f"{served.base}/board/")
    expect(page).to_have_url(re.compile(r"/verify/login\?next="))
    page.close()


def test_the_board_refuses_forged_forms_and_sends_the_security_headers(
    served: Served, browser: Browser
) -> None:
    page = _coordinator(browser, served, f"/board/?plan={KEMEROVO}")
    form: dict[str, str | float | bool] = {
        "plan": KEMEROVO,
        "session": SESSION,
        "stage": "applications",
        "party": "4201001",
        "csrf": "forged",
    }
    assert page.request.post(f"{served.base}/board/mark", form=form).status == 403
    response = page.request.get(f"{served.base}/board/?plan={KEMEROVO}")
    headers = response.headers
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert "form-action 'self'" in headers["content-security-policy"]
    assert page.request.get(f"{served.base}/board/static/board.css").ok
    timeline = page.request.get(f"{served.base}/board/timeline/{KEMEROVO}/{SESSION}.png")
    assert (timeline.status, timeline.headers["content-type"]) == (200, "image/png")
    assert timeline.body().startswith(b"\x89PNG")
    missing = page.request.get(f"{served.base}/board/timeline/{KEMEROVO}/2099-01-01.png")
    assert missing.status == 404
    page.close()
    anonymous = browser.new_page()
    refused = anonymous.request.get(f"{served.base}/board/timeline/{KEMEROVO}/{SESSION}.png")
    assert refused.status == 401
    anonymous.close()


# --- the board -----------------------------------------------------------------------------------


def test_the_board_shows_every_plan_with_the_kemerovo_rows_in_their_states(
    served: Served, browser: Browser
) -> None:
    served.clock.now = ESSAY_NOW
    page = _coordinator(browser, served)
    for plan in PLANS:
        expect(page.locator(f"#plan-{plan}")).to_have_count(1)
    applications = _line(page, KEMEROVO, "applications", SESSION)
    expect(applications.locator("td.term")).to_have_text("до 22.11.2017 24:00 (Asia/Novokuznetsk)")
    expect(applications.locator(".badge")).to_have_text("просрочен")
    expect(applications.locator(".late")).to_have_text("просрочен на 2 дн. 10 ч.")
    expect(applications.locator("td.done")).to_contain_text("0/3")
    # February's deadline is two months away: a row with only a deadline is not begun yet
    expect(_line(page, KEMEROVO, "applications", "2018-02-07").locator(".badge")).to_have_text(
        "не начат"
    )
    # The collect row: late for 42-01 (42-02's run recorded it), its counts and its run.
    collect = _line(page, KEMEROVO, "submit_participants", SESSION)
    expect(collect.locator(".who-late")).to_have_text("не выполнили: МОУО 42-01")
    expect(collect.locator("td.done")).to_contain_text("1/2")
    expect(collect.locator("td.run")).to_contain_text("МОУО сдали: 1/2")
    expect(collect.locator("td.run")).to_contain_text("строк отклонено: 1")
    expect(collect.locator("td.run a")).to_have_attribute("href", f"{UI}/runs/flow-run/{RUN}")
    expect(collect.locator("td.mark")).to_have_text("этап")  # automated: no button
    expect(collect.locator("form")).to_have_count(0)
    reconcile = _line(page, KEMEROVO, "load_registry", SESSION)
    expect(reconcile.locator("td.run")).to_contain_text("расхождений открыто: 1")
    printing = _line(page, KEMEROVO, "print_kits", SESSION)
    expect(printing.locator(".badge")).to_have_text("ожидание")
    expect(printing.locator(".waiting")).to_contain_text("ждёт завершения этапа")
    page.close()


def test_the_kuzbass_road_map_shows_its_rows_with_months_and_several_periods(
    served: Served, browser: Browser
) -> None:
    served.clock.now = ROADMAP_NOW
    page = _coordinator(browser, served, f"/board/?plan={KUZBASS}")
    expect(page.locator("section.plan")).to_have_count(1)
    first = _line(page, KUZBASS, "an_1", "2023-24")
    expect(first.locator("td.number")).to_have_text("1")
    expect(first.locator("td.term")).to_have_text("август – сентябрь 2023 (Asia/Novokuznetsk)")
    expect(first.locator(".badge")).to_have_text("просрочен")
    several = _line(page, KUZBASS, "np_1_23", "2023-24")
    expect(several.locator("td.term")).to_have_text(
        "февраль, март, август 2024 (Asia/Novokuznetsk)"
    )
    expect(several.locator(".periods")).to_have_text("периодов 0/6")
    expect(page.locator(f"#plan-{KUZBASS} tr.section").first).to_have_text(
        "Анализ проведения ГИА в 2023 году"
    )
    # An exam-day row of the road map in each of its three sessions, in March: not begun
    for session in ("2024-05-28", "2024-05-31", "2024-06-10"):
        expect(_line(page, KUZBASS, "ris_observers", session).locator(".badge")).to_have_text(
            "не начат"
        )
    page.close()


def test_the_board_filters_by_session_and_state_through_its_form(
    served: Served, browser: Browser
) -> None:
    served.clock.now = ESSAY_NOW
    page = _coordinator(browser, served)
    page.select_option("select[name=plan]", KEMEROVO)
    page.select_option("select[name=session]", "2018-02-07")
    page.click("button:has-text('Показать')")
    expect(page).to_have_url(re.compile(r"plan=kemerovo-2017-essay&session=2018-02-07"))
    expect(page.locator("section.plan")).to_have_count(1)
    rows = page.locator(f"#plan-{KEMEROVO} tr.line")
    expect(rows).to_have_count(12)
    for session in page.locator(f"#plan-{KEMEROVO} tr.line").evaluate_all(
        "rows => rows.map(r => r.dataset.session)"
    ):
        assert session == "2018-02-07"
    # The session's timeline, rendered for the coordinator.
    image = page.locator("figure.timeline img")
    expect(image).to_have_attribute("src", f"/board/timeline/{KEMEROVO}/2018-02-07.png")
    page.wait_for_function(
        "() => { const i = document.querySelector('figure.timeline img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=30_000,
    )
    page.select_option("select[name=session]", SESSION)
    page.select_option("select[name=state]", "late")
    page.click("button:has-text('Показать')")
    expect(page).to_have_url(re.compile(r"state=late"))
    late = page.locator(f"#plan-{KEMEROVO} tr.line")
    expect(late).to_have_count(4)  # applications, commissions, participants, registry
    expect(late.locator(".badge")).to_have_text(["просрочен"] * 4)
    expect(page.locator(".totals .shown")).to_have_text("показано 4")
    page.select_option("select[name=plan]", "")
    page.select_option("select[name=state]", "done")
    page.click("button:has-text('Показать')")
    expect(page.locator(f"#plan-{KEMEROVO} .empty")).to_have_text(
        "Нет строк в состоянии «выполнен»."
    )
    response = page.goto(f"{served.base}/board/?state=nonsense")
    assert response is not None
    assert response.status == 400
    expect(page.locator("h1")).to_have_text("Неверный фильтр")
    page.close()


def test_a_manual_row_of_the_road_map_is_marked_done_for_each_performer_on_the_board(
    served: Served, browser: Browser
) -> None:
    served.clock.now = ROADMAP_NOW
    page = _coordinator(browser, served, f"/board/?plan={KUZBASS}&session=2023-24")
    line = _line(page, KUZBASS, "an_1", "2023-24")
    line.locator("a.mark-link").click()
    # The row's card: each performer with its state and its form.
    expect(page.locator("h1")).to_contain_text("Проведение статистического анализа")
    performers = page.locator("table.party-lines tbody tr")
    expect(performers.locator("td.code")).to_have_text(["орган управления образованием", "РЦОИ"])
    rcoi = page.locator('tr[data-party="rcoi"]')
    rcoi.locator("details.mark summary").click()
    rcoi.locator("input[name=note]").fill("аналитический отчёт направлен")
    rcoi.locator("button:has-text('Выполнено')").click()
    # Back on the board, where the card was opened from.
    expect(page).to_have_url(re.compile(r"/board/\?plan=kuzbass-2024-roadmap&session=2023-24"))
    expect(page.locator(".notice")).to_contain_text("отмечена выполненной")
    line = _line(page, KUZBASS, "an_1", "2023-24")
    expect(line.locator("td.done")).to_contain_text("1/2")
    expect(line.locator(".badge")).to_have_text("просрочен")  # the authority has not
    line.locator("a.mark-link").click()
    authority = page.locator('tr[data-party="authority"]')
    expect(page.locator('tr[data-party="rcoi"] details.mark')).to_have_count(0)
    authority.locator("details.mark summary").click()
    authority.locator("button:has-text('Выполнено')").click()
    line = _line(page, KUZBASS, "an_1", "2023-24")
    expect(line.locator(".badge")).to_have_text("выполнен")
    expect(line.locator("td.done")).to_contain_text("2/2")
    expect(line.locator(".done-late")).to_contain_text("выполнен с опозданием на")
    expect(line.locator("a.mark-link")).to_have_count(0)
    expect(line.locator("a.reopen-link")).to_have_count(1)
    page.close()


# --- the МОУО drill-down -----------------------------------------------------------------------


def test_a_mouo_drill_down_shows_its_files_rejected_rows_and_acknowledgements_only(
    served: Served, browser: Browser
) -> None:
    served.clock.now = ESSAY_NOW
    page = _coordinator(browser, served)
    page.click(f"#plan-{KEMEROVO} .mouos a:has-text('42-01')")
    expect(page.locator("h1")).to_have_text("МОУО 42-01 · Управление образования Кемерово")
    board = page.locator(f"#plan-{KEMEROVO}")
    files = board.locator("table.files tbody tr")
    expect(files).to_have_count(2)
    expect(files.nth(0)).to_contain_text("42-01_участники_исправлено.xlsx")
    expect(files.nth(0)).to_contain_text("принят")
    expect(files.nth(1)).to_contain_text("заменён новым")
    expect(board.locator(f"#rejected-{KEMEROVO}")).to_have_text("1")
    expect(board.locator("table.rejected tbody tr")).to_have_text(
        re.compile(r"7\s*СНИЛС: неверное контрольное число")
    )
    expect(board.locator("table.acks")).to_contain_text("не подтверждено")
    html = page.content()
    assert SURNAME not in html
    assert "11223344595" not in html
    # Its schools' states for every school row; another МОУО's school is not there.
    commissions = board.locator('tr[data-stage="commissions_formed"][data-session="2017-12-06"]')
    expect(commissions).to_have_count(2)
    expect(commissions.locator(".badge")).to_have_text(["просрочен", "просрочен"])
    expect(board.locator('tr[data-party="4202001"]')).to_have_count(0)
    # Its own row of the collect stage shows no button; the МОУО's manual row does.
    mine = f'[data-session="{SESSION}"][data-party="42-01"]'
    expect(board.locator(f'tr[data-stage="submit_participants"]{mine} td.mark')).to_have_text(
        "этап"
    )
    expect(board.locator(f'tr[data-stage="inform_participants"]{mine} a.mark-link')).to_have_count(
        1
    )
    response = page.goto(f"{served.base}/board/mouo/99-99")
    assert response is not None
    assert response.status == 404
    page.close()


def test_a_school_row_marked_in_the_drill_down_writes_the_same_audit_row_as_the_command(
    served: Served, browser: Browser
) -> None:
    served.clock.now = ESSAY_NOW
    path = f"/board/mouo/42-01?plan={KEMEROVO}&session={SESSION}"
    page = _coordinator(browser, served, path)

    def school_line(on: Page) -> Any:
        return on.locator('tr[data-stage="commissions_formed"][data-party="4201001"]')

    school_line(page).locator("a.mark-link").click()
    expect(page.locator("table.party-lines tbody tr")).to_have_count(1)  # this school only
    stale = page.context.new_page()  # a second tab, its form loaded before the mark
    stale.goto(page.url)
    before = len(_audit(served.settings, "plan_row.done"))
    card = page.locator('tr[data-party="4201001"]')  # one performer: its form is unfolded
    card.locator("input[name=note]").fill("приказ № 12")
    card.locator("button:has-text('Выполнено')").click()
    expect(page).to_have_url(re.compile(r"/board/mouo/42-01\?"))
    expect(page.locator(".notice")).to_contain_text("отмечена выполненной")
    expect(school_line(page).locator(".badge")).to_have_text("выполнен")
    expect(school_line(page).locator("td.done")).to_contain_text("koord")
    marked = _audit(served.settings, "plan_row.done")
    assert len(marked) == before + 1
    board_row = marked[-1]
    assert board_row["actor"] == "koord"
    assert board_row["old"] == {"party": "4201001", "occurrence": 0, "state": "open"}
    assert board_row["new"] == {
        "party": "4201001",
        "occurrence": 0,
        "state": "done",
        "note": "приказ № 12",
        "done_at": ESSAY_NOW.isoformat(),
    }
    # The same mark again (the other tab's form): nothing changes, nothing is logged.
    line = stale.locator('tr[data-party="4201001"]')
    line.locator("input[name=note]").fill("приказ № 12")
    line.locator("button:has-text('Выполнено')").click()
    expect(stale.locator(".notice")).to_contain_text("ничего не изменено")
    assert len(_audit(served.settings, "plan_row.done")) == before + 1
    stale.close()
    # Reopened: only with a reason.
    school_line(page).locator("a.reopen-link").click()
    form: dict[str, str | float | bool] = {
        "csrf": page.locator("details.reopen input[name=csrf]").first.get_attribute("value") or "",
        "plan": KEMEROVO,
        "session": SESSION,
        "stage": "commissions_formed",
        "party": "4201001",
        "reason": "",
    }
    refused = page.request.post(f"{served.base}/board/reopen", form=form)
    assert refused.status == 422
    line = page.locator('tr[data-party="4201001"]')
    line.locator("input[name=reason]").fill("приказ отменён")
    line.locator("button:has-text('Открыть снова')").click()
    expect(page.locator(".notice")).to_contain_text("открыта снова")
    expect(school_line(page).locator(".badge")).to_have_text("просрочен")
    reopened = _audit(served.settings, "plan_row.reopened")[-1]
    assert reopened["entity_id"] == board_row["entity_id"]
    assert reopened["new"]["note"] == "приказ отменён"
    # `rcoi plan done` of the same row, performer and note writes the very same audit row.
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "done",
            "commissions_formed",
            "--plan",
            KEMEROVO,
            "--session",
            SESSION,
            "--school",
            "4201001",
            "--actor",
            "koord",
            "--note",
            "приказ № 12",
            "--out",
            str(served.settings.out_dir),
            "--now",
            ESSAY_NOW.isoformat(),
        ],
    )
    assert result.exit_code == 0, result.output
    by_command = _audit(served.settings, "plan_row.done")[-1]
    assert by_command == board_row
    page.goto(f"{served.base}{path}")
    expect(school_line(page).locator(".badge")).to_have_text("выполнен")
    _screenshot(page, "board-mouo.png")
    page.close()


def test_a_screenshot_of_the_board(served: Served, browser: Browser) -> None:
    """The Kemerovo plan's board on 25.11.2017 (after the marks of the tests above)."""
    served.clock.now = ESSAY_NOW
    page = _coordinator(browser, served, f"/board/?plan={KEMEROVO}")
    expect(page.locator(f"#plan-{KEMEROVO}")).to_be_visible()
    done = _line(page, KEMEROVO, "commissions_formed", SESSION)
    expect(done.locator("td.done")).to_contain_text("1/3")  # 4201001, marked above
    _screenshot(page, "board.png")
    page.close()
