"""The inform stage's files: results and retake lists and the statistics as XLSX, any bytes.

Every file is written under a temporary name in its folder and renamed into place, so a killed
run never leaves half a file under the final name and a reader never sees one. Workbooks are
built in memory with a fixed creation date: the same data give the same bytes. Codes (work,
school, МОУО) are written as text cells, so «08…» keeps its leading zero in Excel.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from tasks.domain.inform import (
    MARK_GROUPS,
    MARK_HEADERS_RU,
    OUTCOMES,
    ResultLine,
    RetakeLine,
    SessionInfo,
    Statistics,
    Tally,
    check_lines,
    form_text,
    result_text,
)
from tasks.domain.participants import CATEGORY_NAMES_RU, Category
from tasks.domain.spreadsheets import workbook_options

__all__ = [
    "RESULT_HEADERS",
    "RETAKE_HEADERS",
    "write_bytes",
    "write_results_csv",
    "write_results_xlsx",
    "write_retake_xlsx",
    "write_statistics_xlsx",
]

# A fixed document date (not the clock): rewriting the same results gives the same bytes.
_CREATED = datetime(2000, 1, 1)  # noqa: DTZ001 - XLSX document dates have no zone
_PROCEDURE_RU = "Итоговое сочинение (изложение)"
_OFFICIAL_USE = "Для служебного пользования: содержит персональные данные участников."
HEADER_ROW = 3  # rows 0-1: title and session; row 2 empty; the table's header on row 3

# (header, width) of the results list; the marks follow as Т1 … К5.
RESULT_HEADERS: tuple[tuple[str, float], ...] = (
    ("№", 6),
    ("Код работы", 15),
    ("Фамилия", 18),
    ("Имя", 14),
    ("Отчество", 18),
    ("Категория", 28),
    ("Код МОУО", 10),
    ("МОУО", 30),
    ("Код ОО", 10),
    ("ОО", 32),
    ("Класс", 7),
    ("Код места проведения", 12),
    ("Место проведения", 30),
    ("Форма", 18),
    ("Попытка", 9),
    ("Результат", 13),
    *((MARK_HEADERS_RU[g], 9) for g in MARK_GROUPS),
)
RETAKE_HEADERS: tuple[tuple[str, float], ...] = (
    ("№", 6),
    ("Код МОУО", 10),
    ("МОУО", 30),
    ("Код ОО", 10),
    ("ОО", 32),
    ("Код работы", 15),
    ("Фамилия", 18),
    ("Имя", 14),
    ("Отчество", 18),
    ("Класс", 7),
    ("Категория", 28),
    ("Форма", 18),
    ("Попытка", 9),
    ("Основание", 46),
    ("Условие допуска", 36),
)
_OUTCOME_HEADERS = {
    "passed": "Зачет",
    "failed": "Незачет",
    "absent": "Не явились",
    "not_finished": "Не закончили (ИС-08)",
    "removed": "Удалены (ИС-09)",
    "not_graded": "Не оценено",
    "no_record": "Нет сведений ИС-05",
}
_TEXT = "text"  # a column written as text whatever it holds


def write_bytes(path: Path, data: bytes) -> Path:
    """`data` at `path`, atomically: a temporary file beside it, flushed, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


def _session_line(info: SessionInfo) -> str:
    label = f" · {info.label}" if info.label else ""
    return (
        f"{info.region_code} · {info.region_name} · {_PROCEDURE_RU} · "
        f"{info.exam_date:%d.%m.%Y}{label} · {info.school_year} учебный год"
    )


class _Book:
    """An in-memory workbook with the project's formats."""

    def __init__(self, info: SessionInfo, title: str) -> None:
        self.buffer = io.BytesIO()
        self.workbook = xlsxwriter.Workbook(self.buffer, workbook_options(in_memory=True))
        self.workbook.set_properties(
            {"title": title, "subject": _session_line(info), "author": "РЦОИ", "created": _CREATED}
        )
        self.info = info
        self.bold = self.workbook.add_format({"bold": True})
        self.title = self.workbook.add_format({"bold": True, "font_size": 13})
        self.head = self.workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E0E0E0", "border": 1}
        )
        self.text = self.workbook.add_format({"num_format": "@"})
        self.percent = self.workbook.add_format({"num_format": "0.0"})
        self.bold_percent = self.workbook.add_format({"num_format": "0.0", "bold": True})

    def sheet(
        self,
        name: str,
        title: str,
        headers: Sequence[tuple[str, float]],
        rows: Sequence[Sequence[Any]],
        note: str = "",
        total: Sequence[Any] | None = None,
    ) -> None:
        """Title and session on top, a bold frozen header with a filter, the rows; a `total`
        row after them (bold, outside the filter). Strings are text cells, numbers numbers,
        None an empty cell; a float is a percentage with one decimal."""
        sheet = self.workbook.add_worksheet(name)
        sheet.write_string(0, 0, title, self.title)
        sheet.write_string(1, 0, _session_line(self.info) + (f" · {note}" if note else ""))
        for column, (header, width) in enumerate(headers):
            sheet.write_string(HEADER_ROW, column, header, self.head)
            sheet.set_column(column, column, width)
        for index, row in enumerate(rows, start=HEADER_ROW + 1):
            self._row(sheet, index, row, bold=False)
        if total is not None:
            self._row(sheet, HEADER_ROW + 1 + len(rows), total, bold=True)
        sheet.freeze_panes(HEADER_ROW + 1, 0)
        sheet.autofilter(HEADER_ROW, 0, HEADER_ROW + max(len(rows), 1), len(headers) - 1)

    def _row(self, sheet: Any, index: int, row: Sequence[Any], bold: bool) -> None:
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(index, column, value, self.bold if bold else self.text)
            elif isinstance(value, float):
                sheet.write_number(
                    index, column, value, self.bold_percent if bold else self.percent
                )
            else:
                sheet.write_number(index, column, value, self.bold if bold else None)

    def save(self, path: Path) -> Path:
        self.workbook.close()
        return write_bytes(path, self.buffer.getvalue())


