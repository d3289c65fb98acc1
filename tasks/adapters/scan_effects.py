"""A scanner, imitated: one 300-dpi page in, the image the school's scanner delivers out.

Applies a `PageEffects` (planned in tasks/domain/exam_day_scans.py) to a rendered, written-on
page: a torn-off corner or a black image when the page is unreadable; stains on the paper
(coffee rings, grey blotches); the sheet's placement on the glass (rotation, scale, shift,
perspective, the feed's shear, a 180° turn) and the scanner's resolution in one warp with the
domain's own page-to-image map; then blur, paper tone and sensor noise, dust specks, and 1-bit
thresholding or dithering (error diffusion by Pillow, or an ordered Bayer screen). Everything
is one pass of OpenCV per step over the whole image; the sensor noise comes from a bank
generated once per process and offset per image, since drawing fresh Gaussian noise for 8.7
million pixels would cost more than all the rest.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from tasks.domain.exam_day_scans import RENDER_DPI, PageEffects, Stain, mm_to_px, page_size_px

__all__ = ["NoiseBank", "dither", "scan_image", "whiten"]

_BANK_SIGMA = 32.0
MAX_OVERSCAN_MM = 50.0
_K_RENDER = RENDER_DPI / 25.4
# cv2 samples at pixel centres (integer coordinates), the domain's map at pixel corners.
_TO_CORNER = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1.0]])
_TO_CENTRE = np.linalg.inv(_TO_CORNER)


class NoiseBank:
    """Gaussian noise (sigma 32 around 128) for the largest canvas plus a margin, from a seed."""

    def __init__(self, seed: int, margin: int = 96) -> None:
        width, height = page_size_px(RENDER_DPI, MAX_OVERSCAN_MM)
        rng = np.random.default_rng(seed)
        noise = rng.normal(128.0, _BANK_SIGMA, (height + margin, width + margin))
        self.field = np.clip(noise, 0, 255).astype(np.uint8)
        self.margin = margin

    def patch(self, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        dx, dy = (int(v) for v in rng.integers(0, self.margin, 2))
        return self.field[dy : dy + height, dx : dx + width]


def _tear(page: np.ndarray, corner: str, background: int, rng: np.random.Generator) -> None:
    """Fill a torn-off corner (its marker with it) with the scanner's backing."""
    h, w = page.shape
    a, b = (rng.uniform(50, 80) * _K_RENDER for _ in range(2))
    steps = 12
    edge = np.column_stack([np.linspace(a, 0, steps), np.linspace(0, b, steps)])
    edge += rng.normal(0, 2.5 * _K_RENDER, edge.shape)  # a ragged tear, not a cut
    points = np.vstack([[[0.0, 0.0]], [[a, 0.0]], edge[1:-1], [[0.0, b]]])
    if corner in ("tr", "br"):
        points[:, 0] = w - points[:, 0]
    if corner in ("bl", "br"):
        points[:, 1] = h - points[:, 1]
    cv2.fillPoly(page, [np.round(points).astype(np.int32)], int(background))


def scan_image(page: np.ndarray, effects: PageEffects, bank: NoiseBank) -> np.ndarray:
    """The scanned image (grey uint8; 0/255 when binarized) of a 300-dpi page."""
    rng = np.random.default_rng(effects.seed)
    source = page
    if effects.stains:
        source = page.copy()
        for stain in effects.stains:
            _stain(source, stain, np.random.default_rng(effects.seed + len(effects.stains)))
    if effects.unreadable and effects.unreadable.startswith("torn-"):
        source = source.copy() if source is page else source
        _tear(source, effects.unreadable.removeprefix("torn-"), effects.background, rng)
    to_image = mm_to_px(effects) @ np.diag([1 / _K_RENDER, 1 / _K_RENDER, 1.0])
    if effects.dpi <= RENDER_DPI // 2:
        # Halve first, so that thin lines are averaged rather than skipped by the warp.
        source = cv2.pyrDown(source)
        to_image = to_image @ np.diag([2.0, 2.0, 1.0])
    matrix = _TO_CENTRE @ to_image @ _TO_CORNER
    size = page_size_px(effects.dpi, effects.overscan_mm)
    if effects.perspective_mm:
        image = cv2.warpPerspective(
            source,
            matrix,
            size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=effects.background,
        )
    else:
        image = cv2.warpAffine(
            source,
            matrix[:2],
            size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=effects.background,
        )
    if effects.blur_px > 0:
        image = cv2.GaussianBlur(image, (0, 0), effects.blur_px)
    alpha = (effects.paper - effects.ink_floor) / 255.0
    if effects.unreadable == "black":  # lamp failure or open lid: a faint page in the dark
        alpha, floor = alpha * 0.14, 4.0
    else:
        floor = float(effects.ink_floor)
    if effects.noise > 0:
        k = effects.noise / _BANK_SIGMA
        noise = bank.patch(size[0], size[1], rng)
        image = cv2.addWeighted(image, alpha, noise, k, floor - 128.0 * k)
    elif alpha != 1.0 or floor:
        image = cv2.convertScaleAbs(image, alpha=alpha, beta=floor)
    if effects.speckles:
        _speckle(image, effects.speckles, effects.dpi, rng)
    if effects.dither:
        image = dither(image, effects.dither)
    elif effects.binarized:
        _, image = cv2.threshold(image, effects.threshold, 255, cv2.THRESH_BINARY)
    elif effects.white_point is not None:
        image = whiten(image, effects.white_point)
    return image


