"""How much is written on an answer page: the handwritten words of its text area, in ink.

Pure array logic (docs/recognition.md, «Text area»). Cursive joins the letters of a word into
one stroke and leaves a wider gap between words, so a word is one cluster of ink on its line.
A scan breaks a thin or light stroke into pieces (an ascender cut off, a loop split on a 1-bit
scan), so the pieces are put together again along each line of the ruling:

1. the ink's blobs (8-connected), once the ruled lines a 1-bit scan keeps as ink are taken
   out (long straight runs on the ruling's rows), without those too low to be writing (dust,
   the ruling's dots) and those taller than two lines or wider than two long words (the «Z»
   that strikes out the rest of a page);
2. each blob goes to the line its centre lies on (the lines part where the ink is thinnest,
   one ruling pitch apart), and a line's blobs whose extents across overlap or nearly touch
   make one word: the gap between two words is wider than a gap within a broken stroke;
3. a word must be as tall and as wide as a one-letter word; one much wider than a long word
   is several words run together and counts by its width.

The thresholds are millimetres (`WordTuning`), so one tuning serves cut-outs from 3 px/mm up;
the scan stage cuts at 4 px/mm, where broken thin strokes still hold together (at 3 px/mm a
one-pixel stroke falls apart). Accuracy against the exam-day simulator's truth:
`bench/writing_amount.py`, docs/benchmarks.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["LINE_MM", "WORD_TUNING", "WordTuning", "estimate_words"]

LINE_MM = 8.0  # the ruling of the answer blanks' text area (tasks/domain/blanks.py)


@dataclass(frozen=True, slots=True)
class WordTuning:
    """The estimate's thresholds, in millimetres on the page. Tuned at 4 px/mm on simulated
    moderate and harsh scans (as bench/writing_amount.py makes them, with other seeds than
    its own): the values sit on plateaus, except that a `gap_mm` of 1.0 merges words on
    1-bit scans and a `min_blob_height_mm` of 0.7 keeps the dots a 1-bit scan makes of the
    ruling (each about doubles the mean error per page on the harsh scans)."""

    # The ruled lines where a 1-bit scan keeps them as ink (they would join a descender to
    # its neighbours'): straight runs along a row at least `rule_run_mm` long, within
    # `rule_half_mm` of a ruled line's row. A ruled line lies within `rule_reach_mm` of its
    # place in the layout, on the row of the most ink there. A cursive descender's bottom,
    # the only writing that reaches the ruling, is a curve with no run near so long.
    rule_run_mm: float = 8.0
    rule_half_mm: float = 0.4
    rule_reach_mm: float = 1.0
    # No part of writing: a blob this low or lower (dust, the ruling's dots and dashes on a
    # 1-bit scan). A one-letter word's loop is ≥ 1.5 mm tall; a broken word loses only its
    # flattest pieces and keeps its letters.
    min_blob_height_mm: float = 0.9
    # Taller than two lines of writing, or wider than two long words: the «Z» that strikes
    # out an unused part of a page (its slope, and its top and bottom strokes).
    max_blob_height_mm: float = 14.0
    max_blob_width_mm: float = 60.0
    # Pieces of one line this close across (or overlapping) are one word: a broken stroke's
    # gap is narrower; the ~1.2 mm plus a stroke the simulator leaves between words is wider.
    gap_mm: float = 0.9
    # Lower or narrower than a one-letter word's loop (x-height ≥ 1.5 mm, ~2 mm wide): a
    # dash, a comma, a speck of dust.
    min_height_mm: float = 1.3
    min_width_mm: float = 0.8
    # Wider than a long word (13 letters of 2.4 mm and its loops' overhang): several words
    # that ran together in a squeezed line, counted as one word per this width.
    long_word_mm: float = 36.0


WORD_TUNING = WordTuning()


def _boxes(mask: np.ndarray) -> np.ndarray:
    """The boxes (x, y, w, h) in px of a mask's 8-connected blobs (those inside another
    blob's loop left out: they belong to its word anyway)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return np.array([cv2.boundingRect(c) for c in contours], dtype=float).reshape(-1, 4)


