"""Collect stage logic: staged rows, the report a МОУО gets (XLSX bytes and mail text)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import xlsxwriter

from tasks.domain.contracts import value_column
from tasks.domain.participants import SUBMISSION_COLUMNS
from tasks.domain.spreadsheets import workbook_options

__all__ = [
    "FileVerdict",
    "deadline_text",
    "rejected_file_mail",
    "report_mail",
    "report_workbook",
    "staged_rows",
]


_CHECK_NOTES = "Проверьте замечания к файлу"


@dataclass(frozen=True, slots=True)
class FileVerdict:
    """The outcome of one received file: counts only, safe for logs and artifacts."""

    mouo_code: str
    file_name: str
    content_hash: str
    status: str  # accepted | rejected | skipped (already processed)
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_warned: int = 0
    reason: str = ""
    rejected_by_rule: tuple[tuple[str, int], ...] = ()
    header_row: int = 1  # the file's row of the header: a data row's row = row_number + this
    # Remarks on the file as a whole (columns or sheets not read, ...), Russian, for the МОУО's
    # report and mail only: they quote the file's headers and sheet names, so summaries and
    # artifacts carry their count, not their text.
    notes: tuple[str, ...] = ()


def staged_rows(prepared: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    """One row per received row: row_number, status, data (normalised values by field name),
    problems (list of {column, rule, severity, message})."""
    data = pl.struct([pl.col(value_column(f)).fill_null("").alias(f) for f in SUBMISSION_COLUMNS])
    grouped = problems.group_by("row_number").agg(
        pl.struct("column", "rule", "severity", "message").alias("problems")
    )
    return (
        prepared.select("row_number", "status", data.alias("data"))
        .join(grouped, on="row_number", how="left")
        .with_columns(pl.col("problems").fill_null([]))
        .sort("row_number")
    )


def deadline_text(due: datetime | None, zone: str) -> str:
    """'22.11.2017 24:00 (время Asia/Novokuznetsk)', or a note that there is none."""
    if due is None:
        return "срок не задан в плане-графике"
    local = due.astimezone(ZoneInfo(zone))
    if (local.hour, local.minute) == (0, 0):
        return f"{local - timedelta(days=1):%d.%m.%Y} 24:00 (местное время, {zone})"
    return f"{local:%d.%m.%Y %H:%M} (местное время, {zone})"


def report_workbook(verdict: FileVerdict, problems: pl.DataFrame, deadline: str) -> bytes:
    """The МОУО's report as XLSX: a summary sheet and every problem with row, column, message.

    Values are not repeated in the report: the row number finds the row in the МОУО's own file,
    so the report carries no personal data of its own."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, workbook_options(in_memory=True))
    bold = workbook.add_format({"bold": True})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    summary = workbook.add_worksheet("Итог")
    summary.set_column(0, 0, 38)
    summary.set_column(1, 1, 70)
    lines: list[tuple[str, str | int]] = [
        ("МОУО", verdict.mouo_code),
        ("Файл", verdict.file_name),
        (
            "Состояние",
            {
                "accepted": "принят (строки проверены по отдельности)",
                "rejected": "отклонён целиком",
            }.get(verdict.status, verdict.status),
        ),
        ("Строк в файле", verdict.rows_read),
        ("Принято строк", verdict.rows_accepted),
        ("Отклонено строк", verdict.rows_rejected),
        ("Строк с предупреждениями", verdict.rows_warned),
        ("Срок представления сведений", deadline),
    ]
    if verdict.reason:
        lines.append(("Причина", verdict.reason))
    lines += [("Замечание к файлу", note) for note in verdict.notes]
    for index, (label, value) in enumerate(lines):
        summary.write_string(index, 0, label, bold)
        if isinstance(value, str):  # a file name or a note may start with «=»: text, always
            summary.write_string(index, 1, value, wrap)
        else:
            summary.write_number(index, 1, value, wrap)
    hint = (
        "Исправьте отклонённые строки и пришлите файл целиком ещё раз до срока: "
        "последний принятый файл заменяет предыдущий."
    )
    summary.write_string(len(lines) + 1, 0, hint)
    sheet = workbook.add_worksheet("Замечания")
    headers = ["Строка файла (как в Excel)", "Столбец", "Замечание", "Важность", "Правило"]
    widths = [16, 30, 90, 16, 26]
    for column, (header, width) in enumerate(zip(headers, widths, strict=True)):
        sheet.write_string(0, column, header, bold)
        sheet.set_column(column, column, width)
    severity = {"critical": "строка отклонена", "warning": "предупреждение"}
    for index, row in enumerate(problems.sort("row_number", "rule").iter_rows(named=True), 1):
        sheet.write_number(index, 0, row["row_number"] + verdict.header_row)
        if row["column"]:  # a problem of the whole row has no column
            sheet.write_string(index, 1, row["column"])
        sheet.write_string(index, 2, row["message"], wrap)
        sheet.write_string(index, 3, severity.get(row["severity"], row["severity"]))
        sheet.write_string(index, 4, row["rule"])
    sheet.autofilter(0, 0, max(1, problems.height), len(headers) - 1)
    sheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()


