"""The federal package (docs/federal-package.md): its CSV files, name, manifest and the rows its
contract checks, built from plain data; the images and the files are the adapter's."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from tasks.domain.contracts import check_column, value_column
from tasks.domain.grading import CRITERIA, FAIL, PASS, REQUIREMENTS
from tasks.domain.identifiers import is_valid_work_code

__all__ = [
    "FORMAT",
    "MANIFEST",
    "MARK_COLUMNS",
    "OUTCOMES",
    "PAGE_COLUMNS",
    "RESULT_COLUMNS",
    "VERSION",
    "PackageInfo",
    "PackagePage",
    "PackageWork",
    "contract_frame",
    "csv_bytes",
    "image_path",
    "manifest_bytes",
    "package_name",
    "pages_csv",
    "results_csv",
    "sha256_hex",
]

FORMAT = "rcoi-federal-package"
VERSION = 1
MANIFEST = "manifest.json"
MARK_COLUMNS = (*REQUIREMENTS, *CRITERIA)
RESULT_COLUMNS = (
    "region",
    "session",
    "exam_date",
    "work_code",
    "mouo_code",
    "school_code",
    "form",
    "oral",
    "outcome",
    "result",
    *MARK_COLUMNS,
    "pages",
    "image",
)
PAGE_COLUMNS = ("work_code", "position", "blank_type", "page_number", "status", "page_id")
# Every outcome a verified work may have; `unresolved` is not one: such a package is refused.
OUTCOMES = ("passed", "failed", "absent", "not_finished", "removed", "not_graded", "no_record")
_RESULT_OF = {"passed": PASS, "failed": FAIL}
_BLANK_ORDER = {"registration": 0, "answer": 1, "additional": 2}
_PAGE_STATUSES = ("accepted", "verified")


@dataclass(frozen=True, slots=True)
class PackageInfo:
    region: str
    session: str
    exam_date: date
    procedure: str
    school_year: str


@dataclass(frozen=True, slots=True)
class PackagePage:
    """One scanned page of a work: where its image is (file and frame) and what it is."""

    blank_type: str
    page_number: int | None
    status: str
    page_id: str  # the scan's page id: 16 hex digits of the file's SHA-256, '-', the frame
    source_file: str
    frame: int


@dataclass(frozen=True, slots=True)
class PackageWork:
    work_code: str
    mouo_code: str
    school_code: str
    form: str
    oral: bool
    outcome: str
    marks: Mapping[str, str] | None
    pages: tuple[PackagePage, ...]

    def ordered_pages(self) -> tuple[PackagePage, ...]:
        """Registration blank, answer blanks by page number, then additional blanks."""
        return tuple(
            sorted(
                self.pages,
                key=lambda p: (_BLANK_ORDER.get(p.blank_type, 3), p.page_number or 0, p.page_id),
            )
        )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_path(work: PackageWork) -> str:
    return f"images/{work.school_code}/{work.work_code}.tif"


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """The package's CSV dialect: UTF-8, `;`, `\\n`, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def results_csv(info: PackageInfo, works: Sequence[PackageWork]) -> bytes:
    rows = []
    for work in sorted(works, key=lambda w: w.work_code):
        marks = work.marks or {}
        rows.append(
            [
                info.region,
                info.session,
                info.exam_date.isoformat(),
                work.work_code,
                work.mouo_code,
                work.school_code,
                work.form,
                int(work.oral),
                work.outcome,
                _RESULT_OF.get(work.outcome, ""),
                *(marks.get(group, "") for group in MARK_COLUMNS),
                len(work.pages),
                image_path(work) if work.pages else "",
            ]
        )
    return csv_bytes(RESULT_COLUMNS, rows)


def pages_csv(works: Sequence[PackageWork]) -> bytes:
    rows = [
        [
            work.work_code,
            position,
            page.blank_type,
            "" if page.page_number is None else page.page_number,
            page.status,
            page.page_id,
        ]
        for work in sorted(works, key=lambda w: w.work_code)
        for position, page in enumerate(work.ordered_pages(), start=1)
    ]
    return csv_bytes(PAGE_COLUMNS, rows)


def package_name(info: PackageInfo, results: bytes, pages: bytes) -> str:
    """`<region>_<session>_<digest8>`: the same results and pages (whose ids follow the scan
    files' digests) give the same name; anything changed gives a new package."""
    digest = sha256_hex(results + b"\0" + pages)
    return f"{info.region}_{info.session}_{digest[:8]}"


def manifest_bytes(
    info: PackageInfo,
    name: str,
    works: Sequence[PackageWork],
    files: Mapping[str, tuple[int, str]],
) -> bytes:
    """The manifest: every other file's size and SHA-256, sorted by path."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "package": name,
        "region": info.region,
        "session": info.session,
        "exam_date": info.exam_date.isoformat(),
        "procedure": info.procedure,
        "school_year": info.school_year,
        "works": len(works),
        "pages": sum(len(w.pages) for w in works),
        "files": [
            {"path": path, "size": size, "sha256": digest}
            for path, (size, digest) in sorted(files.items())
        ],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def contract_frame(
    works: Sequence[PackageWork], files: Mapping[str, tuple[int, str]]
) -> pl.DataFrame:
    """The rows the `federal_package` contract validates, one per work, with its computed
    checks: a valid work code; the result text agrees with the outcome; a graded work has
    every mark and an ungraded one none; every page is accepted or verified; a work with pages
    has its image in the manifest (`files`: path -> (size, sha256) as written)."""
    rows = []
    for work in works:
        marks = work.marks or {}
        graded = work.outcome in _RESULT_OF
        image = image_path(work)
        rows.append(
            {
                value_column("work_code"): work.work_code,
                value_column("outcome"): work.outcome,
                value_column("form"): work.form,
                check_column("work_code_valid"): is_valid_work_code(work.work_code),
                check_column("result_matches_outcome"): not graded
                or marks.get("overall") == _RESULT_OF[work.outcome],
                check_column("marks_complete"): (
                    all(marks.get(g) in (PASS, FAIL) for g in MARK_COLUMNS) if graded else not marks
                ),
                check_column("pages_verified"): all(p.status in _PAGE_STATUSES for p in work.pages),
                check_column("image_listed"): not work.pages or image in files,
            }
        )
    return pl.DataFrame(rows)
