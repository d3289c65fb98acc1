"""The `federal_package` data contract run by Great Expectations: a session's works as the
upload stage packages them pass, and each rule fails on the work that breaks it and on no
other; the package on disk is checked against its manifest before it is sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tasks.adapters.contracts import ContractRun, load_contract, run_contract
from tasks.adapters.federal_files import g4_tiff, verify_manifest, write_package
from tasks.domain.federal_package import (
    MARK_COLUMNS,
    PackageInfo,
    PackagePage,
    PackageWork,
    contract_frame,
    image_path,
)
from tasks.domain.identifiers import make_work_code
from tasks.errors import ContractError

pytestmark = pytest.mark.integration

INFO = PackageInfo("42", "2017-12-06", date(2017, 12, 6), "ИС-11", "2017/18")
PASSED = {g: "зачет" for g in (*MARK_COLUMNS, "overall")}


def work(
    serial: int, outcome: str = "passed", source: str = "/x.png", **changes: object
) -> PackageWork:
    base = PackageWork(
        work_code=make_work_code("42", 2017, 1, serial),
        mouo_code="42-01",
        school_code="4201001",
        form="essay",
        oral=False,
        outcome=outcome,
        marks=PASSED if outcome == "passed" else None,
        pages=(PackagePage("registration", None, "accepted", f"p{serial}", source, 0),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run(works: list[PackageWork]) -> ContractRun:
    listed = {image_path(w): (1, "x") for w in works if w.pages}
    return run_contract(contract_frame(works, listed), load_contract("federal_package"))


def failing(result: ContractRun) -> dict[str, int]:
    return {rule: count for rule, count in result.rules.items() if count}


def sound() -> list[PackageWork]:
    return [work(1), work(2, "absent", pages=()), work(3, "removed")]


def test_a_package_as_the_upload_stage_builds_it_passes() -> None:
    result = run(sound())
    assert result.success, failing(result)


@pytest.mark.parametrize(
    ("broken", "rule"),
    [
        (work(1), "work_unique"),  # a second row of work 1
        (work(9, work_code="421700000000"), "work_code_valid"),
        (work(9, "unresolved"), "outcome_known"),
        (work(9, form="poem"), "form_known"),
        (work(9, marks={**PASSED, "overall": "незачет"}), "result_matches_outcome"),
        (work(9, "not_graded", marks=PASSED), "marks_complete"),
        (
            work(9, pages=(PackagePage("answer", 1, "needs_verification", "q", "/x.png", 0),)),
            "pages_verified",
        ),
    ],
)
def test_each_rule_fails_on_the_work_that_breaks_it_and_no_other(
    broken: PackageWork, rule: str
) -> None:
    result = run([*sound(), broken])
    assert not result.success
    assert set(failing(result)) == {rule}


def test_a_work_whose_image_is_not_in_the_manifest_fails_image_listed() -> None:
    works = sound()
    result = run_contract(contract_frame(works, {}), load_contract("federal_package"))
    assert failing(result) == {"image_listed": 2}


def scan(path: Path, seed: int) -> str:
    rng = np.random.default_rng(seed)
    grey = np.full((2339, 1654), 235, np.uint8)
    grey[200:260, 100:1500] = 20  # a dark band of "ink"
    grey = np.clip(grey.astype(int) + rng.integers(-15, 15, grey.shape), 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), grey)
    return str(path)


def test_the_package_on_disk_has_its_tiffs_in_page_order_and_a_manifest_that_catches_changes(
    tmp_path: Path,
) -> None:
    first, second = scan(tmp_path / "a.png", 1), scan(tmp_path / "b.png", 2)
    one = work(
        1,
        pages=(
            PackagePage("answer", 1, "verified", "b", second, 0),
            PackagePage("registration", None, "accepted", "a", first, 0),
        ),
    )
    built = write_package(tmp_path / "upload", INFO, [one, work(2, "absent", pages=())], workers=1)
    tiff = Image.open(built.directory / image_path(one))
    assert tiff.n_frames == 2
    assert tiff.info["compression"] == "group4"
    assert tiff.info["dpi"] == (200, 200)  # 1654 px across A4
    assert set(built.files) == {"results.csv", "pages.csv", image_path(one)}
    assert verify_manifest(built.directory) == built.files
    again = write_package(tmp_path / "upload", INFO, [one, work(2, "absent", pages=())], workers=1)
    assert again.manifest_sha256 == built.manifest_sha256  # the same content, the same bytes
    (built.directory / "results.csv").write_bytes(b"changed")
    with pytest.raises(ContractError, match="differ from the manifest"):
        verify_manifest(built.directory)


def test_a_page_image_lost_since_the_scan_stops_the_package(tmp_path: Path) -> None:
    lost = work(1, source=str(tmp_path / "gone.png"))
    with pytest.raises(ContractError, match="cannot be read"):
        write_package(tmp_path / "upload", INFO, [lost], workers=1)


def test_black_and_white_group_4_is_a_fraction_of_the_grey_scan() -> None:
    grey = np.full((3508, 2480), 240, np.uint8)
    cv2.putText(grey, "Text " * 8, (100, 500), cv2.FONT_HERSHEY_SIMPLEX, 3, 0, 5)
    assert len(g4_tiff([grey])) < len(cv2.imencode(".png", grey)[1].tobytes()) / 3
