"""The per-file cache of the scan batch (tasks/adapters/scan_batch.py) is keyed by content: a
byte-identical copy, or the same file under a new name, is taken from it, and its pages are
recorded under the file's own name."""

from __future__ import annotations

import shutil
from pathlib import Path

from tasks.adapters.scan_batch import Chunk, plan_jobs, recognise_chunk
from tests.scan_samples_support import SAMPLES


def test_a_copy_and_a_renamed_file_are_taken_from_the_cache_under_their_own_names(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copyfile(SAMPLES / "registration_plain.jpg", folder / "Scan0001.jpg")
    shutil.copyfile(SAMPLES / "registration_plain.jpg", folder / "Scan0002.jpg")
    cache = tmp_path / "pages"
    first, copy = recognise_chunk(Chunk(tuple(plan_jobs(folder)), cache))
    assert (first.cached, copy.cached) == (False, True)
    assert [r["source_file"] for r, _ in first.pages] == ["Scan0001.jpg"]
    assert [r["source_file"] for r, _ in copy.pages] == ["Scan0002.jpg"]
    assert [r["page_id"] for r, _ in copy.pages] == [r["page_id"] for r, _ in first.pages]

    (folder / "Scan0001.jpg").rename(folder / "Scan0003.jpg")
    again = recognise_chunk(Chunk(tuple(plan_jobs(folder)), cache))
    assert [(f.rel, f.cached) for f in again] == [("Scan0002.jpg", True), ("Scan0003.jpg", True)]
    assert [r["source_file"] for f in again for r, _ in f.pages] == [
        "Scan0002.jpg",
        "Scan0003.jpg",
    ]
