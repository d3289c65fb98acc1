"""The expert package, rendered: a cover, per work a protocol sheet, then its watermarked copies."""

from __future__ import annotations

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from tasks.adapters.print_files import default_fonts
from tasks.domain.copy_pdf import CopyPage, CopyWork, ExpertPackage, build_expert_package_pdf
from tasks.domain.identifiers import make_work_code
from tasks.errors import DataError

DPI = 100
BACKGROUND = 230  # the scans' paper grey
MISSING_REASON = "Скан страницы не поступил из ОО 4201001: повторите отправку пакета."


def _scan(seed: int) -> bytes:
    """A grey ~100-dpi A4 "scan": paper, ruled lines and a mark, all in the top-left third."""
    w, h = round(210 / 25.4 * DPI), round(297 / 25.4 * DPI)
    image = np.full((h, w), BACKGROUND, np.uint8)
    for i in range(6):
        y = 60 + 30 * i
        cv2.line(image, (40, y), (w // 3, y), 160, 1)
        cv2.putText(image, f"{seed}-{i}", (45, y - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 30, 2)
    cv2.rectangle(image, (10, 10), (30, 30), 0, -1)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return encoded.tobytes()


ESSAY = CopyWork(
    make_work_code("42", 2017, 1, 1),
    "essay",
    "3",
    (
        CopyPage("Бланк регистрации", _scan(1)),
        CopyPage("Бланк записи, с. 1", _scan(2)),
        CopyPage("Бланк записи, с. 2", _scan(3)),
    ),
)
EXPOSITION = CopyWork(
    make_work_code("42", 2017, 1, 2),
    "exposition",
    None,
    (
        CopyPage("Бланк регистрации", _scan(4)),
        CopyPage("Бланк записи, с. 1", None, MISSING_REASON),
        CopyPage("Дополнительный бланк записи № 000123456789, с. 2", _scan(5)),
    ),
)
PACKAGE = ExpertPackage("2017-12-06", "4201001", "МБОУ «СОШ № 1»", "Э-0123-02", (ESSAY, EXPOSITION))
# Page indices: 0 cover · 1 essay protocol · 2-4 its copies · 5 exposition protocol · 6-8 copies.
ESSAY_PROTOCOL, EXPOSITION_PROTOCOL = 1, 5
COPY_PAGES = (2, 3, 4, 6, 7, 8)
MISSING_PAGE = 7


@pytest.fixture(scope="module")
def data() -> bytes:
    return build_expert_package_pdf(PACKAGE, default_fonts())


@pytest.fixture(scope="module")
def texts(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    pdf.close()
    return pages


def _render(data: bytes, index: int) -> np.ndarray:
    pdf = pdfium.PdfDocument(data)
    bitmap = pdf[index].render(scale=DPI / 72, grayscale=True)
    image = np.asarray(bitmap.to_pil().convert("L"), dtype=np.float32)
    pdf.close()
    return image


def test_the_package_has_a_cover_then_per_work_a_protocol_sheet_and_its_pages(
    texts: list[str],
) -> None:
    assert len(texts) == 1 + sum(1 + len(work.pages) for work in PACKAGE.works)
    assert "Комплект копий для проверки" in texts[0]
    assert "Лист эксперта" in texts[ESSAY_PROTOCOL]
    assert "Лист эксперта" in texts[EXPOSITION_PROTOCOL]


def test_the_cover_lists_every_work_with_the_session_school_and_expert(texts: list[str]) -> None:
    cover = texts[0]
    for expected in ("06.12.2017", "4201001", "МБОУ «СОШ № 1»", "Э-0123-02", "не сканируется"):
        assert expected in cover
    for work in PACKAGE.works:
        assert work.work_code in cover
    assert "Всего работ: 2, страниц копий: 6" in cover


def test_every_work_code_is_on_its_protocol_sheet_and_on_each_of_its_copy_pages(
    texts: list[str],
) -> None:
    for protocol, work in ((ESSAY_PROTOCOL, ESSAY), (EXPOSITION_PROTOCOL, EXPOSITION)):
        spaced = " ".join(work.work_code[i : i + 4] for i in range(0, 12, 4))
        assert spaced in texts[protocol]
        for offset, page in enumerate(work.pages, start=1):
            assert work.work_code in texts[protocol + offset]
            assert page.label in texts[protocol + offset]


def test_the_protocol_sheet_has_both_requirements_and_five_criteria_of_the_works_form(
    texts: list[str],
) -> None:
    essay, exposition = texts[ESSAY_PROTOCOL], texts[EXPOSITION_PROTOCOL]
    for sheet in (essay, exposition):
        for row in ("Требование 1 (объем)", "Критерий 1", "Критерий 5", "Результат"):
            assert row in sheet
        assert "Подпись эксперта" in sheet
        assert "Дата" in sheet
        assert sheet.count("незачет") >= 1
        assert "КОПИЯ" in sheet
    assert "не менее 250 слов" in essay
    assert "Аргументация. Привлечение литературного" in essay
    assert "не менее 150 слов" in exposition
    assert "Использование элементов стиля исходного" in exposition
    assert "Соответствие теме" not in exposition


def test_every_copy_page_carries_the_copy_watermark(texts: list[str]) -> None:
    for index in COPY_PAGES:
        assert "КОПИЯ" in texts[index]


def test_a_page_not_received_shows_a_notice_with_the_reason(texts: list[str]) -> None:
    notice = texts[MISSING_PAGE]
    assert "Страница не получена" in notice
    assert "Скан страницы не поступил из ОО 4201001" in notice


def test_the_scans_are_embedded_as_the_jpeg_bytes_given(data: bytes) -> None:
    scans = [page.image for work in PACKAGE.works for page in work.pages if page.image]
    for scan in scans:
        assert scan in data  # no decode and re-encode on the way
    pdf = pdfium.PdfDocument(data)
    embedded = []
    for index in COPY_PAGES:
        for obj in pdf[index].get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
            assert obj.get_filters() == ["DCTDecode"]
            embedded.append(bytes(obj.get_data(decode_simple=False)))
    pdf.close()
    assert embedded == scans


def test_the_watermark_darkens_the_middle_of_a_copy_page_but_not_its_corner(data: bytes) -> None:
    page = _render(data, COPY_PAGES[1])
    h, w = page.shape
    # the scans are plain paper outside their top-left third: anything darker is the watermark
    middle = page[h // 3 : 2 * h // 3, w // 4 : 3 * w // 4]
    darker = middle < BACKGROUND - 12
    assert 0.05 < darker.mean() < 0.8
    assert middle[darker].mean() > 120  # semi-transparent: a grey, not black ink
    top_right = page[round(20 * DPI / 25.4) : h // 8, w - w // 8 : w - round(12 * DPI / 25.4)]
    assert abs(float(np.median(top_right)) - BACKGROUND) < 6


def test_a_rebuilt_package_is_byte_identical(data: bytes) -> None:
    assert build_expert_package_pdf(PACKAGE, default_fonts()) == data


def test_a_page_image_that_is_not_a_jpeg_is_refused() -> None:
    ok, png = cv2.imencode(".png", np.full((40, 30), 255, np.uint8))
    assert ok
    work = CopyWork(
        ESSAY.work_code, "essay", None, (CopyPage("Бланк записи, с. 1", png.tobytes()),)
    )
    package = ExpertPackage("2017-12-06", "4201001", "МБОУ «СОШ № 1»", "Э-0123-02", (work,))
    with pytest.raises(DataError, match="не в формате JPEG"):
        build_expert_package_pdf(package, default_fonts())


def test_an_unknown_form_is_refused() -> None:
    work = CopyWork(ESSAY.work_code, "interview", None, ())
    package = ExpertPackage("2017-12-06", "4201001", "МБОУ «СОШ № 1»", "Э-0123-02", (work,))
    with pytest.raises(DataError, match="неизвестная форма"):
        build_expert_package_pdf(package, default_fonts())
