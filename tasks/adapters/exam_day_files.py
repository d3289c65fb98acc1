"""The exam-day simulator's files: the print folder in, the schools' scans and the truth out.

Reads the print stage's folder (`manifest.json` and each school's kits PDF); renders every
page once at 300 dpi with pypdfium2, writes on it (tasks/adapters/handwriting.py), scans it
(tasks/adapters/scan_effects.py) and writes the images as the schools' scanners deliver them:
one folder per school, files named by a counter only (JPEG, PNG, TIFF — single or multi-page —
and PDF), with no metadata beyond the resolution. Schools run in parallel on a process pool.
The run is written into a temporary folder and swapped in at the end, so a killed run never
leaves a half-written output under its final name, and a re-run replaces the previous one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
import yaml
from PIL import Image

from tasks.adapters.handwriting import draw_page
from tasks.adapters.scan_effects import NoiseBank, scan_image
from tasks.adapters.school_pool import run_per_school
from tasks.domain.blanks import BlankType, layout_for
from tasks.domain.exam_day import PageInk, PrintManifest, WriterStyle, read_manifest
from tasks.domain.exam_day_scans import (
    RENDER_DPI,
    ImageFrame,
    ScanFile,
    ScanPlan,
    page_size_px,
)
from tasks.errors import DataError

__all__ = [
    "SchoolJob",
    "SchoolScanned",
    "read_print_dir",
    "replace_folder",
    "scan_schools",
    "school_jobs",
    "session_topics",
    "write_commissions",
    "write_ground_truth",
    "write_protocols",
    "write_room_records",
]

ROOM_RECORD_COLUMNS = (
    "school_code",
    "room",
    "work_code",
    "form",
    "attendance",
    "not_finished",
    "removed",
    "oral",
    "answer_blanks",
    "additional_blanks",
)


def read_print_dir(folder: Path) -> PrintManifest:
    """The print manifest of a print folder; every school's PDF must be there."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise DataError(f"в папке печати {folder} нет manifest.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"manifest.json не читается: {exc}") from exc
    manifest = read_manifest(data)
    absent = sorted({p.file for p in manifest.pages if not (folder / p.file).is_file()})
    if absent:
        raise DataError(f"в папке печати нет файлов: {', '.join(absent[:5])}")
    return manifest


def session_topics(topics_dir: Path, session: str) -> tuple[str, ...] | None:
    """The topic numbers of `topics_dir/<session>.yaml` (the publish stage's file), if any."""
    path = topics_dir / f"{session}.yaml"
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        numbers = [
            str(topic["number"])
            for direction in data.get("directions", [])
            for topic in direction.get("topics", [])
        ]
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError) as exc:
        raise DataError(f"темы {path.name} не читаются: {exc}") from exc
    return tuple(numbers) or None


# --- one school, in a worker process -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchoolJob:
    school_code: str
    pdf: Path  # the school's kits PDF
    folder: Path  # where its scans go
    pages: Mapping[str, tuple[int, BlankType, int]]  # page key → PDF page (0-based), blank, side
    inks: Mapping[str, PageInk]
    files: tuple[ScanFile, ...]
    styles: tuple[WriterStyle, ...]
    noise_seed: int

    @property
    def frames(self) -> int:
        return sum(len(f.frames) for f in self.files)


@dataclass(frozen=True, slots=True)
class SchoolScanned:
    school_code: str
    images: int
    files: int
    bytes: int
    seconds: float
    cpu_seconds: float  # this process's CPU time on the school


_BANKS: dict[int, NoiseBank] = {}


def _bank(seed: int) -> NoiseBank:
    if seed not in _BANKS:
        _BANKS.clear()
        _BANKS[seed] = NoiseBank(seed)
    return _BANKS[seed]


def _render(document: pdfium.PdfDocument, index: int) -> np.ndarray:
    """One PDF page as a writable grey A4 image at 300 dpi (exact canvas size)."""
    page = document[index]
    try:
        bitmap = page.render(
            scale=RENDER_DPI / 72,
            grayscale=True,
            draw_annots=False,
            may_draw_forms=False,
        )
        array = bitmap.to_numpy()
    finally:
        page.close()
    if array.ndim == 3:
        array = array[:, :, 0]
    width, height = page_size_px(RENDER_DPI)
    if array.shape[0] >= height and array.shape[1] >= width:
        return np.array(array[:height, :width], order="C")  # a copy: pdfium owns `array`
    canvas = np.full((height, width), 255, np.uint8)
    h, w = min(height, array.shape[0]), min(width, array.shape[1])
    canvas[:h, :w] = array[:h, :w]
    return canvas


def _encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DataError("JPEG не записывается")
    return data.tobytes()


