"""Black-and-white page images as CCITT Group 4 TIFF through the system's libtiff (ctypes).

Pillow writes the same format but spends most of its time repacking the pixels (one byte per
pixel inside Pillow): ~9 ms a 200-dpi page against ~2.5 ms here, which is most of the upload
stage's cost at a region's size (bench/federal_package.py). The bits are written as
min-is-white (1 = black, the fax convention), one strip per page, each page with its own
resolution; no date or software tag, so the same pages give the same bytes. Without libtiff
(`libtiff6`, installed with tesseract) Pillow is used instead.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["A4_WIDTH_IN", "Bilevel", "bilevel", "g4_bytes", "write_g4"]

A4_WIDTH_IN = 210 / 25.4
_TAGS = {
    "width": 256,
    "length": 257,
    "bits": 258,
    "compression": 259,
    "photometric": 262,
    "samples": 277,
    "rows_per_strip": 278,
    "x_resolution": 282,
    "y_resolution": 283,
    "planar": 284,
    "resolution_unit": 296,
}
_GROUP4, _MIN_IS_WHITE, _INCH = 4, 0, 2


@dataclass(frozen=True, slots=True)
class Bilevel:
    """A page in black and white: rows of packed bits, 1 = black, and its resolution."""

    bits: np.ndarray  # uint8, (height, ceil(width / 8))
    width: int
    height: int
    dpi: int


def _dpi(width: int) -> int:
    """The scan's resolution from the A4 width, to the nearest 10 dpi."""
    return max(10, round(width / A4_WIDTH_IN / 10) * 10)


def bilevel(grey: np.ndarray) -> Bilevel:
    """Otsu's threshold (its histogram from every 4th pixel each way, which gives the same
    threshold at a sixteenth of the cost), ink where the grey is at or below it."""
    threshold, _ = cv2.threshold(
        np.ascontiguousarray(grey[::4, ::4]), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU
    )
    _, ink = cv2.threshold(grey, threshold, 1, cv2.THRESH_BINARY_INV)
    height, width = grey.shape
    return Bilevel(np.packbits(np.asarray(ink, dtype=np.uint8), axis=1), width, height, _dpi(width))


@cache
def _libtiff() -> Any | None:
    try:
        lib = ctypes.CDLL("libtiff.so.6")
    except OSError:
        return None
    lib.TIFFOpen.restype = ctypes.c_void_p
    lib.TIFFOpen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.TIFFSetField.restype = ctypes.c_int
    lib.TIFFWriteEncodedStrip.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_void_p,
        ctypes.c_ssize_t,
    ]
    lib.TIFFWriteEncodedStrip.restype = ctypes.c_ssize_t
    lib.TIFFWriteDirectory.argtypes = [ctypes.c_void_p]
    lib.TIFFWriteDirectory.restype = ctypes.c_int
    lib.TIFFClose.argtypes = [ctypes.c_void_p]
    return lib


def _set(lib: Any, handle: int, tag: str, value: int | float) -> None:
    """TIFFSetField is variadic: integers go as int, rationals as double (C promotion)."""
    wrapped = ctypes.c_double(value) if isinstance(value, float) else ctypes.c_int(value)
    if not lib.TIFFSetField(ctypes.c_void_p(handle), ctypes.c_uint32(_TAGS[tag]), wrapped):
        raise OSError(f"libtiff refused the TIFF tag {tag}")


def _write_libtiff(lib: Any, path: Path, pages: Sequence[Bilevel]) -> None:
    handle = lib.TIFFOpen(str(path).encode(), b"w")
    if not handle:
        raise OSError(f"libtiff cannot open {path} for writing")
    try:
        for page in pages:
            for tag, value in (
                ("width", page.width),
                ("length", page.height),
                ("bits", 1),
                ("samples", 1),
                ("compression", _GROUP4),
                ("photometric", _MIN_IS_WHITE),
                ("rows_per_strip", page.height),
                ("planar", 1),
                ("resolution_unit", _INCH),
                ("x_resolution", float(page.dpi)),
                ("y_resolution", float(page.dpi)),
            ):
                _set(lib, handle, tag, value)
            data = np.ascontiguousarray(page.bits)
            if lib.TIFFWriteEncodedStrip(handle, 0, data.ctypes.data, data.nbytes) < 0:
                raise OSError(f"libtiff could not encode a page of {path}")
            if not lib.TIFFWriteDirectory(handle):
                raise OSError(f"libtiff could not write a page of {path}")
    finally:
        lib.TIFFClose(handle)


def _write_pillow(path: Path, pages: Sequence[Bilevel]) -> None:
    from PIL import Image

    images = [
        Image.frombytes("1", (p.width, p.height), np.bitwise_not(p.bits).tobytes()) for p in pages
    ]
    images[0].save(
        path,
        format="TIFF",
        compression="group4",
        dpi=(pages[0].dpi, pages[0].dpi),
        save_all=True,
        append_images=images[1:],
    )


def write_g4(path: Path, pages: Sequence[Bilevel]) -> None:
    """The pages as one multi-page G4 TIFF at `path`, written under a temporary name in the
    same folder and renamed, so `path` is never a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    lib = _libtiff()
    try:
        if lib is not None:
            _write_libtiff(lib, tmp, pages)
        else:
            _write_pillow(tmp, pages)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def g4_bytes(pages: Sequence[Bilevel]) -> bytes:
    """The TIFF's bytes (libtiff writes files: through a temporary one)."""
    with tempfile.TemporaryDirectory(prefix="g4-") as folder:
        target = Path(folder) / "pages.tif"
        write_g4(target, pages)
        return target.read_bytes()
