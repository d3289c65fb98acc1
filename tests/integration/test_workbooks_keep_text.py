"""Every XLSX the project writes keeps text as text (issue 16, item 7): a value from a МОУО file
that starts like a formula («=HYPERLINK(...)», «=1+1») is a text cell when the workbook is read
back, never a live formula, in the collect report, the reconcile discrepancies, the inform lists
and statistics, and the synthetic region's submission files."""

from __future__ import annotations

import ast
import io
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from tasks.adapters.inform_files import write_results_xlsx, write_statistics_xlsx
from tasks.adapters.region_files import _write_xlsx
from tasks.domain.identifiers import make_work_code
from tasks.domain.inform import ResultLine, SessionInfo, statistics
from tasks.domain.participants import SUBMISSION_COLUMNS
from tasks.domain.reconcile_report import discrepancy_workbook

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FORMULA = '=HYPERLINK("http://x","y")'
INFO = SessionInfo(
    "42",
    "Кемеровская область",
    "2017-12-06",
    date(2017, 12, 6),
    "основной срок",
    "2017/18",
    "ИС-11",
)


def _cells(book: Any) -> list[Any]:
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def _formula_like_cells_are_text(book: Any, *values: str) -> None:
    cells = _cells(book)
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a formula in the workbook"
    for value in values:
        found = [c for c in cells if c.value == value]
        assert found, f"{value!r} not written"
        assert {c.data_type for c in found} == {"s"}


def test_a_reconcile_discrepancy_quoting_a_formula_is_text() -> None:
    item = {
        "id": 1,
        "kind": "=kind",
        "severity": "critical",
        "status": "open",
        "mouo_code": "42-01",
        "school_code": "+4201001",
        "message": FORMULA,
    }
    book = openpyxl.load_workbook(io.BytesIO(discrepancy_workbook("=1+1", [item])))
    _formula_like_cells_are_text(book, FORMULA, "=kind", "+4201001")


def test_a_region_submission_xlsx_keeps_a_formula_like_class_as_text(tmp_path: Path) -> None:
    row = {field: "" for field in SUBMISSION_COLUMNS}
    row.update(surname="Иванов", birth_date="15.03.2000", class_name=FORMULA, ovz_document="@x")
    table = pl.DataFrame([row]).rename(SUBMISSION_COLUMNS)
    path = tmp_path / "Участники.xlsx"
    _write_xlsx(table, path, datetime(2017, 11, 1, tzinfo=UTC))
    _formula_like_cells_are_text(openpyxl.load_workbook(path), FORMULA, "@x")


def _line(serial: int, **changes: Any) -> ResultLine:
    line = ResultLine(
        work_code=make_work_code("42", 2017, 1, serial),
        surname="Иванов",
        name="Иван",
        patronymic=None,
        category="student",
        mouo_code="42-01",
        mouo_name="=МОУО",
        school_code="4201001",
        school_name=FORMULA,
        venue_code="4201001",
        venue_name=FORMULA,
        class_name="=1+1",
        form="essay",
        oral=False,
        attempt=1,
        outcome="passed",
        marks={"k1": "зачет"},
    )
    return replace(line, **changes)


def test_inform_lists_and_statistics_keep_formula_like_text(tmp_path: Path) -> None:
    lines = [_line(1), _line(2)]
    results = write_results_xlsx(tmp_path / "results.xlsx", INFO, "=Результаты", lines)
    _formula_like_cells_are_text(openpyxl.load_workbook(results), FORMULA, "=1+1")
    stats = write_statistics_xlsx(tmp_path / "stats.xlsx", INFO, statistics(lines))
    _formula_like_cells_are_text(openpyxl.load_workbook(stats), FORMULA)


def _workbook_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "Workbook"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "xlsxwriter"
    ]


def test_every_xlsxwriter_workbook_of_the_project_is_opened_with_text_as_text() -> None:
    sources = [p for d in ("tasks", "flows", "web", "config") for p in (ROOT / d).rglob("*.py")]
    calls = {path: _workbook_calls(path) for path in sources}
    opened = {path: found for path, found in calls.items() if found}
    assert len(opened) >= 4  # collect, reconcile, inform, region files
    for path, found in opened.items():
        for call in found:
            options = call.args[1] if len(call.args) > 1 else None
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            assert isinstance(options, ast.Call), f"{where}: a workbook without workbook_options"
            assert isinstance(options.func, ast.Name), where
            assert options.func.id == "workbook_options", where
