"""How the schools' scanners deliver the exam-day originals: scanners, batches, effects, files.

Pure planning for the exam-day simulator (docs/exam-day-simulator.md): given the pages each
school sends back, decide per school its scanner (resolution, 1-bit or grey, file format,
backing colour, file names), per page what went wrong (missing, scanned twice, unreadable) and
how it lies on the glass (rotation, scale, shift, perspective, a 180° turn), and the noise,
blur and compression of every image; and cut each school's shuffled batch into files. The
adapter (tasks/adapters/scan_effects.py) applies exactly these numbers, so the ground truth
written from this plan is what the images show. Randomness comes from `random.Random` seeded
with strings (run seed + what is decided), so a decision does not depend on the order of
others and the same seed gives the same plan in any process.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from tasks.domain.blanks import PAGE_H, PAGE_W
from tasks.errors import DataError

__all__ = [
    "DITHER_KINDS",
    "EFFECTS",
    "FORMATS",
    "PRESETS",
    "RENDER_DPI",
    "ImageFrame",
    "PageEffects",
    "ScanFile",
    "ScanOptions",
    "ScanPlan",
    "Scanner",
    "Stain",
    "mm_to_px",
    "page_size_px",
    "plan_scans",
    "scan_options",
]

RENDER_DPI = 300  # pages are rendered and written on at this resolution, then "scanned"
MM_PER_INCH = 25.4
FORMATS = ("jpeg", "png", "tiff", "tiff-multi", "pdf")
MULTI_PAGE = frozenset({"tiff-multi", "pdf"})
EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "tiff-multi": ".tif", "pdf": ".pdf"}
# File names as office scanners make them: a counter in batch order, nothing else.
NAME_PATTERNS = ("scan_{n:04d}", "IMG_{n:04d}", "Scan{n:04d}", "{n:05d}")
UNREADABLE_KINDS = ("black", "torn")
CORNERS = ("tl", "tr", "bl", "br")
# How a dithering scanner makes its 1-bit image instead of a fixed threshold: error diffusion
# (Floyd–Steinberg) or an ordered 8 × 8 Bayer screen.
DITHER_KINDS = ("error-diffusion", "ordered")
STAIN_KINDS = ("ring", "blotch")  # a coffee cup's ring, a grey translucent blotch


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """Every scan effect with its parameter; a parameter of 0 (or an empty range) is off.

    Shares are per page unless said otherwise; ranges are (low, high)."""

    rotation_deg: float = 0.0  # |angle| up to this
    scale: float = 0.0  # relative deviation of the scanner's scale, up to this
    shift_mm: float = 0.0  # offset of the sheet on the glass, up to this in x and in y
    perspective_mm: float = 0.0  # displacement of each page corner, up to this
    perspective_share: float = 0.0  # share of pages with perspective (a lifted sheet)
    blur_px: float = 0.0  # Gaussian sigma at the output resolution, up to this
    blur_share: float = 0.0  # share of pages blurred
    noise: float = 0.0  # sigma of the sensor noise, grey levels
    speckles: float = 0.0  # dust specks per page, on average
    jpeg_quality: tuple[int, int] = (92, 92)  # for JPEG files (also JPEG inside PDFs)
    binarize: float = 0.0  # share of scanners that deliver 1-bit images
    dpi: tuple[int, ...] = (RENDER_DPI,)  # a school's scanner resolution is one of these
    turned: float = 0.0  # share of pages fed upside down (180°)
    missing: float = 0.0  # share of pages never delivered
    duplicates: float = 0.0  # share of pages scanned twice
    unreadable: float = 0.0  # share of images unreadable (mostly black, or a torn corner)
    paper_tone: float = 0.0  # the paper scans up to this many grey levels below white
    formats: tuple[tuple[str, float], ...] = (
        ("jpeg", 5.0),
        ("png", 1.5),
        ("tiff", 1.0),
        ("tiff-multi", 2.0),
    )
    pdf_batches: int = 2  # this many schools (at most) deliver PDF files
    frames_per_file: tuple[int, int] = (8, 25)  # pages in one multi-page TIFF or PDF
    dark_backing: float = 0.3  # share of scanners with a black backing (else white)
    overscan_mm: tuple[float, float] = (0.0, 0.0)  # a scanner's margin around A4, a range
    dither: float = 0.0  # share of scanners delivering dithered 1-bit images (not thresholded)
    stains: float = 0.0  # coffee rings and grey blotches per page, on average
    shear_deg: float = 0.0  # a sheet-fed scanner's skew of the feed: shear up to ±N degrees

    def __post_init__(self) -> None:
        shares = (
            "perspective_share",
            "blur_share",
            "binarize",
            "turned",
            "missing",
            "duplicates",
            "unreadable",
            "dark_backing",
            "dither",
        )
        for name in shares:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DataError(f"параметр {name}: доля от 0 до 1")
        nonnegative = ("rotation_deg", "scale", "shift_mm", "perspective_mm", "blur_px", "noise")
        for name in (*nonnegative, "stains", "shear_deg"):
            if getattr(self, name) < 0:
                raise DataError(f"параметр {name} не может быть отрицательным")
        if self.rotation_deg > 45 or self.scale > 0.2:
            raise DataError("поворот не более 45°, масштаб не более 20 %")
        if self.shear_deg > 5 or self.stains > 20:
            raise DataError("перекос подачи не более 5°, пятен не более 20 на страницу")
        low, high = self.jpeg_quality
        if not 1 <= low <= high <= 100:
            raise DataError("качество JPEG: диапазон от 1 до 100")
        if not self.dpi or any(d not in (150, 200, 240, 300) for d in self.dpi):
            raise DataError("разрешение сканера: 150, 200, 240 или 300 dpi")
        unknown = {name for name, _ in self.formats} - set(FORMATS)
        if unknown or not any(w > 0 for _, w in self.formats):
            raise DataError(f"форматы файлов: {', '.join(FORMATS)} с положительным весом")
        if not 0 <= self.overscan_mm[0] <= self.overscan_mm[1] <= 50:
            raise DataError("поля сканера вокруг A4: диапазон от 0 до 50 мм")
        if not 1 <= self.frames_per_file[0] <= self.frames_per_file[1]:
            raise DataError("страниц в многостраничном файле: диапазон от 1")

    def without(self, effects: Iterable[str]) -> ScanOptions:
        """These options with the named effects switched off (see `EFFECTS`)."""
        changes: dict[str, Any] = {}
        for name in effects:
            if name not in EFFECTS:
                raise DataError(f"неизвестный эффект «{name}»; известны: {', '.join(EFFECTS)}")
            changes.update(EFFECTS[name])
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "formats":
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[item.name] = value
        return out


# The off switch of each effect: what it sets.
EFFECTS: dict[str, dict[str, Any]] = {
    "rotation": {"rotation_deg": 0.0},
    "scale": {"scale": 0.0},
    "shift": {"shift_mm": 0.0},
    "overscan": {"overscan_mm": (0.0, 0.0)},
    "perspective": {"perspective_mm": 0.0, "perspective_share": 0.0},
    "blur": {"blur_px": 0.0, "blur_share": 0.0},
    "noise": {"noise": 0.0, "speckles": 0.0, "paper_tone": 0.0},
    "jpeg": {"jpeg_quality": (95, 95)},
    "binarize": {"binarize": 0.0},
    "dpi": {"dpi": (RENDER_DPI,)},
    "turned": {"turned": 0.0},
    "missing": {"missing": 0.0},
    "duplicates": {"duplicates": 0.0},
    "unreadable": {"unreadable": 0.0},
    "dither": {"dither": 0.0},
    "stains": {"stains": 0.0},
    "shear": {"shear_deg": 0.0},
}

PRESETS: dict[str, ScanOptions] = {
    # Effects off: pages exactly where the layout says, at 300 dpi (recognition's baseline).
    "none": ScanOptions(jpeg_quality=(95, 95), dark_backing=0.0),
    # A careful school with an office scanner.
    "moderate": ScanOptions(
        rotation_deg=3.0,
        scale=0.015,
        shift_mm=4.0,
        perspective_mm=1.5,
        perspective_share=0.05,
        blur_px=0.8,
        blur_share=0.3,
        noise=4.0,
        speckles=15.0,
        jpeg_quality=(60, 90),
        binarize=0.1,
        dpi=(200, 300),
        turned=0.05,
        overscan_mm=(0.0, 5.0),
        missing=0.002,
        duplicates=0.005,
        unreadable=0.003,
        paper_tone=12.0,
    ),
    # A hurried school with a cheap sheet-fed scanner set to 150 dpi black and white.
    "harsh": ScanOptions(
        rotation_deg=10.0,
        scale=0.04,
        shift_mm=8.0,
        perspective_mm=4.0,
        perspective_share=0.3,
        blur_px=1.5,
        blur_share=0.6,
        noise=18.0,
        speckles=400.0,
        jpeg_quality=(40, 70),
        binarize=1.0,
        dpi=(150,),
        turned=0.15,
        overscan_mm=(12.0, 18.0),
        missing=0.01,
        duplicates=0.02,
        unreadable=0.01,
        paper_tone=30.0,
    ),
    # Blanks from outside the region's own schools (another region's, an old office copier):
    # mostly dithered 1-bit pages (error diffusion or an ordered screen) saved as strongly
    # compressed JPEG at 150–200 dpi, coffee rings and grey blotches, a sheet-fed scanner's
    # shear of the feed.
    "outside": ScanOptions(
        rotation_deg=3.0,
        scale=0.02,
        shift_mm=5.0,
        perspective_mm=1.5,
        perspective_share=0.1,
        blur_px=0.8,
        blur_share=0.3,
        noise=8.0,
        speckles=40.0,
        jpeg_quality=(30, 55),
        binarize=0.2,
        dither=0.7,
        dpi=(150, 200),
        turned=0.05,
        overscan_mm=(0.0, 8.0),
        missing=0.002,
        duplicates=0.005,
        unreadable=0.003,
        paper_tone=20.0,
        formats=(("jpeg", 6.0), ("png", 1.0), ("tiff-multi", 1.0)),
        pdf_batches=1,
        stains=1.2,
        shear_deg=1.0,
    ),
}


def scan_options(
    preset: str, overrides: Mapping[str, Any] | None = None, off: Iterable[str] = ()
) -> ScanOptions:
    """A preset's options with single parameters overridden and effects switched off."""
    if preset not in PRESETS:
        raise DataError(f"неизвестный набор эффектов «{preset}»; известны: {', '.join(PRESETS)}")
    options = PRESETS[preset]
    if overrides:
        known = {f.name for f in fields(ScanOptions)}
        unknown = set(overrides) - known
        if unknown:
            raise DataError(f"неизвестные параметры сканирования: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()
        }
        if "formats" in values and isinstance(values["formats"], Mapping):
            values["formats"] = tuple(values["formats"].items())
        if "formats" in values:
            values["formats"] = tuple((str(k), float(w)) for k, w in values["formats"])
        options = replace(options, **values)
    return options.without(off)


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scanner:
    """One school's scanner: how every image of its batch is made."""

    dpi: int
    binarize: bool
    file_format: str
    background: int  # grey level of the backing seen around the sheet
    name_pattern: str
    overscan_mm: float = 0.0  # the scanned area is A4 plus this on every side
    dither: str | None = None  # a 1-bit scanner's dithering (`DITHER_KINDS`), else a threshold


