"""The board as Prefect artifacts, read back from the Prefect API after a watchdog run: per
region and session a table of every plan row (performers, deadline in local time, state in
Russian, done x/y, late, what it waits for) and a markdown artifact linking the timeline PNG
that the run wrote under `<out>/board/`."""

from __future__ import annotations

import json
import re
import warnings
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from prefect import flow, get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

from config.settings import Settings
from flows.watchdog import watchdog
from tasks.adapters.board import board_cells, load_scope, mark_done
from tasks.adapters.database import bootstrap
from tasks.adapters.models import Mouo, School
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.artifacts import artifact_key
from tasks.board_artifacts import HEADERS, board_rows, publish_board_artifacts, timeline_path
from tasks.domain.board import BoardRow, Directory, cells_of
from tasks.plan import read_plan, store_plan

pytestmark = pytest.mark.flows

KEMEROVO, MEGION = "kemerovo-2017-essay", "megion-2024-roadmap"
SESSION = "2017-12-06"
NOVOKUZNETSK = "(Asia/Novokuznetsk, UTC+07:00)"
# A day after the first deadlines of the main session (22.11.2017 24:00).
NOW = datetime(2017, 11, 24, 12, 0, tzinfo=ZoneInfo("Asia/Novokuznetsk"))
MEGION_NOW = datetime(2024, 2, 15, 12, 0, tzinfo=ZoneInfo("Asia/Yekaterinburg"))
BASE_URL = "https://rcoi42.example"


@flow
def store_plans(out: str) -> None:
    for plan in (KEMEROVO, MEGION):
        store_plan(Settings(out_dir=Path(out)), read_plan(resolve_plan_path(plan)))


def _prepare(out: Path) -> None:
    """One МОУО with two schools; one of them has marked the applications row done."""
    store_plans(str(out))
    database = bootstrap(Settings(out_dir=out))
    try:
        with UnitOfWork(database.session_factory) as uow:
            mouo = Mouo(code="42-01", region_code="42", name="МОУО 42-01")
            uow.session.add(mouo)
            uow.session.flush()
            for code in ("4201001", "4201002"):
                uow.session.add(School(code=code, mouo_id=mouo.id, name=f"ОО {code}"))
            uow.session.flush()
            scope = load_scope(uow.session, KEMEROVO, [SESSION])
            first = scope.rows[0].stage_key
            mark_done(uow.session, scope, first, SESSION, "4201001", "ivanova", "", NOW)
            uow.commit()
    finally:
        database.dispose()


def _latest(keys: list[str]) -> dict[str, tuple[str, Any]]:
    """key → (description, data) of the latest artifact of each key."""
    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=keys))
        )
    return {a.key: (a.description or "", a.data) for a in found}


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(BytesIO(path.read_bytes())) as image:
        assert image.format == "PNG"
        return image.size


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RCOI_DATABASE_URL", f"sqlite:///{tmp_path / 'rcoi.sqlite'}")
    monkeypatch.setenv("RCOI_PUBLIC_BASE_URL", BASE_URL + "/")
    for name in ("RCOI_SMTP_HOST", "RCOI_COORDINATOR_EMAILS", "RCOI_AUTHORITY_EMAILS"):
        monkeypatch.delenv(name, raising=False)
    _prepare(tmp_path)
    return tmp_path


