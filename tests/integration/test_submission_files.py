"""Reading МОУО submission files: CSV in three encodings and three delimiters, XLSX with title
rows and typed cells, renamed columns, bad rows kept with a reason, whole files refused with a
reason the municipality reads, a 50 MB file, and the generator's files read back exactly."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter

from tasks.adapters.region_files import load_regions, write_region
from tasks.adapters.submission_files import (
    SubmissionTable,
    UnreadableSubmission,
    read_submission,
)
from tasks.domain.participants import COLUMN_ALIASES, REQUIRED_FIELDS, SUBMISSION_COLUMNS
from tasks.domain.synthetic_region import GeneratorOptions, SyntheticRegion, generate_region
from tasks.errors import DataError

FIELDS = list(SUBMISSION_COLUMNS)
HEADERS = list(SUBMISSION_COLUMNS.values())
BOM = b"\xef\xbb\xbf"
PEOPLE = [
    [
        "Иванов",
        "Иван",
        "Иванович",
        "М",
        "01.02.2008",
        "паспорт гражданина РФ",
        "3205",
        "123456",
        "112-233-445 95",
        "Обучающийся 11 класса",
        "4205001",
        "11А",
        "сочинение",
        "нет",
        "нет",
        "",
        "1",
    ],
    [
        "Петрова",
        "Алёна",
        "",
        "Ж",
        "15.07.2007",
        "свидетельство о рождении",
        "II-ЛО",
        "654321",
        "987-654-321 00",
        "Выпускник прошлых лет",
        "4205002",
        "",
        "сочинение",
        "нет",
        "нет",
        "",
        "2",
    ],
    [
        "Сидоров-Кузнецов",
        "Пётр",
        "Ильич",
        "М",
        "30.11.2007",
        "паспорт гражданина РФ",
        "3206",
        "000777",
        "001-002-003 04",
        "Обучающийся на дому (санаторий) по медзаключению",
        "4205003",
        "11Б",
        "изложение",
        "да",
        "да",
        "заключение ПМПК",
        "1",
    ],
]


# --- helpers -----------------------------------------------------------------------------------


def _csv_text(rows: list[list[str]], delimiter: str = ";", headers: list[str] = HEADERS) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _expected(rows: list[list[str]], numbers: list[int] | None = None) -> pl.DataFrame:
    """The frame the reader should give for clean `rows` under the standard header."""
    return pl.DataFrame(
        [
            *(pl.Series(f, [row[i] for row in rows], pl.Utf8) for i, f in enumerate(FIELDS)),
            pl.Series("row_number", numbers or range(1, len(rows) + 1), pl.Int64),
            pl.Series("parse_error", [""] * len(rows), pl.Utf8),
            pl.Series("parse_warning", [""] * len(rows), pl.Utf8),
        ]
    )


def _xlsx(
    path: Path,
    rows: Sequence[Sequence[object]],
    headers: list[str] = HEADERS,
    *,
    first_row: int = 0,
    first_column: int = 0,
    title: str | None = None,
    sheet: str = "Участники",
) -> Path:
    """A workbook as office software saves it: dates (datetime values) as date cells, numbers
    as numeric cells, a title merged across the columns above the header if given."""
    workbook = xlsxwriter.Workbook(str(path))
    worksheet = workbook.add_worksheet(sheet)
    date_format = workbook.add_format({"num_format": "dd.mm.yyyy"})
    if title is not None:
        worksheet.merge_range(0, first_column, 1, first_column + len(headers) - 1, title)
    worksheet.write_row(first_row, first_column, headers, workbook.add_format({"bold": True}))
    for index, row in enumerate(rows, start=first_row + 1):
        for column, value in enumerate(row, start=first_column):
            if isinstance(value, datetime):
                worksheet.write_datetime(index, column, value, date_format)
            elif isinstance(value, int | float):
                worksheet.write_number(index, column, value)
            elif value:
                worksheet.write_string(index, column, str(value))
    workbook.close()
    return path


def _unreadable(path: Path) -> str:
    with pytest.raises(UnreadableSubmission) as caught:
        read_submission(path)
    reason = caught.value.reason
    assert isinstance(caught.value, DataError)
    assert reason
    assert any("а" <= c <= "я" for c in reason.lower()), reason  # a Russian sentence
    for person in PEOPLE:  # never a name or СНИЛС of the file in the reason
        assert person[0] not in reason
        assert person[8] not in reason
    return reason


# --- CSV encodings and delimiters --------------------------------------------------------------


def test_a_utf8_csv_with_a_bom_and_commas_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(BOM + _csv_text(PEOPLE, ",").encode("utf-8"))
    table = read_submission(path)
    assert (table.format, table.encoding, table.delimiter, table.header_row) == (
        "csv",
        "utf-8-sig",
        ",",
        1,
    )
    assert table.frame.equals(_expected(PEOPLE))
    assert table.frame.columns[0] == "surname"  # the BOM is not part of the first header
    assert (table.unknown_columns, table.missing_columns) == ((), ())


def test_a_utf8_csv_without_a_bom_is_read(tmp_path: Path) -> None:
    table = read_submission(_write(tmp_path / "a.csv", _csv_text(PEOPLE, ";")))
    assert (table.encoding, table.delimiter) == ("utf-8", ";")
    assert table.frame.equals(_expected(PEOPLE))


def test_a_cp1251_csv_with_semicolons_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", _csv_text(PEOPLE, ";"), "cp1251")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    table = read_submission(path)
    assert (table.encoding, table.delimiter) == ("cp1251", ";")
    assert table.frame.equals(_expected(PEOPLE))
    assert table.frame["name"][1] == "Алёна"


def test_a_tab_separated_file_is_read(tmp_path: Path) -> None:
    table = read_submission(_write(tmp_path / "a.txt", _csv_text(PEOPLE, "\t"), "cp1251"))
    assert (table.encoding, table.delimiter) == ("cp1251", "\t")
    assert table.frame.equals(_expected(PEOPLE))


def test_quoted_fields_keep_embedded_delimiters_quotes_and_line_breaks(tmp_path: Path) -> None:
    rows = [list(person) for person in PEOPLE]
    rows[0][9] = "Обучающийся 11 класса; кадетский корпус"
    rows[1][15] = 'справка "МСЭ"'
    rows[2][11] = "11\nБ"  # Alt+Enter in a cell
    path = _write(tmp_path / "a.csv", _csv_text(rows, ";"))
    assert '"Обучающийся 11 класса; кадетский корпус"' in path.read_text(encoding="utf-8")
    table = read_submission(path)
    assert table.frame.equals(_expected(rows))


def test_rows_are_numbered_as_a_spreadsheet_shows_them_under_quoted_line_breaks(
    tmp_path: Path,
) -> None:
    rows = [list(person) for person in PEOPLE]
    rows[0][11] = "11\nА"  # Alt+Enter in a cell: two lines of the file, one row of Excel
    rows[1][15] = "справка\r\nМСЭ\r\nот 01.09.2017"
    headers = list(HEADERS)
    headers[15] = "Документ,\nподтверждающий ОВЗ"  # a header cell with a line break too
    text = "Сведения об участниках;;;\n" + _csv_text(rows, ";", headers)
    table = read_submission(_write(tmp_path / "a.csv", text))
    assert table.header_row == 2  # the header's row, not its last line (3)
    assert table.frame["row_number"].to_list() == [1, 2, 3]  # lines 4, 6 and 9 of the file
    assert table.frame["class_name"][0] == "11\nА"
    opened = list(csv.reader(io.StringIO(text), delimiter=";"))  # as a spreadsheet opens it
    for row in table.frame.iter_rows(named=True):
        assert opened[table.header_row + row["row_number"] - 1][0] == row["surname"]


def test_a_row_with_another_delimiter_gets_a_parse_error_and_the_rest_are_read(
    tmp_path: Path,
) -> None:
    lines = _csv_text(PEOPLE, ";").splitlines()
    lines[2] = ",".join(PEOPLE[1])  # one school's row pasted from a comma file
    table = read_submission(_write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    assert table.delimiter == ";"
    assert table.frame["row_number"].to_list() == [1, 2, 3]
    errors = table.frame["parse_error"].to_list()
    assert errors[0] == errors[2] == ""
    assert errors[1].startswith("в строке 1 поле вместо 17")
    assert "«,»" in errors[1]  # the likely cause, for the МОУО
    good = table.frame.filter(pl.col("parse_error") == "")
    assert good.equals(_expected([PEOPLE[0], PEOPLE[2]], [1, 3]))


def test_rows_with_too_few_or_too_many_fields_are_kept_with_a_reason(tmp_path: Path) -> None:
    lines = _csv_text(PEOPLE, ";").splitlines()
    lines[1] = ";".join(PEOPLE[0][:7])
    lines[2] = ";".join([*PEOPLE[1], "лишнее"])
    lines[3] = ";".join([*PEOPLE[2], "", ""])  # empty cells past the header: no error
    table = read_submission(_write(tmp_path / "a.csv", "\n".join(lines)))  # no final newline
    frame = table.frame
    assert frame["parse_error"].to_list() == [
        "в строке 7 полей вместо 17",
        "в строке 18 полей вместо 17",
        "",
    ]
    short = frame.row(0, named=True)
    assert [short[f] for f in FIELDS[:7]] == PEOPLE[0][:7]  # filled as far as they go
    assert all(short[f] == "" for f in FIELDS[7:])
    assert [frame.row(1, named=True)[f] for f in FIELDS] == PEOPLE[1]
    assert [frame.row(2, named=True)[f] for f in FIELDS] == PEOPLE[2]


def test_an_unpaired_quote_spoils_only_its_own_row(tmp_path: Path) -> None:
    lines = _csv_text(PEOPLE, ";").splitlines()
    lines[1] = lines[1].replace("Иванов;", '"Иванов;', 1)  # a quote that never closes
    table = read_submission(_write(tmp_path / "a.csv", "\n".join(lines) + "\n"))
    frame = table.frame
    assert frame["row_number"].to_list() == [1, 2, 3]
    assert "непарная кавычка" in frame["parse_error"][0]
    assert frame["surname"][0] == '"Иванов'
    assert frame.slice(1).equals(_expected(PEOPLE[1:], [2, 3]))


def test_blank_lines_are_skipped_but_counted_so_row_numbers_match_the_file(
    tmp_path: Path,
) -> None:
    lines = _csv_text(PEOPLE, ";").splitlines()
    text = "\n".join(
        [
            "Сведения об участниках итогового сочинения;;;",  # a title line above the header
            "",
            lines[0],
            lines[1],
            "",
            ";;;;;;;;;;;;;;;;",  # a blank row as Excel exports it
            lines[2],
            lines[3],
            "",
        ]
    )
    table = read_submission(_write(tmp_path / "a.csv", text))
    assert table.header_row == 3
    assert table.frame.equals(_expected(PEOPLE, [1, 4, 5]))
    file_lines = text.split("\n")
    for row in table.frame.iter_rows(named=True):  # line = header_row + row_number
        assert file_lines[table.header_row + row["row_number"] - 1].startswith(row["surname"])


# --- columns -----------------------------------------------------------------------------------


def test_renamed_columns_are_recognised_by_their_aliases_and_spelling_noise(
    tmp_path: Path,
) -> None:
    headers = [
        "ФАМИЛИЯ УЧАСТНИКА*",
        " Имя ",
        "Отчество (при наличии)",
        "Пол¹",
        "Дата рождения (ДД.ММ.ГГГГ)",
        "Тип документа, удостоверяющего личность",
        "Серия",
        "Номер:",
        "СНИЛС участника",
        "Категория",
        "Код образовательной организации",
        "Класс (с литерой)",  # a note in parentheses no alias has
        "Форма участия",
        "Устная  форма",
        "ОВЗ",
        "Документ, подтверждающий ОВЗ",
        "Номер попытки",
    ]
    table = read_submission(_write(tmp_path / "a.csv", _csv_text(PEOPLE, ";", headers)))
    assert table.frame.equals(_expected(PEOPLE))
    assert table.unknown_columns == ()


@pytest.mark.parametrize(
    ("field", "alias"),
    [(field, alias) for field, aliases in COLUMN_ALIASES.items() for alias in aliases],
)
def test_every_alias_names_its_field(tmp_path: Path, field: str, alias: str) -> None:
    headers = [alias if f == field else SUBMISSION_COLUMNS[f] for f in FIELDS]
    table = read_submission(_write(tmp_path / "a.csv", _csv_text(PEOPLE, ";", headers)))
    assert table.frame[field].to_list() == [person[FIELDS.index(field)] for person in PEOPLE]
    assert table.unknown_columns == ()


def test_the_alias_table_knows_every_field_and_nothing_else() -> None:
    assert set(COLUMN_ALIASES) <= set(SUBMISSION_COLUMNS)
    assert set(REQUIRED_FIELDS) <= set(SUBMISSION_COLUMNS)
    assert set(SUBMISSION_COLUMNS) - set(REQUIRED_FIELDS) == {
        "patronymic",
        "class_name",
        "oral",
        "ovz",
        "ovz_document",
        "attempt",
    }


def test_extra_columns_are_ignored_and_reported(tmp_path: Path) -> None:
    headers = ["№ п/п", *HEADERS[:5], "Примечание", *HEADERS[5:], "СНИЛС"]
    rows = [[str(i), *p[:5], "пометка", *p[5:], "999-999-999 99"] for i, p in enumerate(PEOPLE)]
    table = read_submission(_write(tmp_path / "a.csv", _csv_text(rows, ";", headers)))
    assert table.frame.equals(_expected(PEOPLE))  # the second СНИЛС column is not read
    assert table.unknown_columns == ("№ п/п", "Примечание", "СНИЛС")
    assert table.missing_columns == ()
    assert table.notes == (  # said to the МОУО, not only ignored
        "Столбцы не из образца не прочитаны: «№ п/п», «Примечание». Если в них сведения об "
        "участниках, перенесите их в столбцы образца.",
        "Столбцы повторяются: «СНИЛС» — прочитан первый из одинаковых, следующие не прочитаны.",
    )


def test_an_empty_column_without_a_header_is_no_note(tmp_path: Path) -> None:
    headers = [*HEADERS[:3], "", *HEADERS[3:]]
    rows = [[*p[:3], "", *p[3:]] for p in PEOPLE]
    table = read_submission(_write(tmp_path / "a.csv", _csv_text(rows, ";", headers)))
    assert table.frame.equals(_expected(PEOPLE))
    assert table.notes == ()


def test_missing_optional_columns_are_reported_and_absent_from_the_frame(tmp_path: Path) -> None:
    keep = [f for f in FIELDS if f not in ("patronymic", "ovz_document", "attempt")]
    rows = [[p[FIELDS.index(f)] for f in keep] for p in PEOPLE]
    headers = [SUBMISSION_COLUMNS[f] for f in keep]
    table = read_submission(_write(tmp_path / "a.csv", _csv_text(rows, ";", headers)))
    assert table.missing_columns == ("patronymic", "ovz_document", "attempt")
    assert table.notes == (
        "В файле нет необязательных столбцов «Отчество», «Документ, подтверждающий ОВЗ», "
        "«Номер попытки»: их значения считаются незаполненными.",
    )
    assert table.frame.columns == [*keep, "row_number", "parse_error", "parse_warning"]
    assert table.frame.equals(
        _expected(PEOPLE).select(*keep, "row_number", "parse_error", "parse_warning")
    )


def test_a_missing_required_column_refuses_the_file_naming_it(tmp_path: Path) -> None:
    drop = {"sex", "snils"}
    keep = [f for f in FIELDS if f not in drop]
    rows = [[p[FIELDS.index(f)] for f in keep] for p in PEOPLE]
    path = _write(tmp_path / "a.csv", _csv_text(rows, ";", [SUBMISSION_COLUMNS[f] for f in keep]))
    reason = _unreadable(path)
    assert "«Пол», «СНИЛС»" in reason


def test_a_single_full_name_column_is_explained(tmp_path: Path) -> None:
    headers = ["ФИО", *HEADERS[3:]]
    rows = [[" ".join(p[:3]), *p[3:]] for p in PEOPLE]
    reason = _unreadable(_write(tmp_path / "a.csv", _csv_text(rows, ";", headers)))
    assert "«Фамилия», «Имя»" in reason
    assert "трёх отдельных столбцах" in reason


def test_a_file_without_a_recognisable_header_is_refused(tmp_path: Path) -> None:
    rows = [";".join(p) for p in PEOPLE]  # data without any header
    reason = _unreadable(_write(tmp_path / "a.csv", "\n".join(rows) + "\n"))
    assert "Не найдена строка заголовков" in reason


# --- XLSX --------------------------------------------------------------------------------------


def _typed(person: list[str]) -> list[object]:
    """The row as Excel keeps it when typed: a date cell for the birth date."""
    row: list[object] = list(person)
    row[4] = datetime.strptime(person[4], "%d.%m.%Y")  # noqa: DTZ007 — Excel dates have no zone
    return row


def test_an_xlsx_is_read_with_date_cells_as_dd_mm_yyyy(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "a.xlsx", [_typed(p) for p in PEOPLE])
    table = read_submission(path)
    assert (table.format, table.encoding, table.delimiter, table.header_row) == (
        "xlsx",
        None,
        None,
        1,
    )
    assert table.frame.equals(_expected(PEOPLE))


def test_an_xlsx_header_under_merged_title_rows_is_found(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "a.xlsx",
        [_typed(p) for p in PEOPLE],
        first_row=3,
        first_column=1,
        title="Сведения об участниках итогового сочинения, МОУО 42-05",
    )
    table = read_submission(path)
    assert table.header_row == 4
    assert table.frame.equals(_expected(PEOPLE))


def test_numeric_xlsx_cells_lose_no_zeros_and_text_cells_stay_as_typed(tmp_path: Path) -> None:
    rows = [_typed(p) for p in PEOPLE]
    rows[0][8] = 1002003004  # СНИЛС 010-020-030 04 typed as a number: Excel drops the zero
    rows[0][6], rows[0][7] = 205, 1234  # passport series 0205 and number 001234 as numbers
    rows[0][10], rows[0][16] = 4205001, 1.0  # numbers shown without ".0"
    rows[1][8] = "1002003004"  # the same digits typed as text: the МОУО's own error, kept
    rows[1][6] = 12  # not a passport (birth certificate): a numeric series is not padded
    rows[2][4] = "30.11.2007"  # a date typed as text
    table = read_submission(_xlsx(tmp_path / "a.xlsx", rows))
    first, second, third = table.frame.iter_rows(named=True)
    assert first["snils"] == "01002003004"
    assert (first["document_series"], first["document_number"]) == ("0205", "001234")
    assert (first["school_code"], first["attempt"]) == ("4205001", "1")
    assert second["snils"] == "1002003004"
    assert second["document_series"] == "12"
    assert third["birth_date"] == "30.11.2007"
    assert [first["birth_date"], second["birth_date"]] == ["01.02.2008", "15.07.2007"]


def test_the_sheet_named_participants_is_read_when_there_are_several(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Инструкция").write(0, 0, "Заполните лист «Участники»")
    sheet = workbook.add_worksheet("Участники")
    sheet.write_row(0, 0, HEADERS)
    for index, person in enumerate(PEOPLE, start=1):
        sheet.write_row(index, 0, person)
    workbook.close()
    assert read_submission(path).frame.equals(_expected(PEOPLE))


def _workbook(path: Path, sheets: dict[str, list[list[str]]], hide: bool = False) -> Path:
    """Sheets of participants under the standard header; `hide` hides each sheet but the first."""
    workbook = xlsxwriter.Workbook(str(path))
    for index, (name, people) in enumerate(sheets.items()):
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, HEADERS)
        for row, person in enumerate(people, start=1):
            sheet.write_row(row, 0, person)
        if hide and index:
            sheet.hide()
    workbook.close()
    return path


def test_participant_tables_on_several_sheets_refuse_the_file_naming_them(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "a.xlsx", {"Школа 1": PEOPLE[:1], "Школа 2": PEOPLE[1:]})
    reason = _unreadable(path)
    assert reason.startswith(
        "Таблицы участников найдены на нескольких листах: «Школа 1», «Школа 2»"
    )
    path = _workbook(tmp_path / "b.xlsx", {"Участники": PEOPLE[:1], "Старый": PEOPLE}, hide=True)
    assert "«Участники», «Старый» (скрытый)" in _unreadable(path)


def test_the_one_participant_table_is_read_from_any_sheet_and_other_sheets_are_noted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Инструкция").write(0, 0, "Заполните лист 2")
    workbook.add_worksheet("Пустой")
    headers_only = workbook.add_worksheet("Образец")
    headers_only.write_row(0, 0, HEADERS)  # the template's header without participants
    sheet = workbook.add_worksheet("Лист2")
    sheet.write_row(0, 0, HEADERS)
    for index, person in enumerate(PEOPLE, start=1):
        sheet.write_row(index, 0, person)
    workbook.close()
    table = read_submission(path)
    assert table.frame.equals(_expected(PEOPLE))
    assert [note.split(":")[0] for note in table.notes] == [
        "Лист «Инструкция» не прочитан",
        "Лист «Образец» не прочитан",
    ]


def _headerless_sheet(workbook: xlsxwriter.Workbook, name: str, rows: list[list[object]]) -> None:
    """Participants without a header row, typed as office software keeps them: a date cell for
    the birth date, the СНИЛС and the codes as numbers."""
    sheet = workbook.add_worksheet(name)
    date_format = workbook.add_format({"num_format": "dd.mm.yyyy"})
    for index, row in enumerate(rows):
        for column, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(index, column, value, date_format)
            elif isinstance(value, int):
                sheet.write_number(index, column, value)
            elif value:
                sheet.write_string(index, column, str(value))


def _as_numbers(person: list[str]) -> list[object]:
    row = _typed(person)
    row[8] = int(person[8].replace("-", "").replace(" ", ""))  # the СНИЛС typed as a number
    row[10] = int(person[10])
    return row


def test_participant_rows_on_a_sheet_without_a_header_refuse_the_file_naming_the_sheets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    table = workbook.add_worksheet("Лист1")
    table.write_row(0, 0, HEADERS)
    table.write_row(1, 0, PEOPLE[0])
    _headerless_sheet(workbook, "Лист2", [_as_numbers(p) for p in PEOPLE[1:]])
    workbook.worksheets()[1].hide()
    workbook.close()
    reason = _unreadable(path)
    assert "на листе «Лист1» — таблица с заголовками из образца" in reason
    assert "на листе «Лист2» (скрытый) — строки участников без строки заголовков" in reason


def test_participant_rows_without_a_header_on_two_sheets_are_named_together(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Инструкция").write(0, 0, "Заполните список")
    _headerless_sheet(workbook, "Школа 1", [_as_numbers(PEOPLE[0])])
    _headerless_sheet(workbook, "Школа 2", [list(p) for p in PEOPLE[1:]])
    workbook.close()
    assert _unreadable(path) == (
        "На листах «Школа 1», «Школа 2» строки участников без строки заголовков: программа "
        "не может узнать, что в каком столбце. Перенесите всех на один лист, вставьте над "
        "ними строку заголовков из образца и отправьте файл снова."
    )


def test_a_single_sheet_without_a_header_keeps_the_no_header_reason(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    _headerless_sheet(workbook, "Лист1", [list(p) for p in PEOPLE])
    workbook.close()
    assert _unreadable(path).startswith("Не найдена строка заголовков")


def test_hidden_xlsx_rows_are_read_with_a_warning(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "a.xlsx", [_typed(p) for p in PEOPLE], first_row=2, title="Список")
    book = openpyxl.load_workbook(path)  # a second writer: «hidden» as openpyxl writes it
    book.active.row_dimensions[5].hidden = True  # the second participant (header on row 3)
    book.save(path)
    table = read_submission(path)
    assert table.header_row == 3
    assert table.frame["row_number"].to_list() == [1, 2, 3]
    warnings = table.frame["parse_warning"].to_list()
    assert warnings[0] == warnings[2] == ""
    assert warnings[1].startswith("строка скрыта в Excel")
    assert (table.frame["parse_error"] == "").all()


def test_empty_xlsx_rows_are_skipped_but_counted(tmp_path: Path) -> None:
    rows: list[list[object]] = [_typed(PEOPLE[0]), [], _typed(PEOPLE[1]), _typed(PEOPLE[2])]
    rows += [[""] * 17, [" "] * 3]  # fully empty rows at the end
    table = read_submission(_xlsx(tmp_path / "a.xlsx", rows))
    assert table.frame.equals(_expected(PEOPLE, [1, 3, 4]))


def test_a_csv_named_file_that_is_really_xlsx_is_read_as_xlsx(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "a.xlsx", [_typed(p) for p in PEOPLE])
    disguised = tmp_path / "Участники.csv"
    disguised.write_bytes(path.read_bytes())
    table = read_submission(disguised)
    assert (table.format, table.encoding, table.path) == ("xlsx", None, disguised)
    assert table.frame.equals(_expected(PEOPLE))


def test_an_xlsx_header_without_data_rows_is_refused(tmp_path: Path) -> None:
    reason = _unreadable(_xlsx(tmp_path / "a.xlsx", []))
    assert "нет ни одной строки" in reason


def test_an_xlsx_missing_a_required_column_is_refused(tmp_path: Path) -> None:
    reason = _unreadable(_xlsx(tmp_path / "a.xlsx", [p[1:] for p in PEOPLE], HEADERS[1:]))
    assert "«Фамилия»" in reason


# --- text noise --------------------------------------------------------------------------------


def test_whitespace_and_no_break_spaces_are_cleaned(tmp_path: Path) -> None:
    rows = [list(person) for person in PEOPLE]
    rows[0][0] = "  Иванов\u00a0"
    rows[0][1] = "\tИван "
    rows[1][1] = "Алёна\u00a0Мария"
    rows[1][8] = "\u00a0987-654-321\u00a000\u200b"
    rows[2][10] = " 4205003 "
    path = _write(tmp_path / "a.csv", _csv_text(rows, ";", [f" {h}\u00a0" for h in HEADERS]))
    frame = read_submission(path).frame
    assert frame["surname"][0] == "Иванов"
    assert frame["name"].to_list() == ["Иван", "Алёна Мария", "Пётр"]
    assert frame["snils"][1] == "987-654-321 00"
    assert frame["school_code"][2] == "4205003"


def test_latin_look_alikes_pass_through_unchanged(tmp_path: Path) -> None:
    rows = [list(person) for person in PEOPLE]
    rows[0][0] = "Ивaнов"  # Latin "a"
    rows[1][0] = "Пeтpoва"  # Latin "e", "p", "o"
    rows[2][3] = "M"  # Latin "M"
    for path in (
        _write(tmp_path / "a.csv", _csv_text(rows, ";")),
        _xlsx(tmp_path / "a.xlsx", rows),
    ):
        frame = read_submission(path).frame
        assert frame["surname"].to_list() == ["Ивaнов", "Пeтpoва", PEOPLE[2][0]]
        assert frame["sex"][2] == "M"
        assert frame["surname"][0] != PEOPLE[0][0]


# --- whole files refused -----------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \r\n\t\n"], ids=["zero-bytes", "whitespace"])
def test_an_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(content)
    assert "пустой" in _unreadable(path)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251"])
def test_a_header_only_csv_is_refused(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path / "a.csv", _csv_text([], ";") + ";;;\n\n", encoding)
    assert "нет ни одной строки" in _unreadable(path)


def test_a_truncated_xlsx_is_refused(tmp_path: Path) -> None:
    whole = _xlsx(tmp_path / "a.xlsx", [_typed(p) for p in PEOPLE]).read_bytes()
    path = tmp_path / "b.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    assert "обрезан" in _unreadable(path)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (bytes(range(256)) * 40, "не текстовый"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, ".doc/.xls"),
        ("Фамилия;Имя".encode("utf-16"), "UTF-16"),
    ],
    ids=["random-bytes", "pdf", "doc", "utf-16"],
)
def test_a_file_of_another_format_is_refused(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(content)
    assert words in _unreadable(path)


def test_text_in_no_known_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(_csv_text(PEOPLE, ";").encode("cp1251") + b"\x98\n")  # 0x98: not CP1251
    assert "ни в кодировке UTF-8, ни в Windows-1251" in _unreadable(path)


def test_utf8_with_lines_in_another_encoding_is_refused_naming_the_line(tmp_path: Path) -> None:
    head = _csv_text(PEOPLE[:2], ";").encode("utf-8")
    tail = (";".join(PEOPLE[2]) + "\r\n").encode("cp1251")  # a school's file pasted in
    path = tmp_path / "a.csv"
    path.write_bytes(head + tail)
    assert "строка 4" in _unreadable(path)


# --- a large file ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_50_mb_csv_is_read_completely(tmp_path: Path) -> None:
    block = _csv_text(PEOPLE, ";").split("\r\n", 1)[1]  # data lines only
    copies = math.ceil(50_000_000 / len(block.encode("cp1251")))
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:
        handle.write(_csv_text([], ";").encode("cp1251"))
        for _ in range(copies):
            handle.write(block.encode("cp1251"))
    assert path.stat().st_size >= 50_000_000
    table = read_submission(path)
    rows = copies * len(PEOPLE)
    assert table.frame.height == rows > 300_000
    assert table.frame["row_number"].to_list() == list(range(1, rows + 1))
    assert (table.frame["parse_error"] == "").all()
    expected = _expected(PEOPLE * copies)
    assert table.frame.equals(expected)


# --- the generator's files ---------------------------------------------------------------------


def _options() -> GeneratorOptions:
    # 2800 participants give four МОУО; the last is silent, so each format is written once.
    return GeneratorOptions(
        participants=2800,
        seed=5,
        region=load_regions()["42"],
        exam_date=date(2025, 12, 3),
        error_rate=0.1,
        silent_mouos=1,
    )


@pytest.fixture(scope="module")
def region() -> SyntheticRegion:
    return generate_region(_options())


@pytest.fixture(scope="module")
def written(region: SyntheticRegion, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("region")
    write_region(region, root)
    return root


def _generated(written: Path, fmt: str) -> tuple[str, SubmissionTable]:
    manifest = pl.read_json(written / "manifest.json")
    formats: dict[str, str] = manifest["submission_formats"][0]
    files: dict[str, str] = manifest["files"][0]
    (mouo,) = [code for code, f in formats.items() if f == fmt]
    (name,) = [n for n in files if n.startswith(f"submissions/{mouo}/")]
    return mouo, read_submission(written / name)


@pytest.mark.parametrize(
    ("fmt", "encoding", "delimiter"),
    [("csv-utf8", "utf-8-sig", ","), ("csv-cp1251", "cp1251", ";"), ("xlsx", None, None)],
)
def test_every_generated_file_reads_back_to_its_submission_rows(
    region: SyntheticRegion, written: Path, fmt: str, encoding: str | None, delimiter: str | None
) -> None:
    mouo, table = _generated(written, fmt)
    assert (table.encoding, table.delimiter, table.header_row) == (encoding, delimiter, 1)
    assert (table.unknown_columns, table.missing_columns) == ((), ())
    expected = (
        region.submissions.filter(pl.col("mouo_code") == mouo)
        .select(*FIELDS, pl.col("row_number").cast(pl.Int64))
        .with_columns(pl.lit("").alias("parse_error"), pl.lit("").alias("parse_warning"))
    )
    assert table.notes == ()  # the generator writes the template: nothing to remark on
    assert expected.height > 100
    assert table.frame.equals(expected)


def test_injected_errors_point_at_the_rows_as_read(region: SyntheticRegion, written: Path) -> None:
    errors = pl.read_csv(written / "injected_errors.csv", infer_schema=False)
    checked = 0
    for fmt in ("csv-utf8", "csv-cp1251", "xlsx"):
        mouo, table = _generated(written, fmt)
        rows = {row["row_number"]: row for row in table.frame.iter_rows(named=True)}
        for error in errors.filter(pl.col("mouo_code") == mouo).iter_rows(named=True):
            row = rows[int(error["row_number"])]
            if error["error"] == "missing_name":
                assert row["name"] == ""
                checked += 1
            elif error["error"] == "latin_lookalike":  # passed through as written
                assert any(c.isascii() and c.isalpha() for c in row["surname"])
                checked += 1
            elif error["error"] == "unknown_category":
                assert row["category"] == "Экстерн"
                checked += 1
    assert checked > 0
