"""The engines `tasks.domain.page_reading.read_page` is given: zxing-cpp, the digit cells'
describer and Tesseract for the printed code (when a QR cannot be read)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tasks.adapters.digits import CellDescriber, CellSample
from tasks.adapters.ocr import QrHit, TesseractLine, decode_qr
from tasks.domain.digit_fields import DigitModel

__all__ = ["Engines"]


class Engines:
    """One set per process: the cell describer holds a Tesseract instance."""

    def __init__(self, tesseract: bool = True, font: DigitModel | None = None) -> None:
        self._cells = CellDescriber(tesseract=tesseract, font=font)
        self._line: TesseractLine | None = None  # made on first use: few pages need it

    def qr(self, grey: np.ndarray, rect: tuple[int, int, int, int] | None) -> list[QrHit]:
        return decode_qr(grey, rect)

    def describe(self, cells: Sequence[np.ndarray]) -> list[CellSample]:
        return self._cells.describe(cells)

    def printed_digits(self, image: np.ndarray) -> str:
        if self._line is None:
            self._line = TesseractLine()
        return self._line.read(image)

    def close(self) -> None:
        self._cells.close()
        if self._line is not None:
            self._line.close()
