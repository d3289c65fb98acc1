"""Blank layouts and the QR payload (tasks/domain/blanks.py): every page keeps its corner markers
15 mm inside the paper, its fields on the page and apart, the cells and mark boxes recognition
reads, an orientation cue that a page turned 180° cannot fake, and a QR text that survives a
round trip while any changed character is refused."""

from __future__ import annotations

import hashlib
import json
import re
from itertools import combinations

import pytest

from tasks.domain import blanks
from tasks.domain.blanks import (
    LAYOUT_VERSION,
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
from tasks.domain.identifiers import make_work_code
from tasks.errors import DataError

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
MARGIN = 15.0  # the markers' outer edges from the paper edges, at least
EPS = 1e-9

EXPECTED_PAGES = {
    (BlankType.REGISTRATION, 1),
    (BlankType.ANSWER, 1),
    (BlankType.ANSWER, 2),
    (BlankType.ADDITIONAL, 1),
    (BlankType.ADDITIONAL, 2),
}
DIGIT_CELLS = {
    (BlankType.REGISTRATION, 1): {"topic_number": 3, "answer_blanks": 2},
    (BlankType.ANSWER, 1): {"work_code": 12},
    (BlankType.ANSWER, 2): {},
    (BlankType.ADDITIONAL, 1): {"work_code": 12, "sheet_number": 2},
    (BlankType.ADDITIONAL, 2): {},
}
FLAGS = ("flag_not_finished", "flag_removed", "flag_oral")
RESULT_GROUPS = ("requirement_1", "requirement_2", "k1", "k2", "k3", "k4", "k5", "overall")

LAYOUTS = all_layouts()
LAYOUT_IDS = [layout.name for layout in LAYOUTS]
ANSWER_LAYOUTS = [layout for layout in LAYOUTS if layout.blank_type is not BlankType.REGISTRATION]


def _overlap(a: Box, b: Box) -> bool:
    """The interiors intersect (touching edges do not count)."""
    return (
        a.x < b.x + b.w - EPS
        and b.x < a.x + a.w - EPS
        and a.y < b.y + b.h - EPS
        and b.y < a.y + a.h - EPS
    )


def _inside(inner: Box, outer: Box) -> bool:
    return (
        inner.x >= outer.x - EPS
        and inner.y >= outer.y - EPS
        and inner.x + inner.w <= outer.x + outer.w + EPS
        and inner.y + inner.h <= outer.y + outer.h + EPS
    )


def _turned(box: Box) -> Box:
    """Where a box lands when the page is turned by 180°."""
    return Box(PAGE_W - box.x - box.w, PAGE_H - box.y - box.h, box.w, box.h)


PAGE = Box(0.0, 0.0, PAGE_W, PAGE_H)


# --- the set of layouts ----------------------------------------------------------------------


def test_there_is_one_layout_per_page_of_every_blank_type() -> None:
    assert {(layout.blank_type, layout.page) for layout in LAYOUTS} == EXPECTED_PAGES
    assert len(LAYOUTS) == len(EXPECTED_PAGES)
    assert (PAGE_W, PAGE_H) == (210.0, 297.0)


@pytest.mark.parametrize(("blank", "page"), sorted(EXPECTED_PAGES))
def test_layout_for_returns_the_layout_of_that_page(blank: BlankType, page: int) -> None:
    layout = layout_for(blank, page)
    assert (layout.blank_type, layout.page) == (blank, page)
    assert layout.name == f"{blank.value}-{page}"
    assert layout in LAYOUTS


@pytest.mark.parametrize(
    ("blank", "page"),
    [
        (BlankType.REGISTRATION, 2),
        (BlankType.REGISTRATION, 0),
        (BlankType.ANSWER, 3),
        (BlankType.ADDITIONAL, 0),
        (BlankType.ADDITIONAL, -1),
    ],
)
def test_layout_for_refuses_a_page_the_blank_does_not_have_in_russian(
    blank: BlankType, page: int
) -> None:
    with pytest.raises(DataError) as caught:
        layout_for(blank, page)
    assert CYRILLIC.search(caught.value.reason)
    assert str(page) in caught.value.reason
    assert blanks.BLANK_TITLES_RU[blank] in caught.value.reason


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_field_names_are_unique_within_a_page(layout: Layout) -> None:
    names = [f.name for f in layout.fields]
    assert len(names) == len(set(names))
    for name in names:
        assert layout.field(name).name == name


def test_asking_a_layout_for_a_missing_field_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        layout_for(BlankType.ANSWER, 2).field("work_code")


# --- markers, the page, overlaps -------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_every_page_has_four_corner_markers_at_least_15_mm_inside_the_paper(
    layout: Layout,
) -> None:
    markers = layout.of_kind(FieldKind.MARKER)
    assert sorted(m.name for m in markers) == ["marker_bl", "marker_br", "marker_tl", "marker_tr"]
    for marker in markers:
        box = marker.box
        assert box.w > 0
        assert box.h > 0
        assert box.x >= MARGIN - EPS, marker.name
        assert box.y >= MARGIN - EPS, marker.name
        assert PAGE_W - (box.x + box.w) >= MARGIN - EPS, marker.name
        assert PAGE_H - (box.y + box.h) >= MARGIN - EPS, marker.name
    tl, tr, bl, br = (layout.field(f"marker_{c}").box for c in ("tl", "tr", "bl", "br"))
    # one in each corner: left/right and top/bottom pairs share their lines
    assert tl.x == bl.x < tr.x == br.x
    assert tl.y == tr.y < bl.y == br.y
    assert tl.x < PAGE_W / 2 < tr.x
    assert tl.y < PAGE_H / 2 < bl.y


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_the_markers_look_the_same_when_the_page_is_turned_over(layout: Layout) -> None:
    boxes = {m.box for m in layout.of_kind(FieldKind.MARKER)}
    assert {_turned(b) for b in boxes} == boxes


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_every_field_and_every_cell_lies_on_the_page(layout: Layout) -> None:
    for item in layout.fields:
        assert item.box.w > 0, item.name
        assert item.box.h > 0, item.name
        assert _inside(item.box, PAGE), item.name
        for cell in item.cells:
            assert _inside(cell, item.box), item.name


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_no_two_fields_of_a_page_overlap(layout: Layout) -> None:
    overlapping = [
        (a.name, b.name) for a, b in combinations(layout.fields, 2) if _overlap(a.box, b.box)
    ]
    assert overlapping == []


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_the_cells_of_a_digit_field_do_not_overlap_each_other(layout: Layout) -> None:
    for item in layout.of_kind(FieldKind.DIGIT_CELLS):
        for a, b in combinations(item.cells, 2):
            assert not _overlap(a, b), item.name
        xs = [cell.x for cell in item.cells]
        assert xs == sorted(xs), item.name  # left to right, in reading order
        assert {cell.y for cell in item.cells} == {item.box.y}, item.name