def _folded(mask: np.ndarray, line_px: float) -> np.ndarray:
    """The ink per row folded over the pitch: row r holds the rows r, r + pitch, r + 2 pitch…"""
    rows = mask.sum(axis=1, dtype=np.float64)
    place = (np.arange(len(rows)) % line_px).astype(np.int64)
    return np.bincount(place, weights=rows, minlength=int(line_px))


def _parting(folded: np.ndarray) -> int:
    """Where one line of writing ends and the next begins, in px within the pitch: the row
    with the least ink, summed over an eighth of the pitch around it (circularly) so that a
    thin row inside a line's writing does not win over the gap between lines."""
    half = max(1, round(len(folded) / 16))
    padded = np.concatenate([folded[-half:], folded, folded[:half]])
    return int(np.argmin(np.convolve(padded, np.ones(2 * half + 1), mode="valid")))


def _without_ruling(
    mask: np.ndarray, folded: np.ndarray, line_px: float, px_per_mm: float, tuning: WordTuning
) -> np.ndarray:
    """The mask without the ruled lines' long straight runs (the lines ruled at every pitch
    from the top, each on the row of the most ink near its place)."""
    reach = round(tuning.rule_reach_mm * px_per_mm)
    near = np.arange(-reach, reach + 1)
    rule = int(near[np.argmax(folded[near % len(folded)])])
    half = round(tuning.rule_half_mm * px_per_mm)
    place = (np.arange(mask.shape[0]) - rule) % line_px
    run = max(2, round(tuning.rule_run_mm * px_per_mm))
    runs = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
    runs[(place > half) & (place < line_px - half)] = 0
    return cv2.subtract(mask, runs)


def estimate_words(
    ink: np.ndarray,
    px_per_mm: float,
    line_mm: float = LINE_MM,
    tuning: WordTuning = WORD_TUNING,
) -> int:
    """The estimated number of handwritten words in a text area's ink mask (nonzero = ink),
    cut out upright at `px_per_mm` from the area's top, its lines ruled every `line_mm`: 0
    for an empty or struck-out area."""
    mask = (np.asarray(ink) > 0).astype(np.uint8)
    if not mask.any():
        return 0
    line_px = line_mm * px_per_mm
    folded = _folded(mask, line_px)
    x, y, w, h = _boxes(_without_ruling(mask, folded, line_px, px_per_mm, tuning)).T
    kept = (
        (h > tuning.min_blob_height_mm * px_per_mm)
        & (h <= tuning.max_blob_height_mm * px_per_mm)
        & (w <= tuning.max_blob_width_mm * px_per_mm)
    )
    if not kept.any():
        return 0
    x, y, w, h = x[kept], y[kept], w[kept], h[kept]
    line = np.floor((y + h / 2 - _parting(folded)) / line_px)
    # All lines in one run across: each line shifted right beyond the previous one's end by
    # more than the gap, so that a word never continues onto the next line.
    gap = tuning.gap_mm * px_per_mm
    shift = (line - line.min()) * (mask.shape[1] + 2 * gap + 1)
    order = np.lexsort((x, line))
    left, right = (x + shift)[order], (x + w + shift)[order]
    top, bottom = y[order], (y + h)[order]
    reached = np.maximum.accumulate(right)
    starts = np.flatnonzero(np.concatenate([[True], left[1:] - reached[:-1] > gap]))
    width = (np.maximum.reduceat(right, starts) - left[starts]) / px_per_mm
    height = (np.maximum.reduceat(bottom, starts) - np.minimum.reduceat(top, starts)) / px_per_mm
    words = (height >= tuning.min_height_mm) & (width >= tuning.min_width_mm)
    run_together = np.floor(width[words] / tuning.long_word_mm)
    return int(words.sum() + run_together.sum())
