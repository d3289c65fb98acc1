"""The handwritten words of a text area (tasks/domain/writing_amount.py) on drawn masks: cursive-
like words on ruled lines are counted one each, at any resolution, also when their strokes are
broken or a 1-bit scan keeps the ruling that their descenders touch; an empty area, specks and
a «Z» that strikes out a page count none. On the committed scan samples the scan stage records
the count for every answer page (tests/scan_samples)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest

from tasks.domain import recognition as rec
from tasks.domain.blanks import BlankType, layout_for
from tasks.domain.writing_amount import LINE_MM, estimate_words
from tests.scan_samples_support import image, read, truth

WIDTH_MM = 170.0
LETTER_MM = 2.0
GAP_MM = 3.0  # between words, as a hand leaves it (the simulator: 2.6–4.0 mm and more)


def _word(
    mask: np.ndarray, x: float, baseline: float, letters: int, ppm: float, descender: int | None
) -> float:
    """One cursive-like word (a loop per letter, letter `descender` going down to the ruling)
    drawn from `x` mm on `baseline` mm; returns where it ends (mm)."""
    t = np.linspace(0.0, letters, letters * 16 + 1)
    up = 2.2 * (1 - np.cos(2 * np.pi * t)) / 2
    if descender is not None:
        down = (t >= descender) & (t <= descender + 1)
        up[down] = -2.0 * (1 - np.cos(2 * np.pi * t[down])) / 2
    xs = x + LETTER_MM * t - 0.25 * LETTER_MM * np.sin(2 * np.pi * t)
    points = np.column_stack([xs, baseline - up]) * ppm
    thickness = max(1, round(0.4 * ppm))
    cv2.polylines(mask, [np.round(points).astype(np.int32)], False, 1, thickness)
    return float(xs.max())


def _page(
    words: Sequence[int], ppm: float, lines: int = 10, descenders: bool = False, seed: int = 0
) -> tuple[np.ndarray, int]:
    """A text area of `lines` ruled lines holding words of the given lengths (letters), line
    after line; the mask and how many words fitted."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((round(lines * LINE_MM * ppm), round(WIDTH_MM * ppm)), np.uint8)
    line, x, drawn = 0, 3.0, 0
    for letters in words:
        if x + letters * LETTER_MM > WIDTH_MM - 3.0:
            line, x = line + 1, 3.0
        if line == lines:
            break
        descender = int(rng.integers(letters)) if descenders else None
        x = _word(mask, x, (line + 1) * LINE_MM - 2.0, letters, ppm, descender) + GAP_MM
        drawn += 1
    return mask, drawn


def _lengths(count: int, seed: int = 1) -> list[int]:
    return [int(n) for n in np.random.default_rng(seed).integers(1, 12, count)]


@pytest.mark.parametrize("ppm", [3.0, 4.0, 6.0])
def test_every_drawn_word_is_counted_once_at_any_resolution(ppm: float) -> None:
    mask, drawn = _page(_lengths(80), ppm)
    assert drawn == 80
    assert estimate_words(mask, ppm) == drawn


def test_a_boolean_mask_counts_as_its_ink() -> None:
    mask, drawn = _page(_lengths(30), 3.0)
    assert estimate_words(mask.astype(bool), 3.0) == drawn


def test_an_empty_area_has_no_words() -> None:
    assert estimate_words(np.zeros((480, 510), np.uint8), 3.0) == 0


def test_specks_alone_are_no_words() -> None:
    rng = np.random.default_rng(2)
    mask = np.zeros((480, 510), np.uint8)
    for x, y in zip(rng.integers(0, 510, 400), rng.integers(0, 480, 400), strict=True):
        mask[y : y + rng.integers(1, 3), x : x + rng.integers(1, 3)] = 1
    assert estimate_words(mask, 3.0) == 0


def test_specks_among_the_words_do_not_change_the_count() -> None:
    mask, drawn = _page(_lengths(80), 3.0)
    rng = np.random.default_rng(3)
    for x, y in zip(
        rng.integers(0, mask.shape[1], 300), rng.integers(0, mask.shape[0], 300), strict=True
    ):
        mask[y, x] = 1
    assert estimate_words(mask, 3.0) == drawn


