"""Recognition of one scanned page: where the blank lies, which way up, what its boxes say.

Pure image logic on grey numpy arrays (docs/recognition.md). The steps:

1. `locate`: find the four corner markers (filled 8 mm squares) on a reduced, thresholded
   image; check that they form the layout's rectangle; with one torn off, infer it from the
   other three. The orientation bar beside the top-left marker tells a page turned 180°.
   The result maps layout millimetres to the image's pixels.
2. `check_geometry`: the QR symbol found by the decoder (adapter) must lie where the map puts
   it; the distance is the map's error in millimetres, and a page above `MAX_ERROR_MM` is
   rejected rather than read through a wrong map.
3. `read_marks` and `digit_cells`: every mark box and digit cell is cut out through the map
   at a fixed resolution (`PX_PER_MM`), thresholded against the page's own paper and ink, and
   measured: a box is empty, marked, cancelled (filled) or uncertain; a cell holds ink or not.
   A box or cell whose printed frame is not where the map says (a torn or folded part) is
   `damaged` and never read as empty.
4. `text_area`: the lined text area of an answer or additional blank, cut out once at
   `TEXT_PX_PER_MM`: the share of it that is ink, and the handwritten words estimated from
   its ink clusters (tasks/domain/writing_amount.py).

Nothing here reads files or calls an OCR engine: the digits of inked cells are handed to one
(tasks/adapters/ocr.py) by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import cv2
import numpy as np

from tasks.domain.blanks import (
    MARGIN,
    MARKER,
    PAGE_H,
    PAGE_W,
    BlankType,
    Box,
    Field,
    FieldKind,
    Layout,
    QrPayload,
    layout_for,
    qr_text,
)
from tasks.domain.writing_amount import estimate_words

__all__ = [
    "MAX_ERROR_MM",
    "PX_PER_MM",
    "TEXT_PX_PER_MM",
    "CellInk",
    "Located",
    "MarkReading",
    "TextArea",
    "check_geometry",
    "cut_upright",
    "digit_cells",
    "frames_found",
    "ink_levels",
    "locate",
    "lone_dots",
    "printed_code_patch",
    "qr_corners_mm",
    "qr_patch_to_image",
    "qr_patches",
    "qr_region",
    "read_marks",
    "roughness",
    "text_area",
    "text_ink",
]

PX_PER_MM = 10.0  # resolution of the cut-out boxes and cells
FIND_PX_PER_MM = 3.0  # resolution of the marker search (px per mm)
MAX_ERROR_MM = 1.2  # a map further off than this at the QR symbol is not trusted
MAX_SHAPE_ERROR = 0.07  # relative deviation of the marker quadrilateral from the layout's

# Marker centres in layout millimetres, by corner.
_C = MARGIN + MARKER / 2
MARKER_CENTRES = {
    "tl": (_C, _C),
    "tr": (PAGE_W - _C, _C),
    "br": (PAGE_W - _C, PAGE_H - _C),
    "bl": (_C, PAGE_H - _C),
}
_SPAN_X = PAGE_W - 2 * _C  # 172 mm between marker centres across
_SPAN_Y = PAGE_H - 2 * _C  # 259 mm down
_ORIENTATION = layout_for(BlankType.REGISTRATION, 1).field("orientation").box
_QR = layout_for(BlankType.REGISTRATION, 1).field("qr").box


@dataclass(frozen=True, slots=True)
class Located:
    """A page found on the image: `to_image` maps layout mm to image pixels (3×3)."""

    to_image: np.ndarray
    markers: int  # found (4) or three with the fourth inferred
    turned: bool  # the page lies upside down on the image
    px_per_mm: float  # the image's resolution, measured between the markers
    shape_error: float  # relative deviation of the markers from the layout's rectangle
    paper: int  # grey level of the paper
    ink: int  # grey level of the darkest print
    orientation_sure: bool = True  # the bar was seen (else the QR decided)
    inferred: str | None = None  # the corner whose marker was inferred (layout's own naming)
    # A dithered (halftone) page: the Gaussian sigma, in mm, that smooths its dots back into
    # greys before a cut-out is thresholded; 0 on a grey or thresholded page.
    descreen_mm: float = 0.0

    def point(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        v = self.to_image @ np.array([x_mm, y_mm, 1.0])
        return float(v[0] / v[2]), float(v[1] / v[2])

    def turned_over(self) -> Located:
        """The same markers read the other way up (when the QR says so)."""
        flip = np.array([[-1.0, 0, PAGE_W], [0, -1.0, PAGE_H], [0, 0, 1]])
        opposite = {"tl": "br", "tr": "bl", "br": "tl", "bl": "tr"}
        return replace(
            self,
            to_image=self.to_image @ flip,
            turned=not self.turned,
            orientation_sure=False,
            inferred=opposite[self.inferred] if self.inferred else None,
        )

    def refined(self, points_mm: np.ndarray, points_px: np.ndarray) -> Located:
        """With a marker inferred (a parallelogram's guess, wrong under perspective): the map
        fitted again to the three markers found and the given points (the QR's corners)."""
        if self.inferred is None:
            return self
        kept = [c for c in MARKER_CENTRES if c != self.inferred]
        src = np.vstack([[MARKER_CENTRES[c] for c in kept], points_mm]).astype(np.float64)
        dst = np.vstack([[self.point(*MARKER_CENTRES[c]) for c in kept], points_px])
        fitted, _ = cv2.findHomography(src, dst.astype(np.float64), 0)
        if fitted is None:
            return self
        return replace(self, to_image=fitted.astype(float))


@dataclass(frozen=True, slots=True)
class MarkReading:
    state: str  # empty | marked | cancelled | uncertain | damaged
    ink: float  # share of the box's inside covered by ink
    confidence: float


@dataclass(frozen=True, slots=True)
class CellInk:
    """One digit cell: `image` is the ink (255) on black, `PX_PER_MM` px per mm, when inked.
    A cell not inked may still be `faint`: pieces of a thin stroke too small to keep as ink,
    yet more than specks (a light «1» broken by the scan), so it is not surely empty."""

    index: int
    inked: bool
    ink: float
    damaged: bool
    image: np.ndarray | None = None
    faint: bool = False


def ink_levels(small: np.ndarray) -> tuple[int, int]:
    """Paper and darkest-print grey levels of a page (robust percentiles of its reduced
    image, from its histogram: the markers make the darkest 0.3 %)."""
    histogram = cv2.calcHist([small], [0], None, [256], [0, 256]).ravel()
    cumulative = np.cumsum(histogram) / max(float(histogram.sum()), 1.0)
    paper = int(np.searchsorted(cumulative, 0.70))
    ink = int(np.searchsorted(cumulative, 0.003))
    return paper, ink


# Dithered pages (a scanner's halftone mode: greys drawn as dot patterns) are told by how much
# neighbouring pixels differ along a row: the median over 32-px runs of every 7th row (not 8th:
# an 8 × 8 ordered screen would show the same row of its pattern each time). Measured on every
# page of bench/scan.py's moderate, harsh and outside (seeds 13-15) scans: at most 3.8 grey
# levels on grey scans and 2.5 on thresholded ones but one noisy harsh page (8.0); 5.7 to 60 on
# dithered ones, except 95 of 1 048 at 0 (near-white paper: a screen leaves few dots) ...
_DITHER_ROUGHNESS = 5.0
# ... which their lone dots tell (`lone_dots`, per thousand pixels): at most 0.13 on grey
# scans and 4.2 on thresholded ones but two noisy harsh pages (7.2; 11.4, the rough one), 6.1
# to 89 on dithered ones (of the 95 not rough, all but one above 8: 7.3).
_DITHER_DOTS = 8.0
# A dithered page's cut-outs are smoothed by a Gaussian of `_DESCREEN_PX` of its own pixels,
# and the ink of its digit cells taken at `_INK_LEVEL_DESCREENED` of the way from ink to paper
# (0.55 elsewhere): a light stroke drawn in dots is a lighter grey once smoothed. Chosen on
# `outside` seeds 13-15, so not a held-out figure (seed 16 is: docs/benchmarks.md): their
# dithered pages read alone left 144 of ~1 040 digit fields unaccepted at 1.2 px and 0.55, 119
# at 0.9 and 0.6, 115 at 0.9 and 0.65 (1.6 px worse); in the whole bench, pages to
# verification were 8, 25, 13 at 0.6 and 11, 21, 17 at 0.65, the only one within 5 % on each.
_DESCREEN_PX, _INK_LEVEL_DESCREENED = 0.9, 0.65


def roughness(grey: np.ndarray) -> float:
    """How much neighbouring pixels differ along the rows, in grey levels: the median over
    32-px runs of every 7th row (text edges are a small share; a halftone's dots are
    everywhere)."""
    rows = grey[::7]
    w = (rows.shape[1] - 1) // 32 * 32
    if w == 0:
        return 0.0
    steps = cv2.absdiff(rows[:, 1 : w + 1], rows[:, :w])
    return float(np.median(steps.reshape(rows.shape[0], -1, 32).mean(axis=2, dtype=np.float32)))


def lone_dots(grey: np.ndarray) -> float:
    """Dark pixels with no dark neighbour among their eight, per thousand pixels of a band
    across the page's middle (a quarter of its height): a halftone's dots on near-white paper,
    too sparse for `roughness` (an ordered screen draws one in 8 × 8 pixels, so most rows have
    none), and which neither a grey scan nor a thresholded one has."""
    h = grey.shape[0]
    dark = (grey[3 * h // 8 : 5 * h // 8] < 128).astype(np.uint8)
    if dark.size == 0:
        return 0.0
    around = cv2.boxFilter(dark, cv2.CV_8U, (3, 3), normalize=False)
    return 1000.0 * float(np.count_nonzero(dark & (around == 1))) / dark.size


def _threshold(paper: int, ink: int, level: float = 0.55) -> int:
    return round(ink + level * (paper - ink))


def _ink_threshold(located: Located, digits: bool = False) -> int:
    """The grey below which a cut-out's pixel is ink: higher in a descreened page's digit
    cells (mark boxes and the text area keep 0.55, or the paper's smoothed dots and stains
    would mark an empty box or an unused blank's text area)."""
    level = _INK_LEVEL_DESCREENED if digits and located.descreen_mm > 0 else 0.55
    return _threshold(located.paper, located.ink, level)


def _reduce(grey: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The image at about `FIND_PX_PER_MM`: halved by pyramid steps (each after a Gaussian:
    unlike point samples it keeps a noisy 1-bit marker solid), then area-resized; much faster
    than one area resize of a full page, and the marker search on it is cheap. Returns it, the
    factor, and the guessed px per mm."""
    w = grey.shape[1]
    guess = w / (PAGE_W + 10.0)  # px per mm, ±20 % for scanner margins and scale
    small = grey
    while guess * small.shape[1] / w > 2 * FIND_PX_PER_MM:
        small = cv2.pyrDown(small)
    target = FIND_PX_PER_MM / (guess * small.shape[1] / w)
    if target < 1.0:
        small = cv2.resize(small, None, fx=target, fy=target, interpolation=cv2.INTER_AREA)
    return small, small.shape[1] / w, guess


def _marker_candidates(
    small: np.ndarray, factor: float, guess: float, threshold: int
) -> list[tuple[float, float, float]]:
    """Solid, square, marker-sized dark blobs on the reduced image: (x, y, side) in source
    px."""
    dark = (small < threshold).astype(np.uint8)
    _, _, stats, centroids = cv2.connectedComponentsWithStats(dark, connectivity=8)
    px = guess * factor
    low, high = (MARKER * 0.7 * px) ** 2, (MARKER * 1.35 * px) ** 2
    sh, sw = small.shape
    x, y, bw, bh, area = (stats[1:, i] for i in range(5))
    # Marker-sized, not touching the image edge, square-ish, and solid: a square turned by
    # up to 15° fills its bounding box by at least 0.75.
    keep = (
        (area >= low)
        & (area <= high)
        & (x > 0)
        & (y > 0)
        & (x + bw < sw)
        & (y + bh < sh)
        & (bw >= 0.7 * bh)
        & (bw <= 1.43 * bh)
        & (area >= 0.6 * bw * bh)
    )
    out = []
    for (cx, cy), side in zip(centroids[1:][keep], np.sqrt(area[keep]), strict=True):
        # Continuous coordinates: pixel (i, j) covers [i, i+1) × [j, j+1).
        out.append(((cx + 0.5) / factor, (cy + 0.5) / factor, float(side) / factor))
    return out


def _shape_error(points: dict[str, np.ndarray]) -> tuple[float, float]:
    """Deviation of four marker centres from a rectangle of the layout's proportions, and the
    mean px per mm: sides compared with each other and the diagonals with the sides."""
    top = np.linalg.norm(points["tr"] - points["tl"])
    bottom = np.linalg.norm(points["br"] - points["bl"])
    left = np.linalg.norm(points["bl"] - points["tl"])
    right = np.linalg.norm(points["br"] - points["tr"])
    d1 = np.linalg.norm(points["br"] - points["tl"])
    d2 = np.linalg.norm(points["bl"] - points["tr"])
    if min(top, bottom, left, right, d1, d2) < 1.0:  # two corners on one blob
        return math.inf, 1.0
    k = (top + bottom) / (2 * _SPAN_X)
    ky = (left + right) / (2 * _SPAN_Y)
    diagonal = math.hypot(_SPAN_X, _SPAN_Y)
    errors = [
        abs(top - bottom) / top,
        abs(left - right) / left,
        abs(k - ky) / k,
        abs(d1 - d2) / d1,
        abs((d1 + d2) / 2 - diagonal * (k + ky) / 2) / d1,
    ]
    return float(max(errors)), float((k + ky) / 2)


def _corners(cands: list[tuple[float, float, float]]) -> dict[str, np.ndarray] | None:
    """The blob nearest each corner direction of the image (markers lie outermost)."""
    if not cands:
        return None
    pts = np.array([(x, y) for x, y, _ in cands])
    scores = {
        "tl": -(pts[:, 0] + pts[:, 1]),
        "tr": pts[:, 0] - pts[:, 1],
        "br": pts[:, 0] + pts[:, 1],
        "bl": pts[:, 1] - pts[:, 0],
    }
    return {k: pts[int(np.argmax(v))] for k, v in scores.items()}


def _infer_fourth(points: dict[str, np.ndarray], missing: str) -> np.ndarray:
    opposite = {"tl": "br", "tr": "bl", "br": "tl", "bl": "tr"}[missing]
    others = [c for c in points if c not in (missing, opposite)]
    inferred: np.ndarray = points[others[0]] + points[others[1]] - points[opposite]
    return inferred


def _map(points: dict[str, np.ndarray]) -> np.ndarray:
    src = np.array([MARKER_CENTRES[c] for c in ("tl", "tr", "br", "bl")], dtype=np.float32)
    dst = np.array([points[c] for c in ("tl", "tr", "br", "bl")], dtype=np.float32)
    return cv2.getPerspectiveTransform(src, dst).astype(float)


def _mean_in(grey: np.ndarray, located_map: np.ndarray, box: Box) -> float:
    """Mean grey inside a layout box (its inner two thirds) through the map."""
    patch = _cut(
        grey,
        located_map,
        Box(box.x + box.w / 6, box.y + box.h / 6, box.w * 2 / 3, box.h * 2 / 3),
        4.0,
    )
    return float(patch.mean())


def locate(grey: np.ndarray) -> Located | str:
    """The page on the image, or the reason it cannot be found (a reason code)."""
    small, factor, guess = _reduce(grey)
    paper, ink = ink_levels(small)
    if paper - ink < 60:
        return "no_contrast"
    cands = _marker_candidates(small, factor, guess, _threshold(paper, ink))
    corners = _corners(cands)
    if corners is None or len(cands) < 3:
        return "markers_not_found"
    error, k = _shape_error(corners)
    markers = 4
    inferred: str | None = None
    if error > MAX_SHAPE_ERROR:
        best: tuple[float, dict[str, np.ndarray], float, str] | None = None
        for missing in corners:
            trial = dict(corners)
            trial[missing] = _infer_fourth(corners, missing)
            # The three kept must be distinct blobs forming a right angle of the right ratio.
            kept = [corners[c] for c in corners if c != missing]
            if any(np.linalg.norm(a - b) < 20 for a, b in combinations(kept, 2)):
                continue
            e, kk = _shape_error(trial)
            if best is None or e < best[0]:
                best = (e, trial, kk, missing)
        if best is None or best[0] > MAX_SHAPE_ERROR / 2:
            return "markers_not_found"
        error, corners, k, inferred = best
        markers = 3
    upright = _map(corners)
    dithered = roughness(grey) > _DITHER_ROUGHNESS or lone_dots(grey) > _DITHER_DOTS
    descreen = _DESCREEN_PX / k if dithered else 0.0
    located = Located(
        upright, markers, False, k, error, paper, ink, inferred=inferred, descreen_mm=descreen
    )
    # The orientation bar: beside the top-left marker of an upright page; seen beside the
    # bottom-right one, the page is turned.
    here = _mean_in(grey, upright, _ORIENTATION)
    turned_box = Box(
        PAGE_W - _ORIENTATION.x - _ORIENTATION.w,
        PAGE_H - _ORIENTATION.y - _ORIENTATION.h,
        _ORIENTATION.w,
        _ORIENTATION.h,
    )
    there = _mean_in(grey, upright, turned_box)
    mid = (paper + ink) / 2
    if here < mid <= there:
        return located
    if there < mid <= here:
        return replace(located.turned_over(), orientation_sure=True)
    return replace(located, orientation_sure=False)


def _cut(grey: np.ndarray, to_image: np.ndarray, box: Box, px_per_mm: float) -> np.ndarray:
    """The layout box `box` resampled upright at `px_per_mm` through the map."""
    out_w = max(1, round(box.w * px_per_mm))
    out_h = max(1, round(box.h * px_per_mm))
    # output pixel (u, v) → layout mm → image px
    place = np.array(
        [
            [1 / px_per_mm, 0, box.x + 0.5 / px_per_mm],
            [0, 1 / px_per_mm, box.y + 0.5 / px_per_mm],
            [0, 0, 1],
        ]
    )
    m = to_image @ place
    # cv2 samples the source at M·(u, v) with pixel centres at integers.
    m = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]]) @ m
    return cv2.warpPerspective(
        grey,
        m,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


_PRINTED = layout_for(BlankType.REGISTRATION, 1).field("code_printed").box


def cut_upright(grey: np.ndarray, located: Located, box: Box, px_per_mm: float) -> np.ndarray:
    """The layout box `box` of a located page, upright at `px_per_mm` (verification crops)."""
    return _cut(grey, located.to_image, box, px_per_mm)


def printed_code_patch(grey: np.ndarray, located: Located) -> np.ndarray:
    """The code printed in digits under the QR (the same place on every blank), upright,
    black on white with a margin: for the OCR engine when the QR cannot be read."""
    box = Box(_PRINTED.x - 1.0, _PRINTED.y - 1.0, _PRINTED.w + 2.0, _PRINTED.h + 2.0)
    ink = _binary(_cut(grey, located.to_image, box, PX_PER_MM), located)
    ink = _clean(ink, int(_SPECK_MM2 * PX_PER_MM**2))
    return np.pad(np.where(ink > 0, 0, 255).astype(np.uint8), 20, constant_values=255)


def frames_found(grey: np.ndarray, located: Located, boxes: Sequence[Box]) -> float:
    """How whole the printed frames of these boxes are where the map puts them (the least
    of them, 0..1): tells which layout a page has when its QR cannot say."""
    return min(_framed(grey, located, box)[1] for box in boxes)


def qr_region(located: Located, margin_mm: float = 6.0) -> tuple[int, int, int, int]:
    """The image rectangle (x, y, w, h) that holds the QR box with a margin."""
    box = _QR
    pts = np.array(
        [
            located.point(box.x - margin_mm, box.y - margin_mm),
            located.point(box.x + box.w + margin_mm, box.y - margin_mm),
            located.point(box.x + box.w + margin_mm, box.y + box.h + margin_mm),
            located.point(box.x - margin_mm, box.y + box.h + margin_mm),
        ]
    )
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return max(0, int(x0)), max(0, int(y0)), int(x1 - x0), int(y1 - y0)


QR_MODULES, QR_QUIET = 29, 2  # version 3; the quiet zone inside the layout box
_QR_MODULE_PX = 8  # module size of the redrawn symbol
_QR_BORDER = 4  # modules of white around it


_QR_SHIFTS = ((0.0, 0.0), (0.2, 0.0), (-0.2, 0.0), (0.0, 0.2), (0.0, -0.2))
_QR_LEVELS = (0.5, 0.4, 0.6)


def qr_patches(grey: np.ndarray, located: Located) -> Iterator[np.ndarray]:
    """The QR symbol redrawn clean from the image, in a few variants to try in turn: each
    module's mean grey (its middle part, through the map) thresholded and drawn as a crisp
    square, with the sampling grid nudged by a fifth of a module and the threshold moved.
    For a symbol the decoder misses on a noisy or 1-bit image; the map is good to a fraction
    of a module (0.79 mm)."""
    module = _QR.w / (QR_MODULES + 2 * QR_QUIET)
    x0, y0 = _QR.x + QR_QUIET * module, _QR.y + QR_QUIET * module
    per = 6  # samples per module side
    reference, function = _qr_function_modules()
    for level in _QR_LEVELS:
        for dx, dy in _QR_SHIFTS:
            box = Box(x0 + dx * module, y0 + dy * module, QR_MODULES * module, QR_MODULES * module)
            patch = _cut(grey, located.to_image, box, per / module)
            patch = cv2.resize(
                patch, (QR_MODULES * per, QR_MODULES * per), interpolation=cv2.INTER_AREA
            )
            cells = patch.reshape(QR_MODULES, per, QR_MODULES, per)[:, 1 : per - 1, :, 1 : per - 1]
            means = cells.mean(axis=(1, 3))
            low, high = float(np.percentile(means, 2)), float(np.percentile(means, 98))
            dark = means < low + level * (high - low)
            # The function patterns (finders, timing, alignment, format: one version, level
            # and mask on every blank) carry no data: drawn as they must be, the decoder finds
            # the symbol even where noise broke a finder; error correction mends the rest.
            dark = np.where(function, reference, dark)
            image = np.pad(np.where(dark, 0, 255).astype(np.uint8), _QR_BORDER, constant_values=255)
            yield np.kron(image, np.ones((_QR_MODULE_PX, _QR_MODULE_PX), np.uint8))


_FUNCTION: tuple[np.ndarray, np.ndarray] | None = None


def _qr_function_modules() -> tuple[np.ndarray, np.ndarray]:
    """A reference symbol of the blanks' QR version, level and mask, and the mask of its
    function modules (fixed for the version; the format bits fixed by level and mask)."""
    global _FUNCTION
    if _FUNCTION is None:
        import segno

        from tasks.domain.print_pdf import QR_MASK, QR_VERSION

        # A payload of the blanks' length: segno raises the error level as far as it fits,
        # the same for every blank (as print does).
        text = qr_text(QrPayload(BlankType.ANSWER, "0" * 12, 1))
        symbol = segno.make(text, error="m", micro=False, version=QR_VERSION, mask=QR_MASK)
        reference = np.array(symbol.matrix, dtype=bool)
        n = QR_MODULES
        function = np.zeros((n, n), dtype=bool)
        function[:9, :9] = function[:9, n - 8 :] = function[n - 8 :, :9] = True  # finders, format
        function[6, :] = function[:, 6] = True  # timing
        function[n - 9 : n - 4, n - 9 : n - 4] = True  # alignment pattern around (22, 22)
        _FUNCTION = reference, function
    return _FUNCTION


def qr_patch_to_image(located: Located, points: np.ndarray) -> np.ndarray:
    """Points of the `qr_patch` image (continuous px) in the scanned image's pixels."""
    module = _QR.w / (QR_MODULES + 2 * QR_QUIET)
    x0, y0 = _QR.x + QR_QUIET * module, _QR.y + QR_QUIET * module
    modules = np.asarray(points, dtype=float) / _QR_MODULE_PX - _QR_BORDER
    mm = modules * module + np.array([x0, y0])
    return np.array([located.point(x, y) for x, y in mm])


def qr_corners_mm() -> np.ndarray:
    """The QR symbol's corners (tl, tr, br, bl) in layout mm (the quiet zone excluded)."""
    modules, quiet = 29, 2
    module = _QR.w / (modules + 2 * quiet)
    x0, y0 = _QR.x + quiet * module, _QR.y + quiet * module
    x1, y1 = x0 + modules * module, y0 + modules * module
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def check_geometry(located: Located, qr_corners_px: np.ndarray) -> float:
    """The map's error in mm: how far the decoded QR symbol's corners are from where the map
    puts them (the decoder's corners in image px, in the symbol's tl, tr, br, bl order)."""
    expected = np.array([located.point(x, y) for x, y in qr_corners_mm()])
    distance = np.linalg.norm(expected - np.asarray(qr_corners_px, dtype=float), axis=1)
    return float(distance.max() / located.px_per_mm)


def _descreened(patch: np.ndarray, located: Located, px_per_mm: float) -> np.ndarray:
    """A dithered page's cut-out smoothed (descreened), so that its dots are greys again: a
    stroke or a frame line drawn in dots becomes one solid line, the paper's dots nothing."""
    if located.descreen_mm <= 0:
        return patch
    return cv2.GaussianBlur(patch, (0, 0), located.descreen_mm * px_per_mm)


def _binary(patch: np.ndarray, located: Located, px_per_mm: float = PX_PER_MM) -> np.ndarray:
    """A cut-out's ink (1) against the page's paper and ink levels (descreened first)."""
    smooth = _descreened(patch, located, px_per_mm)
    return (smooth < _ink_threshold(located)).astype(np.uint8)


# On a descreened page a thin printed frame line is a light grey (its dots averaged with the
# paper's); whether it is there is judged at this share of the way from ink to paper.
_FRAME_LEVEL_DESCREENED = 0.8


def _binary_and_frame(
    patch: np.ndarray, located: Located, digits: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A cut-out's ink, and what counts as dark when its printed frame is looked for (the
    same, except on a descreened page)."""
    smooth = _descreened(patch, located, PX_PER_MM)
    ink = (smooth < _ink_threshold(located, digits)).astype(np.uint8)
    if located.descreen_mm <= 0:
        return ink, ink
    level = located.ink + _FRAME_LEVEL_DESCREENED * (located.paper - located.ink)
    return ink, (smooth < level).astype(np.uint8)


def _frame_share(ink: np.ndarray, band_px: int) -> float:
    """How whole a cut-out's printed border is: the least of its four sides."""
    # Each side counted separately: one side torn away loses a quarter.
    sides = [ink[:band_px, :], ink[-band_px:, :], ink[:, :band_px], ink[:, -band_px:]]
    # A side is present when most of its length carries a dark pixel across the band.
    present = [float(np.mean(s.max(axis=0 if s.shape[0] == band_px else 1))) for s in sides]
    return min(present)


# Ink shares of a box's inside (printed frame and specks taken out): empty up to _MARK_EMPTY,
# marked from _MARK_LOW to _MARK_HIGH, uncertain between; cancelled (filled) when the whole
# box, frame included, is at least _MARK_FULL dark. Measured on simulated scans (bench/scan.py):
# moderate empties reach 0.010, crosses and ticks start at 0.046.
_MARK_EMPTY, _MARK_LOW, _MARK_HIGH, _MARK_FULL = 0.015, 0.035, 0.55, 0.75
_FRAME_PAD = 0.9  # mm: a cut-out reaches this far beyond a printed frame
_SPECK_MM2 = 0.12  # ink blobs smaller than this are dust or noise


def _framed(grey: np.ndarray, located: Located, box: Box) -> tuple[np.ndarray, float, np.ndarray]:
    """A box with its printed frame and a margin, thresholded; how whole the frame is; and
    the cut-out as dark as its frame lines are looked for (`_binary_and_frame`)."""
    pad = _FRAME_PAD
    patch = _cut(
        grey,
        located.to_image,
        Box(box.x - pad, box.y - pad, box.w + 2 * pad, box.h + 2 * pad),
        PX_PER_MM,
    )
    ink, frame = _binary_and_frame(patch, located)
    band = round(2 * pad * PX_PER_MM)
    return ink, _frame_share(frame, band), frame


def read_marks(grey: np.ndarray, located: Located, layout: Layout) -> dict[str, MarkReading]:
    """Every mark box of the page: empty, marked (a cross or tick), cancelled (filled in),
    uncertain (between), or damaged (its frame is not there)."""
    out: dict[str, MarkReading] = {}
    pad = round(_FRAME_PAD * PX_PER_MM)
    inset = round((_FRAME_PAD + 0.45) * PX_PER_MM)
    whole = round(_FRAME_PAD * PX_PER_MM)
    for item in layout.of_kind(FieldKind.MARK_BOX):
        ink, frame, framing = _framed(grey, located, item.box)
        filled = float(ink[whole:-whole, whole:-whole].mean())
        lines = _frame_lines(framing, pad)
        strokes = _clean(ink & (1 - lines), int(_SPECK_MM2 * PX_PER_MM**2))
        inside = strokes[inset:-inset, inset:-inset]
        share = float(inside.mean()) if inside.size else 0.0
        if filled >= _MARK_FULL:
            out[item.name] = MarkReading("cancelled", round(filled, 4), 1.0)
        elif frame < 0.6:
            out[item.name] = MarkReading("damaged", round(share, 4), 0.0)
        else:
            out[item.name] = _mark_state(share)
    return out


def _mark_state(share: float) -> MarkReading:
    """State and confidence from the ink share: confidence falls towards the band edges."""
    if share <= _MARK_EMPTY:
        return MarkReading("empty", round(share, 4), round(1.0 - 0.4 * share / _MARK_EMPTY, 3))
    if share < _MARK_LOW or share > _MARK_HIGH:
        return MarkReading("uncertain", round(share, 4), 0.5)
    margin = min(share - _MARK_LOW, _MARK_HIGH - share) / 0.05
    return MarkReading("marked", round(share, 4), round(min(1.0, 0.6 + 0.4 * margin), 3))


def _clean(ink: np.ndarray, min_area: int) -> np.ndarray:
    """Ink without specks: connected components smaller than `min_area` px are dropped."""
    # The areas counted from the labels: OpenCV's own statistics (boxes, centroids) cost
    # three times the labelling on a text area's cut-out.
    count, found = cv2.connectedComponents(ink, connectivity=8)
    labels = np.asarray(found, dtype=np.int32)
    keep = np.bincount(labels.ravel(), minlength=count) >= min_area
    keep[0] = False
    cleaned: np.ndarray = keep.astype(np.uint8).take(labels)
    return cleaned


# Kernels that close a stroke's gap across a removed frame line (the line and its widening).
_BRIDGE_V = np.ones((int(1.2 * PX_PER_MM), 1), np.uint8)
_BRIDGE_H = np.ones((1, int(1.2 * PX_PER_MM)), np.uint8)


def _frame_lines(ink: np.ndarray, pad: int) -> np.ndarray:
    """The printed frame of a cut-out: long straight runs in the bands where the frame lies
    (`pad` px in from each edge), slightly widened. A digit's own long stroke (a «1») lies
    inside and is kept."""
    h, w = ink.shape
    # A frame side runs along most of the cut-out (the map is good to a fifth of a mm, so it
    # lies straight); a stroke beside it (the top of a «3» written over it) runs shorter.
    horizontal = cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(w * 0.65)), 1))
    )
    vertical = cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(3, int(h * 0.65))))
    )
    reach = round(0.7 * PX_PER_MM)
    band = np.zeros_like(ink)
    band[max(0, pad - reach) : pad + reach, :] = 1
    band[h - pad - reach : h - pad + reach, :] = 1
    columns = np.zeros_like(ink)
    columns[:, max(0, pad - reach) : pad + reach] = 1
    columns[:, w - pad - reach : w - pad + reach] = 1
    lines = (horizontal & band) | (vertical & columns)
    return cv2.dilate(lines, np.ones((3, 3), np.uint8))


