"""The season timeline: a PNG of a fixed width whose bars carry the rows' states in their
colours, in plan order, with today's line — for a session of a dozen rows and for the whole
Kuzbass road map alike."""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from config.settings import Settings
from tasks.adapters.board import board_cells, load_scope, mark_done
from tasks.adapters.database import Database, bootstrap
from tasks.adapters.models import Mouo, School
from tasks.adapters.plan_files import load_calendar, load_plan, resolve_plan_path
from tasks.adapters.registry import upsert_campaign
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.board import BoardRow, Cell, Directory, RowStatus, cells_of
from tasks.domain.board_timeline import (
    DPI,
    MAX_HEIGHT_IN,
    STATE_COLOURS,
    TODAY_COLOUR,
    WIDTH_IN,
    render_timeline,
    row_label,
    timeline_rows_for_session,
)
from tasks.domain.plan import resolve_plan

ZONE = "Asia/Novokuznetsk"
TZ = ZoneInfo(ZONE)
NOW = datetime(2017, 11, 24, 12, 0, tzinfo=TZ)
DAY = timedelta(days=1)
Pixels = NDArray[np.uint8]


def _row(
    number: int, title: str, *windows: tuple[datetime | None, datetime | None], **more: Any
) -> BoardRow:
    """A row of the РЦОИ's own work in session 2017-12-06 (`more` changes any field)."""
    row = BoardRow(
        plan_stage_id=number,
        session_code="2017-12-06",
        stage_key=f"row-{number}",
        row=str(number),
        section=None,
        title=title,
        term=None,
        automated=None,
        responsible=("rcoi",),
        performers=("РЦОИ",),
        zone=ZONE,
        windows=windows,
        position=number,
    )
    return replace(row, **more)


def _cells(rows: list[BoardRow], done: Collection[int] = ()) -> list[Cell]:
    """The rows' cells at NOW, those in `done` marked done the day before."""
    marks = {
        (row.plan_stage_id, "rcoi", 0): (NOW - DAY, "тест")
        for row in rows
        if row.plan_stage_id in done
    }
    return cells_of(rows, Directory(), marks, NOW)


def _image(png: bytes) -> Pixels:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(BytesIO(png)) as image:
        image.load()
        return np.asarray(image.convert("RGB"))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _mask(pixels: Pixels, colour: str, tolerance: int = 0) -> NDArray[np.bool_]:
    difference = np.abs(pixels.astype(int) - np.array(_rgb(colour))).max(axis=2)
    return np.asarray(difference <= tolerance)


def _columns(plot: Pixels, colour: str, least: int = 8) -> NDArray[np.intp]:
    """The columns where `colour` fills a bar's height (not a stray pixel of a letter)."""
    return np.flatnonzero(_mask(plot, colour).sum(axis=0) >= least)


def _plot(pixels: Pixels) -> Pixels:
    """The picture below its legend (whose swatches show every colour): the legend is the
    first band of the late colour from the top."""
    rows = np.flatnonzero(_mask(pixels, STATE_COLOURS[RowStatus.LATE]).any(axis=1))
    assert rows.size, "no legend"
    end = int(rows[0])
    while end < pixels.shape[0] and end in set(rows.tolist()):
        end += 1
    return pixels[end:]


def _season() -> list[BoardRow]:
    """One row in each state at NOW (24.11.2017 12:00)."""
    return [
        _row(1, "Выполненная строка", (NOW - 6 * DAY, NOW - 2 * DAY)),
        _row(2, "Просроченная строка", (NOW - 5 * DAY, NOW - DAY)),
        _row(3, "Идущая строка", (NOW - 3 * DAY, NOW + 5 * DAY)),
        _row(4, "Не начатая строка", (NOW + 4 * DAY, NOW + 9 * DAY)),
        _row(5, "Строка по графику ФЦТ", (None, None), external="по графику ФЦТ"),
    ]


