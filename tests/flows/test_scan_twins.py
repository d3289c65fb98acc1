"""The scan flow for a campaign's session over folders an operator prepared by hand: two
byte-identical files, a file renamed between two runs into the same records, and a multi-page
file whose second page is rejected, whose crop the senior verifier must see."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import pytest
from prefect import flow
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from config.settings import Settings
from flows.scan import run_scan
from tasks.adapters.models import Page, VerificationItem
from tasks.adapters.plan_files import resolve_plan_path
from tasks.plan import read_plan, store_plan
from tasks.verify import gather_queue
from tests.scan_samples_support import SAMPLES, image

pytestmark = pytest.mark.flows

PLAN = "kemerovo-2017-essay"
SESSION = "2017-12-06"


@flow
def store_the_plan(out: str) -> None:
    store_plan(Settings(out_dir=Path(out)), read_plan(resolve_plan_path(PLAN)))


@flow
def gather(out: str, crops: str) -> dict[str, Any]:
    """The verify stage's first step: page items for rejected pages, a crop for every item."""
    return gather_queue(Settings(out_dir=Path(out)), PLAN, SESSION, Path(crops))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A work folder whose regional database holds the plan's sessions (no works: the
    session's codes are unknown, so the batch's own pages give them)."""
    out = tmp_path / "out"
    store_the_plan(str(out))
    return out


@pytest.fixture
def school(tmp_path: Path) -> Path:
    folder = tmp_path / "scans" / "4201001"
    folder.mkdir(parents=True)
    return folder


def _scan(school: Path, out: Path) -> dict[str, Any]:
    return run_scan(folder=str(school.parent), out=str(out), plan=PLAN, session=SESSION, workers=1)


def _records(summary: dict[str, Any]) -> list[dict[str, Any]]:
    text = Path(summary["results"]).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _pages(out: Path) -> list[Page]:
    engine = create_engine(f"sqlite:///{out / 'rcoi.sqlite'}")
    with Session(engine) as session:
        pages = list(session.scalars(select(Page).order_by(Page.source_file, Page.source_index)))
        session.expunge_all()
    engine.dispose()
    return pages


def test_a_byte_identical_copy_is_a_duplicate_under_its_own_name_and_one_page_in_the_database(
    out: Path, school: Path
) -> None:
    shutil.copyfile(SAMPLES / "registration_plain.jpg", school / "Scan0001.jpg")
    shutil.copyfile(SAMPLES / "registration_plain.jpg", school / "Scan0002.jpg")
    summary = _scan(school, out)
    first, copy = _records(summary)
    assert (first["source_file"], copy["source_file"]) == (
        "4201001/Scan0001.jpg",
        "4201001/Scan0002.jpg",
    )
    assert summary["files_from_cache"] == 1  # the copy's content was recognised once
    assert first["status"] != "rejected"
    assert (copy["status"], copy["reasons"]) == ("rejected", ["duplicate_page"])
    assert copy["duplicate_of"] == copy["page_id"] == first["page_id"]
    assert Path(copy["quarantine"]).is_file()
    # one page row: the first record, with its own image (the scan file)
    (page,) = _pages(out)
    assert (page.content_hash, page.source_file, page.status, page.image_path) == (
        first["page_id"],
        "4201001/Scan0001.jpg",
        first["status"],
        str(school / "Scan0001.jpg"),
    )


def test_a_file_renamed_between_runs_is_the_same_known_page_under_its_new_name(
    out: Path, school: Path
) -> None:
    shutil.copyfile(SAMPLES / "registration_plain.jpg", school / "Scan0001.jpg")
    shutil.copyfile(SAMPLES / "answer_1bit.png", school / "Scan0002.png")
    first = _scan(school, out)
    before, pages_before = _records(first), _pages(out)
    (school / "Scan0002.png").rename(school / "Scan0003.png")
    again = _scan(school, out)
    after, pages_after = _records(again), _pages(out)
    assert again["files_from_cache"] == again["files"] == 2
    assert [r["source_file"] for r in after] == ["4201001/Scan0001.jpg", "4201001/Scan0003.png"]
    assert [{**r, "source_file": None} for r in after] == [
        {**r, "source_file": None} for r in before
    ]
    # the same page rows, updated in place: no new page, no new verification item
    assert [(p.id, p.content_hash, p.received_at) for p in pages_after] == [
        (p.id, p.content_hash, p.received_at) for p in pages_before
    ]
    renamed = pages_after[1]
    # an answer blank read as accepted (tests/scan_samples/truth.json), so never quarantined: its
    # image is the scan file itself, under its new name (a rejected page's is its quarantine copy)
    assert renamed.source_file == "4201001/Scan0003.png"
    assert renamed.status != "rejected"
    assert renamed.image_path == str(school / "Scan0003.png")
    assert again["stored"]["verification_opened"] == 0
    # and a third run changes nothing
    text = Path(again["results"]).read_text(encoding="utf-8")
    third = _scan(school, out)
    assert Path(third["results"]).read_text(encoding="utf-8") == text
    assert third["stored"]["verification_opened"] == third["stored"]["verification_closed"] == 0


def test_a_rejected_second_page_of_a_multi_page_tiff_gets_its_crop(out: Path, school: Path) -> None:
    ok, data = cv2.imencodemulti(
        ".tif", [image("registration_scan_1.jpg"), image("registration_scan_2.jpg")]
    )
    assert ok
    (school / "Scan0001.tif").write_bytes(data.tobytes())
    summary = _scan(school, out)
    kept, duplicate = _records(summary)
    assert (kept["frame"], kept["status"] != "rejected") == (0, True)
    assert (duplicate["frame"], duplicate["reasons"]) == (1, ["duplicate_page"])
    assert Path(duplicate["quarantine"]).name == f"{duplicate['page_id']}.png"
    crops = out / "verify" / "crops"
    gather(str(out), str(crops))
    engine = create_engine(f"sqlite:///{out / 'rcoi.sqlite'}")
    with Session(engine) as session:
        items = list(
            session.execute(
                select(VerificationItem.id, Page.source_index)
                .join(Page, Page.id == VerificationItem.page_id)
                .where(VerificationItem.kind == "page")
            )
        )
    engine.dispose()
    assert [frame for _, frame in items] == [1]
    assert all((crops / f"{item_id}.png").is_file() for item_id, _ in items)
