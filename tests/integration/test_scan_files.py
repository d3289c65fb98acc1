"""Scan files as scanners deliver them (tasks/adapters/scan_files.py), written here: multi-page
TIFF (grey and 1-bit Group 4), PDF with embedded JPEG or 1-bit images (and a page that must be
rendered), PNG and JPEG come back as grey frames in file order; a damaged file gives one frame
with a Russian reason instead of an exception; hidden and other files are not scans."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from tasks.adapters.exam_day_files import _PdfWriter  # the simulator's PDF writer
from tasks.adapters.scan_files import (
    PDF_RENDER_DPI,
    Frame,
    file_digest,
    list_scan_files,
    read_frames,
)
from tests.scan_samples_support import image


def pages(count: int = 3, shape: tuple[int, int] = (220, 160)) -> list[np.ndarray]:
    """Distinct grey pages: a gradient with a dark square placed by the page number."""
    out = []
    for n in range(count):
        page = np.tile(np.linspace(80, 250, shape[1]).astype(np.uint8), (shape[0], 1))
        page[20 + 40 * n : 50 + 40 * n, 30:60] = 10
        out.append(page)
    return out


def bilevel(page: np.ndarray) -> np.ndarray:
    return np.where(page > 160, 255, 0).astype(np.uint8)


def frames(path: Path) -> list[Frame]:
    out = list(read_frames(path))
    assert [f.index for f in out] == list(range(len(out)))
    return out


def test_a_multi_page_tiff_gives_every_page_in_order(tmp_path: Path) -> None:
    originals = pages(3)
    ok, data = cv2.imencodemulti(".tiff", originals)
    assert ok
    path = tmp_path / "batch.tiff"
    path.write_bytes(data.tobytes())
    got = frames(path)
    assert len(got) == 3
    assert all(f.error is None for f in got)
    for frame, original in zip(got, originals, strict=True):
        assert frame.image is not None
        assert frame.image.dtype == np.uint8
        assert np.array_equal(frame.image, original)


def test_a_1_bit_group4_tiff_gives_black_and_white_grey_frames(tmp_path: Path) -> None:
    originals = [bilevel(p) for p in pages(2)]
    first, *rest = (Image.fromarray(p).convert("1") for p in originals)
    buffer = io.BytesIO()
    first.save(buffer, "TIFF", compression="group4", save_all=True, append_images=rest)
    path = tmp_path / "bw.TIF"
    path.write_bytes(buffer.getvalue())
    got = frames(path)
    assert len(got) == 2
    for frame, original in zip(got, originals, strict=True):
        assert frame.image is not None
        assert (frame.image.ndim, frame.image.dtype) == (2, np.uint8)
        assert np.array_equal(frame.image, original)


def test_a_pdf_gives_its_embedded_jpeg_and_1_bit_images(tmp_path: Path) -> None:
    grey, black_white = pages(2)
    black_white = bilevel(black_white)
    pdf = _PdfWriter()
    pdf.add(grey, 95, bilevel=False)
    pdf.add(black_white, None, bilevel=True)
    path = tmp_path / "batch.pdf"
    path.write_bytes(pdf.bytes())
    got = frames(path)
    assert [f.error for f in got] == [None, None]
    # Taken at the scanner's own resolution, not rendered at the page size.
    assert [f.image.shape for f in got if f.image is not None] == [grey.shape, black_white.shape]
    assert np.abs(got[0].image.astype(int) - grey).mean() < 3  # JPEG, as embedded
    assert np.array_equal(got[1].image, black_white)


def test_a_pdf_written_by_pillow_reads_the_same(tmp_path: Path) -> None:
    grey, black_white = pages(2)
    black_white = bilevel(black_white)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(
        buffer, "PDF", save_all=True, append_images=[Image.fromarray(black_white).convert("1")]
    )
    path = tmp_path / "pillow.pdf"
    path.write_bytes(buffer.getvalue())
    got = frames(path)
    assert [f.image.shape for f in got if f.image is not None] == [grey.shape, black_white.shape]
    assert np.abs(got[0].image.astype(int) - grey).mean() < 3
    assert np.array_equal(got[1].image, black_white)


def test_a_pdf_page_that_is_not_one_image_is_rendered(tmp_path: Path) -> None:
    document = pdfium.PdfDocument.new()
    document.new_page(595.28, 841.89)  # an empty A4 page: no image on it
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    path = tmp_path / "empty.pdf"
    path.write_bytes(buffer.getvalue())
    (frame,) = frames(path)
    assert frame.error is None
    assert frame.image is not None
    assert frame.image.shape == pytest.approx(
        (round(841.89 / 72 * PDF_RENDER_DPI), round(595.28 / 72 * PDF_RENDER_DPI)), abs=1
    )
    assert frame.image.min() == 255


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".JPEG"])
def test_png_and_jpeg_give_one_grey_frame(tmp_path: Path, suffix: str) -> None:
    page = pages(1)[0]
    colour = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)  # a colour scan is read as grey
    ok, data = cv2.imencode(suffix.lower().replace(".jpeg", ".jpg"), colour)
    assert ok
    path = tmp_path / f"page{suffix}"
    path.write_bytes(data.tobytes())
    (frame,) = frames(path)
    assert frame.error is None
    assert frame.image is not None
    assert frame.image.ndim == 2
    assert np.abs(frame.image.astype(int) - page).mean() < 3


def test_a_sample_scan_survives_every_container(tmp_path: Path) -> None:
    """A real page (a committed sample) through TIFF and PDF comes back as it went in."""
    page = image("registration_150dpi.jpg")
    ok, tiff = cv2.imencodemulti(".tif", [page, page])
    assert ok
    (tmp_path / "two.tif").write_bytes(tiff.tobytes())
    pdf = _PdfWriter()
    pdf.add(page, 90, bilevel=False)
    (tmp_path / "one.pdf").write_bytes(pdf.bytes())
    got = frames(tmp_path / "two.tif") + frames(tmp_path / "one.pdf")
    assert len(got) == 3
    assert all(np.array_equal(f.image, page) for f in got[:2])
    assert np.abs(got[2].image.astype(int) - page).mean() < 3


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("garbage.tif", b"II*\x00not really a tiff", "файл изображения повреждён или не читается"),
        (
            "garbage.png",
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
            "файл изображения повреждён или не читается",
        ),
        ("empty.jpg", b"", "файл изображения повреждён или не читается"),
        ("empty.tiff", b"", "файл изображения повреждён или не читается"),
        ("empty.pdf", b"", "PDF-файл повреждён или не читается"),
        ("garbage.pdf", b"%PDF-1.4\nnothing else", "PDF-файл повреждён или не читается"),
    ],
)
def test_a_damaged_file_gives_one_frame_with_a_russian_reason(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert frames(path) == [Frame(0, None, message)]


def test_a_truncated_jpeg_is_a_damaged_file_not_an_exception(tmp_path: Path) -> None:
    ok, data = cv2.imencode(".jpg", pages(1)[0])
    assert ok
    path = tmp_path / "cut.jpg"
    path.write_bytes(data.tobytes()[: len(data) // 2])  # a copy interrupted half-way
    assert frames(path) == [Frame(0, None, "файл изображения повреждён или не читается")]


def test_a_file_gone_before_reading_gives_a_frame_with_its_reason(tmp_path: Path) -> None:
    assert frames(tmp_path / "gone.tif") == [Frame(0, None, "файл не открывается")]


def test_list_scan_files_finds_scans_at_any_depth_and_skips_hidden_and_others(
    tmp_path: Path,
) -> None:
    wanted = [
        "4201001/a.tif",
        "4201001/b.TIFF",
        "4201001/room 01/c.jpg",
        "4201002/d.PDF",
        "e.png",
        "f.jpeg",
    ]
    skipped = [
        ".hidden.tif",
        ".cache/g.tif",
        "4201001/.~lock.tif",
        "notes.txt",
        "4201001/h.bmp",
        "Thumbs.db",
    ]
    for rel in wanted + skipped:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(rel.encode())
    (tmp_path / "folder.tif").mkdir()  # a folder named like a scan is not a file
    found = list_scan_files(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == sorted(wanted)
    assert file_digest(found[0]) == file_digest(tmp_path / sorted(wanted)[0])
    assert len({file_digest(p) for p in found}) == len(found)
