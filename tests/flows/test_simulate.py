"""The exam-day simulator flow on a small print folder: the output layout, the summary, the
same bytes for the same seed, and a clear refusal of a folder that is not a print folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flows.simulate import simulate_exam
from tasks.errors import DataError
from tests.print_dir_support import SchoolSpec, build_print_dir

pytestmark = pytest.mark.flows


@pytest.fixture(scope="module")
def print_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("print") / "2017-12-06"
    folder.mkdir()
    build_print_dir(folder, [SchoolSpec("4201001", {"01": 2}, reserve=1, additional_per_room=1)])
    return folder


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_the_flow_writes_scans_ground_truth_and_room_records(
    print_dir: Path, tmp_path: Path
) -> None:
    summary = simulate_exam(
        print_dir=str(print_dir),
        out=str(tmp_path),
        seed=3,
        preset="harsh",
        workers=1,
        effects={"formats": {"jpeg": 1}, "pdf_batches": 0},
        exam={"absent": 0.0},
    )
    folder = tmp_path / "exam_day" / "2017-12-06"
    assert summary["folder"] == str(folder)
    assert (folder / "ground_truth.json").is_file()
    assert (folder / "room_records" / "4201001.csv").is_file()
    assert summary["kits"] == 2
    assert summary["present"] == 2
    assert summary["pages_issued"] == 2 * 3 + 3 + 2
    assert summary["images"] == summary["pages_scanned"] + summary["duplicates"]
    assert all(p.suffix == ".jpg" for p in (folder / "scans" / "4201001").iterdir())
    first = _digest(folder)
    simulate_exam(
        print_dir=str(print_dir),
        out=str(tmp_path),
        seed=3,
        preset="harsh",
        workers=1,
        effects={"formats": {"jpeg": 1}, "pdf_batches": 0},
        exam={"absent": 0.0},
    )
    assert _digest(folder) == first


def test_a_folder_without_a_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"manifest\.json"):
        simulate_exam(print_dir=str(tmp_path), out=str(tmp_path))