def test_the_timeline_is_a_png_of_fixed_width_that_grows_with_its_rows() -> None:
    small = _image(render_timeline(_season(), _cells(_season(), {1}), NOW, "План", ZONE))
    many = [_row(n, f"Строка {n}", (NOW + n * DAY, NOW + (n + 2) * DAY)) for n in range(1, 61)]
    large = _image(render_timeline(many, _cells(many), NOW, "План", ZONE, "основной срок"))

    assert small.shape[1] == large.shape[1] == round(WIDTH_IN * DPI)
    assert small.shape[0] < large.shape[0] <= MAX_HEIGHT_IN * DPI
    assert large.shape[0] >= 60 * 0.2 * DPI  # every row keeps a readable line


def test_every_state_present_is_drawn_in_its_colour() -> None:
    rows = _season()
    cells = _cells(rows, done={1})
    assert [c.state for c in cells] == [
        RowStatus.DONE,
        RowStatus.LATE,
        RowStatus.RUNNING,
        RowStatus.NOT_STARTED,
        RowStatus.WAITING,
    ]
    plot = _plot(_image(render_timeline(rows, cells, NOW, "План", ZONE)))

    for state in (RowStatus.DONE, RowStatus.LATE, RowStatus.RUNNING, RowStatus.NOT_STARTED):
        assert _mask(plot, STATE_COLOURS[state]).sum() > 200, state
    # the external row: a hatched box outlined in the waiting colour (thin, antialiased lines)
    assert _mask(plot, STATE_COLOURS[RowStatus.WAITING], tolerance=40).sum() > 50


def test_a_state_absent_from_the_rows_is_absent_from_the_plot() -> None:
    rows = _season()[:1] + _season()[3:4]  # done and not started only
    plot = _plot(_image(render_timeline(rows, _cells(rows, done={1}), NOW, "План", ZONE)))

    assert _mask(plot, STATE_COLOURS[RowStatus.DONE]).sum() > 200
    assert _mask(plot, STATE_COLOURS[RowStatus.LATE]).sum() == 0
    assert _mask(plot, STATE_COLOURS[RowStatus.RUNNING]).sum() == 0


@pytest.mark.parametrize("late_first", [True, False])
def test_a_late_row_is_red_and_a_done_row_green_in_plan_order(late_first: bool) -> None:
    late = _row(1, "Просроченная", (NOW - 5 * DAY, NOW - DAY))
    done = _row(2, "Выполненная", (NOW - 5 * DAY, NOW - DAY))
    rows = [late, done] if late_first else [done, late]
    plot = _plot(_image(render_timeline(rows, _cells(rows, done={2}), NOW, "План", ZONE)))

    red = np.flatnonzero(_mask(plot, STATE_COLOURS[RowStatus.LATE]).any(axis=1))
    green = np.flatnonzero(_mask(plot, STATE_COLOURS[RowStatus.DONE]).any(axis=1))
    assert red.size > 10  # a whole bar each
    assert green.size > 10
    assert bool(red.max() < green.min()) is late_first  # the first row is the top one
    assert bool(green.max() < red.min()) is not late_first


def test_today_is_a_line_down_the_plot_between_the_past_and_the_future() -> None:
    rows = [
        _row(1, "Прошлая", (NOW - 6 * DAY, NOW - 2 * DAY)),
        _row(2, "Будущая", (NOW + 2 * DAY, NOW + 6 * DAY)),
        _row(3, "Ещё будущая", (NOW + 3 * DAY, NOW + 8 * DAY)),
    ]
    plot = _plot(_image(render_timeline(rows, _cells(rows, done={1}), NOW, "План", ZONE)))

    today = _mask(plot, TODAY_COLOUR).sum(axis=0)
    column = int(today.argmax())
    assert today[column] >= 3 * 0.3 * DPI * 0.9  # the whole height of three lines
    past = _columns(plot, STATE_COLOURS[RowStatus.DONE])
    future = _columns(plot, STATE_COLOURS[RowStatus.NOT_STARTED])
    assert past.max() < column < future.min()