@dataclass(frozen=True, slots=True)
class Stain:
    """A stain on the paper: a coffee ring (a darker rim) or a blotch (grey, translucent,
    darkest in the middle), centred at a page point (layout mm)."""

    kind: str  # `STAIN_KINDS`
    x_mm: float
    y_mm: float
    radius_mm: float
    darkness: int  # grey levels taken off white at the darkest

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "x_mm": self.x_mm,
            "y_mm": self.y_mm,
            "radius_mm": self.radius_mm,
            "darkness": self.darkness,
        }


@dataclass(frozen=True, slots=True)
class PageEffects:
    """What happened to one image of one page (the numbers the adapter applies)."""

    dpi: int
    overscan_mm: float = 0.0
    rotation_deg: float = 0.0
    scale: float = 1.0
    shift_mm: tuple[float, float] = (0.0, 0.0)
    perspective_mm: tuple[tuple[float, float], ...] = ()  # tl, tr, br, bl corner displacement
    turned: bool = False
    blur_px: float = 0.0
    noise: float = 0.0
    speckles: int = 0
    paper: int = 255  # grey level of the paper
    ink_floor: int = 0  # grey level of the darkest ink
    binarized: bool = False
    threshold: int = 0  # for 1-bit images
    jpeg_quality: int | None = None
    white_point: int | None = None  # background removal before a lossless grey file
    background: int = 255
    unreadable: str | None = None  # "black" or "torn-<corner>"
    seed: int = 0  # noise and specks of this image
    dither: str | None = None  # a 1-bit image dithered (`DITHER_KINDS`) instead of thresholded
    stains: tuple[Stain, ...] = ()  # on the paper, so they move with it
    shear_deg: float = 0.0  # the feed's shear: x moves by tan(angle) × (y − page centre)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dpi": self.dpi,
            "overscan_mm": self.overscan_mm,
            "rotation_deg": self.rotation_deg,
            "scale": self.scale,
            "shift_mm": list(self.shift_mm),
            "perspective_mm": [list(c) for c in self.perspective_mm],
            "turned_180": self.turned,
            "blur_sigma_px": self.blur_px,
            "noise_sigma": self.noise,
            "speckles": self.speckles,
            "paper_level": self.paper,
            "ink_floor": self.ink_floor,
            "binarized": self.binarized,
            "threshold": self.threshold if self.binarized and not self.dither else None,
            "jpeg_quality": self.jpeg_quality,
            "white_point": self.white_point,
            "background": self.background,
            "unreadable": self.unreadable,
            "dither": self.dither,
            "stains": [s.as_dict() for s in self.stains],
            "shear_deg": self.shear_deg,
        }


