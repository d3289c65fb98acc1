"""Reports of the reconcile stage (tasks/domain/reconcile_report.py): a МОУО's discrepancy
workbook and mail count and show what is open, and the regional summary tells the print gate."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest

from tasks.domain.reconcile_report import discrepancy_workbook, mouo_mail, regional_markdown

PROCEDURE = "ИС-11"


def item(
    id_: int, kind: str, severity: str, status: str = "open", **changes: Any
) -> dict[str, Any]:
    """A discrepancy as the reconcile task reads it back from the database."""
    values: dict[str, Any] = {
        "id": id_,
        "kind": kind,
        "severity": severity,
        "mouo_code": "42-01",
        "school_code": "4201001",
        "message": "один и тот же участник (тот же СНИЛС) зарегистрирован несколько раз "
        "(строк: 2): МОУО 42-01 стр. 3; МОУО 42-01 стр. 7",
        "rows": "МОУО 42-01 стр. 3; МОУО 42-01 стр. 7",
        "status": status,
    }
    values.update(changes)
    return values


def sheet_rows(workbook: bytes) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    assert book.sheetnames == ["Расхождения"]
    return list(book["Расхождения"].iter_rows(values_only=True))


# --- workbook ----------------------------------------------------------------------------------


def test_the_workbook_lists_each_discrepancy_in_russian() -> None:
    items = [
        item(7, "duplicate_snils", "critical"),
        item(
            9,
            "no_submission",
            "critical",
            "gone",
            mouo_code="42-02",
            school_code=None,
            message="МОУО 42-02 не представило сведения об участниках",
        ),
        item(12, "school_count", "warning", "accepted", mouo_code=None),
    ]

    rows = sheet_rows(discrepancy_workbook("42-01", items))

    assert rows[0][0] == "Расхождения выверки: 42-01"
    assert rows[1] == ("№", "Вид", "Важность", "Состояние", "МОУО", "ОО", "Описание")
    assert rows[2] == (
        7,
        "duplicate_snils",
        "критическое",
        "открыто",
        "42-01",
        "4201001",
        items[0]["message"],
    )
    assert rows[3][:6] == (
        9,
        "no_submission",
        "критическое",
        "не найдено при повторной выверке",
        "42-02",
        None,
    )
    assert rows[4][2:6] == ("предупреждение", "принято координатором", None, "4201001")
    assert len(rows) == 5


def test_an_empty_workbook_has_its_title_and_headers_only() -> None:
    rows = sheet_rows(discrepancy_workbook("регион", []))

    assert [row[0] for row in rows] == ["Расхождения выверки: регион", "№"]


def test_an_unknown_severity_or_status_is_shown_as_it_is() -> None:
    rows = sheet_rows(discrepancy_workbook("42-01", [item(1, "new_kind", "info", "draft")]))

    assert rows[2][2:4] == ("info", "draft")


# --- mail to a МОУО ------------------------------------------------------------------------------


def test_a_mouo_mail_counts_only_open_discrepancies() -> None:
    items = [
        item(1, "duplicate_snils", "critical"),
        item(2, "room_capacity", "critical"),
        item(3, "already_passed", "critical", "resolved"),
        item(4, "duplicate_person", "warning"),
        item(5, "attempt_mismatch", "warning", "accepted"),
        item(6, "school_count", "warning", "gone"),
    ]

    subject, body = mouo_mail("42-01", items, PROCEDURE)

    assert subject == (
        "ИС-11: выверка РБД, МОУО 42-01: критических расхождений 2, предупреждений 1"
    )
    assert "По МОУО 42-01: критических расхождений 2, предупреждений 1." in body
    assert "Устраните критические расхождения" in body
    assert "печать комплектов не начнётся" in body


@pytest.mark.parametrize(
    "items",
    [
        [],
        [item(1, "duplicate_person", "warning")],
        [item(1, "duplicate_snils", "critical", "resolved")],
        [item(1, "duplicate_snils", "critical", "accepted")],
    ],
    ids=["nothing", "a-warning", "resolved", "accepted"],
)
def test_a_mouo_without_open_critical_discrepancies_is_told_nothing_is_needed(
    items: list[dict[str, Any]],
) -> None:
    subject, body = mouo_mail("42-01", items, PROCEDURE)

    assert "критических расхождений 0" in subject
    assert "Расхождений, требующих действий, нет." in body
    assert "Устраните" not in body


def test_a_mouo_mail_names_no_person() -> None:
    subject, body = mouo_mail("42-01", [item(1, "duplicate_snils", "critical")], PROCEDURE)

    assert "стр." not in subject + body  # the rows go in the attachment only
    assert body.startswith("Здравствуйте!")


# --- regional summary -------------------------------------------------------------------------


def summary(print_gate: str) -> dict[str, Any]:
    return {"rows": 120, "participants": 117, "print_gate": print_gate}


@pytest.mark.parametrize(("gate", "said"), [("open", "разрешена"), ("blocked", "заблокирована")])
def test_the_regional_summary_tells_the_print_gate(gate: str, said: str) -> None:
    text = regional_markdown("2017-12-06", summary(gate), [])

    assert text.startswith("# Выверка РБД, срок 2017-12-06\n")
    assert "Строк принято от МОУО: 120; участников в сводной базе: 117." in text
    assert f"Печать комплектов: **{said}**." in text
    assert text.endswith("| --- | --- | --- |\n")  # an empty table: nothing is open


def test_the_regional_summary_counts_open_discrepancies_by_kind_and_severity() -> None:
    items = [
        item(1, "school_count", "warning"),
        item(2, "duplicate_snils", "critical"),
        item(3, "duplicate_snils", "critical"),
        item(4, "duplicate_snils", "critical", "resolved"),
        item(5, "room_capacity", "critical", "gone"),
        item(6, "attempt_mismatch", "warning", "accepted"),
    ]

    text = regional_markdown("2017-12-06", summary("blocked"), items)

    table = text.split("| --- | --- | --- |\n")[1].splitlines()
    assert table == [
        "| один СНИЛС зарегистрирован несколько раз | критическое | 2 |",
        "| число участников ОО расходится с планом | предупреждение | 1 |",
    ]
