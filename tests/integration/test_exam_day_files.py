"""The exam-day simulator on a small print folder (two schools, a few kits, additional blanks):
the images exist and hold every issued page (or it is listed as missing), names and metadata
carry no codes, an unrotated page's QR decodes to its payload, ink lies where the layout says,
effects off keep pages on the layout, the 180° share turns pages, and the same seed gives the
same bytes on one process or two."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from tasks.adapters.exam_day_files import (
    read_print_dir,
    replace_folder,
    scan_schools,
    school_jobs,
    write_ground_truth,
    write_room_records,
)
from tasks.domain.blanks import BlankType, FieldKind, QrPayload, layout_for, parse_qr
from tasks.domain.exam_day import (
    ExamDayOptions,
    decide_works,
    ground_truth,
    ink_pages,
    room_records,
    scanned_pages,
    writers,
)
from tasks.domain.exam_day_scans import plan_scans, scan_options
from tests.print_dir_support import SchoolSpec, build_print_dir

SCHOOLS = [
    SchoolSpec("4201001", {"01": 3}, reserve=1, additional_per_room=2),
    SchoolSpec("4201002", {"01": 2}, reserve=1, additional_per_room=1),
]
# Every file format in one run: one school delivers PDF, the other multi-page TIFF.
MIXED = {"formats": (("tiff-multi", 1.0),), "pdf_batches": 1, "frames_per_file": (3, 5)}


@dataclass
class Run:
    folder: Path
    truth: dict[str, Any]

    def images(self) -> list[dict[str, Any]]:
        return list(self.truth["images"])


@pytest.fixture(scope="module")
def print_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("print") / "2017-12-06"
    folder.mkdir()
    build_print_dir(folder, SCHOOLS, seed=3)
    return folder


@pytest.fixture(scope="module")
def tiny_print_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One kit, one additional blank, one reserve kit: eight pages."""
    folder = tmp_path_factory.mktemp("tiny") / "2017-12-06"
    folder.mkdir()
    build_print_dir(folder, [SchoolSpec("4201001", {"01": 1}, 1, 1)], seed=4)
    return folder


