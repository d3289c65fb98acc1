"""Recognition of single pages (tasks/domain/recognition.py, tasks/domain/page_reading.py) on the
committed scan samples (tests/scan_samples): the markers are found (three on a torn page) and
map the layout to within a fraction of a millimetre of where the simulator put it, a page
turned 180° is told, and every sample — rotated, turned, 150 dpi, 1 bit, torn, empty — reads
as the simulator's ground truth says; an image without a page is rejected with its reason. A
thin light «1» that covers under 1 % of its cell is still ink, and a dithered (halftone) scan
is told and descreened, so that its fields and marks read right."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tasks.domain import recognition as rec
from tasks.domain.blanks import PAGE_H, PAGE_W, BlankType, Field, FieldKind, layout_for
from tasks.domain.digit_fields import decide_field
from tasks.domain.page_reading import (
    REASONS,
    STATUSES,
    DigitCells,
    PageContext,
    field_cells,
    read_page,
)
from tests.scan_samples_support import engines, image, read, session, truth

NAMES = sorted(truth())
# The samples not dithered (test_dithered_sample.py tests the dithered one).
UNDITHERED = [n for n in NAMES if not truth()[n]["effects"].get("dither")]
# Points spread over the page (mm) where the map is compared with the simulator's.
PROBES = [
    (x, y) for x in (15.0, PAGE_W / 2, PAGE_W - 15.0) for y in (15.0, PAGE_H / 2, PAGE_H - 15.0)
]


def _simulated(sample: dict, x: float, y: float) -> tuple[float, float]:
    v = np.array(sample["mm_to_px"]) @ np.array([x, y, 1.0])
    return float(v[0] / v[2]), float(v[1] / v[2])


def test_the_samples_show_what_they_claim_to_test() -> None:
    effects = {name: s["effects"] for name, s in truth().items()}
    assert abs(effects["registration_rotated.jpg"]["rotation_deg"]) >= 2.5
    assert effects["registration_turned.jpg"]["turned_180"]
    assert effects["registration_150dpi.jpg"]["dpi"] == 150
    assert effects["answer_1bit.png"]["binarized"]
    assert set(np.unique(image("answer_1bit.png"))) == {0, 255}
    assert effects["registration_torn.jpg"]["unreadable"] in ("torn-bl", "torn-br")
    assert truth()["registration_scan_2.jpg"]["duplicate"]
    assert (
        truth()["registration_scan_1.jpg"]["page_key"]
        == truth()["registration_scan_2.jpg"]["page_key"]
    )
    assert truth()["registration_other_session.jpg"]["code"] not in session().codes
    assert truth()["answer_empty.jpg"]["handwritten"]["fields"] == {"work_code": ""}


@pytest.mark.parametrize("name", NAMES)
def test_locate_finds_the_markers_and_maps_the_page_where_the_simulator_put_it(name: str) -> None:
    sample = truth()[name]
    located = rec.locate(image(name))
    assert isinstance(located, rec.Located), located
    assert located.markers == sample["markers"]
    assert located.turned == sample["effects"]["turned_180"]
    assert located.orientation_sure
    assert located.px_per_mm * 25.4 == pytest.approx(sample["effects"]["dpi"], rel=0.03)
    worst = max(
        float(np.hypot(*np.subtract(located.point(x, y), _simulated(sample, x, y))))
        for x, y in PROBES
    )
    assert worst / located.px_per_mm < 0.3  # mm


@pytest.mark.parametrize("name", NAMES)
def test_each_sample_reads_as_its_ground_truth(name: str) -> None:
    sample = truth()[name]
    record, cells = read(name)
    expected = sample["expected_page"]
    allowed = expected["status"] if isinstance(expected["status"], list) else [expected["status"]]
    assert record["status"] in allowed, record["reasons"]
    if "reasons" in expected:
        assert record["reasons"] == expected["reasons"]
    assert (record["blank_type"], record["code"], record["page"]) == (
        sample["blank_type"],
        sample["code"],
        sample["page"],
    )
    assert record["turned_180"] == sample["effects"]["turned_180"]
    assert record["alignment"]["markers"] == sample["markers"]
    assert record["alignment"]["error_mm"] < 0.5
    truth_fields = sample["handwritten"]["fields"]
    assert set(record["fields"]) == set(truth_fields) == set(cells)
    for field, reading in record["fields"].items():
        # A field is either right or sent to verification, never accepted wrong.
        if reading["status"] == "accepted":
            assert reading["value"] == truth_fields[field], field
    if expected["status"] == "accepted":
        assert {f: r["value"] for f, r in record["fields"].items()} == truth_fields
    marks = {box: m["state"] for box, m in record["marks"].items()}
    assert marks == {box: sample["handwritten"]["marks"].get(box, "empty") for box in marks}


def test_a_registration_blank_gives_its_marks_as_results_and_flags() -> None:
    record, _ = read("registration_plain.jpg")
    marks = truth()["registration_plain.jpg"]["handwritten"]["marks"]
    layout = layout_for(BlankType.REGISTRATION, 1)
    expected: dict[str, str | None] = {}
    for item in layout.of_kind(FieldKind.MARK_BOX):
        if item.group is not None:
            crossed = marks.get(item.name) == "marked"
            expected[item.group] = item.value if crossed else expected.get(item.group)
    assert any(value is not None for value in expected.values()), "the sample must carry marks"
    assert record["results"] == expected
    assert record["flags"]["oral"] == (marks.get("flag_oral") == "marked")


def test_the_empty_answer_blank_is_told_empty_and_a_written_one_is_not() -> None:
    empty, _ = read("answer_empty.jpg")
    written, _ = read("answer_1bit.png")
    assert empty["blank"] is True
    assert empty["fields"]["work_code"]["value"] == ""
    assert written["blank"] is False
    assert written["text_ink"] > 0.02 > empty["text_ink"]
    assert written["fields"]["work_code"]["matched"] == written["code"]


def test_a_page_turned_in_memory_reads_the_same_the_other_way_up() -> None:
    readers, model = engines()
    upright, _ = read("registration_plain.jpg")
    turned, _ = read_page(
        np.ascontiguousarray(np.rot90(image("registration_plain.jpg"), 2)),
        readers,
        model,
        PageContext(session().topics),
        {"source_file": "turned", "frame": 0},
    )
    assert turned["turned_180"] is True
    assert turned["status"] == upright["status"] == "accepted"

    def values(record: dict) -> dict:
        return {f: (r["value"], r["status"]) for f, r in record["fields"].items()}

    assert values(turned) == values(upright)
    assert {b: m["state"] for b, m in turned["marks"].items()} == {
        b: m["state"] for b, m in upright["marks"].items()
    }


@pytest.mark.parametrize(
    ("grey", "reason"),
    [
        (np.full((300, 200), 255, np.uint8), "no_contrast"),
        (np.zeros((2392, 1707), np.uint8), "no_contrast"),
        (None, "unreadable_file"),
    ],
    ids=["white", "black", "no image"],
)
def test_an_image_without_a_page_is_rejected_with_its_reason(
    grey: np.ndarray | None, reason: str
) -> None:
    readers, model = engines()
    record, cells = read_page(grey, readers, model, PageContext(), {"source_file": "x", "frame": 0})
    assert (record["status"], record["reasons"], cells) == ("rejected", [reason], {})
    assert record["reasons_ru"] == [REASONS[reason][1]]


def test_a_page_without_markers_is_rejected_as_markers_not_found() -> None:
    readers, model = engines()
    # A blank sheet with writing on it but no corner markers: contrast, yet no page.
    grey = np.full((2392, 1707), 245, np.uint8)
    for row in range(200, 2200, 60):
        grey[row : row + 4, 150:1550] = 20
    record, _ = read_page(grey, readers, model, PageContext(), {"source_file": "x", "frame": 0})
    assert (record["status"], record["reasons"]) == ("rejected", ["markers_not_found"])
    # The sample with its markers painted over: the same.
    sample = image("registration_plain.jpg").copy()
    located = rec.locate(sample)
    assert isinstance(located, rec.Located)
    for x, y in rec.MARKER_CENTRES.values():
        px, py = located.point(x, y)
        r = int(8 * located.px_per_mm)
        sample[int(py) - r : int(py) + r, int(px) - r : int(px) + r] = 255
    assert rec.locate(sample) == "markers_not_found"


def test_every_sample_status_comes_from_the_vocabulary() -> None:
    for name in NAMES:
        record, _ = read(name)
        assert record["status"] in STATUSES
        assert all(r in REASONS for r in record["reasons"])


# --- a thin «1»; dithered pages ------------------------------------------------------------------


def _drawn_field(*pieces_mm: float, gap_mm: float = 0.5) -> tuple[np.ndarray, rec.Located, Field]:
    """«Количество бланков записи» drawn at 10 px/mm on white: the printed cell frames, and in
    the second cell a thin light «1» one pixel wide, in pieces `pieces_mm` tall one under the
    other with `gap_mm` between them (as a light stroke comes out of a scan)."""
    item = layout_for(BlankType.REGISTRATION, 1).field("answer_blanks")
    k = rec.PX_PER_MM
    grey = np.full((round(PAGE_H * k), round(PAGE_W * k)), 250, np.uint8)
    for cell in item.cells:
        x0, y0 = round(cell.x * k), round(cell.y * k)
        x1, y1 = round((cell.x + cell.w) * k), round((cell.y + cell.h) * k)
        cv2.rectangle(grey, (x0, y0), (x1, y1), 40, 2)
    cell = item.cells[1]
    x = round((cell.x + cell.w / 2) * k)
    height = sum(pieces_mm) + gap_mm * (len(pieces_mm) - 1)
    y = cell.y + (cell.h - height) / 2
    for piece in pieces_mm:
        grey[round(y * k) : round((y + piece) * k), x] = 90
        y += piece + gap_mm
    located = rec.Located(np.diag([k, k, 1.0]), 4, False, k, 0.0, 250, 0)
    return grey, located, item


def _count_cells(grey: np.ndarray, located: rec.Located, item: Field) -> DigitCells:
    """The count's cells as read_page keeps them (the real engines describe the inked ones)."""
    readers, _ = engines()
    return field_cells(grey, located, item, readers)


