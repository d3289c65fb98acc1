"""The printed blanks, rendered as a scanner sees them: every field where its layout says."""

from __future__ import annotations

import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp

from tasks.adapters.print_files import default_fonts
from tasks.domain.blanks import (
    PAGE_H,
    PAGE_W,
    BlankType,
    Box,
    FieldKind,
    Layout,
    QrPayload,
    all_layouts,
    layout_for,
    parse_qr,
    qr_text,
)
from tasks.domain.print_pdf import (
    PageSpec,
    RoomForms,
    RoomSeat,
    build_kits_pdf,
    build_room_forms_pdf,
)

DPI = 200
MM = DPI / 25.4
CODE = "421710012348"
HEADER = "Итоговое сочинение (изложение) · 06.12.2017 · Кемеровская область – Кузбасс"
PRINTED = {
    "region": "42",
    "school_code": "4201001",
    "room": "03",
    "class_name": "11Б",
    "surname": "Ёлкина-Щукина",
    "name": "Юлия",
    "patronymic": "Эдуардовна",
    "document": "паспорт 3204 123456",
}


def _spec(blank: BlankType, page: int) -> PageSpec:
    return PageSpec(blank, page, CODE, HEADER, PRINTED if blank is BlankType.REGISTRATION else {})


@pytest.fixture(scope="module")
def rendered() -> dict[str, np.ndarray]:
    """Every blank type and side, in one PDF, rendered to grey at 200 dpi (0 black, 1 white)."""
    specs = [_spec(layout.blank_type, layout.page) for layout in all_layouts()]
    pdf = pdfium.PdfDocument(build_kits_pdf(specs, default_fonts(), "test"))
    images = {}
    for index, layout in enumerate(all_layouts()):
        bitmap = pdf[index].render(scale=DPI / 72, grayscale=True)
        images[layout.name] = np.asarray(bitmap.to_pil().convert("L"), dtype=np.float32) / 255
    pdf.close()
    return images


def _crop(image: np.ndarray, box: Box, inset: float = 0.0) -> np.ndarray:
    x0, y0 = round((box.x + inset) * MM), round((box.y + inset) * MM)
    x1, y1 = round((box.x + box.w - inset) * MM), round((box.y + box.h - inset) * MM)
    return image[y0:y1, x0:x1]


