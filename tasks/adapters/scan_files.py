"""Scanned originals as scanners deliver them: TIFF (also multi-page), PNG, JPEG and PDF files.

`list_scan_files` finds the files under a folder (any depth, in a stable order); `read_frames`
opens one file and yields its pages as grey images. A file that cannot be opened, or a frame
that cannot be decoded, yields a frame with `error` set (a Russian reason) instead of raising,
so one bad file never stops a batch. PDF pages are taken as the scanner embedded them (the
single full-page image), and rendered only when a page holds something else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "SCAN_EXTENSIONS",
    "Frame",
    "count_frames",
    "file_digest",
    "list_scan_files",
    "read_frames",
]

SCAN_EXTENSIONS = frozenset({".tif", ".tiff", ".png", ".jpg", ".jpeg", ".pdf"})
PDF_RENDER_DPI = 200  # for a PDF page that is not a single embedded image


@dataclass(frozen=True, slots=True)
class Frame:
    index: int  # page within the file, from 0
    image: np.ndarray | None  # grey uint8
    error: str | None = None  # why the frame could not be read (Russian)


def list_scan_files(folder: Path) -> list[Path]:
    """Every scan file under `folder`, sorted by path; hidden files and others are skipped."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SCAN_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    return image


def _raster(data: bytes, multi: bool) -> Iterator[Frame]:
    if not data:  # a zero-byte file: OpenCV raises on an empty buffer instead of failing
        yield Frame(0, None, "файл изображения повреждён или не читается")
        return
    buffer = np.frombuffer(data, np.uint8)
    if multi:
        ok, images = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
        if not ok or not images:
            yield Frame(0, None, "файл изображения повреждён или не читается")
            return
        for index, image in enumerate(images):
            yield Frame(index, _grey(image))
        return
    single = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
    if single is None:
        yield Frame(0, None, "файл изображения повреждён или не читается")
    else:
        yield Frame(0, single)


def _pdf(data: bytes) -> Iterator[Frame]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        yield Frame(0, None, "PDF-файл повреждён или не читается")
        return
    try:
        for index in range(len(document)):
            page = document[index]
            try:
                yield Frame(index, _pdf_page(page, pdfium, pdfium_c))
            except Exception:
                yield Frame(index, None, "страница PDF не читается")
            finally:
                page.close()
    finally:
        document.close()


def _pdf_page(page: object, pdfium: object, pdfium_c: object) -> np.ndarray:
    objects = list(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=1))  # type: ignore[attr-defined]
    if len(objects) == 1:
        bitmap = objects[0].get_bitmap(render=False)
        image = bitmap.to_numpy()
        if bitmap.format is not None and image.ndim == 3:
            image = _grey(image[..., :3] if image.shape[2] >= 3 else image[..., 0])
        elif image.ndim == 3:
            image = image[..., 0]
        return np.ascontiguousarray(_grey(image))
    bitmap = page.render(scale=PDF_RENDER_DPI / 72, grayscale=True)  # type: ignore[attr-defined]
    return np.ascontiguousarray(_grey(bitmap.to_numpy()))


def read_frames(path: Path) -> Iterator[Frame]:
    """The pages of one scan file, in file order."""
    try:
        data = path.read_bytes()
    except OSError:
        yield Frame(0, None, "файл не открывается")
        return
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        yield from _pdf(data)
    else:
        yield from _raster(data, multi=suffix in (".tif", ".tiff"))


def count_frames(path: Path) -> int:
    """How many pages a scan file holds, counted without decoding them (for the contract);
    a file that cannot be opened counts as one page (its record says why)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            import pypdfium2 as pdfium

            document = pdfium.PdfDocument(path.read_bytes())
            try:
                return max(1, len(document))
            finally:
                document.close()
        if suffix in (".tif", ".tiff"):
            return max(1, int(cv2.imcount(str(path))))
    except Exception:
        return 1
    return 1