def test_a_thin_light_one_is_ink_though_it_covers_under_one_percent_of_its_cell() -> None:
    grey, located, item = _drawn_field(4.5)
    cells = rec.digit_cells(grey, located, item)
    assert [c.damaged for c in cells] == [False, False]
    assert cells[1].ink < 0.01  # under the share that tells a written cell on its own
    assert [c.inked for c in cells] == [False, True]
    # Read, it is a «1» or goes to verification; never an accepted empty count.
    readers, model = engines()
    assert cells[1].image is not None
    sample = readers.describe([cells[1].image])[0]
    probs = DigitCells((None, sample), False).probabilities(model)
    reading = decide_field(probs, ["1"])
    assert not (reading.accepted and reading.value == "")
    assert reading.value == "1" or not reading.accepted


def test_a_speck_or_a_short_scratch_in_a_cell_is_still_no_digit() -> None:
    grey, located, item = _drawn_field(1.5)
    cells = rec.digit_cells(grey, located, item)
    assert [c.inked for c in cells] == [False, False]
    assert [c.faint for c in cells] == [False, False]
    _, model = engines()
    reading = _count_cells(grey, located, item).decide(model, ["1"])
    assert reading.accepted
    assert reading.value == ""


# A light «1» that the scan broke into pieces each smaller than a speck (under 0.35 mm² at one
# pixel wide: 3.5 mm): two of 2 mm with a 0.5 mm gap, 2.5 and 1.5 mm, or one of 2.8 mm.
BROKEN_ONES = {"2 + 2 mm": (2.0, 2.0), "2.5 + 1.5 mm": (2.5, 1.5), "2.8 mm": (2.8,)}


