"""The engines recognition hands its hard parts to: zxing-cpp for QR codes, Tesseract for digits.

Tesseract runs in-process through tesserocr (its C++ API, one engine per process, created on
first use) on Debian's `eng` model, restricted to the ten digits and to one character per
call: the cell images are small, so a call costs well under a millisecond of set-up, where
pytesseract would start a `tesseract` process per call (bench/scan.py measures both).
`PytesseractDigits` is kept for that comparison and as a fall-back where tesserocr's wheel
is not available.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "DigitGuess",
    "PytesseractDigits",
    "QrHit",
    "TesseractDigits",
    "TesseractLine",
    "decode_qr",
    "tessdata",
]

DIGITS = "0123456789"
GLYPH_PX = 40  # height a digit is scaled to before Tesseract sees it
PAD_PX = 14


@dataclass(frozen=True, slots=True)
class QrHit:
    text: str
    corners: np.ndarray  # tl, tr, br, bl of the symbol, image px (continuous)


@dataclass(frozen=True, slots=True)
class DigitGuess:
    digit: str | None  # None: the engine saw no digit
    confidence: float  # 0..1
    second: float = 0.0  # confidence of the runner-up digit, 0..1


def decode_qr(grey: np.ndarray, rect: tuple[int, int, int, int] | None = None) -> list[QrHit]:
    """QR symbols in `grey` (only inside `rect` = x, y, w, h when given)."""
    import zxingcpp

    x0 = y0 = 0
    image = grey
    if rect is not None:
        x0, y0, w, h = rect
        image = grey[y0 : y0 + h, x0 : x0 + w]
        if image.size == 0:
            return []
    image = np.ascontiguousarray(image)
    try:
        found = zxingcpp.read_barcodes(
            image,
            formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
            try_rotate=True,
            try_downscale=True,
        )
    except (ValueError, RuntimeError):
        return []
    hits = []
    for code in found:
        if not code.valid:
            continue
        p = code.position
        corners = np.array(
            [
                [p.top_left.x, p.top_left.y],
                [p.top_right.x, p.top_right.y],
                [p.bottom_right.x, p.bottom_right.y],
                [p.bottom_left.x, p.bottom_left.y],
            ],
            dtype=float,
        )
        # zxing gives the centres of the outermost modules' corner pixels; +0.5 to continuous.
        hits.append(QrHit(code.text, corners + np.array([x0 + 0.5, y0 + 0.5])))
    return hits


def tessdata() -> str:
    """Debian's traineddata folder (or TESSDATA_PREFIX)."""
    if os.environ.get("TESSDATA_PREFIX"):
        return os.environ["TESSDATA_PREFIX"]
    for candidate in sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata"), reverse=True):
        if (candidate / "eng.traineddata").exists():
            return str(candidate)
    return "/usr/share/tesseract-ocr/5/tessdata"


def glyph(cell: np.ndarray) -> np.ndarray | None:
    """A digit cell's ink (255 on 0) as Tesseract likes it: black on white, tight, scaled to
    `GLYPH_PX` high, with a white margin; None when no ink is left."""
    ys, xs = np.nonzero(cell)
    if ys.size == 0:
        return None
    crop = cell[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = GLYPH_PX / max(h, 1)
    if w * scale > GLYPH_PX * 1.4:
        scale = GLYPH_PX * 1.4 / w
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    out = np.full((size[1] + 2 * PAD_PX, size[0] + 2 * PAD_PX), 255, np.uint8)
    out[PAD_PX : PAD_PX + size[1], PAD_PX : PAD_PX + size[0]] = 255 - crop
    return out


class TesseractDigits:
    """One in-process Tesseract restricted to digits, reading one character per image."""

    def __init__(self) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self._api = tesserocr.PyTessBaseAPI(
            path=tessdata(), lang="eng", psm=tesserocr.PSM.SINGLE_CHAR, oem=tesserocr.OEM.LSTM_ONLY
        )
        self._api.SetVariable("tessedit_char_whitelist", DIGITS)
        self._api.SetVariable("classify_bln_numeric_mode", "1")

    def read(self, cells: Sequence[np.ndarray]) -> list[DigitGuess]:
        out = []
        for cell in cells:
            image = glyph(cell)
            if image is None:
                out.append(DigitGuess(None, 0.0))
                continue
            height, width = image.shape
            # Raw bytes: PIL's way into Tesseract goes through a BMP with a palette per call.
            self._api.SetImageBytes(image.tobytes(), width, height, 1, width)
            self._api.Recognize()
            out.append(self._best())
        return out

    def _best(self) -> DigitGuess:
        tesserocr = self._tesserocr
        iterator = self._api.GetIterator()
        level = tesserocr.RIL.SYMBOL
        if iterator is None or iterator.Empty(level):
            return DigitGuess(None, 0.0)
        text = (iterator.GetUTF8Text(level) or "").strip()
        confidence = iterator.Confidence(level) / 100.0
        second = 0.0
        choices = iterator.GetChoiceIterator()
        for choice in choices:
            alt = choice.GetUTF8Text()
            if alt != text and alt in DIGITS:
                second = max(second, choice.Confidence() / 100.0)
        if len(text) != 1 or text not in DIGITS:
            return DigitGuess(None, 0.0)
        return DigitGuess(text, round(confidence, 4), round(second, 4))

    def close(self) -> None:
        self._api.End()


class TesseractLine:
    """Tesseract (in-process) reading one printed line of digits: the code under the QR."""

    def __init__(self) -> None:
        import tesserocr

        self._api = tesserocr.PyTessBaseAPI(
            path=tessdata(), lang="eng", psm=tesserocr.PSM.SINGLE_LINE, oem=tesserocr.OEM.LSTM_ONLY
        )
        self._api.SetVariable("tessedit_char_whitelist", DIGITS + " ")

    def read(self, image: np.ndarray) -> str:
        height, width = image.shape
        self._api.SetImageBytes(np.ascontiguousarray(image).tobytes(), width, height, 1, width)
        return str(self._api.GetUTF8Text() or "").strip()

    def close(self) -> None:
        self._api.End()


class PytesseractDigits:
    """The same reading through pytesseract: a `tesseract` process per cell (for comparison)."""

    def read(self, cells: Sequence[np.ndarray]) -> list[DigitGuess]:
        import pytesseract

        out = []
        config = f"--psm 10 --oem 1 -c tessedit_char_whitelist={DIGITS}"
        for cell in cells:
            image = glyph(cell)
            if image is None:
                out.append(DigitGuess(None, 0.0))
                continue
            data = pytesseract.image_to_data(
                image, config=config, output_type=pytesseract.Output.DICT
            )
            best = DigitGuess(None, 0.0)
            for text, conf in zip(data["text"], data["conf"], strict=True):
                text = str(text).strip()
                if len(text) == 1 and text in DIGITS and float(conf) >= 0:
                    best = DigitGuess(text, round(float(conf) / 100.0, 4))
            out.append(best)
        return out

    def close(self) -> None:
        pass
