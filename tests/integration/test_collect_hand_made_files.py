"""Hand-made МОУО files through the collect stage's own path — the reader, the submission
contract (GX), the staged rows, the report workbook and the mail (`tasks.collect._check`, then
the domain's report) — for what issue 16 found silently lost or let through: participants on
a second sheet (with or without its header row), a mail saying «nothing to fix» over remarks
on the file, formula-like names and values, unknown columns, hidden rows, Excel serial
dates, row numbers under a quoted line break, a 90-year-old graduate of past years."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
import xlsxwriter

from tasks.adapters.submissions import MouoInfo, SessionInfo
from tasks.collect import _check
from tasks.domain.collect import (
    FileVerdict,
    rejected_file_mail,
    report_mail,
    report_workbook,
)
from tasks.domain.participants import SUBMISSION_COLUMNS

pytestmark = pytest.mark.integration

HEADERS = list(SUBMISSION_COLUMNS.values())
MOUO = MouoInfo(1, "42-05", "Управление образования", ("mouo@example.ru",), frozenset())
SESSION = SessionInfo(1, "2017-12-06", date(2017, 12, 6), "Asia/Novokuznetsk", None, None)
DEADLINE = "22.11.2017 24:00 (местное время, Asia/Novokuznetsk)"
SURNAMES = ("Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Лебедев", "Козлов")


def _snils(serial: int) -> str:
    """A valid СНИЛС (check number by the rule of DOMAIN.md §4) from a serial."""
    body = f"{100_200_300 + serial * 1_111:09d}"
    total = sum(int(d) * (9 - i) for i, d in enumerate(body))
    check = total if total < 100 else 0 if total in (100, 101) else total % 101
    check = 0 if check == 100 else check
    return f"{body[:3]}-{body[3:6]}-{body[6:]} {check:02d}"


def _person(serial: int, **changes: object) -> list[object]:
    """A valid grade 11 student of МОУО 42-05 as a МОУО writes one (docs/submission-format.md)."""
    row: dict[str, object] = {
        "surname": SURNAMES[serial % len(SURNAMES)],
        "name": "Иван",
        "patronymic": "Иванович",
        "sex": "М",
        "birth_date": "15.03.2000",
        "document_type": "паспорт гражданина РФ",
        "document_series": "3214",
        "document_number": f"{123_000 + serial:06d}",
        "snils": _snils(serial),
        "category": "Обучающийся 11 класса",
        "school_code": "4205001",
        "class_name": "11А",
        "form": "сочинение",
        "oral": "нет",
        "ovz": "нет",
        "ovz_document": "",
        "attempt": "1",
    }
    row.update(changes)
    return [row[field] for field in SUBMISSION_COLUMNS]


def _csv(path: Path, rows: list[list[object]], headers: list[str] = HEADERS) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path


def _sheet(
    workbook: Any, name: str, rows: list[list[object]], hidden: frozenset[int] = frozenset()
) -> None:
    """A sheet as office software saves it: header, then rows; numbers as numeric cells. Rows
    whose 1-based sheet row number is in `hidden` are hidden."""
    sheet = workbook.add_worksheet(name)
    sheet.write_row(0, 0, HEADERS)
    for index, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if isinstance(value, int | float):
                sheet.write_number(index, column, value)
            elif value:
                sheet.write_string(index, column, str(value))
        if index + 1 in hidden:
            sheet.set_row(index, None, None, {"hidden": True})


def _xlsx(
    path: Path, sheets: dict[str, list[list[object]]], hidden: frozenset[int] = frozenset()
) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        _sheet(workbook, name, rows, hidden)
    workbook.close()
    return path


def _collect(path: Path) -> tuple[FileVerdict, pl.DataFrame | None, pl.DataFrame]:
    """The file as collect checks it: verdict, staged rows, problems."""
    return _check(path, MOUO, SESSION, "0" * 64)


def _report(verdict: FileVerdict, problems: pl.DataFrame, tmp_path: Path) -> Any:
    """The report the МОУО gets, read back with openpyxl."""
    path = tmp_path / "отчёт.xlsx"
    path.write_bytes(report_workbook(verdict, problems, DEADLINE))
    return openpyxl.load_workbook(path)


def _mail(verdict: FileVerdict) -> str:
    builder = report_mail if verdict.status == "accepted" else rejected_file_mail
    subject, body = builder(verdict, DEADLINE, "ИС-11")
    return subject + "\n" + body


def _no_personal_data(text: str, rows: list[list[object]]) -> None:
    for row in rows:
        assert str(row[0]) not in text  # no surname
        assert str(row[8]) not in text  # no СНИЛС


# --- 6. participants on several sheets ----------------------------------------------------------


def test_participants_on_two_sheets_none_named_participants_refuse_the_file_naming_both(
    tmp_path: Path,
) -> None:
    first = [_person(i) for i in range(3)]
    second = [_person(i) for i in range(3, 8)]  # five more: once silently dropped
    path = _xlsx(tmp_path / "Участники.xlsx", {"Школа 1": first, "Школа 2": second})
    verdict, rows, _ = _collect(path)
    assert verdict.status == "rejected"
    assert rows is None  # nothing half-loaded
    assert "«Школа 1»" in verdict.reason
    assert "«Школа 2»" in verdict.reason
    assert "на одном листе" in verdict.reason or "на один лист" in verdict.reason
    mail = _mail(verdict)
    assert "не принят" in mail
    assert "«Школа 2»" in mail
    _no_personal_data(mail, first + second)


def test_a_participants_sheet_beside_another_sheet_of_participants_refuses_the_file(
    tmp_path: Path,
) -> None:
    path = _xlsx(
        tmp_path / "a.xlsx",
        {"Участники": [_person(0)], "Лист2": [_person(i) for i in range(1, 6)]},
    )
    verdict, _, _ = _collect(path)
    assert verdict.status == "rejected"
    assert "«Участники», «Лист2»" in verdict.reason


def test_the_only_participant_sheet_is_read_whatever_its_name_and_the_others_are_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Инструкция").write_string(0, 0, "Заполните таблицу на листе 2")
    workbook.add_worksheet("Пустой")
    _sheet(workbook, "Лист2", [_person(i) for i in range(5)])
    workbook.close()
    verdict, _, _ = _collect(path)
    assert (verdict.status, verdict.rows_read, verdict.rows_accepted) == ("accepted", 5, 5)
    [note] = verdict.notes  # the empty sheet has nothing to lose
    assert note.startswith("Лист «Инструкция» не прочитан")
    assert note in _mail(verdict)


def _headerless(workbook: Any, name: str, rows: list[list[object]]) -> None:
    """Participants typed on a sheet without the header row (a list continued on a new sheet)."""
    sheet = workbook.add_worksheet(name)
    for index, row in enumerate(rows):
        for column, value in enumerate(row):
            if value:
                sheet.write_string(index, column, str(value))


def test_participants_continued_on_a_second_sheet_without_a_header_refuse_the_file(
    tmp_path: Path,
) -> None:
    first = [_person(i) for i in range(3)]
    second = [_person(i) for i in range(3, 8)]  # five more, no header: once dropped with a note
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    _sheet(workbook, "Лист1", first)
    _headerless(workbook, "Лист2", second)
    workbook.close()
    verdict, rows, _ = _collect(path)
    assert (verdict.status, rows) == ("rejected", None)  # nothing half-loaded
    assert verdict.reason == (
        "Участники найдены на нескольких листах: на листе «Лист1» — таблица с заголовками "
        "из образца, на листе «Лист2» — строки участников без строки заголовков. Программа "
        "читает участников с одного листа: перенесите всех в таблицу на листе «Лист1», с "
        "других листов строки участников удалите и отправьте файл снова."
    )
    mail = _mail(verdict)
    assert "не принят" in mail
    assert "исправлять ничего не нужно" not in mail
    _no_personal_data(mail, first + second)


def test_participants_without_a_header_beside_the_empty_template_refuse_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    _sheet(workbook, "Участники", [])  # the template: headers, no rows
    _headerless(workbook, "Лист2", [_person(i) for i in range(5)])
    workbook.close()
    verdict, _, _ = _collect(path)
    assert verdict.status == "rejected"
    assert verdict.reason.startswith(
        "На листе «Лист2» строки участников без строки заголовков: программа не может "
        "узнать, что в каком столбце."
    )
    assert "Перенесите их в таблицу на листе «Участники»" in verdict.reason


@pytest.mark.parametrize(
    "other",
    [
        [["Код ОО", "Наименование"], ["4205001", "МБОУ СОШ № 1"]],  # a lookup list
        [["Заполните таблицу; дата рождения — ДД.ММ.ГГГГ, например 15.03.2000"]],
        [["Пример"] * 12],  # wide, but no СНИЛС or date: no participant
    ],
    ids=["lookup-list", "instruction-with-a-date", "wide-without-snils-or-date"],
)
def test_a_sheet_that_is_no_list_of_participants_is_only_named_in_a_note(
    tmp_path: Path, other: list[list[object]]
) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    _sheet(workbook, "Участники", [_person(i) for i in range(3)])
    _headerless(workbook, "Справка", other)
    workbook.close()
    verdict, _, _ = _collect(path)
    assert (verdict.status, verdict.rows_accepted) == ("accepted", 3)
    [note] = verdict.notes
    assert note.startswith("Лист «Справка» не прочитан: на нём нет таблицы участников")


def test_a_template_sheet_with_headers_and_no_rows_is_noted_as_such(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    _sheet(workbook, "Образец", [])
    _sheet(workbook, "Участники", [_person(i) for i in range(3)])
    workbook.close()
    verdict, _, _ = _collect(path)
    assert verdict.notes == (
        "Лист «Образец» не прочитан: на нём есть заголовки из образца, но нет ни одной "
        "строки с участниками.",
    )


def test_a_hidden_participant_sheet_is_called_hidden_once(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Инструкция").write_string(0, 0, "Список на листе «Старый»")
    _sheet(workbook, "Старый", [_person(0)])
    workbook.worksheets()[1].hide()
    workbook.close()
    verdict, _, _ = _collect(path)
    assert verdict.notes[0] == "Участники прочитаны со скрытого листа «Старый»."


# --- the mail never says "nothing to fix" when the file has remarks -----------------------------


def test_a_file_with_remarks_and_no_rejected_rows_asks_to_check_the_remarks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    _sheet(workbook, "Участники", [_person(i) for i in range(3)])
    workbook.add_worksheet("Инструкция").write_string(0, 0, "Заполните лист «Участники»")
    workbook.close()
    verdict, _, _ = _collect(path)
    assert (verdict.status, verdict.rows_rejected, len(verdict.notes)) == ("accepted", 0, 1)
    subject, body = report_mail(verdict, DEADLINE, "ИС-11")
    assert subject == (
        "ИС-11: сведения МОУО 42-05 приняты, отклонено строк: 0. Проверьте замечания к файлу"
    )
    assert "исправлять ничего не нужно" not in body
    assert "Проверьте замечания к файлу" in body
    assert body.index("Замечания к файлу:") < body.index("Проверьте замечания к файлу")


def test_only_a_clean_file_is_told_that_nothing_needs_fixing(tmp_path: Path) -> None:
    verdict, _, _ = _collect(_csv(tmp_path / "a.csv", [_person(i) for i in range(3)]))
    subject, body = report_mail(verdict, DEADLINE, "ИС-11")
    assert subject == "ИС-11: сведения МОУО 42-05 приняты, отклонено строк: 0"
    assert "Все строки приняты, исправлять ничего не нужно." in body
    assert "замечани" not in (subject + body).lower()


# --- 7. formula injection -------------------------------------------------------------------------


def test_a_file_named_like_a_formula_is_text_in_the_report(tmp_path: Path) -> None:
    name = '=HYPERLINK("http:x","y").csv'
    verdict, _, problems = _collect(_csv(tmp_path / name, [_person(0)]))
    assert verdict.file_name == name
    summary = _report(verdict, problems, tmp_path)["Итог"]
    assert summary["A2"].value == "Файл"
    assert (summary["B2"].value, summary["B2"].data_type) == (name, "s")


def test_values_starting_like_a_formula_are_rejected_with_a_russian_reason(
    tmp_path: Path,
) -> None:
    rows = [
        _person(0, class_name='=HYPERLINK("http://x","y")'),
        _person(1, ovz="да", ovz_document="=1+1"),
        _person(2, class_name="-", category="Выпускник прошлых лет"),  # a dash: no formula
        _person(3, class_name="+11А"),
        _person(4, ovz="да", ovz_document="@справка"),
    ]
    verdict, staged, problems = _collect(_csv(tmp_path / "a.csv", rows))
    assert staged is not None
    assert (verdict.rows_accepted, verdict.rows_rejected) == (1, 4)
    assert staged["status"].to_list() == ["rejected", "rejected", "accepted"] + ["rejected"] * 2
    assert problems.select("row_number", "column", "rule").rows() == [
        (1, "Класс", "class_name_plain"),
        (2, "Документ, подтверждающий ОВЗ", "ovz_document_plain"),
        (4, "Класс", "class_name_plain"),
        (5, "Документ, подтверждающий ОВЗ", "ovz_document_plain"),
    ]
    assert problems["message"][0] == (
        "класс: значение начинается со знака «=», так в Excel начинается формула; "
        "запишите значение без этого знака"
    )
    messages = _report(verdict, problems, tmp_path)["Замечания"]
    cells = [cell for row in messages.iter_rows() for cell in row if cell.value is not None]
    assert all(cell.data_type in ("s", "n") for cell in cells)
    assert not any("HYPERLINK" in str(cell.value) for cell in cells)


# --- 8. nothing ignored without a word ----------------------------------------------------------


def test_unknown_and_repeated_columns_are_named_in_the_report_and_the_mail(tmp_path: Path) -> None:
    headers = ["№ п/п", *HEADERS, "Примечание", "СНИЛС"]
    rows = [[str(i), *_person(i), "пометка", "999-999-999 99"] for i in range(2)]
    verdict, _, problems = _collect(_csv(tmp_path / "a.csv", rows, headers))
    assert verdict.status == "accepted"
    assert verdict.notes == (
        "Столбцы не из образца не прочитаны: «№ п/п», «Примечание». Если в них сведения об "
        "участниках, перенесите их в столбцы образца.",
        "Столбцы повторяются: «СНИЛС» — прочитан первый из одинаковых, следующие не прочитаны.",
    )
    mail = _mail(verdict)
    assert "Замечания к файлу:" in mail
    assert all(f"— {note}" in mail for note in verdict.notes)
    summary = _report(verdict, problems, tmp_path)["Итог"]
    noted = [row[1] for row in summary.iter_rows(values_only=True) if row[0] == "Замечание к файлу"]
    assert noted == list(verdict.notes)
    _no_personal_data(mail, [row[1:] for row in rows])


def test_a_column_without_a_header_that_holds_values_is_named_by_its_neighbour(
    tmp_path: Path,
) -> None:
    headers = [*HEADERS[:3], "", *HEADERS[3:]]
    rows = [[*p[:3], "ученик", *p[3:]] for p in (_person(0), _person(1))]
    verdict, _, _ = _collect(_csv(tmp_path / "a.csv", rows, headers))
    assert verdict.rows_accepted == 2
    assert verdict.notes == (
        "Столбец без заголовка (после столбца «Отчество») не прочитан, хотя в нём есть "
        "значения: дайте ему заголовок из образца или удалите его.",
    )


def test_a_hidden_xlsx_row_is_read_checked_and_warned_with_its_excel_row(tmp_path: Path) -> None:
    rows = [_person(i) for i in range(4)]
    path = _xlsx(
        tmp_path / "a.xlsx", {"Участники": rows}, hidden=frozenset({3})
    )  # the 2nd participant
    verdict, staged, problems = _collect(path)
    assert staged is not None
    assert (verdict.rows_read, verdict.rows_accepted, verdict.rows_warned) == (4, 4, 1)
    assert problems.select("row_number", "rule", "severity").rows() == [(2, "row_noted", "warning")]
    assert problems["message"][0].startswith("строка скрыта в Excel")
    sheet = _report(verdict, problems, tmp_path)["Замечания"]
    assert sheet["A2"].value == 3  # the row Excel shows
    assert sheet["D2"].value == "предупреждение"


def test_a_birth_date_typed_as_an_excel_serial_number_is_read_as_the_date(
    tmp_path: Path,
) -> None:
    rows = [
        _person(0, birth_date=36600),  # 15.03.2000 in a General-format cell
        _person(1, birth_date=36600.0),
        _person(2, birth_date="36600"),  # typed as text: the same digits
        _person(3, birth_date=2000),  # a year alone is no date
    ]
    verdict, staged, problems = _collect(_xlsx(tmp_path / "a.xlsx", {"Участники": rows}))
    assert staged is not None
    births = [data["birth_date"] for data in staged["data"].to_list()]
    assert births == ["15.03.2000"] * 3 + ["2000"]
    assert (verdict.rows_accepted, verdict.rows_rejected) == (3, 1)
    assert problems.select("row_number", "rule", "message").rows() == [
        (4, "birth_date_valid", "дата рождения: ожидается ДД.ММ.ГГГГ")
    ]
    # a CSV saved by a Russian Excel writes the number with a decimal comma
    csv_verdict, _, _ = _collect(_csv(tmp_path / "a.csv", [_person(0, birth_date="36600,0")]))
    assert csv_verdict.rows_accepted == 1


def test_report_rows_are_spreadsheet_rows_when_a_quoted_cell_holds_a_line_break(
    tmp_path: Path,
) -> None:
    rows = [
        _person(0, class_name="11\nА"),  # Alt+Enter in a cell: two lines, one row
        _person(1, class_name="11\r\nБ"),
        _person(2, snils="112-233-445 96"),  # a bad СНИЛС on the spreadsheet's row 4
    ]
    path = _csv(tmp_path / "a.csv", rows)
    assert path.read_bytes().count(b"\n") == 6  # on the file's line 6
    verdict, _, problems = _collect(path)
    assert problems.select("row_number", "rule").rows() == [(3, "snils_valid")]
    sheet = _report(verdict, problems, tmp_path)["Замечания"]
    assert sheet["A2"].value == 4
    opened = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert opened[4 - 1][8] == "112-233-445 96"  # row 4 as a spreadsheet opens the file


def test_a_90_year_old_graduate_of_past_years_is_accepted_with_a_warning(tmp_path: Path) -> None:
    graduate = {"category": "Выпускник прошлых лет", "class_name": ""}
    rows = [
        _person(0, birth_date="01.06.1927", **graduate),  # 90 on the exam day
        _person(1, birth_date="01.06.1977", **graduate),  # 40: usual
    ]
    verdict, staged, problems = _collect(_csv(tmp_path / "a.csv", rows))
    assert staged is not None
    assert (verdict.rows_accepted, verdict.rows_rejected, verdict.rows_warned) == (2, 0, 1)
    assert problems.select("row_number", "rule", "severity").rows() == [
        (1, "birth_date_usual", "warning")
    ]
    assert "90 лет — необычен" in problems["message"][0]
    mail = _mail(verdict)
    assert "с предупреждениями: 1" in mail
    assert "исправлять ничего не нужно" not in mail  # a warned row is worth a look


def test_a_clean_file_has_no_notes_and_no_warnings(tmp_path: Path) -> None:
    rows = [_person(i) for i in range(3)]
    for path in (
        _csv(tmp_path / "a.csv", rows),
        _xlsx(tmp_path / "a.xlsx", {"Участники": rows}),
    ):
        verdict, _, problems = _collect(path)
        assert (verdict.rows_accepted, verdict.notes) == (3, ()), path.name
        assert problems.is_empty()
        assert "Замечания к файлу" not in _mail(verdict)


def test_a_report_cell_never_holds_a_formula_whatever_a_note_or_message_says(
    tmp_path: Path,
) -> None:
    verdict = FileVerdict(
        "42-05",
        "=1+1.csv",
        "0" * 64,
        "accepted",
        1,
        1,
        0,
        1,
        notes=('=HYPERLINK("http://x","y")',),
    )
    problems = pl.DataFrame(
        {
            "row_number": [1],
            "column": ["=A1"],
            "rule": ["@rule"],
            "severity": ["warning"],
            "message": ["+1"],
        }
    )
    book = _report(verdict, problems, tmp_path)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