_CELL_REACH = 2.2  # mm above and below a cell's frame where a digit written over it may reach
_CELL_INK = 0.01  # a cell holds a digit when more of its interior than this is ink...
# ...or when one stroke runs this far (mm) across its core (the interior 0.5 mm in from its
# edge): a thin, light «1» covers well under 1 % of the cell, yet it is written, and a cell
# read as empty would let the field be accepted as empty or as a shorter value.
_STROKE_MM, _CORE_INSET_MM = 3.0, 0.5


def _stroke_inside(interior: np.ndarray) -> bool:
    """Whether one connected stroke runs at least `_STROKE_MM` up or across the cell's core
    (a frame remnant lies along the interior's edge, a speck is short)."""
    inset = round(_CORE_INSET_MM * PX_PER_MM)
    core = interior[inset:-inset, inset:-inset]
    if not core.any():
        return False
    _, _, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    reach = _STROKE_MM * PX_PER_MM
    extent = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    return bool((extent >= reach).any())


# A cell without ink is still not empty when, before specks are dropped, pieces of ink in its
# core line up into a stroke at least `_FAINT_MM` long, across gaps of up to `_JOIN_MM` (a thin
# light «1» scanned as 1-px pieces of 2 mm, each dropped as a speck), ink covering at least
# `_FAINT_COVER` of that length. Paper noise, dust and a descreened page's leftover dots stay
# shorter; the regular dots of an ordered screen on white paper (one in 8 × 8 pixels, which
# the roughness does not tell) line up but cover a fifth of their column (bench/scan.py).
_FAINT_MM, _JOIN_MM, _FAINT_COVER = 2.0, 0.8, 0.6
_JOIN = cv2.getStructuringElement(cv2.MORPH_RECT, (3, round(_JOIN_MM * PX_PER_MM)))


