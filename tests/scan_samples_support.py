"""The committed scan samples (tests/scan_samples/README.md): their truth, the session they
belong to, and each one read once per test run with the real engines."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.domain.digit_fields import DigitModel
from tasks.domain.page_reading import DigitCells, Engines, PageContext, read_page
from tasks.domain.scan_checks import SessionCodes

SAMPLES = Path(__file__).resolve().parent / "scan_samples"

Page = tuple[dict[str, Any], dict[str, DigitCells]]


@cache
def truth() -> dict[str, dict[str, Any]]:
    """Each sample's truth by its file name."""
    data = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))
    return {s["file"]: s for s in data["samples"]}


@cache
def session() -> SessionCodes:
    data = json.loads((SAMPLES / "session.json").read_text(encoding="utf-8"))
    codes = {code: (kind, school) for code, (kind, school) in data["codes"].items()}
    return SessionCodes(codes=codes, topics=tuple(data["topics"]))


def image(name: str) -> np.ndarray:
    grey = cv2.imread(str(SAMPLES / name), cv2.IMREAD_GRAYSCALE)
    assert grey is not None, name
    return grey


@cache
def engines() -> tuple[Engines, DigitModel]:
    from tasks.adapters.digits import font_model
    from tasks.adapters.recognition_engines import Engines as RealEngines

    return RealEngines(), font_model()


@cache
def read(name: str) -> Page:
    """The sample read alone, as recognition of its file would read it (do not mutate)."""
    readers, model = engines()
    source = {"source_file": name, "frame": 0, "page_id": f"id-{name}"}
    return read_page(image(name), readers, model, PageContext(session().topics), source)


def by_name(*names: str) -> list[Page]:
    """Fresh copies of the samples' pages, in this order, for a batch."""
    return [(copy.deepcopy(read(n)[0]), read(n)[1]) for n in names]
