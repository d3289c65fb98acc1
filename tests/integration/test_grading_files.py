"""Grading files (tasks/adapters/grading_files.py): the school year's rules from config/grading/,
the schools' expert protocols read from CSV (UTF-8 or Windows-1251, `;` or `,`) and XLSX, files
that cannot be read refused with a reason the school can act on, and the rejected rows' report."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
import xlsxwriter
import yaml

from tasks.adapters.grading_files import (
    GRADING_DIR,
    UnreadableProtocol,
    grading_rules,
    read_protocol,
    write_rejected_rows,
)
from tasks.domain.evaluation_rules import PROTOCOL_COLUMNS
from tasks.domain.identifiers import make_work_code
from tasks.errors import ConfigError, DataError

pytestmark = pytest.mark.integration

HEADERS = list(PROTOCOL_COLUMNS.values())
FIELDS = ["row_number", *PROTOCOL_COLUMNS]
KEMEROVO = make_work_code("42", 2017, 1, 1)
KALMYKIA = make_work_code("08", 2017, 1, 2)  # leading zero: lost when typed in as a number
ROWS = [
    [KEMEROVO, "Э-01", "зачет", "зачет", "зачет", "зачет", "незачет", "зачет", "зачет", "зачет"],
    [KALMYKIA, "Э-02", "незачет", "зачет", *["незачет"] * 6],
]


def _expected(rows: list[list[str]] = ROWS, first: int = 2) -> list[dict[str, object]]:
    return [
        {"row_number": n, **dict(zip(PROTOCOL_COLUMNS, row, strict=True))}
        for n, row in enumerate(rows, start=first)
    ]


def _csv(
    path: Path,
    rows: Sequence[Sequence[str]],
    delimiter: str,
    encoding: str,
    headers: Sequence[str] = HEADERS,
) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows([headers, *rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _xlsx(path: Path, rows: Sequence[Sequence[object]], headers: Sequence[str] = HEADERS) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Протокол")
    sheet.write_row(0, 0, headers)
    for index, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if isinstance(value, int | float):
                sheet.write_number(index, column, value)
            elif value:
                sheet.write_string(index, column, str(value))
    workbook.close()
    return path


def _unreadable(path: Path) -> str:
    with pytest.raises(UnreadableProtocol) as caught:
        read_protocol(path)
    assert isinstance(caught.value, DataError)
    return caught.value.reason


# --- the rules of a school year --------------------------------------------------------------


def test_the_rules_of_2017_18_need_250_words_for_an_essay_and_150_for_an_exposition() -> None:
    rules = grading_rules("2017/18")
    assert rules.school_year == "2017/18"
    assert rules.requirements == ("requirement_1", "requirement_2")
    assert (rules.form("essay").min_words, rules.form("exposition").min_words) == (250, 150)
    for form in ("essay", "exposition"):
        rule = rules.form(form)
        assert (rule.all_of, rule.any_of, rule.at_least) == (("k1", "k2"), ("k3", "k4", "k5"), 1)
    assert grading_rules("2017/18") is rules  # read once per process


def test_a_school_year_without_rules_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="2031/32"):
        grading_rules("2031/32")


def test_a_rules_file_holding_another_year_is_a_config_error(tmp_path: Path) -> None:
    data = yaml.safe_load((GRADING_DIR / "2017-18.yaml").read_text(encoding="utf-8"))
    (tmp_path / "2018-19.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="not 2018/19"):
        grading_rules("2018/19", tmp_path)


def test_an_unparsable_rules_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "2018-19.yaml").write_text("forms: [essay", encoding="utf-8")
    with pytest.raises(ConfigError, match="unreadable"):
        grading_rules("2018/19", tmp_path)


# --- protocols that are read -----------------------------------------------------------------


def test_a_utf8_csv_with_semicolons_is_read_with_the_line_of_each_row(tmp_path: Path) -> None:
    frame = read_protocol(_csv(tmp_path / "4201001.csv", ROWS, ";", "utf-8"))
    assert frame.columns == FIELDS
    assert frame.to_dicts() == _expected()


def test_a_utf8_csv_with_a_bom_is_read(tmp_path: Path) -> None:
    frame = read_protocol(_csv(tmp_path / "4201001.csv", ROWS, ";", "utf-8-sig"))
    assert frame.to_dicts() == _expected()


def test_a_windows_1251_csv_with_commas_is_read(tmp_path: Path) -> None:
    path = _csv(tmp_path / "4201001.csv", ROWS, ",", "cp1251")
    assert "Код работы".encode("cp1251") in path.read_bytes()
    assert read_protocol(path).to_dicts() == _expected()


def test_an_xlsx_with_work_codes_typed_as_numbers_gets_the_leading_zeros_back(
    tmp_path: Path,
) -> None:
    typed = [[int(KEMEROVO), *ROWS[0][1:]], [int(KALMYKIA), *ROWS[1][1:]]]
    assert len(str(typed[1][0])) == 11
    frame = read_protocol(_xlsx(tmp_path / "4201001.xlsx", typed))
    assert frame["work_code"].to_list() == [KEMEROVO, KALMYKIA]
    assert frame.to_dicts() == _expected()


def test_an_xlsx_with_marks_typed_as_1_and_0_keeps_them_as_whole_numbers(tmp_path: Path) -> None:
    frame = read_protocol(
        _xlsx(tmp_path / "4201001.xlsx", [[KEMEROVO, "Э-01", 1, 0, 1, 1, 1, 1, 1, 0]])
    )
    assert frame.row(0) == (2, KEMEROVO, "Э-01", "1", "0", "1", "1", "1", "1", "1", "0")


@pytest.mark.parametrize(
    "headers",
    [
        [h.upper() for h in HEADERS],
        [h.lower() for h in HEADERS],
        ["  Код   работы ", "Экспёрт", "Трёбование 1", *HEADERS[3:]],
        ["КОД РАБОТЫ", "ЭКСПЁРТ", *HEADERS[2:]],
    ],
    ids=["upper-case", "lower-case", "spaces-and-ё", "upper-case-Ё"],
)
def test_headers_are_matched_whatever_their_case_spaces_or_ё(
    tmp_path: Path, headers: list[str]
) -> None:
    frame = read_protocol(_csv(tmp_path / "a.csv", ROWS, ";", "utf-8", headers))
    assert frame.to_dicts() == _expected()


def test_columns_in_another_order_and_unknown_columns_are_accepted(tmp_path: Path) -> None:
    order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    headers = [HEADERS[i] for i in order] + ["Примечание"]
    rows = [[row[i] for i in order] + ["проверено"] for row in ROWS]
    assert read_protocol(_csv(tmp_path / "a.csv", rows, ";", "utf-8", headers)).to_dicts() == (
        _expected()
    )


def test_the_expert_column_is_optional(tmp_path: Path) -> None:
    headers = [h for h in HEADERS if h != "Эксперт"]
    rows = [[v for i, v in enumerate(row) if i != 1] for row in ROWS]
    frame = read_protocol(_csv(tmp_path / "a.csv", rows, ";", "utf-8", headers))
    assert frame["expert"].to_list() == ["", ""]
    assert frame["work_code"].to_list() == [KEMEROVO, KALMYKIA]


def test_blank_lines_are_skipped_and_rows_keep_their_line_numbers(tmp_path: Path) -> None:
    rows = [ROWS[0], [""] * 10, [], ROWS[1]]
    frame = read_protocol(_csv(tmp_path / "a.csv", rows, ";", "utf-8"))
    assert frame["row_number"].to_list() == [2, 5]


def test_short_rows_leave_missing_cells_empty_and_cells_are_stripped(tmp_path: Path) -> None:
    rows = [[f" {KEMEROVO} ", " Э-01 ", " зачет "]]
    frame = read_protocol(_csv(tmp_path / "a.csv", rows, ";", "utf-8"))
    assert frame.row(0) == (2, KEMEROVO, "Э-01", "зачет", *[""] * 7)


def test_a_protocol_with_only_its_header_has_no_rows(tmp_path: Path) -> None:
    for path in (_csv(tmp_path / "a.csv", [], ";", "utf-8"), _xlsx(tmp_path / "a.xlsx", [])):
        frame = read_protocol(path)
        assert frame.columns == FIELDS
        assert frame.is_empty()


# --- protocols that are refused --------------------------------------------------------------


def test_a_missing_column_is_named_with_the_headers_expected(tmp_path: Path) -> None:
    headers = [h for h in HEADERS if h != "Требование 2"]
    rows = [[v for i, v in enumerate(row) if i != 3] for row in ROWS]
    reason = _unreadable(_csv(tmp_path / "a.csv", rows, ";", "utf-8", headers))
    assert reason.startswith("В первой строке нет столбцов: «Требование 2».")
    assert "Заголовки протокола: Код работы; Эксперт; Требование 1;" in reason


def test_several_missing_columns_are_all_named_in_the_protocols_order(tmp_path: Path) -> None:
    headers = ["К5", "Эксперт", "К1"]
    reason = _unreadable(_csv(tmp_path / "a.csv", [], ";", "utf-8", headers))
    assert reason.startswith(
        "В первой строке нет столбцов: «Код работы», «Требование 1», «Требование 2», «К2», "
        "«К3», «К4», «Результат»."
    )
    assert "«Эксперт»" not in reason.split(".")[0]


def test_a_missing_column_in_an_xlsx_is_named(tmp_path: Path) -> None:
    headers = [h for h in HEADERS if h != "Результат"]
    reason = _unreadable(_xlsx(tmp_path / "a.xlsx", [], headers))
    assert reason.startswith("В первой строке нет столбцов: «Результат».")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"], ids=["empty", "only-a-bom"])
def test_an_empty_file_is_refused_as_empty(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(content)
    assert _unreadable(path) == "Файл пуст: нет строки заголовков протокола."


def test_an_empty_workbook_is_refused_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet()
    workbook.close()
    assert _unreadable(path) == "Файл пуст: нет строки заголовков протокола."


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


BINARY_FILES = {
    "docx": (_docx(), "Файл — документ Word (DOCX), а не протокол."),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "Файл — документ PDF, а не протокол."),
    "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "Файл — изображение PNG, а не протокол."),
    "random-bytes": (bytes(range(256)) * 8, "Файл не текстовый и не XLSX"),
    "utf-16": ("Код работы;К1".encode("utf-16"), "Файл в кодировке UTF-16"),
}


@pytest.mark.parametrize("kind", list(BINARY_FILES))
def test_a_docx_or_binary_file_is_refused_saying_what_it_is(tmp_path: Path, kind: str) -> None:
    content, words = BINARY_FILES[kind]
    path = tmp_path / "4201001.csv"
    path.write_bytes(content)
    assert _unreadable(path).startswith(words)


def test_a_truncated_xlsx_is_refused(tmp_path: Path) -> None:
    whole = _xlsx(tmp_path / "a.xlsx", ROWS).read_bytes()
    path = tmp_path / "b.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    assert "обрезан" in _unreadable(path)


def test_text_in_no_known_encoding_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path / "a.csv", ROWS, ";", "cp1251")
    path.write_bytes(path.read_bytes() + b"\x98\r\n")  # 0x98 is no CP1251 character
    assert "ни в кодировке UTF-8, ни в Windows-1251" in _unreadable(path)


def test_a_file_that_is_not_there_is_refused(tmp_path: Path) -> None:
    assert _unreadable(tmp_path / "none.csv").startswith("Файл не прочитан")


@pytest.mark.parametrize("kind", list(BINARY_FILES))
def test_the_reason_for_an_unreadable_protocol_never_speaks_of_the_participants_table(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "4201001.csv"
    path.write_bytes(BINARY_FILES[kind][0])
    assert "участник" not in _unreadable(path)


# --- the rejected rows' report ---------------------------------------------------------------


def _read_report(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def test_rejected_rows_are_written_as_a_utf8_bom_semicolon_csv_with_the_reasons(
    tmp_path: Path,
) -> None:
    fields = dict(zip(PROTOCOL_COLUMNS, ROWS[0], strict=True))
    path = tmp_path / "reports" / "4201001.csv"
    written = write_rejected_rows(
        path,
        [
            (3, fields, ["работа уже указана в строке 2"]),
            (7, {**fields, "k3": "хорошо; отлично"}, ["К3: «хорошо; отлично»", "ещё одна"]),
        ],
    )
    assert written == path
    assert _read_report(path) == [
        ["Строка", *HEADERS, "Причина отклонения"],
        ["3", *ROWS[0], "работа уже указана в строке 2"],
        ["7", *ROWS[0][:6], "хорошо; отлично", *ROWS[0][7:], "К3: «хорошо; отлично»; ещё одна"],
    ]
    assert list(path.parent.iterdir()) == [path], "no temporary file is left"


def test_writing_the_report_again_replaces_it(tmp_path: Path) -> None:
    fields = dict(zip(PROTOCOL_COLUMNS, ROWS[1], strict=True))
    path = tmp_path / "4201001.csv"
    write_rejected_rows(path, [(2, fields, ["первая"]), (3, fields, ["вторая"])])
    write_rejected_rows(path, [(4, fields, ["третья"])])
    assert [line[0] for line in _read_report(path)[1:]] == ["4"]


def test_the_report_read_back_as_a_protocol_gives_the_rejected_rows(tmp_path: Path) -> None:
    fields = dict(zip(PROTOCOL_COLUMNS, ROWS[1], strict=True))
    path = write_rejected_rows(tmp_path / "4201001.csv", [(5, fields, ["причина"])])
    frame = read_protocol(path)
    assert frame.drop("row_number").row(0) == tuple(ROWS[1])


def test_the_report_of_an_unreadable_file_is_its_reason_on_line_1(tmp_path: Path) -> None:
    path = write_rejected_rows(tmp_path / "4201001.csv", [(1, {}, ["Файл пуст"])])
    assert _read_report(path)[1] == ["1", *[""] * len(HEADERS), "Файл пуст"]