def test_the_overlap_helper_tells_touching_from_overlapping() -> None:
    a = Box(10.0, 10.0, 5.0, 5.0)
    assert _overlap(a, Box(14.0, 14.0, 5.0, 5.0))
    assert not _overlap(a, Box(15.0, 10.0, 5.0, 5.0))
    assert not _overlap(a, Box(10.0, 15.0, 5.0, 5.0))


# --- digit cells, the orientation cue, QR, codes ---------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_each_page_has_exactly_its_digit_cells_with_the_right_count(layout: Layout) -> None:
    cells = {f.name: len(f.cells) for f in layout.of_kind(FieldKind.DIGIT_CELLS)}
    assert cells == DIGIT_CELLS[(layout.blank_type, layout.page)]


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_only_digit_cell_fields_have_cells(layout: Layout) -> None:
    for item in layout.fields:
        assert bool(item.cells) == (item.kind is FieldKind.DIGIT_CELLS), item.name


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_the_orientation_cue_sits_beside_the_top_left_marker(layout: Layout) -> None:
    cues = layout.of_kind(FieldKind.ORIENTATION)
    assert len(cues) == 1
    cue, marker = cues[0].box, layout.field("marker_tl").box
    assert cue.y == marker.y
    assert cue.h == marker.h
    assert 0 < cue.x - (marker.x + marker.w) <= 5.0  # right of it, a small gap between
    assert cue.x + cue.w < PAGE_W / 2


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_where_the_cue_would_be_on_a_turned_page_nothing_is_printed(layout: Layout) -> None:
    turned = _turned(layout.field("orientation").box)
    assert [f.name for f in layout.fields if _overlap(f.box, turned)] == []
    # and it is beside the bottom-right marker, so a turned page shows it there
    br = layout.field("marker_br").box
    assert turned.y + turned.h == pytest.approx(br.y + br.h)
    assert turned.x + turned.w < br.x


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_every_page_has_one_qr_code_and_the_printed_code(layout: Layout) -> None:
    assert [f.name for f in layout.of_kind(FieldKind.QR)] == ["qr"]
    qr = layout.field("qr").box
    assert qr.w == qr.h  # square
    printed = layout.of_kind(FieldKind.PRINTED_CODE)
    assert [f.name for f in printed] == ["code_printed"]
    expected = "Номер бланка" if layout.blank_type is BlankType.ADDITIONAL else "Код работы"
    assert printed[0].label == expected