@dataclass(frozen=True, slots=True)
class ImageFrame:
    """One image in a file: which page it shows, frame index within the file."""

    page_key: str
    frame: int
    effects: PageEffects
    duplicate: bool = False  # the second scan of a page


@dataclass(frozen=True, slots=True)
class ScanFile:
    school_code: str
    name: str  # file name inside the school's folder: a counter only
    file_format: str
    frames: tuple[ImageFrame, ...]


@dataclass(frozen=True, slots=True)
class ScanPlan:
    scanners: dict[str, Scanner]
    files: dict[str, tuple[ScanFile, ...]]  # per school, in batch order
    missing: tuple[str, ...]  # page keys never delivered
    options: ScanOptions = field(default_factory=ScanOptions)

    def frames(self) -> Iterable[tuple[ScanFile, ImageFrame]]:
        for school in sorted(self.files):
            for scan_file in self.files[school]:
                for frame in scan_file.frames:
                    yield scan_file, frame


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random("|".join(str(p) for p in (seed, *parts)))


def _weighted(rng: random.Random, weights: Sequence[tuple[str, float]]) -> str:
    names = [n for n, w in weights if w > 0]
    return rng.choices(names, [w for _, w in weights if w > 0])[0]


def _scanners(schools: Sequence[str], options: ScanOptions, seed: int) -> dict[str, Scanner]:
    pdf_schools = set(
        _rng(seed, "pdf-schools").sample(sorted(schools), min(options.pdf_batches, len(schools)))
    )
    out = {}
    for school in sorted(schools):
        rng = _rng(seed, "scanner", school)
        binarize = rng.random() < options.binarize
        fmt = "pdf" if school in pdf_schools else _weighted(rng, options.formats)
        dark = rng.random() < options.dark_backing
        # Drawn apart, so that presets without dithering keep their scanners exactly.
        dither = None
        if options.dither > 0:
            drng = _rng(seed, "dither", school)
            if drng.random() < options.dither:
                dither = drng.choice(DITHER_KINDS)
                binarize = True
        out[school] = Scanner(
            dpi=rng.choice(options.dpi),
            binarize=binarize,
            file_format=fmt,
            background=rng.randint(15, 45) if dark else rng.randint(235, 255),
            name_pattern=rng.choice(NAME_PATTERNS),
            overscan_mm=round(rng.uniform(*options.overscan_mm), 1),
            dither=dither,
        )
    return out