def report_mail(verdict: FileVerdict, deadline: str, procedure: str) -> tuple[str, str]:
    """Subject and body of the mail that carries the report: counts, what to do, the deadline.
    Only a file without rejected rows, warnings or remarks is told that nothing needs fixing: a
    remark may be about participants not read at all (a sheet, a column)."""
    subject = (
        f"{procedure}: сведения МОУО {verdict.mouo_code} приняты, "
        f"отклонено строк: {verdict.rows_rejected}"
    )
    if verdict.notes:
        subject += f". {_CHECK_NOTES}"
    if verdict.rows_rejected:
        todo = (
            "Исправьте отклонённые строки (номера строк и причины — во вложении) и пришлите "
            "файл целиком ещё раз: последний принятый файл заменяет предыдущий."
        )
    elif verdict.notes or verdict.rows_warned:
        todo = "Все строки приняты."
    else:
        todo = "Все строки приняты, исправлять ничего не нужно."
    if verdict.rows_warned:
        todo += " Строки с предупреждениями приняты; проверьте их по вложению."
    if verdict.notes:
        todo += (
            f" {_CHECK_NOTES} (они выше и во вложении): если из-за них сведения об участниках "
            "не прочитаны, исправьте файл и пришлите его целиком ещё раз."
        )
    notes = (
        ["", "Замечания к файлу:", *(f"— {note}" for note in verdict.notes)]
        if verdict.notes
        else []
    )
    body = "\n".join(
        [
            "Здравствуйте!",
            "",
            f"РЦОИ получил файл «{verdict.file_name}» со сведениями об участниках.",
            f"Строк в файле: {verdict.rows_read}; принято: {verdict.rows_accepted}; "
            f"отклонено: {verdict.rows_rejected}; с предупреждениями: {verdict.rows_warned}.",
            *notes,
            "",
            todo,
            f"Срок представления сведений: {deadline}.",
            "",
            "Это письмо сформировано автоматически. Вопросы — на горячую линию РЦОИ.",
        ]
    )
    return subject, body


def rejected_file_mail(verdict: FileVerdict, deadline: str, procedure: str) -> tuple[str, str]:
    subject = f"{procedure}: файл МОУО {verdict.mouo_code} не принят"
    body = "\n".join(
        [
            "Здравствуйте!",
            "",
            f"РЦОИ не смог принять файл «{verdict.file_name}»: {verdict.reason}",
            "",
            "Сведения из этого файла не загружены. Исправьте файл и пришлите его ещё раз до срока: "
            f"{deadline}.",
            "Допустимые форматы: CSV (UTF-8 или Windows-1251, разделитель «;» или «,») и XLSX, "
            "первая строка — заголовки столбцов по образцу.",
            "",
            "Это письмо сформировано автоматически. Вопросы — на горячую линию РЦОИ.",
        ]
    )
    return subject, body