@pytest.mark.parametrize("pieces", BROKEN_ONES.values(), ids=BROKEN_ONES.keys())
def test_a_thin_one_broken_into_specks_is_faint_and_its_count_is_never_accepted_empty(
    pieces: tuple[float, ...],
) -> None:
    grey, located, item = _drawn_field(*pieces)
    cells = rec.digit_cells(grey, located, item)
    assert [c.damaged for c in cells] == [False, False]
    assert cells[1].inked or cells[1].faint
    assert not cells[0].faint
    _, model = engines()
    # A work of one sheet: the count «1» or empty would both agree with the sheets received.
    reading = _count_cells(grey, located, item).decide(model, ["1"])
    assert not (reading.accepted and reading.value == "")
    if not reading.accepted:
        assert reading.reason == "digits_uncertain"
        assert reading.cells[1] == "?"


def test_an_empty_cell_with_a_few_isolated_specks_stays_empty() -> None:
    grey, located, item = _drawn_field()
    cell = item.cells[1]
    k = rec.PX_PER_MM
    for dx, dy in ((2.0, 2.5), (4.5, 3.0), (3.5, 6.5), (2.5, 5.0)):
        x, y = round((cell.x + dx) * k), round((cell.y + dy) * k)
        grey[y : y + 3, x : x + 3] = 60  # 0.3 mm dust
    cells = rec.digit_cells(grey, located, item)
    assert [(c.inked, c.faint) for c in cells] == [(False, False), (False, False)]
    _, model = engines()
    reading = _count_cells(grey, located, item).decide(model, ["1"])
    assert reading.accepted
    assert reading.value == ""