def test_the_registration_blank_prints_the_participant_and_school_data() -> None:
    layout = layout_for(BlankType.REGISTRATION, 1)
    printed = {f.name for f in layout.of_kind(FieldKind.PRINTED_TEXT)}
    assert printed == {
        "printed_region",
        "printed_school_code",
        "printed_room",
        "printed_class_name",
        "printed_surname",
        "printed_name",
        "printed_patronymic",
        "printed_document",
    }
    for item in layout.of_kind(FieldKind.PRINTED_TEXT):
        assert CYRILLIC.search(item.label), item.name


@pytest.mark.parametrize("layout", ANSWER_LAYOUTS, ids=[x.name for x in ANSWER_LAYOUTS])
def test_answer_pages_print_no_personal_data(layout: Layout) -> None:
    assert layout.of_kind(FieldKind.PRINTED_TEXT) == []


# --- mark boxes ------------------------------------------------------------------------------


def test_the_registration_blank_has_a_box_for_each_flag() -> None:
    layout = layout_for(BlankType.REGISTRATION, 1)
    for name in FLAGS:
        flag = layout.field(name)
        assert flag.kind is FieldKind.MARK_BOX
        assert flag.group is None
        assert flag.value is None
        assert CYRILLIC.search(flag.label), name
        assert flag.box.w == flag.box.h


def test_each_requirement_and_criterion_has_a_pass_and_a_fail_box() -> None:
    layout = layout_for(BlankType.REGISTRATION, 1)
    for group in RESULT_GROUPS:
        passed, failed = layout.field(f"{group}_pass"), layout.field(f"{group}_fail")
        assert (passed.kind, passed.group, passed.value) == (FieldKind.MARK_BOX, group, "зачет")
        assert (failed.kind, failed.group, failed.value) == (FieldKind.MARK_BOX, group, "незачет")
        assert passed.label == failed.label
        assert passed.box.y == failed.box.y  # one row: «зачет» then «незачет»
        assert passed.box.x < failed.box.x


def test_the_registration_blank_has_no_other_mark_boxes() -> None:
    boxes = {f.name for f in layout_for(BlankType.REGISTRATION, 1).of_kind(FieldKind.MARK_BOX)}
    expected = set(FLAGS) | {f"{g}_{s}" for g in RESULT_GROUPS for s in ("pass", "fail")}
    assert boxes == expected
    assert len(boxes) == 3 + 2 * 8


def test_the_result_rows_are_in_the_order_of_the_blank() -> None:
    layout = layout_for(BlankType.REGISTRATION, 1)
    ys = [layout.field(f"{group}_pass").box.y for group in RESULT_GROUPS]
    assert ys == sorted(ys)
    assert len(set(ys)) == len(ys)


@pytest.mark.parametrize("layout", ANSWER_LAYOUTS, ids=[x.name for x in ANSWER_LAYOUTS])
def test_answer_pages_have_no_mark_boxes(layout: Layout) -> None:
    assert layout.of_kind(FieldKind.MARK_BOX) == []


# --- the text area ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ANSWER_LAYOUTS, ids=[x.name for x in ANSWER_LAYOUTS])
def test_answer_and_additional_pages_have_one_lined_text_area(layout: Layout) -> None:
    areas = layout.of_kind(FieldKind.TEXT_AREA)
    assert [a.name for a in areas] == ["text"]
    area = areas[0]
    assert area.lines >= 20
    assert area.box.h == pytest.approx(area.lines * 8.0)
    assert area.box.w > PAGE_W / 2
    # below everything else on the page but the bottom markers
    others = [f for f in layout.fields if f.name != "text" and not f.name.startswith("marker_b")]
    assert all(f.box.y + f.box.h <= area.box.y + EPS for f in others)


def test_the_back_page_has_more_lines_than_the_front_page() -> None:
    for blank in (BlankType.ANSWER, BlankType.ADDITIONAL):
        front = layout_for(blank, 1).field("text")
        back = layout_for(blank, 2).field("text")
        assert back.lines > front.lines
        assert back.box.y < front.box.y


def test_the_registration_blank_has_no_text_area() -> None:
    assert layout_for(BlankType.REGISTRATION, 1).of_kind(FieldKind.TEXT_AREA) == []