def _speckle(image: np.ndarray, count: int, dpi: int, rng: np.random.Generator) -> None:
    """Dust and toner specks: small dark dots, a few light ones (dropouts)."""
    h, w = image.shape
    xs = rng.integers(0, w, count)
    ys = rng.integers(0, h, count)
    radii = rng.integers(1, max(2, dpi // 100) + 1, count)
    shades = np.where(rng.random(count) < 0.85, rng.integers(0, 90, count), 255)
    for x, y, r, v in zip(xs.tolist(), ys.tolist(), radii.tolist(), shades.tolist(), strict=True):
        cv2.circle(image, (x, y), r, v, -1, cv2.LINE_8)


def _stain(page: np.ndarray, stain: Stain, rng: np.random.Generator) -> None:
    """A translucent stain drawn into the 300-dpi page (it darkens paper and ink alike, by a
    factor): a ring with a darker rim and a faint inside, or a blotch darkest in the middle;
    both with a wavy outline."""
    h, w = page.shape
    r = stain.radius_mm * _K_RENDER
    cx, cy = stain.x_mm * _K_RENDER, stain.y_mm * _K_RENDER
    x0, x1 = max(0, int(cx - 1.3 * r)), min(w, int(cx + 1.3 * r) + 1)
    y0, y1 = max(0, int(cy - 1.3 * r)), min(h, int(cy + 1.3 * r) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xs - cx, ys - cy
    distance = np.hypot(dx, dy)
    angle = np.arctan2(dy, dx)
    phases = rng.uniform(0, 2 * np.pi, 3)
    wobble = 1.0 + 0.06 * np.sin(3 * angle + phases[0]) + 0.04 * np.sin(7 * angle + phases[1])
    rel = distance / (r * wobble)
    if stain.kind == "ring":
        rim = 0.035 + 0.02 * (1 + np.sin(2 * angle + phases[2]))  # rim width, share of radius
        mask = np.exp(-(((rel - 1.0) / rim) ** 2)) + 0.2 * (rel < 1.0)
    else:
        mask = np.clip(1.0 - rel**2, 0.0, 1.0) ** 0.6
    factor = 1.0 - (stain.darkness / 255.0) * np.clip(mask, 0.0, 1.0)
    roi = page[y0:y1, x0:x1]
    roi[:] = np.clip(roi.astype(np.float32) * factor, 0, 255).astype(np.uint8)


# The 8 × 8 Bayer matrix (each level: the quadrants 4M, 4M + 2, 4M + 3, 4M + 1): the
# thresholds of an ordered screen, dispersed so that any grey is an even dot pattern.
_BAYER8 = np.zeros((1, 1))
for _ in range(3):
    _BAYER8 = np.block([[4 * _BAYER8, 4 * _BAYER8 + 2], [4 * _BAYER8 + 3, 4 * _BAYER8 + 1]])
_SCREEN = ((_BAYER8 + 0.5) * 255 / 64).astype(np.float32)


def dither(image: np.ndarray, kind: str) -> np.ndarray:
    """A grey image made 1-bit (0/255) as a scanner's halftone mode does: `error-diffusion`
    (Floyd–Steinberg, Pillow) or `ordered` (an 8 × 8 Bayer screen). Greys become a pattern of
    dots whose density is the grey's darkness, not a hard threshold."""
    if kind == "error-diffusion":
        bits = Image.fromarray(image).convert("1", dither=Image.Dither.FLOYDSTEINBERG)
        return np.asarray(bits, dtype=np.uint8) * np.uint8(255)
    if kind == "ordered":
        h, w = image.shape
        screen = np.tile(_SCREEN, (-(-h // 8), -(-w // 8)))[:h, :w]
        return np.where(image > screen, 255, 0).astype(np.uint8)
    raise ValueError(f"unknown dithering {kind!r}")


_WHITEN = np.arange(256, dtype=np.uint8)


def whiten(image: np.ndarray, white_point: int = 215) -> np.ndarray:
    """The scanner's background removal before a lossless file: light greys become white."""
    table = np.where(_WHITEN >= white_point, 255, _WHITEN).astype(np.uint8)
    return cv2.LUT(image, table)