def _faint_stroke(raw: np.ndarray) -> bool:
    """Whether the ink of a cell's interior before speck removal holds a broken stroke: pieces
    within `_JOIN_MM` of each other up or down (a pixel aside) joined, one group of them
    spans `_FAINT_MM` in the core, its ink on `_FAINT_COVER` of the rows (or columns) of
    that span."""
    inset = round(_CORE_INSET_MM * PX_PER_MM)
    core = raw[inset:-inset, inset:-inset]
    if np.count_nonzero(core) < _FAINT_MM * PX_PER_MM / 2:
        return False  # too little ink for a stroke even with its gaps
    count, groups = cv2.connectedComponents(cv2.dilate(core, _JOIN), connectivity=8)
    ys, xs = np.nonzero(core)
    label = groups[ys, xs]
    reach = _FAINT_MM * PX_PER_MM
    for group in range(1, count):
        mine = label == group
        if not mine.any():
            continue
        along = ys[mine] if np.ptp(ys[mine]) >= np.ptp(xs[mine]) else xs[mine]
        span = int(np.ptp(along)) + 1
        if span >= reach and len(np.unique(along)) >= _FAINT_COVER * span:
            return True
    return False


def digit_cells(grey: np.ndarray, located: Located, item: Field) -> list[CellInk]:
    """The cells of a digit-cells field: which hold ink, each inked cell's ink image (the
    printed frame taken out, specks dropped, strokes that run over the frame kept, also
    above and below it), cells whose frame is missing (damaged), and cells without ink whose
    pieces of ink make a broken stroke (faint: neither a digit nor surely empty)."""
    out = []
    pad = round(_FRAME_PAD * PX_PER_MM)
    extra = round((_CELL_REACH - _FRAME_PAD) * PX_PER_MM)
    inset = round(0.4 * PX_PER_MM)  # the frame line's own width and a little more
    min_area = int(0.35 * PX_PER_MM * PX_PER_MM)
    for index, cell in enumerate(item.cells):
        # One cut-out reaching `_CELL_REACH` above and below the cell; its middle is the cell
        # with its frame, where the frame is checked and found.
        tall_box = Box(
            cell.x - _FRAME_PAD,
            cell.y - _FRAME_PAD - extra / PX_PER_MM,
            cell.w + 2 * _FRAME_PAD,
            cell.h + 2 * _FRAME_PAD + 2 * extra / PX_PER_MM,
        )
        tall, tall_frame = _binary_and_frame(
            _cut(grey, located.to_image, tall_box, PX_PER_MM), located, digits=True
        )
        h = round((cell.h + 2 * _FRAME_PAD) * PX_PER_MM)
        ink = tall[extra : extra + h]
        h, w = ink.shape
        frame = _frame_share(tall_frame[extra : extra + h], 2 * pad)
        lines = np.zeros_like(tall)
        lines[extra : extra + h] = _frame_lines(tall_frame[extra : extra + h], pad)
        raw = tall & (1 - lines)
        strokes = _clean(raw, min_area=min_area)
        top, left = extra + pad + inset, pad + inset
        interior = strokes[top : extra + h - pad - inset, left : w - pad - inset]
        share = float(interior.mean()) if interior.size else 0.0
        inked = share > _CELL_INK or _stroke_inside(interior)
        faint = not inked and _faint_stroke(
            raw[top : extra + h - pad - inset, left : w - pad - inset]
        )
        image = None
        if inked:
            # The digit: components that reach into the interior (not a neighbour's overhang),
            # its strokes joined again where they cross the removed frame (a «3» written over
            # the cell's top edge keeps its top).
            across = np.maximum(
                cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, _BRIDGE_V),
                cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, _BRIDGE_H),
            )
            strokes = np.maximum(strokes, across & lines)
            count, labels = cv2.connectedComponents(strokes, connectivity=8)
            inner = labels[top : extra + h - pad - inset, left : w - pad - inset]
            keep = np.zeros(count, dtype=np.uint8)
            keep[np.unique(inner[inner > 0])] = 1
            image = (keep[labels] * 255).astype(np.uint8)
        out.append(CellInk(index, inked, round(share, 4), frame < 0.6, image, faint))
    return out