@pytest.mark.parametrize("kind", ["error-diffusion", "ordered"])
def test_a_dithered_scan_is_descreened_and_its_fields_and_marks_read_right(kind: str) -> None:
    from tasks.adapters.scan_effects import dither

    name = "registration_plain.jpg"
    sample = truth()[name]
    # The scanner's halftone mode over a slightly grey paper: greys become dot patterns.
    grey = dither(cv2.convertScaleAbs(image(name), alpha=0.9, beta=5), kind)
    assert set(np.unique(grey)) == {0, 255}
    assert rec.roughness(grey) > 5 > max(rec.roughness(image(n)) for n in UNDITHERED)
    located = rec.locate(grey)
    assert isinstance(located, rec.Located)
    assert located.descreen_mm > 0
    readers, model = engines()
    record, _ = read_page(
        grey, readers, model, PageContext(session().topics), {"source_file": kind, "frame": 0}
    )
    assert record["status"] == "accepted", record["reasons"]
    assert {f: r["value"] for f, r in record["fields"].items()} == sample["handwritten"]["fields"]
    marks = {box: m["state"] for box, m in record["marks"].items()}
    assert marks == {box: sample["handwritten"]["marks"].get(box, "empty") for box in marks}


def test_an_ordered_screen_on_near_white_paper_is_told_by_its_lone_dots_and_reads_right() -> None:
    from tasks.adapters.scan_effects import dither

    name = "registration_plain.jpg"
    sample = truth()[name]
    # Paper a shade under white: the 8 × 8 screen leaves one dot in 64 pixels, so most rows
    # have none and the roughness stays low; the lone dots tell it.
    grey = dither(np.minimum(image(name), 251), "ordered")
    assert rec.roughness(grey) < 5
    assert rec.lone_dots(grey) > 8 > max(rec.lone_dots(image(n)) for n in UNDITHERED)
    located = rec.locate(grey)
    assert isinstance(located, rec.Located)
    assert located.descreen_mm > 0
    readers, model = engines()
    record, _ = read_page(
        grey, readers, model, PageContext(session().topics), {"source_file": name, "frame": 0}
    )
    assert record["status"] == "accepted", record["reasons"]
    assert {f: r["value"] for f, r in record["fields"].items()} == sample["handwritten"]["fields"]


def test_an_empty_cell_with_an_ordered_screens_dots_is_not_faint() -> None:
    grey, located, item = _drawn_field()
    cell = item.cells[1]
    k = rec.PX_PER_MM
    x0, y0 = round(cell.x * k) + 4, round(cell.y * k) + 4
    x1, y1 = round((cell.x + cell.w) * k) - 4, round((cell.y + cell.h) * k) - 4
    grey[y0:y1:10, x0:x1:10] = 0  # a dot every 1 mm, as a screen draws on near-white paper
    grey[y0 + 1 : y1 : 10, x0:x1:10] = 0
    cells = rec.digit_cells(grey, located, item)
    assert [(c.inked, c.faint) for c in cells] == [(False, False), (False, False)]


def test_grey_and_thresholded_samples_are_not_descreened() -> None:
    for name in UNDITHERED:
        located = rec.locate(image(name))
        assert isinstance(located, rec.Located)
        assert located.descreen_mm == 0.0, name
