"""The inform stage's documents, rendered and read back: PDF lists and report, XLSX, CSV."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from tasks.adapters.inform_files import (
    RESULT_HEADERS,
    write_bytes,
    write_results_csv,
    write_results_xlsx,
    write_retake_xlsx,
    write_statistics_xlsx,
)
from tasks.adapters.print_files import default_fonts
from tasks.domain.identifiers import make_work_code
from tasks.domain.inform import (
    ResultLine,
    SessionInfo,
    by_mouo,
    by_school,
    retake_list,
    statistics,
)
from tasks.domain.inform_charts import charts
from tasks.domain.inform_pdf import results_list_pdf, retake_list_pdf, statistics_pdf
from tasks.domain.print_pdf import Fonts

pytestmark = pytest.mark.integration

# Kalmykia: the region code «08» makes every work code start with a zero.
INFO = SessionInfo(
    "08",
    "Республика Калмыкия",
    "2017-12-06",
    date(2017, 12, 6),
    "основной срок (1 этап)",
    "2017/18",
    "ИС-11",
)
SURNAMES = ("Абдуллаев", "Бембеев", "Вострикова", "Горяева", "Дорджиев", "Ёрдниева", "Жуковская")
NAMES = ("Святослав", "Агафья", "Баатр", "Евлампия", "Саглар")
PATRONYMICS = ("Ростиславович", "Акимовна", None, "Эрдниевич")
OUTCOMES = ("passed",) * 7 + ("failed", "absent", "not_finished", "removed", "not_graded")
MARKS = ("requirement_1", "requirement_2", "k1", "k2", "k3", "k4", "k5")
SCHOOL, SCHOOL_NAME = "0801001", "МБОУ «Элистинская многопрофильная гимназия»"
SCHOOL_LINES = 70


def _line(serial: int, **changes: Any) -> ResultLine:
    outcome = OUTCOMES[serial % len(OUTCOMES)]
    marks = None
    if outcome in ("passed", "failed"):
        marks = {g: "незачет" if outcome == "failed" and g == "k2" else "зачет" for g in MARKS}
    line = ResultLine(
        work_code=make_work_code("08", 2017, 1, serial),
        surname=SURNAMES[serial % len(SURNAMES)],
        name=NAMES[serial % len(NAMES)],
        patronymic=PATRONYMICS[serial % len(PATRONYMICS)],
        category="student",
        mouo_code="08-01",
        mouo_name="Управление образованием Администрации г. Элисты",
        school_code=SCHOOL,
        school_name=SCHOOL_NAME,
        venue_code=SCHOOL,
        venue_name=SCHOOL_NAME,
        class_name=("11А", "11Б")[serial % 2],
        form="essay",
        oral=False,
        attempt=1 + serial % 3,
        outcome=outcome,
        marks=marks,
    )
    return replace(line, **changes)


def _session() -> list[ResultLine]:
    lines = [_line(n) for n in range(1, SCHOOL_LINES + 1)]
    lines += [
        _line(
            n,
            category="graduate",
            school_code=None,
            school_name=None,
            class_name=None,
            venue_code="0801002",
        )
        for n in range(101, 104)
    ]
    lines += [
        _line(
            n,
            mouo_code="08-02",
            mouo_name="Отдел образования Яшкульского РМО",
            school_code="0802001",
            school_name="МКОУ «Яшкульская СОШ № 1»",
            outcome="absent",
        )
        for n in range(201, 205)
    ]
    lines.append(_line(301, form="exposition", oral=True, category="student_home"))
    return lines


LINES = _session()


@pytest.fixture(scope="module")
def fonts() -> Fonts:
    return default_fonts()


def _texts(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    return [page.get_textpage().get_text_range() for page in document]


def _normalised(text: str) -> str:
    return " ".join(text.split())


# --- results lists -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def school_pdf(fonts: Fonts) -> bytes:
    lines = by_school(LINES)[SCHOOL]
    return results_list_pdf(INFO, f"Результаты: ОО {SCHOOL} {SCHOOL_NAME}", lines, fonts)


def test_a_school_list_runs_over_pages_each_with_its_header_and_page_number(
    school_pdf: bytes,
) -> None:
    pages = _texts(school_pdf)
    assert len(pages) == 3  # 71 lines at 26 a page
    for number, text in enumerate(pages, start=1):
        assert f"Страница {number} из 3" in text
        assert "Итоговое сочинение (изложение) · 06.12.2017 · основной срок (1 этап)" in text
        assert f"Результаты: ОО {SCHOOL}" in text
        assert "Код работы" in text
        assert "Фамилия" in text
        assert "К5" in text
        assert "Для служебного пользования" in text
        assert "персональные данные" in text


def test_a_school_list_shows_every_work_once_in_order_with_its_result(school_pdf: bytes) -> None:
    text = "\n".join(_texts(school_pdf))
    lines = by_school(LINES)[SCHOOL]
    assert len(lines) == SCHOOL_LINES + 1  # the oral exposition too
    positions = [text.index(line.work_code) for line in lines]
    assert positions == sorted(positions)
    assert all(text.count(line.work_code) == 1 for line in lines)
    assert "Ёрдниева" in text
    assert "незачет" in text
    assert "не закончил" in text
    assert "изложение (устно)" in text


def test_a_school_list_ends_with_its_counts(school_pdf: bytes) -> None:
    last = _normalised(_texts(school_pdf)[-1])
    counts = statistics(by_school(LINES)[SCHOOL]).total
    assert (
        f"Участников: {counts.participants}; зачет: {counts.passed}; "
        f"незачет: {counts.failed}; без результата: {counts.without_result}"
    ) in last


def test_a_school_list_has_no_school_column_and_a_mouo_list_has_one(
    school_pdf: bytes, fonts: Fonts
) -> None:
    assert "выпускник прошлых лет" not in _texts(school_pdf)[0]
    mouo = by_mouo(LINES)["08-01"]
    pages = _texts(results_list_pdf(INFO, "Результаты: МОУО 08-01", mouo, fonts))
    assert "выпускник прошлых лет" in pages[-1]  # graduates: last, at their МОУО
    assert f"{SCHOOL} МБОУ" in pages[0]


def test_the_list_pages_are_a4_landscape_and_render(school_pdf: bytes, tmp_path: Path) -> None:
    document = pdfium.PdfDocument(school_pdf)
    for index, page in enumerate(document):
        width, height = page.get_size()
        assert (round(width), round(height)) == (842, 595)
        image = page.render(scale=1).to_pil()
        image.save(tmp_path / f"page_{index + 1}.png")
        assert image.convert("L").getextrema()[0] < 50  # something black is drawn


def test_an_empty_list_is_one_page_that_says_so(fonts: Fonts) -> None:
    pages = _texts(results_list_pdf(INFO, "Результаты: ОО 0800000", [], fonts))
    assert len(pages) == 1
    assert "Участников нет" in pages[0]
    assert "Страница 1 из 1" in pages[0]


def test_the_same_list_gives_the_same_bytes(school_pdf: bytes, fonts: Fonts) -> None:
    lines = by_school(LINES)[SCHOOL]
    again = results_list_pdf(INFO, f"Результаты: ОО {SCHOOL} {SCHOOL_NAME}", lines, fonts)
    assert again == school_pdf


# --- statistics report -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def statistics_report(fonts: Fonts) -> bytes:
    stats = statistics(LINES, INFO.region_name)
    return statistics_pdf(INFO, stats, charts(stats), fonts)


def test_the_statistics_report_names_no_participant(statistics_report: bytes) -> None:
    text = "\n".join(_texts(statistics_report))
    names = {part for line in LINES for part in (line.surname, line.name, line.patronymic)}
    assert not {name for name in names if name and name in text}
    assert not any(line.work_code in text for line in LINES)


def test_the_statistics_report_has_totals_tables_and_charts(statistics_report: bytes) -> None:
    pages = _texts(statistics_report)
    text = _normalised("\n".join(pages))
    for heading in (
        "Итоги по региону",
        "1. Результаты по МОУО",
        "2. Результаты по категориям участников",
        "3. Результаты по формам",
        "4. Результаты по ОО",
    ):
        assert heading in text
    assert "08-01" in text
    assert "08-02" in text
    assert SCHOOL in text
    assert "Итого по региону" in text
    assert "Выпускник прошлых лет" in text
    assert "в т. ч. в устной форме" in text
    for number in range(1, len(pages) + 1):
        assert f"Страница {number} из {len(pages)}" in pages[number - 1]
    document = pdfium.PdfDocument(statistics_report)
    images = sum(
        len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))) for page in document
    )
    assert images == 3
    width, height = document[0].get_size()
    assert width < height  # portrait


def test_a_mouo_where_nobody_was_graded_shows_a_dash_for_its_rate(
    statistics_report: bytes,
) -> None:
    text = _normalised(_texts(statistics_report)[0])
    assert "Отдел образования Яшкульского РМО 4 0 0 0 —" in text


# --- retake list -------------------------------------------------------------------------------


def test_the_retake_list_marks_conditional_admissions_and_counts_them(fonts: Fonts) -> None:
    retakes = retake_list(LINES, "2018-02-07")
    assert retakes
    assert any(r.conditional for r in retakes)
    pages = _texts(retake_list_pdf(INFO, "07.02.2018", retakes, fonts))
    text = "\n".join(pages)
    assert "Дополнительный срок: 07.02.2018" in pages[0]
    assert all(r.line.work_code in text for r in retakes)
    assert not any(r.line.attempt >= 3 for r in retakes)
    conditional = sum(r.conditional for r in retakes)
    assert (
        f"Всего: {len(retakes)}; из них при подтверждении уважительной причины: {conditional}"
        in (_normalised(pages[-1]))
    )
    first_conditional = next(n for n, r in enumerate(retakes, start=1) if r.conditional)
    assert f"{first_conditional}*" in text
    assert f"Страница {len(pages)} из {len(pages)}" in pages[-1]


# --- XLSX and CSV ------------------------------------------------------------------------------


def test_the_results_workbook_has_a_frozen_filtered_header_and_codes_as_text(
    tmp_path: Path,
) -> None:
    lines = by_mouo(LINES)["08-01"]
    path = write_results_xlsx(tmp_path / "Результаты_08-01.xlsx", INFO, "Результаты: МОУО", lines)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Результаты"]
    sheet = workbook["Результаты"]
    assert sheet["A1"].value == "Результаты: МОУО"
    assert "06.12.2017" in str(sheet["A2"].value)
    header = [cell.value for cell in sheet[4]]
    assert header == [h for h, _ in RESULT_HEADERS]
    assert all(cell.font.bold for cell in sheet[4])
    assert sheet.freeze_panes == "A5"
    assert sheet.auto_filter.ref == f"A4:W{4 + len(lines)}"
    assert sheet.max_row == 4 + len(lines)
    first = [cell.value for cell in sheet[5]]
    assert first[1] == lines[0].work_code
    assert first[1].startswith("08")
    assert first[8] == "0801001"  # the school code, leading zero kept
    assert first[6] == "08-01"
    assert first[0] == 1
    assert isinstance(first[14], int)
    graduate = next(row for row in sheet.iter_rows(min_row=5, values_only=True) if row[8] is None)
    assert graduate[5] == "Выпускник прошлых лет"
    assert sheet.column_dimensions["C"].width > 10


def test_the_results_workbook_is_the_same_file_when_written_twice(tmp_path: Path) -> None:
    lines = by_school(LINES)[SCHOOL]
    one = write_results_xlsx(tmp_path / "one.xlsx", INFO, "Результаты", lines).read_bytes()
    two = write_results_xlsx(tmp_path / "two.xlsx", INFO, "Результаты", lines).read_bytes()
    assert one == two


def test_the_retake_workbook_says_who_needs_a_document(tmp_path: Path) -> None:
    retakes = retake_list(LINES, "2018-02-07")
    path = write_retake_xlsx(tmp_path / "retake.xlsx", INFO, retakes, "07.02.2018")
    sheet = openpyxl.load_workbook(path)["Повторное участие"]
    rows = list(sheet.iter_rows(min_row=5, values_only=True))
    assert len(rows) == len(retakes)
    assert rows[0][5] == retakes[0].line.work_code
    conditions = [row[14] for row in rows]
    assert conditions == [
        "при представлении документа об уважительной причине" if r.conditional else None
        for r in retakes
    ]
    assert "07.02.2018" in str(sheet["A1"].value)


def test_the_statistics_workbook_has_four_sheets_with_rates_and_totals(tmp_path: Path) -> None:
    stats = statistics(LINES, INFO.region_name)
    path = write_statistics_xlsx(tmp_path / "stats.xlsx", INFO, stats)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["по МОУО", "по ОО", "по категориям", "по формам"]
    mouo = list(workbook["по МОУО"].iter_rows(min_row=5, values_only=True))
    assert [row[0] for row in mouo] == ["08-01", "08-02", None]
    assert mouo[1][-1] is None  # nobody graded: no rate
    assert mouo[0][-1] == stats.by_mouo[0].pass_rate
    assert mouo[-1][1] == "Итого по региону"
    assert mouo[-1][2] == len(LINES)
    schools = list(workbook["по ОО"].iter_rows(min_row=5, values_only=True))
    assert [row[1] for row in schools] == [SCHOOL, "0802001"]
    forms = list(workbook["по формам"].iter_rows(min_row=5, values_only=True))
    assert [row[0] for row in forms] == [
        "сочинение",
        "изложение",
        "в т. ч. в устной форме",
        "Итого по региону",
    ]


def test_the_results_csv_opens_in_a_russian_excel_with_codes_intact(tmp_path: Path) -> None:
    lines = by_school(LINES)[SCHOOL]
    data = write_results_csv(tmp_path / "results.csv", lines).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [h for h, _ in RESULT_HEADERS]
    assert len(rows) == 1 + len(lines)
    assert rows[1][1] == lines[0].work_code
    assert rows[1][8] == SCHOOL


# --- atomic writes -----------------------------------------------------------------------------


def test_write_bytes_replaces_a_file_and_leaves_no_temporary_behind(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.pdf"
    write_bytes(target, b"first")
    assert write_bytes(target, b"second") == target
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.pdf"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.png"
    write_bytes(target, b"old")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.png"]