# The text area is cut out once, for its ink share and its words. At 2 px/mm thin strokes
# break and gaps close (words 2.8 % off per work on simulated moderate scans, up to 33 %); at
# 3 and 4 px/mm 0.2-0.3 %, but at 3 a one-pixel stroke falls apart where a scan breaks it, so
# 4, at ~1.5× the cost of 3 (bench/writing_amount.py). The ink share drops blobs under 0.5 mm²
# (dust).
TEXT_PX_PER_MM = 4.0
_TEXT_SPECK_MM2 = 0.5


@dataclass(frozen=True, slots=True)
class TextArea:
    """What a page's text area holds: the share of it covered by handwriting and the
    estimated number of handwritten words (tasks/domain/writing_amount.py)."""

    ink: float
    words: int


def _text_binary(
    grey: np.ndarray, located: Located, layout: Layout
) -> tuple[np.ndarray, float] | None:
    """The text area's ink (1) at `TEXT_PX_PER_MM` (the grey ruling is below threshold) and
    its ruling's pitch in mm; None on a layout without one."""
    item = next((f for f in layout.fields if f.kind is FieldKind.TEXT_AREA), None)
    if item is None:
        return None
    ink = _binary(_cut(grey, located.to_image, item.box, TEXT_PX_PER_MM), located, TEXT_PX_PER_MM)
    return ink, item.box.h / max(item.lines, 1)


def _ink_share(ink: np.ndarray) -> float:
    cleaned = _clean(ink, min_area=round(_TEXT_SPECK_MM2 * TEXT_PX_PER_MM**2))
    return round(float(cleaned.mean()), 5)


def text_ink(grey: np.ndarray, located: Located, layout: Layout) -> float:
    """Share of the text area covered by handwriting, specks dropped (0.0 without one)."""
    cut = _text_binary(grey, located, layout)
    return 0.0 if cut is None else _ink_share(cut[0])


def text_area(grey: np.ndarray, located: Located, layout: Layout) -> TextArea:
    """The text area cut out once: its ink share (as `text_ink`) and its handwritten words
    (`estimate_words`); nothing on a layout without one."""
    cut = _text_binary(grey, located, layout)
    if cut is None:
        return TextArea(0.0, 0)
    ink, line_mm = cut
    return TextArea(_ink_share(ink), estimate_words(ink, TEXT_PX_PER_MM, line_mm))
