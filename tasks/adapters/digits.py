"""Handwritten digits in cells: an in-process classifier, with Tesseract as the second opinion.

Tesseract is trained on printed text; on handwritten digits in single cells it reads about 85 %
right (bench/scan.py measures it), too few to accept a field on its word. The first reader
is therefore a k-nearest-neighbours classifier on HOG features of the cell's ink, normalised
(slant removed, scaled into a 20 px box); it is trained, at first use, on digits rendered from
the machine's DejaVu fonts and OpenCV's single-stroke Hershey fonts (not the script ones the
exam-day simulator writes with), bent by random elastic distortions, slants and stroke widths,
and cached under `~/.cache/rcoi/`. Tesseract (tesserocr, in-process, digits only, one
character per call) votes too. Each cell gets a probability per digit from the votes; the
field's decision (accept, verify) is made from those in tasks/domain/digit_fields.py.

The training set carries no data of the simulator, so the benchmark on simulated scans
measures how well it generalises to other hands; a real deployment retrains on the cells
operators have verified (`train(samples)`).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tasks.adapters.ocr import TesseractDigits
from tasks.domain.digit_fields import DigitModel

__all__ = [
    "MODEL_VERSION",
    "CellDescriber",
    "CellSample",
    "cell_features",
    "font_model",
    "normalise",
    "train_font_model",
]

MODEL_VERSION = 1
SIZE = 28  # normalised glyph: 20 px box in 28 px
_FONT_GLOB = "/usr/share/fonts/truetype/dejavu/DejaVu*.ttf"
_HERSHEY = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)
_HOG = cv2.HOGDescriptor((SIZE, SIZE), (14, 14), (7, 7), (7, 7), 9)


def normalise(ink: np.ndarray) -> np.ndarray:
    """A glyph's ink (255 on 0) deslanted by its moments and scaled into the middle 20 px of
    a 28 px square, as float 0..1."""
    ys, xs = np.nonzero(ink > 127)
    out = np.zeros((SIZE, SIZE), np.float32)
    if ys.size == 0:
        return out
    crop: np.ndarray = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    m = cv2.moments(crop)
    if abs(m["mu02"]) > 1e-2:
        skew = m["mu11"] / m["mu02"]
        h, w = crop.shape
        width = int(w + abs(skew) * h) + 2
        shear = np.array([[1, skew, -0.5 * h * skew + (width - w) / 2], [0, 1, 0]], np.float32)
        crop = cv2.warpAffine(crop, shear, (width, h), flags=cv2.INTER_LINEAR)
        ys, xs = np.nonzero(crop > 60)
        if ys.size:
            crop = crop[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    h, w = crop.shape
    y0, x0 = (SIZE - h) // 2, (SIZE - w) // 2
    out[y0 : y0 + h, x0 : x0 + w] = crop / 255.0
    return out


def cell_features(ink: np.ndarray) -> np.ndarray:
    glyph = normalise(ink)
    hog = np.asarray(_HOG.compute((glyph * 255).astype(np.uint8))).ravel()
    return np.concatenate([hog, cv2.resize(glyph, (14, 14)).ravel() * 0.5]).astype(np.float32)


def _render(digit: str, source: object, rng: np.random.Generator) -> np.ndarray:
    if isinstance(source, str):
        from PIL import Image, ImageDraw, ImageFont

        truetype = ImageFont.truetype(source, 60)
        picture = Image.new("L", (100, 100), 0)
        ImageDraw.Draw(picture).text((20, 10), digit, font=truetype, fill=255)
        return np.array(picture)
    assert isinstance(source, tuple)
    hershey, italic = source
    image = np.zeros((100, 100), np.uint8)
    scale = 4.0 if hershey == cv2.FONT_HERSHEY_PLAIN else 2.0
    flags = int(hershey) | (cv2.FONT_ITALIC if italic else 0)
    cv2.putText(image, digit, (25, 75), flags, scale, 255, int(rng.integers(1, 5)), cv2.LINE_AA)
    return image


def _distort(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-10, 10), 1.0)
    m[0, 1] += rng.uniform(-0.4, 0.4)
    m[0, 0] *= rng.uniform(0.7, 1.2)
    image = cv2.warpAffine(image, m, (w, h))
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    fields = [
        cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), 8)
        * rng.uniform(0, 60)
        for _ in range(2)
    ]
    image = cv2.remap(image, grid_x + fields[0], grid_y + fields[1], cv2.INTER_LINEAR)
    k = int(rng.integers(-2, 4))
    if k > 0:
        image = cv2.dilate(image, np.ones((k, k), np.uint8))
    elif k < 0:
        image = cv2.erode(image, np.ones((2, 2), np.uint8))
    return ((image > 100) * 255).astype(np.uint8)


def train_font_model(repeats: int = 20, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of digits rendered from fonts with random distortions."""
    rng = np.random.default_rng(seed)
    fonts = sorted(f for f in glob.glob(_FONT_GLOB) if "Math" not in f)
    sources: list[object] = [*fonts, *((f, it) for f in _HERSHEY for it in (False, True))]
    features, labels = [], []
    for _ in range(repeats):
        for source in sources:
            for digit in "0123456789":
                image = _distort(_render(digit, source, rng), rng)
                if image.max() == 0:
                    continue
                features.append(cell_features(image))
                labels.append(int(digit))
    return np.array(features, np.float32), np.array(labels, np.int32)


def _model_path() -> Path:
    base = Path(os.environ.get("RCOI_CACHE", Path.home() / ".cache" / "rcoi"))
    return base / f"digits-v{MODEL_VERSION}.npz"


def _load_model() -> tuple[np.ndarray, np.ndarray]:
    path = _model_path()
    if path.exists():
        with np.load(path) as data:
            return data["features"], data["labels"]
    features, labels = train_font_model()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(partial, features=features, labels=labels)
    os.replace(partial, path)  # atomic: processes training at once leave one whole file
    return features, labels


@dataclass(frozen=True, slots=True)
class CellSample:
    """What recognition keeps of an inked cell: its features and Tesseract's reading."""

    features: np.ndarray
    tesseract: int | None


class CellDescriber:
    """Features and Tesseract's digit for cell images (one Tesseract per process).

    With `font` (the font-trained classifier), Tesseract is asked only about cells that
    classifier is not unanimous on: its vote cannot change a unanimous cell's digit, and it is
    most of the cost of a page (bench/scan.py)."""

    def __init__(self, tesseract: bool = True, font: DigitModel | None = None) -> None:
        self._tesseract = TesseractDigits() if tesseract else None
        self._font = font

    def describe(self, cells: Sequence[np.ndarray]) -> list[CellSample]:
        features = [cell_features(cell) for cell in cells]
        ask = list(range(len(cells)))
        if self._font is not None and cells:
            votes = self._font.probabilities(features, [None] * len(cells))
            ask = [i for i, row in enumerate(votes) if float(row.max()) < 1.0]
        digits: list[int | None] = [None] * len(cells)
        if self._tesseract is not None and ask:
            for i, guess in zip(ask, self._tesseract.read([cells[i] for i in ask]), strict=True):
                digits[i] = int(guess.digit) if guess.digit is not None else None
        return [CellSample(f, d) for f, d in zip(features, digits, strict=True)]

    def close(self) -> None:
        if self._tesseract is not None:
            self._tesseract.close()


def font_model() -> DigitModel:
    """The classifier trained on fonts only (cached after the first training)."""
    features, labels = _load_model()
    return DigitModel(features, labels)
