"""Handwriting on a blank (tasks/adapters/handwriting.py): digits land in their cells, every
word of an essay line is one ink cluster apart from its neighbours (the grader counts them),
marks fill their boxes, and the same seed draws the same strokes."""

from __future__ import annotations

import dataclasses
import random

import cv2
import numpy as np
import pytest

from tasks.adapters.handwriting import PX_PER_MM, draw_page
from tasks.domain.blanks import BlankType, layout_for
from tasks.domain.exam_day import DigitEntry, MarkEntry, PageInk, text_lines, writers
from tasks.domain.exam_day_scans import page_size_px

STYLES = writers(24, seed=8)


def blank() -> np.ndarray:
    width, height = page_size_px(300)
    return np.full((height, width), 255, np.uint8)


def region(image: np.ndarray, x: float, y: float, w: float, h: float) -> np.ndarray:
    k = PX_PER_MM
    return image[round(y * k) : round((y + h) * k), round(x * k) : round((x + w) * k)]


@pytest.mark.parametrize("writer", range(len(STYLES)))
def test_every_writers_words_are_separate_ink_clusters(writer: int) -> None:
    # Lines as the simulator lays them out for this hand (the page's width, its letters).
    lines = tuple(text_lines(random.Random(writer), 200, STYLES[writer]))[:22]
    ink = PageInk("answer-1:x", lines=lines, text_writer=writer, seed=writer)
    image = blank()
    layout = layout_for(BlankType.ANSWER, 1)
    draw_page(image, ink, layout, STYLES)
    box = layout.field("text").box
    text = region(image, box.x, box.y, box.w, box.h + 3.0)  # descenders below the last line
    for scale in (1.0, 0.5):  # at 300 dpi and as a 150-dpi scan sees it
        small = cv2.resize(text, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        _, dark = cv2.threshold(small, 160, 255, cv2.THRESH_BINARY_INV)
        _, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
        blobs = int((stats[1:, cv2.CC_STAT_AREA] >= 4).sum())
        assert abs(blobs - ink.words) <= ink.words * 0.01, (scale, blobs, ink.words)


def test_digits_are_drawn_inside_their_cells_and_nowhere_else() -> None:
    layout = layout_for(BlankType.REGISTRATION, 1)
    for writer in range(len(STYLES)):
        image = blank()
        ink = PageInk(
            "registration-1:x",
            digits=(DigitEntry("topic_number", ("2", "0", ""), writer),),
            seed=writer,
        )
        draw_page(image, ink, layout, STYLES)
        cells = layout.field("topic_number").cells
        for cell, written in zip(cells, (True, True, False), strict=True):
            inside = region(image, cell.x, cell.y, cell.w, cell.h)
            assert bool((inside < 128).mean() > 0.02) is written, (writer, cell)
        field = layout.field("topic_number").box
        outside = image.copy()
        k = PX_PER_MM
        margin = 2.5  # a digit may touch its cell's border and run over it a little
        x0, y0 = round((field.x - margin) * k), round((field.y - margin) * k)
        x1, y1 = round((field.x + field.w + margin) * k), round((field.y + field.h + margin) * k)
        outside[y0:y1, x0:x1] = 255
        assert (outside < 200).sum() == 0


def test_marks_cross_their_box_and_a_cancelled_box_is_filled() -> None:
    layout = layout_for(BlankType.REGISTRATION, 1)
    image = blank()
    ink = PageInk(
        "registration-1:x",
        marks=(
            MarkEntry("k1_pass", "cross", 0),
            MarkEntry("k1_fail", "fill", 0),
            MarkEntry("k2_pass", "tick", 1),
        ),
        seed=1,
    )
    draw_page(image, ink, layout, STYLES)
    for name, low, high in (
        ("k1_pass", 0.05, 0.6),
        ("k1_fail", 0.9, 1.0),
        ("k2_pass", 0.03, 0.6),
        ("k2_fail", 0.0, 0.0),
    ):
        box = layout.field(name).box
        share = (region(image, box.x + 0.5, box.y + 0.5, box.w - 1, box.h - 1) < 128).mean()
        assert low <= share <= high, name


def test_the_same_seed_draws_the_same_strokes() -> None:
    layout = layout_for(BlankType.ANSWER, 1)
    ink = PageInk(
        "answer-1:x",
        digits=(DigitEntry("work_code", tuple("421710123453"), 3),),
        lines=((3, 5, 7), (2, 9)),
        text_writer=3,
        z_from_line=2,
        z_writer=4,
        seed=77,
    )
    one, two = blank(), blank()
    draw_page(one, ink, layout, STYLES)
    draw_page(two, ink, layout, STYLES)
    assert np.array_equal(one, two)
    other = blank()
    draw_page(other, dataclasses.replace(ink, seed=78), layout, STYLES)
    assert not np.array_equal(one, other)