# --- the layout JSON -------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_as_dict_is_json_with_the_documented_keys(layout: Layout) -> None:
    data = layout.as_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["schema_version"] == 1
    assert data["layout_version"] == LAYOUT_VERSION
    assert data["blank_type"] == layout.blank_type.value
    assert type(data["blank_type"]) is str
    assert data["page"] == layout.page
    assert data["pages"] == {"registration": 1, "answer": 2, "additional": 2}[data["blank_type"]]
    assert data["page_size_mm"] == [210.0, 297.0]
    assert data["title"] == blanks.BLANK_TITLES_RU[layout.blank_type]
    assert [f["name"] for f in data["fields"]] == [f.name for f in layout.fields]


@pytest.mark.parametrize("layout", LAYOUTS, ids=LAYOUT_IDS)
def test_each_field_in_the_json_has_its_kind_and_box_in_mm(layout: Layout) -> None:
    for item, entry in zip(layout.fields, layout.as_dict()["fields"], strict=True):
        assert entry["kind"] == item.kind.value
        assert type(entry["kind"]) is str
        box = [entry["x_mm"], entry["y_mm"], entry["w_mm"], entry["h_mm"]]
        assert box == pytest.approx([item.box.x, item.box.y, item.box.w, item.box.h], abs=0.005)
        if item.kind is FieldKind.DIGIT_CELLS:
            assert len(entry["cells"]) == len(item.cells)
            for cell, listed in zip(item.cells, entry["cells"], strict=True):
                assert listed == pytest.approx([cell.x, cell.y, cell.w, cell.h], abs=0.005)
        else:
            assert "cells" not in entry
        if item.group:
            assert (entry["group"], entry["value"]) == (item.group, item.value)
        else:
            assert "group" not in entry
            assert "value" not in entry
        if item.kind is FieldKind.TEXT_AREA:
            assert entry["lines"] == item.lines


def test_the_registration_json_lists_the_result_boxes_with_group_and_value() -> None:
    fields = {f["name"]: f for f in layout_for(BlankType.REGISTRATION, 1).as_dict()["fields"]}
    assert fields["k3_pass"]["group"] == "k3"
    assert fields["k3_pass"]["value"] == "зачет"
    assert fields["overall_fail"]["value"] == "незачет"
    assert len(fields["topic_number"]["cells"]) == 3
    assert fields["topic_number"]["kind"] == "digit_cells"


# --- the QR payload --------------------------------------------------------------------------

CODE = make_work_code("42", 2017, 1, 123_456)
ALL_PAYLOADS = [
    QrPayload(
        blank,
        CODE if blank is not BlankType.ADDITIONAL else make_work_code("42", 2017, 1, 912_345),
        page,
    )
    for blank, page in sorted(EXPECTED_PAGES)
]


def _sign(body: str) -> str:
    """The QR text of a body, signed like qr_text signs it (checked against qr_text below)."""
    return f"{body}|{hashlib.sha256(body.encode('ascii')).hexdigest()[:4].upper()}"


def test_the_test_signature_is_the_one_qr_text_uses() -> None:
    text = qr_text(QrPayload(BlankType.ANSWER, CODE, 2))
    assert text == _sign(f"IS{LAYOUT_VERSION}|W|{CODE}|2")


@pytest.mark.parametrize("payload", ALL_PAYLOADS, ids=lambda p: f"{p.blank_type}-{p.page}")
def test_a_qr_text_parses_back_to_its_payload(payload: QrPayload) -> None:
    text = qr_text(payload)
    assert text.isascii()
    assert parse_qr(text) == payload


def test_the_qr_text_has_version_type_code_page_and_check_value() -> None:
    parts = qr_text(QrPayload(BlankType.REGISTRATION, CODE, 1)).split("|")
    assert parts[:4] == [f"IS{LAYOUT_VERSION}", "R", CODE, "1"]
    assert re.fullmatch(r"[0-9A-F]{4}", parts[4])
    letters = {p.blank_type: qr_text(p).split("|")[1] for p in ALL_PAYLOADS}
    assert letters == {
        BlankType.REGISTRATION: "R",
        BlankType.ANSWER: "W",
        BlankType.ADDITIONAL: "D",
    }


def test_pages_of_one_code_have_different_qr_texts() -> None:
    texts = {qr_text(QrPayload(b, CODE, p)) for b, p in EXPECTED_PAGES}
    assert len(texts) == len(EXPECTED_PAGES)