def test_the_watchdog_publishes_the_board_of_its_session_with_the_timeline(out: Path) -> None:
    watchdog(out=str(out), plan=KEMEROVO, session=SESSION, now=NOW)

    table_key = artifact_key("board", KEMEROVO, SESSION)
    picture_key = artifact_key("board-timeline", KEMEROVO, SESSION)
    assert table_key == "board-kemerovo-2017-essay-2017-12-06"
    latest = _latest([table_key, picture_key])
    assert sorted(latest) == sorted([table_key, picture_key])

    description, data = latest[table_key]
    assert description.startswith("Доска плана-графика: Итоговое сочинение")
    assert f"основной срок 06.12.2017, на 24.11.2017 12:00 {NOVOKUZNETSK}" in description
    rows = json.loads(str(data))
    assert len(rows) == 12  # every row of the session, automated or not
    for row in rows:
        assert list(row) == list(HEADERS)
        assert row["состояние"] in {"не начат", "идёт", "ожидание", "выполнен", "просрочен"}
        for cell in row.values():
            assert not re.search(r"[{}\[\]]", str(cell)), f"JSON in {cell!r}"
    applications, commissions, submission = rows[:3]
    assert applications["строка"] == "1"
    assert applications["этап"].startswith("Подача заявлений и согласий")
    assert applications["исполнители"] == "участники, ОО, МОУО"
    assert applications["срок"] == f"22.11.2017 24:00 {NOVOKUZNETSK}"
    assert applications["состояние"] == "просрочен"  # one school of two marked it
    assert applications["выполнено"] == "1/2"
    assert applications["просрочено"] == 1
    assert applications["ожидание"] == "—"
    assert commissions["выполнено"] == "0/2"
    assert commissions["просрочено"] == 2
    assert submission["состояние"] == "просрочен"  # collect: its МОУО sent nothing
    assert submission["выполнено"] == "0/1"
    assert [r["состояние"] for r in rows[5:]] == ["не начат"] * 7  # from the exam day on

    description, markdown = latest[picture_key]
    url = f"{BASE_URL}/board/timeline/{KEMEROVO}/{SESSION}.png"
    assert f"]({url})" in str(markdown)
    assert "основной срок 06.12.2017" in str(markdown)
    assert "просрочен: " in str(markdown)
    width, height = _png_size(timeline_path(Settings(out_dir=out), KEMEROVO, SESSION))
    assert width == 1500
    assert 300 < height < 1000


def test_a_road_map_board_shows_the_current_period_and_the_external_schedules(
    out: Path,
) -> None:
    watchdog(out=str(out), plan=MEGION, session="2023-24", now=MEGION_NOW)

    key = artifact_key("board", MEGION, "2023-24")
    _, data = _latest([key])[key]
    rows = json.loads(str(data))
    assert len(rows) == 62
    periodic = [r for r in rows if " · период " in r["срок"]]
    assert periodic  # rows with several separate months: the period under way
    assert all(re.search(r"период \d+ из \d+$", r["срок"]) for r in periodic)
    external = [r for r in rows if r["срок"].endswith("(внешний график)")]
    assert external
    for row in external:
        assert row["состояние"] == "ожидание"
        assert row["ожидание"].startswith("срок задан ссылкой")
    assert (out / "board" / MEGION / "2023-24" / "timeline.png").is_file()


def test_outside_a_run_only_the_picture_is_written_and_nothing_warns(out: Path) -> None:
    settings = Settings(out_dir=out)
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            scope = load_scope(uow.session, KEMEROVO)
            cells = board_cells(uow.session, scope, NOW)
    finally:
        database.dispose()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Prefect's FutureWarning would fail the test
        keys = publish_board_artifacts(settings, scope, cells, NOW)

    assert keys == []
    for session in ("2017-12-06", "2018-02-07", "2018-05-16"):
        assert _png_size(timeline_path(settings, KEMEROVO, session))[0] == 1500


def test_a_periodic_row_shows_the_first_period_still_open() -> None:
    zone = ZoneInfo("Asia/Yekaterinburg")
    march, april, may, june = (datetime(2024, m, 1, tzinfo=zone) for m in (3, 4, 5, 6))
    row = BoardRow(
        plan_stage_id=1,
        session_code="2023-24",
        stage_key="report",
        row="6.2",
        section=None,
        title="Мониторинг готовности ППЭ",
        term="март, апрель, май 2024 года",
        automated=None,
        responsible=("rcoi",),
        performers=(),
        zone="Asia/Yekaterinburg",
        windows=((march, april), (april, may), (may, june)),
    )
    now = datetime(2024, 4, 15, tzinfo=zone)

    def line(done: dict[tuple[int, str, int], tuple[datetime, str]]) -> dict[str, object]:
        [only] = board_rows([row], cells_of([row], Directory(), done, now), now)
        return only

    missed = line({})  # March not reported: March is shown, and the row is late
    assert missed["срок"] == "31.03.2024 24:00 (Asia/Yekaterinburg, UTC+05:00) · период 1 из 3"
    assert (missed["состояние"], missed["выполнено"], missed["просрочено"]) == (
        "просрочен",
        "0/1",
        1,
    )
    assert missed["исполнители"] == "РЦОИ"
    on_time = line({(1, "rcoi", 0): (march, "ivanova")})  # March done: April is under way
    assert str(on_time["срок"]).endswith("· период 2 из 3")
    assert (on_time["состояние"], on_time["выполнено"], on_time["просрочено"]) == ("идёт", "0/1", 0)
