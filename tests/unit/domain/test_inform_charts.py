"""Statistics charts: PNG bytes of a fixed width, reproducible, safe to draw in threads."""

from __future__ import annotations

import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from tasks.domain.inform import ResultLine, Statistics, statistics
from tasks.domain.inform_charts import (
    DPI,
    WIDTH_IN,
    charts,
    outcomes_by_category_png,
    outcomes_by_form_png,
    pass_rate_by_mouo_png,
)

ROOT = Path(__file__).resolve().parents[3]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OUTCOMES_CYCLE = ("passed",) * 6 + ("failed", "absent", "not_finished", "removed", "no_record")
CATEGORIES = ("student",) * 8 + ("graduate", "spo", "student_home")


def _lines(mouo_count: int, per_mouo: int = 11) -> list[ResultLine]:
    base = ResultLine(
        work_code="",
        surname="Петрова",
        name="Анна",
        patronymic=None,
        category="student",
        mouo_code="",
        mouo_name="",
        school_code=None,
        school_name=None,
        venue_code="4201001",
        venue_name="МБОУ «СОШ № 1»",
        class_name="11А",
        form="essay",
        oral=False,
        attempt=1,
        outcome="passed",
        marks=None,
    )
    lines = []
    for m in range(mouo_count):
        for i in range(per_mouo):
            category = CATEGORIES[i % len(CATEGORIES)]
            lines.append(
                replace(
                    base,
                    work_code=f"42171{m:03d}{i:04d}",
                    category=category,
                    mouo_code=f"42-{m + 1:02d}",
                    mouo_name=f"Управление образования Ленинск-Кузнецкого округа {m}",
                    school_code=None if category in ("graduate", "spo") else f"42{m:02d}001",
                    outcome=OUTCOMES_CYCLE[(i + m) % len(OUTCOMES_CYCLE)],
                    form="exposition" if category == "student_home" else "essay",
                    oral=category == "student_home" and i % 2 == 0,
                )
            )
    # a МОУО where nobody was graded
    lines.append(replace(base, work_code="421799990001", mouo_code="42-99", outcome="absent"))
    return lines


@pytest.fixture(scope="module")
def stats() -> Statistics:
    return statistics(_lines(5))


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def test_charts_are_named_png_files_of_the_report_width(stats: Statistics) -> None:
    drawn = charts(stats)
    assert list(drawn) == [
        "pass_rate_by_mouo.png",
        "outcomes_by_category.png",
        "outcomes_by_form.png",
    ]
    for png in drawn.values():
        width, height = _size(png)
        assert width == round(WIDTH_IN * DPI)
        assert 200 < height < 2000


def test_the_pass_rate_chart_grows_with_the_number_of_mouo() -> None:
    _, few = _size(pass_rate_by_mouo_png(statistics(_lines(2))))
    _, many = _size(pass_rate_by_mouo_png(statistics(_lines(30))))
    assert many > few + 25 * 40  # ~50 px a bar at 120 dpi


def test_the_same_statistics_give_the_same_bytes(stats: Statistics) -> None:
    assert charts(stats) == charts(statistics(_lines(5)))


def test_the_png_carries_no_software_stamp(stats: Statistics) -> None:
    assert b"Software" not in pass_rate_by_mouo_png(stats)


def test_charts_drawn_in_threads_at_once_equal_those_drawn_one_by_one(stats: Statistics) -> None:
    expected = [outcomes_by_category_png(stats), outcomes_by_form_png(stats)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(
            pool.map(
                lambda n: (outcomes_by_category_png if n % 2 == 0 else outcomes_by_form_png)(stats),
                range(4),
            )
        )
    assert drawn == expected * 2


def test_charts_of_an_empty_session_are_still_drawn() -> None:
    for png in charts(statistics([])).values():
        _size(png)


def test_the_charts_module_does_not_load_pyplot() -> None:
    code = (
        "import sys\n"
        "from tasks.domain.inform import statistics\n"
        "from tasks.domain.inform_charts import charts\n"
        "charts(statistics([]))\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