def simulate(
    print_dir: Path,
    out: Path,
    preset: str,
    seed: int = 11,
    workers: int = 1,
    exam: dict[str, Any] | None = None,
    **scan: Any,
) -> Run:
    """The flow's steps without Prefect: plan, scan, ground truth, room records, swap."""
    manifest = read_print_dir(print_dir)
    options = ExamDayOptions(seed=seed, **(exam or {}))
    outcomes = decide_works(manifest, options)
    inks = ink_pages(outcomes, options)
    plan = plan_scans(scanned_pages(manifest, outcomes, options), scan_options(preset, scan), seed)
    folder = out / "exam_day" / manifest.session
    work = folder.with_name(".partial")
    jobs = school_jobs(
        manifest, print_dir, work / "scans", inks, plan, writers(options.writers, seed), seed
    )
    scan_schools(jobs, workers)
    truth = ground_truth(manifest, outcomes, inks, plan, options, {"seed": seed})
    write_ground_truth(work, truth)
    write_room_records(work, room_records(outcomes))
    replace_folder(work, folder)
    return Run(folder, json.loads((folder / "ground_truth.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def clean(print_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Effects off: 300 dpi, no rotation, no noise; JPEG at quality 95 and PNG."""
    return simulate(
        print_dir,
        tmp_path_factory.mktemp("clean"),
        "none",
        formats=(("png", 1.0),),
        pdf_batches=0,
        exam={"absent": 0.25},
    )


@pytest.fixture(scope="module")
def mixed(print_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Moderate effects with a few lost and doubled pages, in PDF and multi-page TIFF."""
    return simulate(
        print_dir,
        tmp_path_factory.mktemp("mixed"),
        "moderate",
        missing=0.1,
        duplicates=0.15,
        **MIXED,
    )


def frames_of(path: Path) -> Iterator[np.ndarray]:
    """Every image of a scan file as grey pixels (PDF pages rendered at their scan size)."""
    if path.suffix == ".pdf":
        document = pdfium.PdfDocument(str(path))
        for page in document:
            image = page.get_objects().__next__().get_bitmap().to_numpy()
            yield image if image.ndim == 2 else image[:, :, 0]
        document.close()
        return
    with Image.open(path) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            yield np.array(image.convert("L"))


def grey(run: Run, image: dict[str, Any]) -> np.ndarray:
    frames = list(frames_of(run.folder / image["file"]))
    return frames[image["frame"]]


def px(image: dict[str, Any], x_mm: float, y_mm: float) -> tuple[float, float]:
    x, y, w = np.array(image["mm_to_px"]) @ np.array([x_mm, y_mm, 1.0])
    return x / w, y / w


def ink(
    pixels: np.ndarray, image: dict[str, Any], box: Sequence[float], inset: float = 0.9
) -> float:
    """Share of dark pixels inside a layout box (mm), `inset` mm inside its border."""
    x, y, w, h = box
    x0, y0 = px(image, x + inset, y + inset)
    x1, y1 = px(image, x + w - inset, y + h - inset)
    region = pixels[
        round(min(y0, y1)) : round(max(y0, y1)), round(min(x0, x1)) : round(max(x0, x1))
    ]
    return float((region < 128).mean())


# --- every page is there ------------------------------------------------------------------------


def test_every_issued_page_is_an_image_or_listed_as_missing(mixed: Run) -> None:
    truth = mixed.truth
    issued = {p["page_key"] for p in truth["pages"]}
    imaged = {i["page_key"] for i in mixed.images()}
    missing = {m["page_key"] for m in truth["missing"]}
    assert missing, "the test asks for lost pages"
    assert imaged | missing == issued
    assert not imaged & missing
    assert any(i["duplicate"] for i in mixed.images())
    # The files hold exactly the frames the ground truth lists, in its order.
    by_file: dict[str, list[int]] = {}
    for image in mixed.images():
        by_file.setdefault(image["file"], []).append(image["frame"])
    on_disk = {
        str(p.relative_to(mixed.folder)) for p in (mixed.folder / "scans").rglob("*") if p.is_file()
    }
    assert on_disk == set(by_file)
    for name, frames in by_file.items():
        assert frames == list(range(len(frames)))
        assert len(list(frames_of(mixed.folder / name))) == len(frames)
    assert {i["format"] for i in mixed.images()} == {"pdf", "tiff-multi"}


def test_room_records_are_written_per_school(mixed: Run) -> None:
    for school in SCHOOLS:
        text = (mixed.folder / "room_records" / f"{school.code}.csv").read_text(encoding="utf-8")
        header, *rows = text.splitlines()
        assert header.split(";")[:3] == ["school_code", "room", "work_code"]
        assert len(rows) == sum(school.rooms.values())
    assert not (mixed.folder / "scans" / "ground_truth.json").exists()


def test_file_names_and_metadata_carry_no_codes(mixed: Run, clean: Run) -> None:
    codes = {w["work_code"] for w in mixed.truth["works"]}
    codes |= {a["code"] for a in mixed.truth["additional"]}
    spaced = {" ".join(c[i : i + 4] for i in range(0, 12, 4)) for c in codes}
    for run in (mixed, clean):
        for path in (run.folder / "scans").rglob("*"):
            if not path.is_file():
                continue
            assert not any(code in path.name for code in codes)
            data = path.read_bytes()
            assert not any(text.encode() in data for text in codes | spaced), path.name
            if path.suffix.lower() in (".png", ".jpg", ".tif"):
                with Image.open(path) as image:
                    assert "exif" not in image.info
                    assert not {k for k in image.info if k not in ("dpi", "compression")}


# --- what the images show -----------------------------------------------------------------------


def test_an_unrotated_pages_qr_decodes_to_its_payload(clean: Run) -> None:
    qr = layout_for(BlankType.ANSWER, 1).field("qr").box
    for image in clean.images():
        assert image["effects"]["rotation_deg"] == 0
        # Where the layout puts the code, with a wide margin (the whole page decodes too,
        # five times slower).
        x0, y0 = px(image, qr.x - 15, qr.y - 15)
        x1, y1 = px(image, qr.x + qr.w + 15, qr.y + qr.h + 15)
        region = grey(clean, image)[round(y0) : round(y1), round(x0) : round(x1)]
        found = zxingcpp.read_barcodes(region)
        texts = [r.text for r in found if r.format == zxingcpp.BarcodeFormat.QRCode]
        assert len(texts) == 1, image["file"]
        payload = parse_qr(texts[0])
        assert payload == QrPayload(BlankType(image["blank_type"]), image["code"], image["page"])


def test_handwritten_digits_have_ink_where_the_layout_says(clean: Run) -> None:
    pages = {p["page_key"]: p for p in clean.truth["pages"]}
    checked = 0
    for image in clean.images():
        page = pages[image["page_key"]]
        layout = layout_for(BlankType(page["blank_type"]), page["page"])
        pixels = grey(clean, image)
        for item in layout.of_kind(FieldKind.DIGIT_CELLS):
            cells = page["handwritten"]["digits"][item.name]["cells"]
            for cell, digit in zip(item.cells, cells, strict=True):
                share = ink(pixels, image, (cell.x, cell.y, cell.w, cell.h))
                if digit:
                    assert share > 0.01, (page["page_key"], item.name)
                    checked += 1
                else:
                    assert share < 0.002, (page["page_key"], item.name)
    assert checked > 20


def test_marks_and_text_are_where_the_ground_truth_says(clean: Run) -> None:
    pages = {p["page_key"]: p for p in clean.truth["pages"]}
    for image in clean.images():
        page = pages[image["page_key"]]
        layout = layout_for(BlankType(page["blank_type"]), page["page"])
        pixels = grey(clean, image)
        for item in layout.of_kind(FieldKind.MARK_BOX):
            stroke = page["handwritten"]["marks"].get(item.name)
            share = ink(pixels, image, item.box.as_list(), inset=0.6)
            if stroke == "fill":
                assert share > 0.8
            elif stroke:
                assert share > 0.03
            else:
                assert share < 0.002
        if page["blank_type"] != "registration":
            text = layout.field("text").box
            share = ink(pixels, image, (text.x, text.y, text.w, text.h), inset=0.0)
            assert (share > 0.005) is (page["handwritten"]["words"] > 0 or page["handwritten"]["z"])


def test_effects_off_keep_every_page_on_its_layout_within_a_millimetre(clean: Run) -> None:
    for image in clean.images():
        pixels = grey(clean, image)
        layout = layout_for(BlankType(image["blank_type"]), image["page"])
        k = 300 / 25.4
        _, dark = cv2.threshold(pixels, 128, 255, cv2.THRESH_BINARY_INV)
        _, _, stats, centres = cv2.connectedComponentsWithStats(dark)
        for marker in layout.of_kind(FieldKind.MARKER):
            box = marker.box
            expected = np.array([(box.x + box.w / 2) * k, (box.y + box.h / 2) * k])
            distances = np.linalg.norm(centres - expected, axis=1)
            nearest = int(np.argmin(distances))
            assert distances[nearest] < k, (image["file"], marker.name)
            assert abs(stats[nearest, cv2.CC_STAT_WIDTH] - box.w * k) < k


def test_the_turned_share_turns_pages(tiny_print_dir: Path, tmp_path: Path) -> None:
    run = simulate(
        tiny_print_dir, tmp_path, "none", turned=0.5, formats=(("jpeg", 1.0),), pdf_batches=0
    )
    turned = [i for i in run.images() if i["effects"]["turned_180"]]
    assert 0 < len(turned) < len(run.images())
    cue = layout_for(BlankType.ANSWER, 1).field("orientation").box
    for image in run.images():
        pixels = grey(run, image)
        share = ink(pixels, image, (cue.x, cue.y, cue.w, cue.h), inset=0.8)
        assert share > 0.9  # the cue is where the map says...
        _x, y = px(image, cue.x + cue.w / 2, cue.y + cue.h / 2)
        on_top = y < pixels.shape[0] / 2
        assert on_top is not image["effects"]["turned_180"]  # ...at the bottom when turned


def test_unreadable_pages_are_dark_or_torn(tiny_print_dir: Path, tmp_path: Path) -> None:
    run = simulate(
        tiny_print_dir, tmp_path, "none", unreadable=1.0, formats=(("png", 1.0),), pdf_batches=0
    )
    kinds = {i["effects"]["unreadable"].split("-")[0] for i in run.images()}
    assert kinds == {"black", "torn"}
    for image in run.images():
        pixels = grey(run, image)
        kind = image["effects"]["unreadable"]
        if kind == "black":
            assert pixels.mean() < 60
        else:
            corner = kind.split("-")[1]
            marker = layout_for(BlankType(image["blank_type"]), image["page"]).field(
                f"marker_{corner}"
            )
            assert ink(pixels, image, marker.box.as_list(), inset=0.5) < 0.05


# --- determinism --------------------------------------------------------------------------------


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_same_seed_gives_the_same_bytes_on_one_process_or_two(
    print_dir: Path, mixed: Run, tmp_path: Path
) -> None:
    again = simulate(
        print_dir, tmp_path, "moderate", workers=2, missing=0.1, duplicates=0.15, **MIXED
    )
    assert _digests(again.folder) == _digests(mixed.folder)


def test_a_rerun_replaces_the_previous_output(tiny_print_dir: Path, tmp_path: Path) -> None:
    first = simulate(
        tiny_print_dir, tmp_path, "none", seed=1, formats=(("jpeg", 1.0),), pdf_batches=0
    )
    (first.folder / "scans" / "stale.jpg").write_bytes(b"old")
    second = simulate(
        tiny_print_dir, tmp_path, "none", seed=2, formats=(("png", 1.0),), pdf_batches=0
    )
    assert second.folder == first.folder
    names = {p.name for p in (second.folder / "scans").rglob("*") if p.is_file()}
    assert names
    assert all(n.endswith(".png") for n in names)
    assert not list(tmp_path.glob("exam_day/.*"))


def test_pdf_frames_are_a4_pages_of_the_scanned_size(mixed: Run) -> None:
    pdfs = sorted({i["file"] for i in mixed.images() if i["format"] == "pdf"})
    document = pdfium.PdfDocument(str(mixed.folder / pdfs[0]))
    width, height = document[0].get_size()
    assert (round(width), round(height)) == (595, 842)
    document.close()
    first = next(i for i in mixed.images() if i["file"] == pdfs[0] and i["frame"] == 0)
    assert grey(mixed, first).shape[::-1] == tuple(first["size_px"])


@pytest.mark.parametrize("binarized", [False, True])
@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff", "tiff-multi", "pdf"])
def test_every_format_holds_the_pixels_and_no_metadata_but_the_resolution(
    fmt: str, binarized: bool, tmp_path: Path
) -> None:
    from tasks.adapters.exam_day_files import _encode
    from tasks.domain.exam_day_scans import ImageFrame, PageEffects, ScanFile

    rng = np.random.default_rng(1)
    image = np.where(rng.random((350, 248)) < 0.1, 0, 255).astype(np.uint8)
    effects = PageEffects(dpi=200, binarized=binarized, jpeg_quality=95)
    count = 2 if fmt in ("tiff-multi", "pdf") else 1
    frames = tuple(ImageFrame(f"answer-1:{i}", i, effects) for i in range(count))
    path = tmp_path / (
        "scan_0001" + {"jpeg": ".jpg", "png": ".png", "pdf": ".pdf"}.get(fmt, ".tif")
    )
    path.write_bytes(_encode([image] * count, ScanFile("4201001", path.name, fmt, frames)))
    decoded = list(frames_of(path))
    assert len(decoded) == count
    for pixels in decoded:
        assert pixels.shape == image.shape
        lossy = fmt == "jpeg" or (fmt == "pdf" and not binarized)
        tolerance = 40 if lossy else 0
        assert np.abs(pixels.astype(int) - image).mean() <= max(tolerance, 0.5)
    if fmt != "pdf":
        with Image.open(path) as opened:
            extra = set(opened.info) - {
                "dpi",
                "compression",
                "jfif",
                "jfif_version",
                "jfif_unit",
                "jfif_density",
            }
            assert not extra, extra
            if fmt.startswith("tiff"):
                tags = set(opened.tag_v2)
                # Geometry, compression, strips, resolution: nothing that says who or what.
                assert tags <= {
                    254,
                    256,
                    257,
                    258,
                    259,
                    262,
                    266,
                    273,
                    274,
                    277,
                    278,
                    279,
                    282,
                    283,
                    284,
                    296,
                    297,
                    317,
                    339,
                }, tags
    else:
        assert b"/Info" not in path.read_bytes()