def _effects(rng: random.Random, scanner: Scanner, options: ScanOptions, fmt: str) -> PageEffects:
    def spread(limit: float) -> float:
        return round(rng.uniform(-limit, limit), 3) if limit > 0 else 0.0

    perspective: tuple[tuple[float, float], ...] = ()
    if options.perspective_mm > 0 and rng.random() < options.perspective_share:
        perspective = tuple(
            (spread(options.perspective_mm), spread(options.perspective_mm)) for _ in CORNERS
        )
    blur = 0.0
    if options.blur_px > 0 and rng.random() < options.blur_share:
        blur = round(rng.uniform(0.3, max(options.blur_px, 0.3)), 2)
    unreadable = None
    if options.unreadable > 0 and rng.random() < options.unreadable:
        kind = rng.choice(UNREADABLE_KINDS)
        unreadable = kind if kind == "black" else f"torn-{rng.choice(CORNERS)}"
    speckles = 0
    if options.speckles > 0:
        speckles = max(0, round(rng.gauss(options.speckles, options.speckles / 3)))
    low, high = options.jpeg_quality
    tone = round(rng.uniform(0, options.paper_tone)) if options.paper_tone > 0 else 0
    effects = PageEffects(
        dpi=scanner.dpi,
        overscan_mm=scanner.overscan_mm,
        rotation_deg=spread(options.rotation_deg),
        scale=round(1.0 + spread(options.scale), 4),
        shift_mm=(spread(options.shift_mm), spread(options.shift_mm)),
        perspective_mm=perspective,
        turned=options.turned > 0 and rng.random() < options.turned,
        blur_px=blur,
        noise=round(rng.uniform(0.5, 1.0) * options.noise, 2) if options.noise > 0 else 0.0,
        speckles=speckles,
        paper=255 - tone,
        ink_floor=rng.randint(0, 25) if options.paper_tone > 0 else 0,
        binarized=scanner.binarize,
        threshold=rng.randint(140, 185) if scanner.binarize else 0,
        # 1-bit pages go into a PDF losslessly; a JPEG file is JPEG even when thresholded.
        jpeg_quality=(
            rng.randint(low, high)
            if fmt == "jpeg" or (fmt == "pdf" and not scanner.binarize)
            else None
        ),
        white_point=(
            rng.randint(200, 225)
            if fmt in ("png", "tiff", "tiff-multi") and not scanner.binarize
            else None
        ),
        background=scanner.background,
        unreadable=unreadable,
        seed=rng.getrandbits(31),
    )
    if not (options.stains or options.shear_deg or scanner.dither):
        return effects
    # Drawn from their own generator, so that presets without them keep every other number.
    extra = random.Random(f"{effects.seed}|extra")
    stains: list[Stain] = []
    if options.stains > 0:
        count = sum(
            extra.random() < options.stains / 4 for _ in range(4 * math.ceil(options.stains))
        )
        for _ in range(count):
            kind = extra.choice(STAIN_KINDS)
            stains.append(
                Stain(
                    kind,
                    round(extra.uniform(10, PAGE_W - 10), 1),
                    round(extra.uniform(10, PAGE_H - 10), 1),
                    round(extra.uniform(12, 40) if kind == "ring" else extra.uniform(8, 35), 1),
                    extra.randint(30, 80) if kind == "ring" else extra.randint(20, 60),
                )
            )
    shear = (
        round(extra.uniform(-options.shear_deg, options.shear_deg), 3) if options.shear_deg else 0.0
    )
    return replace(
        effects,
        dither=scanner.dither,
        threshold=0 if scanner.dither else effects.threshold,
        stains=tuple(stains),
        shear_deg=shear,
    )