def test_a_clock_far_from_the_plan_draws_no_line_across_it() -> None:
    rows = _season()[:2]
    later = NOW + timedelta(days=400)
    plot = _plot(
        _image(render_timeline(rows, cells_of(rows, Directory(), {}, later), later, "План", ZONE))
    )

    assert _mask(plot, TODAY_COLOUR).sum(axis=0).max() < 40  # the arrow's text only


def test_a_row_without_dates_is_a_box_at_the_left_of_the_dated_bars() -> None:
    rows = [_row(1, "Идущая", (NOW - DAY, NOW + 5 * DAY)), _season()[4]]
    plot = _plot(_image(render_timeline(rows, _cells(rows), NOW, "План", ZONE)))

    amber = np.flatnonzero(_mask(plot, STATE_COLOURS[RowStatus.WAITING], tolerance=40).any(axis=0))
    blue = _columns(plot, STATE_COLOURS[RowStatus.RUNNING])
    assert amber.size
    assert blue.size
    assert amber.max() < blue.min()


def test_every_occurrence_is_a_bar_of_its_own_state_on_the_rows_line() -> None:
    march, april, may = (datetime(2017, month, 1, tzinfo=TZ) for month in (3, 4, 5))
    june = datetime(2017, 6, 1, tzinfo=TZ)
    row = _row(1, "Ежемесячный отчёт", (march, april), (april, may), (may, june))
    now = datetime(2017, 5, 15, tzinfo=TZ)
    cells = cells_of([row], Directory(), {(1, "rcoi", 0): (april, "тест")}, now)
    assert [c.state for c in cells] == [RowStatus.DONE, RowStatus.LATE, RowStatus.RUNNING]
    plot = _plot(_image(render_timeline([row], cells, now, "План", ZONE)))

    columns = {
        state: _columns(plot, STATE_COLOURS[state])
        for state in (RowStatus.DONE, RowStatus.LATE, RowStatus.RUNNING)
    }
    assert columns[RowStatus.DONE].max() < columns[RowStatus.LATE].min()
    assert columns[RowStatus.LATE].max() < columns[RowStatus.RUNNING].min()
    lines = {
        state: set(np.flatnonzero(_mask(plot, STATE_COLOURS[state]).any(axis=1)).tolist())
        for state in columns
    }
    assert lines[RowStatus.DONE] == lines[RowStatus.LATE]  # one line for the row


def test_the_same_board_gives_the_same_bytes() -> None:
    rows = _season()
    first = render_timeline(rows, _cells(rows, {1}), NOW, "План", ZONE, "основной срок")
    assert render_timeline(rows, _cells(rows, {1}), NOW, "План", ZONE, "основной срок") == first


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_timeline(_season(), [], NOW.replace(tzinfo=None), "План", ZONE)


def test_a_label_is_the_rows_number_and_its_title_cut_to_one_line() -> None:
    row = _row(1, "Очень " * 40 + "длинное название", (None, NOW), row="2.2.15")
    label = row_label(row, 7)
    assert label.startswith("2.2.15  Очень Очень")
    assert label.endswith("…")
    assert len(label) < 70
    assert row_label(_row(1, "Печать бланков", (None, NOW), row=None), 5) == "5  Печать бланков"


def test_one_sessions_rows_and_cells_are_picked_in_plan_order() -> None:
    rows = [*_season(), _row(9, "Другой срок", (NOW, NOW + DAY), session_code="2018-02-07")]
    cells = _cells(rows)
    chosen, chosen_cells = timeline_rows_for_session(rows, cells, "2017-12-06")
    assert [r.plan_stage_id for r in chosen] == [1, 2, 3, 4, 5]
    assert {c.row.session_code for c in chosen_cells} == {"2017-12-06"}
    assert len(chosen_cells) == 5