def _encode_png(image: np.ndarray, bilevel: bool) -> bytes:
    params = (
        [cv2.IMWRITE_PNG_BILEVEL, 1]
        if bilevel
        else [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    )
    ok, data = cv2.imencode(".png", image, params)
    if not ok:
        raise DataError("PNG не записывается")
    return data.tobytes()


def _pil(image: np.ndarray) -> Image.Image:
    """A 0/255 image as Pillow's 1-bit image (for Group 4 TIFF)."""
    height, width = image.shape
    return Image.frombytes("1", (width, height), np.packbits(image > 127, axis=1).tobytes())


def _tiff_params(dpi: int) -> list[int]:
    return [
        cv2.IMWRITE_TIFF_COMPRESSION,
        cv2.IMWRITE_TIFF_COMPRESSION_PACKBITS,
        cv2.IMWRITE_TIFF_RESUNIT,
        2,  # inch
        cv2.IMWRITE_TIFF_XDPI,
        dpi,
        cv2.IMWRITE_TIFF_YDPI,
        dpi,
    ]


def _encode_tiff(images: Sequence[np.ndarray], frames: Sequence[ImageFrame]) -> bytes:
    """Grey pages PackBits-compressed (OpenCV), 1-bit pages in CCITT Group 4 (Pillow)."""
    if frames[0].effects.binarized:
        buffer = io.BytesIO()
        first, *rest = (_pil(image) for image in images)
        dpi = frames[0].effects.dpi
        first.save(
            buffer,
            "TIFF",
            compression="group4",
            dpi=(dpi, dpi),
            save_all=True,
            append_images=rest,
        )
        return buffer.getvalue()
    params = _tiff_params(frames[0].effects.dpi)
    if len(images) == 1:
        ok, data = cv2.imencode(".tiff", images[0], params)
    else:
        ok, data = cv2.imencodemulti(".tiff", list(images), params)
    if not ok:
        raise DataError("TIFF не записывается")
    return bytes(data.tobytes())


class _PdfWriter:
    """A minimal PDF of full-page scans: JPEG images as they are (DCTDecode), 1-bit images
    deflated; A4 pages; no information dictionary (nothing but the images)."""

    _PAGE = (595.28, 841.89)  # A4 in points

    def __init__(self) -> None:
        self.objects: list[bytes] = []
        self.pages: list[int] = []

    def _add(self, body: bytes) -> int:
        self.objects.append(body)
        return len(self.objects) + 2  # 1: catalog, 2: page tree

    def add(self, image: np.ndarray, quality: int | None, bilevel: bool) -> None:
        height, width = image.shape
        if bilevel:
            data = zlib.compress(np.packbits(image > 127, axis=1).tobytes(), 6)
            head = f"/BitsPerComponent 1 /Filter /FlateDecode /Length {len(data)}"
        else:
            data = _encode_jpeg(image, quality or 85)
            head = f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(data)}"
        xobject = self._add(
            f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
            f"/ColorSpace /DeviceGray {head} >>\nstream\n".encode()
            + data
            + b"\nendstream"
        )
        w, h = self._PAGE
        content = f"q {w} 0 0 {h} 0 0 cm /Im0 Do Q".encode()
        stream = self._add(
            f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream"
        )
        self.pages.append(
            self._add(
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] "
                f"/Resources << /XObject << /Im0 {xobject} 0 R >> >> "
                f"/Contents {stream} 0 R >>".encode()
            )
        )

    def bytes(self) -> bytes:
        kids = " ".join(f"{n} 0 R" for n in self.pages)
        bodies = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {len(self.pages)} >>".encode(),
            *self.objects,
        ]
        out = io.BytesIO()
        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(bodies, start=1):
            offsets.append(out.tell())
            out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
        xref = out.tell()
        out.write(f"xref\n0 {len(bodies) + 1}\n0000000000 65535 f \n".encode())
        for offset in offsets:
            out.write(f"{offset:010d} 00000 n \n".encode())
        trailer = f"<< /Size {len(bodies) + 1} /Root 1 0 R >>"
        out.write(f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode())
        return out.getvalue()


def _write(path: Path, data: bytes) -> int:
    path.write_bytes(data)
    return len(data)