def plan_scans(pages: Mapping[str, Sequence[str]], options: ScanOptions, seed: int) -> ScanPlan:
    """The scan plan of every school's batch: `pages` maps a school to the keys of the pages
    it sends back (in print order). Each batch is shuffled, a share of pages is lost or scanned
    twice, and the batch is cut into files of the school's scanner format."""
    scanners = _scanners(list(pages), options, seed)
    files: dict[str, tuple[ScanFile, ...]] = {}
    missing: list[str] = []
    for school in sorted(pages):
        scanner = scanners[school]
        rng = _rng(seed, "batch", school)
        batch: list[tuple[str, bool]] = []
        for key in pages[school]:
            if options.missing > 0 and rng.random() < options.missing:
                missing.append(key)
                continue
            batch.append((key, False))
            if options.duplicates > 0 and rng.random() < options.duplicates:
                batch.append((key, True))
        rng.shuffle(batch)
        # A duplicate scanned before its first scan would read as the original: keep the
        # "duplicate" mark on the later one.
        seen: set[str] = set()
        ordered = []
        for key, _ in batch:
            ordered.append((key, key in seen))
            seen.add(key)
        files[school] = tuple(_cut(school, ordered, scanner, options, seed))
    return ScanPlan(scanners, files, tuple(missing), options)


