"""Image crops for the verification pages: the part of the page an item is about, upright.

A field item shows its field's box (a result group: the row with both boxes and its label),
cut through the page's map found again from the corner markers; a doubtful-volume item shows
the answer page's text area small; a page item (rejected: for senior verifiers only) shows the
whole page small; any other item about a whole registration blank shows only its header.
Operators see the crop, never the rest of the blank (the printed names stay out of view)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.adapters.scan_files import read_frames
from tasks.domain import recognition as rec
from tasks.domain.blanks import MARGIN, PAGE_W, BlankType, Box, FieldKind, layout_for
from tasks.domain.grading import GROUPS

__all__ = ["render_crop"]

FIELD_PX_PER_MM = 8.0
HEADER_PX_PER_MM = 3.5
# The registration blank's printed personal data starts at 62 mm (tasks/domain/blanks.py).
REGISTRATION_HEADER_MM = 58.0
TEXT_PX_PER_MM = 2.5
PAGE_WIDTH_PX = 700


def _frame(path: Path, index: int) -> np.ndarray | None:
    """The page `index` of a scan file. A PNG or JPEG holds one page whatever the index: a
    rejected page's image is its quarantine copy, one page cut out of a multi-page file, while
    the index stays the page's place in that file."""
    if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
        return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    for frame in read_frames(path):
        if frame.index == index:
            return frame.image
    return None


def _union(boxes: list[Box], pad: float) -> Box:
    x0 = min(b.x for b in boxes) - pad
    y0 = min(b.y for b in boxes) - pad
    x1 = max(b.x + b.w for b in boxes) + pad
    y1 = max(b.y + b.h for b in boxes) + pad
    return Box(x0, y0, x1 - x0, y1 - y0)


def _box(blank_type: BlankType, page: int, field: str) -> Box | None:
    layout = layout_for(blank_type, page)
    if field in GROUPS and blank_type is BlankType.REGISTRATION:
        boxes = [layout.field(f"{field}_pass").box, layout.field(f"{field}_fail").box]
        row = _union(boxes, 2.0)
        return Box(MARGIN, row.y, row.x + row.w - MARGIN, row.h)
    try:
        item = layout.field(field)
    except KeyError:
        return None
    pad = 2.0 if item.kind is FieldKind.MARK_BOX else 1.5
    box = _union([item.box], pad)
    if item.kind is FieldKind.MARK_BOX:  # the label to its right says what the box is
        return Box(box.x, box.y, box.w + 45.0, box.h)
    return box


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    return data.tobytes() if ok else b""


def _page_small(grey: np.ndarray) -> bytes:
    height = round(grey.shape[0] * PAGE_WIDTH_PX / grey.shape[1])
    return _png(cv2.resize(grey, (PAGE_WIDTH_PX, height), interpolation=cv2.INTER_AREA))


def render_crop(source: dict[str, Any], text_area: bool = False) -> bytes | None:
    """PNG of an item's crop from its page (`source`: image, frame, blank_type, page, field,
    kind); None when the image cannot be read at all."""
    path = source.get("image")
    if not path:
        return None
    grey = _frame(Path(path), int(source.get("frame") or 0))
    if grey is None:
        return None
    if source.get("kind") == "page":  # shown to senior verifiers only
        return _page_small(grey)
    if not source.get("blank_type"):
        return None
    located = rec.locate(grey)
    if isinstance(located, str):
        return None
    blank_type = BlankType(source["blank_type"])
    page = int(source.get("page") or 1)
    if text_area:
        layout = layout_for(blank_type, page)
        area = next((f.box for f in layout.fields if f.kind is FieldKind.TEXT_AREA), None)
        if area is not None:
            return _png(rec.cut_upright(grey, located, area, TEXT_PX_PER_MM))
    field = source.get("field")
    box = _box(blank_type, page, field) if field else None
    if box is None:
        # An item about the whole page: an answer page carries no names; of a registration
        # blank only its header (title, QR, printed code) is shown, above the printed names.
        if blank_type is not BlankType.REGISTRATION:
            return _page_small(grey)
        box = Box(0.0, 0.0, PAGE_W, REGISTRATION_HEADER_MM)
        return _png(rec.cut_upright(grey, located, box, HEADER_PX_PER_MM))
    return _png(rec.cut_upright(grey, located, box, FIELD_PX_PER_MM))
