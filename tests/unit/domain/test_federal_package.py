"""The federal package's files, name, manifest and contract rows (docs/federal-package.md)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from tasks.domain.contracts import check_column
from tasks.domain.federal_package import (
    MARK_COLUMNS,
    PAGE_COLUMNS,
    RESULT_COLUMNS,
    PackageInfo,
    PackagePage,
    PackageWork,
    contract_frame,
    image_path,
    manifest_bytes,
    package_name,
    pages_csv,
    results_csv,
    sha256_hex,
)
from tasks.domain.federal_receipt import parse_receipt, receipt_name, simulated_receipt
from tasks.domain.identifiers import make_work_code
from tasks.errors import DataError

INFO = PackageInfo("42", "2017-12-06", date(2017, 12, 6), "ИС-11", "2017/18")
PASSED = {g: "зачет" for g in (*MARK_COLUMNS, "overall")}
FAILED = {**PASSED, "k1": "незачет", "overall": "незачет"}


def page(blank: str, number: int | None, pid: str, status: str = "accepted") -> PackagePage:
    return PackagePage(blank, number, status, pid, f"/scans/{pid}.jpg", 0)


def work(serial: int, outcome: str = "passed", **changes: object) -> PackageWork:
    base = PackageWork(
        work_code=make_work_code("42", 2017, 1, serial),
        mouo_code="42-01",
        school_code="4201001",
        form="essay",
        oral=False,
        outcome=outcome,
        marks={"passed": PASSED, "failed": FAILED}.get(outcome),
        pages=(page("answer", 2, f"p{serial}b"), page("registration", None, f"p{serial}a")),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8")), delimiter=";"))


def test_results_csv_has_one_row_per_work_sorted_by_code_with_the_documented_columns() -> None:
    works = [work(2, "failed"), work(1), work(3, "absent", pages=())]
    data = results_csv(INFO, works)
    header = data.decode().splitlines()[0].split(";")
    assert tuple(header) == RESULT_COLUMNS
    table = rows(data)
    assert [r["work_code"] for r in table] == sorted(w.work_code for w in works)
    by_code = {r["work_code"]: r for r in table}
    assert by_code[works[0].work_code]["result"] == "незачет"
    assert by_code[works[0].work_code]["k1"] == "незачет"
    assert by_code[works[1].work_code]["result"] == "зачет"
    absent = by_code[works[2].work_code]
    assert (absent["result"], absent["k1"], absent["pages"], absent["image"]) == ("", "", "0", "")
    assert by_code[works[1].work_code]["image"] == image_path(works[1])


def test_pages_csv_puts_the_registration_blank_first_then_answers_by_page() -> None:
    one = work(
        1,
        pages=(
            page("additional", 1, "c"),
            page("answer", 2, "b2"),
            page("answer", 1, "b1"),
            page("registration", None, "a"),
        ),
    )
    table = rows(pages_csv([one]))
    assert tuple(table[0]) == PAGE_COLUMNS
    assert [(r["position"], r["page_id"]) for r in table] == [
        ("1", "a"),
        ("2", "b1"),
        ("3", "b2"),
        ("4", "c"),
    ]
    assert table[0]["page_number"] == ""


def test_the_package_name_follows_the_content() -> None:
    works = [work(1), work(2)]
    results, pages = results_csv(INFO, works), pages_csv(works)
    name = package_name(INFO, results, pages)
    assert name.startswith("42_2017-12-06_")
    assert len(name.split("_")[-1]) == 8
    assert package_name(INFO, results, pages) == name
    changed = [work(1), work(2, "failed")]
    assert package_name(INFO, results_csv(INFO, changed), pages) != name
    rescanned = [work(1), work(2, pages=(page("registration", None, "other"),))]
    assert package_name(INFO, results, pages_csv(rescanned)) != name


def test_the_manifest_lists_every_file_sorted_with_size_and_digest_and_counts() -> None:
    works = [work(1), work(2, "absent", pages=())]
    files = {"results.csv": (10, "a" * 64), "images/x.tif": (5, "b" * 64)}
    manifest = json.loads(manifest_bytes(INFO, "n", works, files))
    assert manifest["format"] == "rcoi-federal-package"
    assert manifest["version"] == 1
    assert (manifest["works"], manifest["pages"]) == (2, 2)
    assert [f["path"] for f in manifest["files"]] == ["images/x.tif", "results.csv"]
    assert manifest["files"][1] == {"path": "results.csv", "size": 10, "sha256": "a" * 64}


def checks(
    works: list[PackageWork], files: dict[str, tuple[int, str]] | None = None
) -> dict[str, list[bool]]:
    listed = files if files is not None else {image_path(w): (1, "x") for w in works}
    frame = contract_frame(works, listed)
    return {
        c.removeprefix("ok__"): frame[c].to_list() for c in frame.columns if c.startswith("ok__")
    }


def test_a_sound_package_passes_every_computed_rule() -> None:
    result = checks(
        [work(1), work(2, "failed"), work(3, "removed", pages=(page("registration", None, "r"),))]
    )
    assert all(all(values) for values in result.values()), result


@pytest.mark.parametrize(
    ("broken", "rule"),
    [
        (work(1, work_code="420000000000"), "work_code_valid"),
        (work(1, marks={**PASSED, "overall": "незачет"}), "result_matches_outcome"),
        (work(1, marks={**PASSED, "k3": ""}), "marks_complete"),
        (work(1, "absent"), "marks_complete"),  # ungraded, yet marks
        (work(1, pages=(page("registration", None, "a", "needs_verification"),)), "pages_verified"),
    ],
)
def test_each_computed_rule_fails_on_its_case(broken: PackageWork, rule: str) -> None:
    if broken.outcome == "absent":
        broken = replace(broken, marks=PASSED)
    assert checks([broken])[rule] == [False]


def test_a_work_with_pages_but_no_image_in_the_manifest_fails_image_listed() -> None:
    assert checks([work(1)], files={})["image_listed"] == [False]
    assert checks([work(1, "absent", pages=())], files={})["image_listed"] == [True]


def test_native_columns_carry_code_outcome_and_form_for_the_gx_rules() -> None:
    frame = contract_frame([work(1)], {})
    assert {"v__work_code", "v__outcome", "v__form"} <= set(frame.columns)
    assert check_column("image_listed") in frame.columns


def test_the_simulated_federal_centre_accepts_a_complete_package_and_rejects_a_gap() -> None:
    manifest = {"package": "p", "works": 1, "files": [{"path": "a", "size": 1, "sha256": "x"}]}
    at = datetime(2017, 12, 19, 3, tzinfo=UTC)
    accepted = simulated_receipt(manifest, "m", {"a": (1, "x")}, at)
    assert accepted["status"] == "accepted"
    assert accepted["problems"] == []
    rejected = simulated_receipt(manifest, "m", {"a": (1, "y")}, at)
    assert rejected["status"] == "rejected"
    assert rejected["problems"][0]["file"] == "a"


def test_a_receipt_for_another_manifest_is_ignored_and_a_broken_one_reported() -> None:
    good = json.dumps({"package": "p", "manifest_sha256": "m", "status": "accepted"}).encode()
    assert parse_receipt(good, "p", "m") == json.loads(good)
    assert parse_receipt(good, "p", "other") is None
    with pytest.raises(DataError, match="квитанция"):
        parse_receipt(b"{not json", "p", "m")
    with pytest.raises(DataError, match="статуса"):
        parse_receipt(b'{"package": "p"}', "p", "m")
    assert receipt_name("p") == "p.receipt.json"
    assert len(sha256_hex(b"")) == 64
