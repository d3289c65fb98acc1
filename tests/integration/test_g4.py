"""Black-and-white G4 TIFF through the system's libtiff: the pixels read back as thresholded,
each page with its own resolution, the same bytes for the same pages, and Pillow's encoder
(the fallback) giving the same pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tasks.adapters import g4

pytestmark = pytest.mark.integration


def page(width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height = round(width * 297 / 210)
    grey = np.full((height, width), 230, np.uint8)
    cv2.putText(grey, "Код работы 4217", (40, height // 3), cv2.FONT_HERSHEY_SIMPLEX, 2, 30, 4)
    grey[height // 2 : height // 2 + 40, 100 : width - 100] = 40
    noise = rng.integers(-12, 12, grey.shape)
    return np.clip(grey.astype(int) + noise, 0, 255).astype(np.uint8)


def pixels(path: Path, frame: int) -> np.ndarray:
    image = Image.open(path)
    image.seek(frame)
    return np.array(image.convert("L")) < 128  # True = black


def test_the_libtiff_writer_is_found_on_this_machine() -> None:
    assert g4._libtiff() is not None  # libtiff6 comes with tesseract (make setup)


def test_pages_read_back_as_thresholded_with_their_own_resolution(tmp_path: Path) -> None:
    greys = [page(1654, 1), page(2480, 2)]  # 200 and 300 dpi
    pages = [g4.bilevel(grey) for grey in greys]
    g4.write_g4(tmp_path / "work.tif", pages)
    tiff = Image.open(tmp_path / "work.tif")
    assert tiff.n_frames == 2
    assert tiff.info["compression"] == "group4"
    assert tiff.info["dpi"] == (200, 200)
    tiff.seek(1)
    assert tiff.info["dpi"] == (300, 300)
    for frame, grey in enumerate(greys):
        black = pixels(tmp_path / "work.tif", frame)
        assert black.shape == grey.shape
        threshold, _ = cv2.threshold(grey[::4, ::4].copy(), 0, 255, cv2.THRESH_OTSU)
        assert (black == (grey <= threshold)).all()
        assert 0.005 < black.mean() < 0.2  # ink, not an inverted page
    assert not list(tmp_path.glob(".*.part"))


def test_the_same_pages_give_the_same_bytes_and_pillow_the_same_pixels(tmp_path: Path) -> None:
    pages = [g4.bilevel(page(1654, 3))]
    assert g4.g4_bytes(pages) == g4.g4_bytes(pages)
    g4.write_g4(tmp_path / "libtiff.tif", pages)
    g4._write_pillow(tmp_path / "pillow.tif", pages)
    assert (pixels(tmp_path / "libtiff.tif", 0) == pixels(tmp_path / "pillow.tif", 0)).all()
    assert (tmp_path / "libtiff.tif").stat().st_size < 60_000  # a 200-dpi A4 page