def scan_school(job: SchoolJob) -> SchoolScanned:
    """Render, write on, scan and save every image of one school's batch."""
    started, cpu = time.perf_counter(), time.process_time()
    cv2.setNumThreads(1)  # one process per core already
    job.folder.mkdir(parents=True, exist_ok=True)
    bank = _bank(job.noise_seed)
    uses = Counter(frame.page_key for f in job.files for frame in f.frames)
    cache: dict[str, np.ndarray] = {}
    document = pdfium.PdfDocument(str(job.pdf))
    written = 0

    def page_image(frame: ImageFrame) -> np.ndarray:
        key = frame.page_key
        page = cache.get(key)
        if page is None:
            index, blank_type, side = job.pages[key]
            page = _render(document, index)
            ink = job.inks.get(key)
            if ink is not None:
                draw_page(page, ink, layout_for(blank_type, side), job.styles)
        uses[key] -= 1
        if uses[key] > 0:
            cache[key] = page  # scanned again later in the batch: render once
        else:
            cache.pop(key, None)
        return page

    try:
        for scan_file in job.files:
            path = job.folder / scan_file.name
            images = [
                scan_image(page_image(frame), frame.effects, bank) for frame in scan_file.frames
            ]
            written += _write(path, _encode(images, scan_file))
    finally:
        document.close()
    return SchoolScanned(
        job.school_code,
        job.frames,
        len(job.files),
        written,
        time.perf_counter() - started,
        time.process_time() - cpu,
    )


def _encode(images: Sequence[np.ndarray], scan_file: ScanFile) -> bytes:
    frames = scan_file.frames
    fmt = scan_file.file_format
    if fmt == "pdf":
        pdf = _PdfWriter()
        for image, frame in zip(images, frames, strict=True):
            pdf.add(image, frame.effects.jpeg_quality, frame.effects.binarized)
        return pdf.bytes()
    if fmt in ("tiff", "tiff-multi"):
        return _encode_tiff(images, frames)
    (image,), (frame,) = images, frames
    if fmt == "jpeg":
        return _encode_jpeg(image, frame.effects.jpeg_quality or 85)
    return _encode_png(image, frame.effects.binarized)


def school_jobs(
    manifest: PrintManifest,
    print_dir: Path,
    scans_dir: Path,
    inks: Mapping[str, PageInk],
    plan: ScanPlan,
    styles: Sequence[WriterStyle],
    noise_seed: int,
) -> list[SchoolJob]:
    """One job per school that sends at least one image: its PDF, pages, ink and files."""
    jobs = []
    for school in manifest.schools():
        files = plan.files.get(school, ())
        if not files:
            continue
        mine = [p for p in manifest.pages if p.school_code == school]
        jobs.append(
            SchoolJob(
                school_code=school,
                pdf=print_dir / mine[0].file,
                folder=scans_dir / school,
                pages={p.key: (p.index, p.blank_type, p.page) for p in mine},
                inks={p.key: inks[p.key] for p in mine if p.key in inks},
                files=files,
                styles=tuple(styles),
                noise_seed=noise_seed,
            )
        )
    return jobs


def scan_schools(
    jobs: Sequence[SchoolJob],
    workers: int,
    progress: Callable[[SchoolScanned], None] | None = None,
) -> list[SchoolScanned]:
    """Every school's scans on `workers` processes (1: in this one), largest school first."""
    done = run_per_school(scan_school, jobs, lambda job: job.frames, workers, progress)
    return sorted(done, key=lambda d: d.school_code)


# --- ground truth, room records, the swap ------------------------------------------------------


def write_ground_truth(folder: Path, truth: Mapping[str, Any]) -> Path:
    path = folder / "ground_truth.json"
    path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def write_room_records(folder: Path, records: Mapping[str, Sequence[Mapping[str, str]]]) -> int:
    """ИС-05 data as the copy stage takes it: `room_records/<school>.csv` (UTF-8, `;`)."""
    target = folder / "room_records"
    target.mkdir(parents=True, exist_ok=True)
    for school, rows in sorted(records.items()):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, ROOM_RECORD_COLUMNS, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (target / f"{school}.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return len(records)


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, delimiter=";", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_protocols(folder: Path, protocols: Mapping[str, Sequence[Mapping[str, str]]]) -> int:
    """The schools' expert protocols as the grade stage takes them: `protocols/<school>.csv`
    (UTF-8, `;`, Russian headers)."""
    target = folder / "protocols"
    target.mkdir(parents=True, exist_ok=True)
    for school, rows in sorted(protocols.items()):
        _write_csv(target / f"{school}.csv", list(rows[0]), rows)
    return len(protocols)


def write_commissions(folder: Path, rows: Sequence[Mapping[str, str]]) -> Path:
    """The grading commissions by expert code: `commissions.csv` (UTF-8, `;`)."""
    path = folder / "commissions.csv"
    _write_csv(path, ["school_code", "expert_code"], rows)
    return path


def replace_folder(temporary: Path, final: Path) -> None:
    """Swap a finished run in for the previous one (kept aside until the swap succeeds)."""
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(temporary, final)
    if old.exists():
        shutil.rmtree(old)