def _category(line: ResultLine) -> str:
    return CATEGORY_NAMES_RU[Category(line.category)]


def _result_row(number: int, line: ResultLine) -> list[Any]:
    marks = line.marks or {}
    return [
        number,
        line.work_code,
        line.surname,
        line.name,
        line.patronymic,
        _category(line),
        line.mouo_code,
        line.mouo_name,
        line.school_code,
        line.school_name,
        line.class_name,
        line.venue_code,
        line.venue_name,
        form_text(line),
        line.attempt,
        result_text(line),
        *(marks.get(g) or None for g in MARK_GROUPS),
    ]


def write_results_xlsx(
    path: Path, info: SessionInfo, title: str, lines: Sequence[ResultLine]
) -> Path:
    """A results list (a school's or a МОУО's) as one sheet «Результаты», in the given order."""
    check_lines(lines)
    book = _Book(info, title)
    rows = [_result_row(n, line) for n, line in enumerate(lines, start=1)]
    book.sheet("Результаты", title, RESULT_HEADERS, rows, note=_OFFICIAL_USE)
    return book.save(path)


def write_retake_xlsx(
    path: Path, info: SessionInfo, lines: Sequence[RetakeLine], next_session_label: str = ""
) -> Path:
    """The retake list as one sheet «Повторное участие»."""
    check_lines(item.line for item in lines)
    title = "Участники, имеющие право на повторное участие" + (
        f" · дополнительный срок: {next_session_label}" if next_session_label else ""
    )
    rows = [
        [
            n,
            item.line.mouo_code,
            item.line.mouo_name,
            item.line.school_code,
            item.line.school_name,
            item.line.work_code,
            item.line.surname,
            item.line.name,
            item.line.patronymic,
            item.line.class_name,
            _category(item.line),
            form_text(item.line),
            item.line.attempt,
            item.reason,
            "при представлении документа об уважительной причине" if item.conditional else None,
        ]
        for n, item in enumerate(lines, start=1)
    ]
    book = _Book(info, title)
    book.sheet("Повторное участие", title, RETAKE_HEADERS, rows, note=_OFFICIAL_USE)
    return book.save(path)


_COUNT_HEADERS: tuple[tuple[str, float], ...] = (
    ("Участников", 12),
    ("Писали", 10),
    *((_OUTCOME_HEADERS[o], 12) for o in OUTCOMES),
    ("Доля зачета, %", 12),
)


def _counts(row: Tally) -> list[Any]:
    return [row.participants, row.wrote, *(row.outcomes[o] for o in OUTCOMES), row.pass_rate]


def write_statistics_xlsx(path: Path, info: SessionInfo, stats: Statistics) -> Path:
    """The statistics as four sheets: по МОУО, по ОО, по категориям, по формам. The share of
    «зачет» is among the graded (зачет + незачет), empty where nobody was graded."""
    book = _Book(info, "Статистика результатов")
    total = [None, "Итого по региону", *_counts(stats.total)]
    book.sheet(
        "по МОУО",
        "Результаты по МОУО",
        (("Код МОУО", 10), ("МОУО", 40), *_COUNT_HEADERS),
        [[t.code, t.name, *_counts(t)] for t in stats.by_mouo],
        total=total,
    )
    book.sheet(
        "по ОО",
        "Результаты по ОО (участники, обучающиеся в ОО)",
        (("Код МОУО", 10), ("Код ОО", 10), ("ОО", 40), *_COUNT_HEADERS),
        [[t.mouo_code, t.code, t.name, *_counts(t)] for t in stats.by_school],
    )
    book.sheet(
        "по категориям",
        "Результаты по категориям участников",
        (("Категория", 40), *_COUNT_HEADERS),
        [[t.name, *_counts(t)] for t in stats.by_category],
        total=total[1:],
    )
    forms = [[t.name, *_counts(t)] for t in stats.by_form]
    forms.append(["в т. ч. в устной форме", *_counts(stats.oral)])
    book.sheet(
        "по формам",
        "Результаты по формам",
        (("Форма", 30), *_COUNT_HEADERS),
        forms,
        total=total[1:],
    )
    return book.save(path)


def write_results_csv(path: Path, lines: Sequence[ResultLine]) -> Path:
    """The results list as CSV for Excel in a Russian locale: UTF-8 with BOM, «;», the same
    columns as the XLSX."""
    check_lines(lines)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([header for header, _ in RESULT_HEADERS])
    for n, line in enumerate(lines, start=1):
        writer.writerow(["" if v is None else v for v in _result_row(n, line)])
    return write_bytes(path, buffer.getvalue().encode("utf-8-sig"))
