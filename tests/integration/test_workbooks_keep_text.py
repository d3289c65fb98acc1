"""Every XLSX the project writes keeps text as text (issue 16, item 7): a value from a МОУО file
that starts like a formula («=HYPERLINK(...)», «=1+1») is a text cell when the workbook is read
back, never a live formula, in the collect report, the reconcile discrepancies, the inform lists
and statistics, and the synthetic region's submission files; and a search of the sources finds
every workbook the project opens to write, however its writer is imported (xlsxwriter, openpyxl,
a data frame's `write_excel`), and requires the text-as-text options of each."""

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


# How a workbook can be opened for writing: xlsxwriter's Workbook (text as text only with the
# project's `workbook_options`), openpyxl's (it stores any string starting with «=» as a formula)
# and the data-frame writers built on them (they open their own workbook, without the options).
_LIBRARIES = ("xlsxwriter", "openpyxl")
_OPENERS = ("Workbook", "load_workbook")
_FRAME_WRITERS = ("write_excel", "to_excel")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _bindings(tree: ast.AST) -> tuple[dict[str, str], dict[str, str]]:
    """(local module name → library, local opener name → library) from the module's imports,
    whatever the spelling: `import xlsxwriter as xw`, `from xlsxwriter import Workbook as W`,
    `from openpyxl.workbook import Workbook`, `from xlsxwriter import workbook`."""
    modules: dict[str, str] = {}
    openers: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                library = alias.name.split(".")[0]
                if library in _LIBRARIES:
                    modules[alias.asname or library] = library
        elif isinstance(node, ast.ImportFrom) and node.module:
            library = node.module.split(".")[0]
            if library not in _LIBRARIES:
                continue
            for alias in node.names:
                target = openers if alias.name in _OPENERS else modules
                target[alias.asname or alias.name] = library
    return modules, openers


def _workbook_calls(source: str) -> list[tuple[str, ast.Call]]:
    """(writer, call) for every call in `source` that opens a workbook to write: writer is
    «xlsxwriter», «openpyxl» or a data-frame method. A read-only openpyxl load is no writer."""
    tree = ast.parse(source)
    modules, openers = _bindings(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, writer = node.func, None
        if isinstance(func, ast.Name) and func.id in openers:
            writer = openers[func.id]
        elif isinstance(func, ast.Attribute) and func.attr in _OPENERS:
            base = _dotted(func.value)
            writer = modules.get(base.split(".")[0]) if base else None
        elif isinstance(func, ast.Attribute) and func.attr in _FRAME_WRITERS:
            writer = func.attr
        read_only = any(
            k.arg == "read_only" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        if writer is not None and not read_only:
            found.append((writer, node))
    return found


def _keeps_text(writer: str, call: ast.Call) -> bool:
    """An xlsxwriter workbook opened with `workbook_options(...)`; nothing else qualifies."""
    if writer != "xlsxwriter":
        return False
    options = call.args[1] if len(call.args) > 1 else None
    options = options or next((k.value for k in call.keywords if k.arg == "options"), None)
    return (
        isinstance(options, ast.Call)
        and isinstance(options.func, ast.Name)
        and options.func.id == "workbook_options"
    )


def test_every_workbook_the_project_writes_is_opened_with_text_as_text() -> None:
    sources = [p for d in ("tasks", "flows", "web", "config") for p in (ROOT / d).rglob("*.py")]
    opened = {
        path.relative_to(ROOT): _workbook_calls(path.read_text(encoding="utf-8"))
        for path in sources
    }
    opened = {path: calls for path, calls in opened.items() if calls}
    assert len(opened) >= 4  # collect, reconcile, inform, region files
    wrong = [
        f"{path}:{call.lineno} ({writer})"
        for path, calls in opened.items()
        for writer, call in calls
        if not _keeps_text(writer, call)
    ]
    assert not wrong, (
        "workbooks that may write a value starting with «=» as a formula: open them with "
        f"xlsxwriter.Workbook(..., workbook_options(...)): {wrong}"
    )


@pytest.mark.parametrize(
    ("source", "writer", "keeps_text"),
    [
        ("import xlsxwriter\nxlsxwriter.Workbook(buffer)", "xlsxwriter", False),
        ("import xlsxwriter\nxlsxwriter.Workbook(buffer, workbook_options())", "xlsxwriter", True),
        ("import xlsxwriter as xw\nxw.Workbook(buffer)", "xlsxwriter", False),
        ("from xlsxwriter import Workbook\nWorkbook(buffer)", "xlsxwriter", False),
        (
            "from xlsxwriter import Workbook as W\nW(buffer, options=workbook_options())",
            "xlsxwriter",
            True,
        ),
        ("from xlsxwriter.workbook import Workbook\nWorkbook(buffer)", "xlsxwriter", False),
        ("import xlsxwriter.workbook\nxlsxwriter.workbook.Workbook(buffer)", "xlsxwriter", False),
        ("from xlsxwriter import workbook\nworkbook.Workbook(buffer)", "xlsxwriter", False),
        ("import openpyxl\nopenpyxl.Workbook()", "openpyxl", False),
        ("from openpyxl import Workbook\nWorkbook()", "openpyxl", False),
        ("from openpyxl import load_workbook\nload_workbook(path)", "openpyxl", False),
        ("frame.write_excel(path)", "write_excel", False),
        ("frame.to_excel(path)", "to_excel", False),
    ],
)
def test_the_search_finds_a_workbook_however_its_writer_is_imported(
    source: str, writer: str, keeps_text: bool
) -> None:
    [(found, call)] = _workbook_calls(source)
    assert (found, _keeps_text(found, call)) == (writer, keeps_text)


@pytest.mark.parametrize(
    "source",
    [
        "from openpyxl import load_workbook\nload_workbook(path, read_only=True)",  # a reader
        "Workbook(buffer)",  # not a library's
        "from other import Workbook\nWorkbook(buffer)",
    ],
)
def test_the_search_leaves_readers_and_other_workbooks_alone(source: str) -> None:
    assert _workbook_calls(source) == []