def test_surrounding_whitespace_and_a_lowercase_check_value_are_accepted() -> None:
    payload = QrPayload(BlankType.ANSWER, CODE, 1)
    text = qr_text(payload)
    body, check = text.rsplit("|", 1)
    assert parse_qr(f"  {text}\n") == payload
    assert parse_qr(f"{body}|{check.lower()}") == payload


@pytest.mark.parametrize("payload", ALL_PAYLOADS, ids=lambda p: f"{p.blank_type}-{p.page}")
def test_any_changed_digit_of_the_code_is_refused(payload: QrPayload) -> None:
    text = qr_text(payload)
    start = text.index(payload.code)
    for i in range(start, start + len(payload.code)):
        changed = text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]
        with pytest.raises(DataError, match="контрольное значение"):
            parse_qr(changed)


def test_a_changed_page_is_refused() -> None:
    text = qr_text(QrPayload(BlankType.ANSWER, CODE, 1))
    with pytest.raises(DataError):
        parse_qr(text.replace(f"|{CODE}|1|", f"|{CODE}|2|"))


@pytest.mark.parametrize(("letter", "other"), [("R", "W"), ("W", "D"), ("D", "W"), ("W", "R")])
def test_a_changed_blank_type_letter_is_refused(letter: str, other: str) -> None:
    blank = {"R": BlankType.REGISTRATION, "W": BlankType.ANSWER, "D": BlankType.ADDITIONAL}[letter]
    text = qr_text(QrPayload(blank, CODE, 1))
    changed = text.replace(f"|{letter}|", f"|{other}|")
    assert changed != text
    with pytest.raises(DataError):
        parse_qr(changed)


@pytest.mark.parametrize("payload", ALL_PAYLOADS, ids=lambda p: f"{p.blank_type}-{p.page}")
def test_any_changed_character_of_the_check_value_is_refused(payload: QrPayload) -> None:
    text = qr_text(payload)
    for i in range(len(text) - 4, len(text)):
        other = "0" if text[i] != "0" else "1"
        with pytest.raises(DataError, match="контрольное значение"):
            parse_qr(text[:i] + other + text[i + 1 :])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "https://example.org/",
        "ST00012|Name=ООО Ромашка|PersonalAcc=40702810",
        "4217112345604",
        "XS1|W|421711234560|1|ABCD",
    ],
)
def test_a_foreign_text_is_refused(text: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_qr(text)
    assert CYRILLIC.search(caught.value.reason)


def test_a_wrong_prefix_with_a_valid_check_value_is_refused() -> None:
    with pytest.raises(DataError, match="не относится"):
        parse_qr(_sign(f"XX{LAYOUT_VERSION}|W|{CODE}|1"))


def test_another_layout_version_is_refused_even_with_a_valid_check_value() -> None:
    for version in (LAYOUT_VERSION + 1, 0):
        with pytest.raises(DataError, match="версия"):
            parse_qr(_sign(f"IS{version}|W|{CODE}|1"))


@pytest.mark.parametrize(
    "payload",
    [
        QrPayload(BlankType.REGISTRATION, CODE, 2),
        QrPayload(BlankType.ANSWER, CODE, 3),
        QrPayload(BlankType.ADDITIONAL, CODE, 0),
        QrPayload(BlankType.ANSWER, CODE, -1),
    ],
)
def test_a_page_the_blank_does_not_have_is_refused(payload: QrPayload) -> None:
    with pytest.raises(DataError, match="номер страницы"):
        parse_qr(qr_text(payload))


def test_an_unknown_type_letter_or_a_non_numeric_page_is_refused() -> None:
    for body in (f"IS1|X|{CODE}|1", f"IS1|w|{CODE}|1", f"IS1|W|{CODE}|a", f"IS1|W|{CODE}|"):
        with pytest.raises(DataError, match="тип бланка"):
            parse_qr(_sign(body))


@pytest.mark.parametrize("extra", ["drop", "add"])
def test_a_wrong_number_of_parts_is_refused(extra: str) -> None:
    text = qr_text(QrPayload(BlankType.ANSWER, CODE, 1))
    changed = text.rsplit("|", 1)[0] if extra == "drop" else f"{text}|1"
    with pytest.raises(DataError, match="не относится"):
        parse_qr(changed)
    with pytest.raises(DataError, match="не относится"):
        parse_qr(text.replace("|", "||", 1))


def test_a_foreign_text_with_non_ascii_characters_is_refused_with_a_data_error() -> None:
    with pytest.raises(DataError):
        parse_qr("ISBN 978-5|Война и мир|Толстой|1869|A1B2")
