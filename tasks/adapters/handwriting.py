"""Handwriting-like ink on a rendered blank: digits in cells, marks in boxes, essay lines, «Z».

Draws what `tasks.domain.exam_day.PageInk` says onto a 300-dpi grey page, in the hand of a
`WriterStyle`. Digits are strokes (own skeletons smoothed by Catmull–Rom, or OpenCV's Hershey
script fonts) with the writer's slant, size, stroke width and wobble and a per-digit affine
jitter, placed in their cell with an offset that now and then touches the cell's border. Essay
lines are cursive-like scribbles: one trochoid-shaped stroke per word (loops, ascenders,
descenders), words separated by gaps wider than the stroke's reach, so that every word is one
ink cluster — the grader estimates the amount of writing by counting them. Deterministic: all
randomness comes from the page's seed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np

from tasks.domain.blanks import Box, Layout
from tasks.domain.exam_day import TEXT_MARGIN_MM, DigitEntry, MarkEntry, PageInk, WriterStyle

__all__ = ["PX_PER_MM", "draw_page"]

DPI = 300
PX_PER_MM = DPI / 25.4
_SHIFT = 4  # fixed-point bits for cv2 drawing: 1/16 px precision
_ONE = 1 << _SHIFT
DIGIT_ASPECT = 0.62  # glyph width / height

# Digit skeletons in a unit box (x right, y down): strokes of control points, as they are
# written (0 anticlockwise from the top, 1 with its lead-in, 4 in two strokes, ...).
_SKELETONS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "0": (
        (
            (0.55, 0.0),
            (0.22, 0.1),
            (0.05, 0.45),
            (0.18, 0.88),
            (0.5, 1.0),
            (0.85, 0.85),
            (0.95, 0.45),
            (0.8, 0.1),
            (0.5, 0.02),
        ),
    ),
    "1": (((0.2, 0.3), (0.45, 0.12), (0.65, 0.0), (0.6, 0.5), (0.55, 1.0)),),
    "2": (
        (
            (0.1, 0.25),
            (0.3, 0.04),
            (0.62, 0.0),
            (0.86, 0.2),
            (0.78, 0.46),
            (0.42, 0.75),
            (0.08, 1.0),
            (0.5, 0.97),
            (0.95, 0.98),
        ),
    ),
    "3": (
        (
            (0.12, 0.12),
            (0.45, 0.0),
            (0.8, 0.12),
            (0.78, 0.36),
            (0.42, 0.48),
            (0.82, 0.62),
            (0.86, 0.86),
            (0.5, 1.0),
            (0.1, 0.88),
        ),
    ),
    "4": (
        ((0.62, 0.0), (0.35, 0.35), (0.05, 0.66), (0.5, 0.66), (0.98, 0.64)),
        ((0.72, 0.3), (0.7, 0.65), (0.68, 1.0)),
    ),
    "5": (
        ((0.88, 0.02), (0.52, 0.0), (0.25, 0.02)),
        (
            (0.25, 0.02),
            (0.18, 0.44),
            (0.55, 0.38),
            (0.86, 0.56),
            (0.84, 0.86),
            (0.5, 1.0),
            (0.12, 0.88),
        ),
    ),
    "6": (
        (
            (0.82, 0.04),
            (0.46, 0.1),
            (0.18, 0.46),
            (0.15, 0.82),
            (0.48, 1.0),
            (0.82, 0.86),
            (0.8, 0.6),
            (0.5, 0.48),
            (0.18, 0.66),
        ),
    ),
    "7": (((0.08, 0.06), (0.5, 0.02), (0.92, 0.0), (0.62, 0.5), (0.4, 1.0)),),
    "8": (
        (
            (0.56, 0.48),
            (0.2, 0.28),
            (0.48, 0.0),
            (0.8, 0.22),
            (0.5, 0.5),
            (0.14, 0.76),
            (0.48, 1.0),
            (0.86, 0.76),
            (0.56, 0.48),
        ),
    ),
    "9": (
        (
            (0.82, 0.28),
            (0.52, 0.46),
            (0.18, 0.32),
            (0.36, 0.02),
            (0.74, 0.06),
            (0.82, 0.3),
            (0.72, 0.66),
            (0.46, 1.0),
        ),
    ),
}
_HERSHEY = {
    "hershey": cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    "hershey-italic": cv2.FONT_HERSHEY_SCRIPT_SIMPLEX | cv2.FONT_ITALIC,
}


def _px(mm: float) -> float:
    return mm * PX_PER_MM


def _smooth(points: np.ndarray, per: int = 7) -> np.ndarray:
    """A Catmull–Rom curve through the control points."""
    if len(points) < 3:
        t = np.linspace(0.0, 1.0, per)[:, None]
        return np.asarray(points[0] + (points[-1] - points[0]) * t, dtype=float)
    p = np.vstack([points[0], points, points[-1]])
    t = np.linspace(0.0, 1.0, per, endpoint=False)[:, None]
    p0, p1, p2, p3 = p[:-3], p[1:-2], p[2:-1], p[3:]
    # (segments, per, 2): every segment's samples at once.
    t = t[None, :, :]
    p0, p1, p2, p3 = (a[:, None, :] for a in (p0, p1, p2, p3))
    curve = 0.5 * (
        2 * p1
        + (p2 - p0) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (3 * p1 - p0 - 3 * p2 + p3) * t**3
    )
    return np.asarray(np.vstack([curve.reshape(-1, 2), points[-1:]]), dtype=float)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _thickness(style: WriterStyle, rng: np.random.Generator) -> int:
    return max(1, round(_px(style.stroke_mm) * rng.uniform(0.9, 1.1)))


def _cell_frame(
    cell: Box, style: WriterStyle, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """Glyph height, width and centre (px) of one digit in its cell."""
    height = _px(cell.h) * style.size * rng.uniform(0.92, 1.08)
    width = height * DIGIT_ASPECT * rng.uniform(0.9, 1.1)
    spread = style.offset
    if rng.random() < 0.06:  # now and then a digit runs into the cell's border
        spread = 0.28
    cx = _px(cell.x + cell.w / 2) + rng.uniform(-spread, spread) * _px(cell.w)
    cy = _px(cell.y + cell.h / 2) + rng.uniform(-spread, spread) * _px(cell.h)
    return height, width, cx, cy


def _skeleton_digit(
    image: np.ndarray, digit: str, cell: Box, style: WriterStyle, rng: np.random.Generator
) -> None:
    height, width, cx, cy = _cell_frame(cell, style, rng)
    angle = np.radians(rng.uniform(-4, 4))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    strokes = []
    for stroke in _SKELETONS[digit]:
        unit = np.array(stroke, dtype=float)
        unit = unit + rng.normal(0.0, style.jitter, unit.shape)
        unit[:, 0] += style.slant * (0.5 - unit[:, 1])  # slant: tops lean right
        local = (unit - 0.5) * np.array([width, height])
        strokes.append(_fixed(_smooth(local @ rotation.T + np.array([cx, cy]))))
    cv2.polylines(image, strokes, False, style.ink, _thickness(style, rng), cv2.LINE_AA, _SHIFT)


def _hershey_digit(
    image: np.ndarray, digit: str, cell: Box, style: WriterStyle, rng: np.random.Generator
) -> None:
    height, _, cx, cy = _cell_frame(cell, style, rng)
    font = _HERSHEY[style.font]
    thickness = _thickness(style, rng)
    (_, h1), _ = cv2.getTextSize(digit, font, 1.0, 1)
    scale = height / max(h1, 1)
    size = int(height * 2)
    patch = np.full((size, size), 255, np.uint8)
    (tw, th), _ = cv2.getTextSize(digit, font, scale, thickness)
    origin = ((size - tw) // 2, (size + th) // 2)
    cv2.putText(patch, digit, origin, font, scale, style.ink, thickness, cv2.LINE_AA)
    angle = rng.uniform(-4, 4)
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, rng.uniform(0.95, 1.05))
    m[0, 1] -= style.slant * 0.6  # extra shear on top of the font's own
    m[0, 2] += style.slant * 0.6 * size / 2
    glyph = cv2.warpAffine(patch, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=255)
    x0, y0 = round(cx - size / 2), round(cy - size / 2)
    h, w = image.shape
    xs, ys = max(x0, 0), max(y0, 0)
    xe, ye = min(x0 + size, w), min(y0 + size, h)
    if xe <= xs or ye <= ys:
        return
    region = image[ys:ye, xs:xe]
    np.minimum(region, glyph[ys - y0 : ye - y0, xs - x0 : xe - x0], out=region)


def _digits(
    image: np.ndarray,
    entry: DigitEntry,
    layout: Layout,
    style: WriterStyle,
    rng: np.random.Generator,
) -> None:
    cells = layout.field(entry.field).cells
    for cell, digit in zip(cells, entry.cells, strict=False):
        if not digit:
            continue
        if style.font == "skeleton":
            _skeleton_digit(image, digit, cell, style, rng)
        else:
            _hershey_digit(image, digit, cell, style, rng)


def _mark(
    image: np.ndarray,
    entry: MarkEntry,
    layout: Layout,
    style: WriterStyle,
    rng: np.random.Generator,
) -> None:
    box = layout.field(entry.field).box
    x, y, w, h = _px(box.x), _px(box.y), _px(box.w), _px(box.h)
    thickness = _thickness(style, rng)
    if entry.stroke == "fill":
        pad = _px(0.4)
        corners = np.array(
            [
                [x - pad, y - pad],
                [x + w + pad, y - pad],
                [x + w + pad, y + h + pad],
                [x - pad, y + h + pad],
            ]
        ) + rng.normal(0, _px(0.25), (4, 2))
        cv2.fillPoly(image, [_fixed(corners)], style.ink, cv2.LINE_AA, _SHIFT)
        return
    size = rng.uniform(0.6, 1.35)
    cx = x + w / 2 + rng.uniform(-0.15, 0.15) * w
    cy = y + h / 2 + rng.uniform(-0.15, 0.15) * h
    half = w * size / 2
    if entry.stroke == "tick":
        points = np.array(
            [
                [cx - half, cy],
                [cx - half * 0.2, cy + half * 0.8],
                [cx + half * 1.1, cy - half * 1.1],
            ]
        )
        strokes = [points + rng.normal(0, _px(0.2), points.shape)]
    else:
        a = np.array([[cx - half, cy - half], [cx, cy], [cx + half, cy + half]])
        b = np.array([[cx + half, cy - half], [cx, cy], [cx - half, cy + half]])
        strokes = [s + rng.normal(0, _px(0.25), s.shape) for s in (a, b)]
    cv2.polylines(
        image,
        [_fixed(_smooth(s, 5)) for s in strokes],
        False,
        style.ink,
        thickness,
        cv2.LINE_AA,
        _SHIFT,
    )


def _words(
    lines: Sequence[Sequence[int]],
    left: float,
    right: float,
    first_baseline: float,
    line_h: float,
    style: WriterStyle,
    thickness: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Every word of a page as one cursive stroke each: a trochoid whose loops are the letters
    (plain, ascender, descender), all words of the page computed at once. Gaps between words
    are widened where a slanted ascender would reach the next word's loop, so that words stay
    separate ink clusters."""
    letters = np.array([n for line in lines for n in line], dtype=np.int64)
    if not len(letters):
        return []
    line_of = np.repeat(np.arange(len(lines)), [len(line) for line in lines])
    words = len(letters)
    per = 8
    advance = _px(style.letter_mm) * rng.uniform(0.94, 1.06, words)
    x_height = _px(style.x_height_mm) * rng.uniform(0.92, 1.08, words)
    counts = letters * per + 1
    word_of = np.repeat(np.arange(words), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    t = (np.arange(counts.sum()) - starts[word_of]) / per
    first_letter = np.concatenate([[0], np.cumsum(letters)[:-1]])
    letter = first_letter[word_of] + np.minimum(t.astype(np.int64), letters[word_of] - 1)
    kind = rng.choice(3, int(letters.sum()), p=(0.74, 0.16, 0.10))  # plain, ascender, descender
    height = np.where(kind == 1, 1.6, 1.0) * rng.uniform(0.85, 1.1, len(kind))
    cycle = (1 - np.cos(2 * np.pi * t)) / 2
    up = np.where(kind[letter] == 2, -0.8, height[letter]) * cycle * x_height[word_of]
    a = advance[word_of]
    rel_x = a * t - style.loop * a * np.sin(2 * np.pi * t) + style.slant * up
    widths = advance * letters
    overhang_left = -np.minimum.reduceat(rel_x, starts)
    overhang_right = np.maximum.reduceat(rel_x, starts) - widths
    gap = _px(style.word_gap_mm) * rng.uniform(0.9, 1.15, words)
    need = overhang_right[:-1] + overhang_left[1:] + _px(1.2) + thickness
    gap[:-1] = np.maximum(gap[:-1], need)
    step = widths + gap
    before = np.cumsum(step) - step
    first_of_line = np.concatenate([[True], line_of[1:] != line_of[:-1]])
    line_start = before[first_of_line]
    n_lines = len(lines)
    x0 = left + rng.uniform(0, _px(1.5), n_lines)
    baseline = first_baseline + np.arange(n_lines) * line_h + rng.normal(0, _px(0.25), n_lines)
    drift = rng.normal(0, 0.0025, n_lines)  # lines are not quite horizontal
    # Lines that hold no word are skipped by `first_of_line`: map the line index to its rank.
    rank = np.cumsum(first_of_line) - 1
    x_start = x0[line_of] + before - line_start[rank]
    point_line = line_of[word_of]
    x = x_start[word_of] + rel_x
    # A hand running out of line squeezes the last words in: lines whose end would pass the
    # text area's right edge are narrowed to fit (gaps and letters alike).
    ends = np.maximum.reduceat(x, starts)
    line_end = np.full(n_lines, -np.inf)
    np.maximum.at(line_end, line_of, ends)
    factor = np.minimum(1.0, (right - x0) / np.maximum(line_end - x0, 1.0))
    x = x0[point_line] + (x - x0[point_line]) * factor[point_line]
    wobble = rng.normal(0, 0.02, words)[word_of] * x_height[word_of]
    wobble = wobble * np.sin(t * rng.uniform(0.3, 1.0, words)[word_of])
    y = baseline[point_line] + drift[point_line] * (x - x0[point_line]) - up + wobble
    fixed = np.round(np.column_stack([x, y]) * _ONE).astype(np.int32).reshape(-1, 1, 2)
    return list(np.split(fixed, starts[1:]))


def _text(
    image: np.ndarray,
    ink: PageInk,
    layout: Layout,
    styles: Sequence[WriterStyle],
    rng: np.random.Generator,
) -> None:
    area = layout.field("text")
    box = area.box
    line_h = box.h / area.lines
    if ink.lines:
        style = styles[ink.text_writer]
        thickness = _thickness(style, rng)
        strokes = _words(
            ink.lines,
            _px(box.x + TEXT_MARGIN_MM),
            _px(box.x + box.w - TEXT_MARGIN_MM),
            _px(box.y + line_h - 2.0),
            _px(line_h),
            style,
            thickness,
            rng,
        )
        # No anti-aliasing: the scan's interpolation and blur smooth the edges anyway, and
        # the text is most of the page's ink.
        cv2.polylines(image, strokes, False, style.ink, thickness, cv2.LINE_8, _SHIFT)
    if ink.z_from_line is not None:
        style = styles[ink.z_writer]
        top = _px(box.y + ink.z_from_line * line_h + 1.5)
        bottom = _px(box.y + box.h - 1.5)
        left, right = _px(box.x + 4.0), _px(box.x + box.w - 4.0)
        corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]])
        corners = corners + rng.normal(0, _px(1.0), corners.shape)
        # Each stroke of the «Z» bows a little, as a hand's does.
        pieces: list[np.ndarray] = []
        for a, b in itertools.pairwise(corners):
            mid = (a + b) / 2 + rng.normal(0, _px(1.5), 2)
            pieces.append(_smooth(np.array([a, mid, b]), 8)[:-1])
        pieces.append(corners[-1:])
        cv2.polylines(
            image,
            [_fixed(np.vstack(pieces))],
            False,
            style.ink,
            _thickness(style, rng) + 1,
            cv2.LINE_AA,
            _SHIFT,
        )


def draw_page(
    image: np.ndarray, ink: PageInk, layout: Layout, styles: Sequence[WriterStyle]
) -> None:
    """Draw the page's handwriting into `image` (grey, 300 dpi, modified in place)."""
    rng = np.random.default_rng(ink.seed)
    for entry in ink.digits:
        _digits(image, entry, layout, styles[entry.writer], rng)
    for mark in ink.marks:
        _mark(image, mark, layout, styles[mark.writer], rng)
    if ink.lines or ink.z_from_line is not None:
        _text(image, ink, layout, styles, rng)
