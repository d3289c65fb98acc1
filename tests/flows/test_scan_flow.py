"""The scan flow on simulated originals: standalone, resumed after a crash, on a Dask cluster,
with broken files in the batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from flows.scan import run_scan
from flows.simulate import simulate_exam
from tasks.domain.page_reading import REASONS, STATUSES
from tasks.domain.scan_accuracy import score
from tests.print_dir_support import SchoolSpec, build_print_dir

pytestmark = pytest.mark.flows

SESSION = "2017-12-06"


@pytest.fixture(scope="module")
def exam_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One school's simulated originals (moderate scanner effects) with their ground truth."""
    root = tmp_path_factory.mktemp("scan-flow")
    print_dir = root / "print" / SESSION
    print_dir.mkdir(parents=True)
    build_print_dir(
        print_dir,
        [SchoolSpec("4201001", {"01": 8, "02": 6}, reserve=1, additional_per_room=2)],
        seed=4,
    )
    simulate_exam(
        print_dir=str(print_dir),
        out=str(root),
        seed=8,
        preset="moderate",
        effects={"formats": {"jpeg": 1.0, "tiff-multi": 1.0}, "pdf_batches": 0},
    )
    return root


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _scan(root: Path, results: Path, **options: Any) -> dict[str, Any]:
    return run_scan(
        folder=str(root / "exam_day" / SESSION / "scans"),
        out=str(root),
        results=str(results),
        print_dir=str(root / "print" / SESSION),
        **options,
    )


def _truth(root: Path) -> dict[str, Any]:
    return json.loads((root / "exam_day" / SESSION / "ground_truth.json").read_text("utf-8"))


def test_every_image_gets_one_record_and_no_page_goes_to_a_wrong_work(exam_day: Path) -> None:
    results = exam_day / "standalone" / "results.jsonl"
    summary = _scan(exam_day, results, workers=2)
    records = _records(results)
    truth = _truth(exam_day)
    assert len(records) == len(truth["images"]) == summary["pages"]
    assert len({(r["source_file"], r["frame"]) for r in records}) == len(records)
    assert {r["status"] for r in records} <= set(STATUSES)
    assert all(reason in REASONS for r in records for reason in r["reasons"])
    scored = score(records, truth)
    assert scored["pages"]["misattributed"] == 0
    assert scored["missing_records"] == 0
    assert scored["marks"]["wrong"] == 0
    # a rejected page's image is kept in quarantine
    for record in records:
        if record["status"] == "rejected":
            assert Path(record["quarantine"]).is_file()
    # no personal data: the records carry codes, marks and digits only
    text = results.read_text(encoding="utf-8")
    assert "printed_surname" not in text
    assert "Фамилия" not in text


def test_a_rerun_recognises_nothing_again_and_a_killed_run_resumes_to_the_same_records(
    exam_day: Path,
) -> None:
    results = exam_day / "resume" / "results.jsonl"
    first = _scan(exam_day, results, workers=1)
    before = results.read_text(encoding="utf-8")
    again = _scan(exam_day, results, workers=1)
    assert again["files_from_cache"] == again["files"] == first["files"]
    assert results.read_text(encoding="utf-8") == before
    # a crash half-way: some files' results never written, the records file not written
    cache = results.parent / ".results.work" / "pages"
    entries = sorted(cache.iterdir())
    for entry in entries[::2]:
        entry.unlink()
    results.unlink()
    resumed = _scan(exam_day, results, workers=1)
    assert resumed["files_recognised"] == len(entries[::2])
    assert results.read_text(encoding="utf-8") == before


def test_on_a_dask_cluster_the_records_are_those_of_the_local_pool(exam_day: Path) -> None:
    import distributed  # a pinned dependency: the Dask path must not be skipped silently

    local = exam_day / "local" / "results.jsonl"
    _scan(exam_day, local, workers=2)
    on_dask = exam_day / "dask" / "results.jsonl"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        summary = _scan(exam_day, on_dask, dask_address=cluster.scheduler_address)
    assert summary["files_recognised"] == summary["files"]

    def comparable(path: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "quarantine"} for r in _records(path)]

    assert comparable(on_dask) == comparable(local)


def test_broken_files_are_rejected_and_kept_and_the_batch_goes_on(exam_day: Path) -> None:
    folder = exam_day / "broken" / "scans"
    shutil.copytree(exam_day / "exam_day" / SESSION / "scans", folder)
    school = next(p for p in folder.iterdir() if p.is_dir())
    (school / "empty.jpg").write_bytes(b"")
    (school / "notes.tif").write_text("не изображение", encoding="utf-8")
    results = exam_day / "broken" / "results.jsonl"
    summary = run_scan(
        folder=str(folder),
        out=str(exam_day),
        results=str(results),
        print_dir=str(exam_day / "print" / SESSION),
        workers=1,
    )
    records = {r["source_file"]: r for r in _records(results)}
    for name in ("empty.jpg", "notes.tif"):
        record = records[f"{school.name}/{name}"]
        assert record["status"] == "rejected"
        assert record["reasons"] == ["unreadable_file"]
        assert Path(record["quarantine"]).read_bytes() == (school / name).read_bytes()
    assert summary["pages"] == len(_truth(exam_day)["images"]) + 2