def test_pages_are_a4_at_the_rendered_resolution(rendered: dict[str, np.ndarray]) -> None:
    for image in rendered.values():
        assert image.shape == (round(PAGE_H * MM), round(PAGE_W * MM))


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_markers_and_the_orientation_cue_are_solid_black(
    rendered: dict[str, np.ndarray], layout: Layout
) -> None:
    image = rendered[layout.name]
    solid = [*layout.of_kind(FieldKind.MARKER), *layout.of_kind(FieldKind.ORIENTATION)]
    assert len(solid) == 5
    for item in solid:
        assert _crop(image, item.box, inset=0.4).mean() < 0.05, item.name
        # a millimetre outside the square is white paper
        ring = Box(item.box.x - 1.5, item.box.y - 1.5, item.box.w + 3, item.box.h + 3)
        outer = _crop(image, ring)
        assert outer[:4].mean() > 0.95, item.name
        assert outer[-4:].mean() > 0.95, item.name


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_the_180_degree_position_of_the_cue_is_blank_paper(
    rendered: dict[str, np.ndarray], layout: Layout
) -> None:
    image = rendered[layout.name]
    cue = layout.field("orientation").box
    mirrored = Box(PAGE_W - cue.x - cue.w, PAGE_H - cue.y - cue.h, cue.w, cue.h)
    assert _crop(image, mirrored).mean() > 0.98


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_the_qr_code_decodes_to_the_pages_payload(
    rendered: dict[str, np.ndarray], layout: Layout
) -> None:
    image = rendered[layout.name]
    box = layout.field("qr").box
    crop = (_crop(image, Box(box.x - 3, box.y - 3, box.w + 6, box.h + 6)) * 255).astype(np.uint8)
    found = zxingcpp.read_barcodes(crop, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [qr_text(QrPayload(layout.blank_type, CODE, layout.page))]
    assert parse_qr(found[0].text) == QrPayload(layout.blank_type, CODE, layout.page)


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_digit_cells_have_ink_on_their_borders_and_blank_insides(
    rendered: dict[str, np.ndarray], layout: Layout
) -> None:
    image = rendered[layout.name]
    for item in layout.of_kind(FieldKind.DIGIT_CELLS):
        for cell in item.cells:
            inside = _crop(image, cell, inset=0.8)
            assert inside.mean() > 0.99, f"{item.name}: something printed inside a cell"
            x0, x1 = round(cell.x * MM), round((cell.x + cell.w) * MM)
            y_mid = round((cell.y + cell.h / 2) * MM)
            row = image[y_mid, x0 - 2 : x1 + 3]
            assert row[:5].min() < 0.5, f"{item.name}: no left border"
            assert row[-5:].min() < 0.5, f"{item.name}: no right border"


def test_mark_boxes_are_outlined_and_empty(rendered: dict[str, np.ndarray]) -> None:
    layout = layout_for(BlankType.REGISTRATION, 1)
    image = rendered[layout.name]
    boxes = layout.of_kind(FieldKind.MARK_BOX)
    assert len(boxes) == 3 + 8 * 2
    for item in boxes:
        assert _crop(image, item.box, inset=0.8).mean() > 0.99, item.name
        outline = _crop(image, Box(item.box.x - 0.5, item.box.y - 0.5, item.box.w + 1, 1.0))
        assert outline.min() < 0.5, item.name


def test_the_printed_work_code_and_participant_data_are_printed_where_the_layout_says(
    rendered: dict[str, np.ndarray],
) -> None:
    layout = layout_for(BlankType.REGISTRATION, 1)
    image = rendered[layout.name]
    code = _crop(image, layout.field("code_printed").box)
    assert code.min() < 0.3  # digits there
    for item in layout.of_kind(FieldKind.PRINTED_TEXT):
        text = _crop(image, Box(item.box.x, item.box.y, item.box.w, item.box.h - 0.6))
        assert text.min() < 0.3, f"{item.name}: nothing printed"


def test_the_text_area_is_lined_and_otherwise_empty(rendered: dict[str, np.ndarray]) -> None:
    for blank, page in ((BlankType.ANSWER, 1), (BlankType.ANSWER, 2), (BlankType.ADDITIONAL, 2)):
        layout = layout_for(blank, page)
        area = layout.field("text")
        crop = _crop(rendered[layout.name], area.box)
        dark_rows = int((crop.min(axis=1) < 0.8).sum())
        assert area.lines >= 20
        # each line is a thin rule: about one or two pixel rows each, nothing else printed
        assert area.lines <= dark_rows <= 3 * area.lines


def test_the_cyrillic_font_is_embedded_as_a_subset() -> None:
    data = build_kits_pdf([_spec(BlankType.REGISTRATION, 1)], default_fonts(), "test")
    assert b"/FontFile2" in data
    assert b"DejaVuSans" in data


def test_a_reprint_of_the_same_pages_is_byte_identical() -> None:
    specs = [_spec(BlankType.REGISTRATION, 1), _spec(BlankType.ANSWER, 1)]
    first = build_kits_pdf(specs, default_fonts(), "test")
    assert build_kits_pdf(specs, default_fonts(), "test") == first


def test_room_forms_have_an_is05_page_per_28_participants_and_two_acts() -> None:
    seats = tuple(
        RoomSeat(i, f"Иванов Иван {i}", "паспорт 3204 123456", CODE, "сочинение")
        for i in range(1, 31)
    )
    data = build_room_forms_pdf(
        [RoomForms(HEADER, "4201001 · МБОУ СОШ № 1", "03", seats)], default_fonts(), "forms"
    )
    pdf = pdfium.PdfDocument(data)
    texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    pdf.close()
    assert len(texts) == 2 + 2  # 30 participants: two ИС-05 sheets, then ИС-08 and ИС-09
    assert "Форма ИС-05" in texts[0]
    assert "Лист 1 из 2" in texts[0]
    assert "Иванов Иван 30" in texts[1]
    assert "Форма ИС-08" in texts[2]
    assert "Форма ИС-09" in texts[3]
