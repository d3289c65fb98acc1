"""The engines `tasks.domain.page_reading.read_page` is given: zxing-cpp and the digit reader."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tasks.adapters.digits import CellDescriber, CellSample
from tasks.adapters.ocr import QrHit, decode_qr
from tasks.domain.digit_fields import DigitModel

__all__ = ["Engines"]


class Engines:
    """One set per process: the cell describer holds a Tesseract instance."""

    def __init__(self, tesseract: bool = True, font: DigitModel | None = None) -> None:
        self._cells = CellDescriber(tesseract=tesseract, font=font)

    def qr(self, grey: np.ndarray, rect: tuple[int, int, int, int] | None) -> list[QrHit]:
        return decode_qr(grey, rect)

    def describe(self, cells: Sequence[np.ndarray]) -> list[CellSample]:
        return self._cells.describe(cells)

    def close(self) -> None:
        self._cells.close()
