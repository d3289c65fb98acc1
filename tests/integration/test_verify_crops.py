"""The verification crops (tasks/adapters/verify_crops.py) of a rejected page cut out of a
multi-page file: its image is the one-page quarantine copy, its frame still the page's place in
the scanned file, and the crop is the one the scanned file itself gives."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tasks.adapters.scan_batch import save_quarantine
from tasks.adapters.verify_crops import render_crop
from tests.scan_samples_support import image


@pytest.fixture
def two_pages(tmp_path: Path) -> Path:
    """A two-page TIFF whose second page is a registration blank (the first is empty)."""
    page = image("registration_plain.jpg")
    ok, data = cv2.imencodemulti(".tif", [np.full_like(page, 255), page])
    assert ok
    path = tmp_path / "Scan0001.tif"
    path.write_bytes(data.tobytes())
    return path


@pytest.mark.parametrize(
    "item",
    [
        {"kind": "page"},
        {"kind": "scan", "blank_type": "registration", "page": 1, "field": "topic_number"},
        {"kind": "result", "blank_type": "registration", "page": 1, "field": "k3"},
    ],
)
def test_a_rejected_second_page_is_cropped_from_its_quarantine_copy_as_from_the_scan(
    tmp_path: Path, two_pages: Path, item: dict[str, object]
) -> None:
    copy = save_quarantine(tmp_path / "quarantine", two_pages, 1, "0123456789abcdef-1")
    assert copy is not None
    assert copy.name == "0123456789abcdef-1.png"
    from_copy = render_crop({**item, "image": str(copy), "frame": 1})
    from_scan = render_crop({**item, "image": str(two_pages), "frame": 1})
    assert from_copy
    assert from_copy == from_scan


def test_a_page_the_file_does_not_hold_has_no_crop(two_pages: Path) -> None:
    assert render_crop({"kind": "page", "image": str(two_pages), "frame": 2}) is None
