"""Reports of the reconcile stage: a МОУО's discrepancy workbook and mail, the regional summary."""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter

from tasks.domain.artifacts import markdown_table, status_ru
from tasks.domain.spreadsheets import workbook_options

__all__ = ["KIND_RU", "discrepancy_workbook", "mouo_mail", "regional_markdown"]

SEVERITY_RU = {"critical": "критическое", "warning": "предупреждение"}
# The kinds of tasks.domain.reconcile, as the coordinator reads them in the artifacts.
KIND_RU = {
    "duplicate_snils": "один СНИЛС зарегистрирован несколько раз",
    "conflicting_snils": "один СНИЛС у разных людей",
    "duplicate_document": "один документ у разных СНИЛС",
    "duplicate_person": "возможно, один человек под разными СНИЛС",
    "document_taken": "документ уже в РБД за другим СНИЛС",
    "attempts_exceeded": "превышено число попыток",
    "already_passed": "«зачет» уже получен в этом году",
    "graduate_rewrite": "выпускник прошлых лет пишет повторно",
    "attempt_mismatch": "номер попытки расходится с историей",
    "school_count": "число участников ОО расходится с планом",
    "room_capacity": "не хватает мест в аудиториях",
    "no_submission": "МОУО не прислало сведения",
}
STATUS_RU = {
    "open": "открыто",
    "resolved": "устранено",
    "accepted": "принято координатором",
    "gone": "не найдено при повторной выверке",
}


def discrepancy_workbook(scope: str, discrepancies: list[dict[str, Any]]) -> bytes:
    """XLSX of discrepancies (no personal data: МОУО, rows and schools only)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, workbook_options(in_memory=True))
    bold = workbook.add_format({"bold": True})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    sheet = workbook.add_worksheet("Расхождения")
    headers = ["№", "Вид", "Важность", "Состояние", "МОУО", "ОО", "Описание"]
    widths = [8, 22, 16, 24, 10, 10, 100]
    sheet.write_string(0, 0, f"Расхождения выверки: {scope}", bold)
    for column, (header, width) in enumerate(zip(headers, widths, strict=True)):
        sheet.write_string(1, column, header, bold)
        sheet.set_column(column, column, width)
    for index, item in enumerate(discrepancies, start=2):  # text as text (a message quotes data)
        sheet.write_number(index, 0, item["id"])
        sheet.write_string(index, 1, item["kind"])
        sheet.write_string(index, 2, SEVERITY_RU.get(item["severity"], item["severity"]))
        sheet.write_string(index, 3, STATUS_RU.get(item["status"], item["status"]))
        for column, code in ((4, item["mouo_code"]), (5, item["school_code"])):
            if code:  # none: an empty cell
                sheet.write_string(index, column, code)
        sheet.write_string(index, 6, item["message"], wrap)
    workbook.close()
    return buffer.getvalue()


def mouo_mail(
    mouo_code: str, discrepancies: list[dict[str, Any]], procedure: str
) -> tuple[str, str]:
    critical = sum(d["severity"] == "critical" and d["status"] == "open" for d in discrepancies)
    warnings = sum(d["severity"] == "warning" and d["status"] == "open" for d in discrepancies)
    subject = (
        f"{procedure}: выверка РБД, МОУО {mouo_code}: критических расхождений "
        f"{critical}, предупреждений {warnings}"
    )
    todo = (
        "Расхождений, требующих действий, нет."
        if critical == 0
        else "Устраните критические расхождения (список во вложении): исправьте и пришлите файл "
        "сведений заново. Пока они открыты, печать комплектов не начнётся."
    )
    body = "\n".join(
        [
            "Здравствуйте!",
            "",
            f"РЦОИ выполнил выверку региональной базы данных. "
            f"По МОУО {mouo_code}: критических расхождений {critical}, "
            f"предупреждений {warnings}.",
            "",
            todo,
            "",
            "Это письмо сформировано автоматически.",
        ]
    )
    return subject, body


def regional_markdown(
    session_code: str, summary: dict[str, Any], discrepancies: list[dict[str, Any]]
) -> str:
    """The coordinator's artifact: the print gate and the open discrepancies by kind."""
    gate = "разрешена" if summary["print_gate"] == "open" else "заблокирована"
    counts: dict[tuple[str, str], int] = {}
    for item in discrepancies:
        if item["status"] == "open":
            key = (item["kind"], item["severity"])
            counts[key] = counts.get(key, 0) + 1
    return (
        f"# Выверка РБД, срок {session_code}\n\n"
        f"Строк принято от МОУО: {summary['rows']}; участников в сводной базе: "
        f"{summary['participants']}. Печать комплектов: **{gate}**.\n\n"
        + markdown_table(
            ("вид", "важность", "открыто"),
            [
                (KIND_RU.get(kind, kind), status_ru(severity), count)
                for (kind, severity), count in sorted(counts.items())
            ],
        )
    )