def test_a_z_striking_out_the_area_is_no_words() -> None:
    ppm = 3.0
    mask = np.zeros((round(20 * LINE_MM * ppm), round(WIDTH_MM * ppm)), np.uint8)
    h, w = mask.shape
    corners = np.array([[12, 6], [w - 12, 6], [12, h - 6], [w - 12, h - 6]], np.int32)
    cv2.polylines(mask, [corners], False, 1, 2)
    assert estimate_words(mask, ppm) == 0


def test_words_below_a_struck_out_rest_of_the_page_are_still_counted() -> None:
    ppm = 3.0
    mask, drawn = _page(_lengths(40), ppm, lines=20)
    top, h, w = round(6 * LINE_MM * ppm) + 4, mask.shape[0], mask.shape[1]
    corners = np.array([[12, top], [w - 12, top], [12, h - 6], [w - 12, h - 6]], np.int32)
    cv2.polylines(mask, [corners], False, 1, 2)
    assert estimate_words(mask, ppm) == drawn


def test_a_word_whose_strokes_are_broken_counts_once() -> None:
    ppm = 4.0  # the scan stage's cut-out (recognition.TEXT_PX_PER_MM)
    mask, drawn = _page(_lengths(60), ppm)
    # A 2 × 2 px hole at one ink pixel in twenty: the words fall into pieces.
    rng = np.random.default_rng(4)
    ys, xs = np.nonzero(mask)
    for y, x in zip(ys, xs, strict=True):
        if rng.random() < 0.05:
            mask[y : y + 2, x : x + 2] = 0
    assert cv2.connectedComponents(mask, connectivity=8)[0] - 1 > 2 * drawn
    assert estimate_words(mask, ppm) == drawn


def test_ruled_lines_kept_as_ink_do_not_join_the_words_whose_descenders_touch_them() -> None:
    ppm = 4.0
    mask, drawn = _page(_lengths(80), ppm, descenders=True)
    assert estimate_words(mask, ppm) == drawn
    for line in range(1, 11):
        mask[round(line * LINE_MM * ppm) - 1, :] = 1
    assert estimate_words(mask, ppm) == drawn


def test_the_ruling_pitch_is_the_one_given() -> None:
    ppm, pitch = 3.0, 10.0
    mask = np.zeros((round(6 * pitch * ppm), round(WIDTH_MM * ppm)), np.uint8)
    drawn = 0
    for line in range(6):
        x = 3.0
        while x < WIDTH_MM - 25.0:
            x = _word(mask, x, (line + 1) * pitch - 2.0, 6, ppm, None) + GAP_MM
            drawn += 1
    assert estimate_words(mask, ppm, line_mm=pitch) == drawn


# --- the scan samples -----------------------------------------------------------------------

ANSWERS = sorted(name for name, sample in truth().items() if sample["blank_type"] == "answer")


@pytest.mark.parametrize("name", ANSWERS)
def test_the_scan_stage_records_the_words_of_every_answer_sample(name: str) -> None:
    sample = truth()[name]
    record, _ = read(name)
    words = sample["handwritten"].get("words")
    if words is not None:  # the simulator's count, where truth.json carries it
        assert record["words"] == pytest.approx(words, rel=0.1, abs=2)
    elif sample.get("blank"):
        assert record["words"] == 0
    else:  # written on, the count not in truth.json
        assert record["words"] > 0


def test_the_empty_answer_sample_has_no_words_in_its_text_area() -> None:
    sample = truth()["answer_empty.jpg"]
    assert sample["blank"]
    assert sample["handwritten"]["fields"] == {"work_code": ""}
    located = rec.locate(image("answer_empty.jpg"))
    assert isinstance(located, rec.Located)
    text = rec.text_area(image("answer_empty.jpg"), located, layout_for(BlankType.ANSWER, 1))
    assert text == rec.TextArea(ink=text.ink, words=0)
    assert text.ink < 0.002