def _cut(
    school: str,
    batch: Sequence[tuple[str, bool]],
    scanner: Scanner,
    options: ScanOptions,
    seed: int,
) -> Iterable[ScanFile]:
    rng = _rng(seed, "files", school)
    fmt = scanner.file_format
    start, number = 0, 1
    while start < len(batch):
        size = rng.randint(*options.frames_per_file) if fmt in MULTI_PAGE else 1
        chunk = batch[start : start + size]
        name = scanner.name_pattern.format(n=number) + EXTENSIONS[fmt]
        frames = tuple(
            ImageFrame(
                key,
                i,
                _effects(_rng(seed, "effects", school, number, i), scanner, options, fmt),
                duplicate,
            )
            for i, (key, duplicate) in enumerate(chunk)
        )
        yield ScanFile(school, name, fmt, frames)
        start += size
        number += 1


# --- geometry ----------------------------------------------------------------------------------


def page_size_px(dpi: int, overscan_mm: float = 0.0) -> tuple[int, int]:
    """Width and height in pixels of an A4 page at `dpi`, or of a scanner's canvas: A4 with
    `overscan_mm` more on every side."""
    width, height = PAGE_W + 2 * overscan_mm, PAGE_H + 2 * overscan_mm
    return round(width / MM_PER_INCH * dpi), round(height / MM_PER_INCH * dpi)


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3×3 projective map taking four points `src` to `dst` (direct linear solve)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    h = np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float))
    return np.append(h, 1.0).reshape(3, 3)


def mm_to_px(effects: PageEffects) -> np.ndarray:
    """The 3×3 map from a page point in millimetres (layout coordinates: origin top-left,
    x right, y down) to the scanned image's pixel coordinates (continuous: pixel (i, j)
    covers [i, i+1) × [j, j+1)). Affine unless the page has perspective. Order: perspective,
    then the feed's shear, rotation and scale about the page centre and the shift, then the
    180° turn, then the scanner's margin and resolution."""
    w, h = PAGE_W, PAGE_H
    m = np.eye(3)
    if effects.perspective_mm:
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
        m = _homography(corners, corners + np.array(effects.perspective_mm, dtype=float))
    cx, cy = w / 2, h / 2
    if effects.shear_deg:
        # A sheet-fed scanner pulls one edge faster: x moves with y, about the page centre.
        t = math.tan(math.radians(effects.shear_deg))
        m = np.array([[1.0, t, -t * cy], [0, 1.0, 0], [0, 0, 1]]) @ m
    angle = math.radians(effects.rotation_deg)
    c, s = math.cos(angle) * effects.scale, math.sin(angle) * effects.scale
    dx, dy = effects.shift_mm
    # y points down, so a positive angle turns the page clockwise on the screen.
    place = np.array(
        [[c, -s, cx - c * cx + s * cy + dx], [s, c, cy - s * cx - c * cy + dy], [0, 0, 1]]
    )
    m = place @ m
    if effects.turned:
        m = np.array([[-1.0, 0, w], [0, -1.0, h], [0, 0, 1]]) @ m
    o = effects.overscan_mm
    m = np.array([[1.0, 0, o], [0, 1.0, o], [0, 0, 1]]) @ m
    k = effects.dpi / MM_PER_INCH
    return np.diag([k, k, 1.0]) @ m