# Real plans, stored as `rcoi plan load` stores them, read back as the board reads them.


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = bootstrap(Settings(out_dir=tmp_path))
    yield db
    db.dispose()


def _store(database: Database, plan_id: str, mouos: dict[str, tuple[str, ...]]) -> None:
    plan = load_plan(resolve_plan_path(plan_id))
    calendar = load_calendar(plan.calendar)
    resolved = {s.id: resolve_plan(plan, s.id, calendar) for s in plan.board_sessions()}
    with UnitOfWork(database.session_factory) as uow:
        upsert_campaign(uow.session, plan, resolved)
        for code, schools in mouos.items():
            mouo = Mouo(code=code, region_code=plan.region.code, name=f"МОУО {code}")
            uow.session.add(mouo)
            uow.session.flush()
            for school in schools:
                uow.session.add(School(code=school, mouo_id=mouo.id, name=f"ОО {school}"))
        uow.commit()


def test_the_kemerovo_essay_plan_a_day_after_its_first_deadlines(database: Database) -> None:
    _store(database, "kemerovo-2017-essay", {"42-01": ("4201001", "4201002")})
    with UnitOfWork(database.session_factory) as uow:
        scope = load_scope(uow.session, "kemerovo-2017-essay", ["2017-12-06"])
        first = scope.rows[0]  # applications, by every school
        for school in ("4201001", "4201002"):
            mark_done(uow.session, scope, first.stage_key, "2017-12-06", school, "тест", "", NOW)
        uow.commit()
        cells = board_cells(uow.session, scope, NOW)
    states = {c.row.position: c.state for c in cells}
    assert states[0] is RowStatus.DONE
    assert states[1] is RowStatus.LATE  # commissions: nobody marked them
    png = render_timeline(scope.rows, cells, NOW, scope.title, ZONE, "основной срок 06.12.2017")
    pixels = _image(png)
    plot = _plot(pixels)

    assert pixels.shape[1] == round(WIDTH_IN * DPI)
    assert pixels.shape[0] <= 8 * DPI  # twelve rows: one screen
    for state in (RowStatus.DONE, RowStatus.LATE, RowStatus.NOT_STARTED):
        assert _mask(plot, STATE_COLOURS[state]).sum() > 50, state
    assert _mask(plot, TODAY_COLOUR).sum(axis=0).max() >= 12 * 0.3 * DPI * 0.9


@pytest.mark.slow
def test_the_whole_kuzbass_road_map_stays_one_readable_picture(database: Database) -> None:
    _store(database, "kuzbass-2024-roadmap", {})
    now = datetime(2024, 2, 15, 12, 0, tzinfo=TZ)
    with UnitOfWork(database.session_factory) as uow:
        scope = load_scope(uow.session, "kuzbass-2024-roadmap")
        cells = board_cells(uow.session, scope, now)
    assert len(scope.rows) > 440
    pixels = _image(render_timeline(scope.rows, cells, now, scope.title, ZONE))
    plot = _plot(pixels)

    assert pixels.shape[1] == round(WIDTH_IN * DPI)
    # at least 0.16 in (16 px, 7 pt labels) a row, and capped
    assert len(scope.rows) * 0.16 * DPI <= pixels.shape[0] <= MAX_HEIGHT_IN * DPI
    for state in (RowStatus.LATE, RowStatus.RUNNING, RowStatus.NOT_STARTED):
        assert _mask(plot, STATE_COLOURS[state]).sum() > 500, state
    assert _mask(plot, STATE_COLOURS[RowStatus.WAITING], tolerance=40).sum() > 500  # external
    assert _mask(plot, TODAY_COLOUR).sum(axis=0).max() >= len(scope.rows) * 0.16 * DPI * 0.9


def test_a_session_without_rows_is_still_a_picture() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels = _image(render_timeline([], [], NOW, "План", ZONE, "дополнительный срок"))
    assert pixels.shape[1] == round(WIDTH_IN * DPI)
