"""Write a synthetic region to a folder as a municipality-facing data set, and read it back.

Layout of DIR:
  region.json                      region, МОУО, schools, rooms (no personal data)
  participants.csv                 ground truth: every participant, clean (UTF-8)
  submissions/<mouo_code>/<file>   what each МОУО sends: CSV UTF-8 (','), CSV CP1251 (';'), XLSX
  injected_errors.csv              ground truth of injected errors: МОУО, file, row, error, column
  injected_registry_errors.csv     ground truth of cross-МОУО cases only reconciliation finds
  manifest.json                    parameters, counts, files with SHA-256
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
import yaml

from config import CONFIG_DIR
from tasks.domain.participants import SUBMISSION_COLUMNS
from tasks.domain.spreadsheets import workbook_options
from tasks.domain.synthetic_region import RegionInfo, SyntheticRegion
from tasks.errors import ConfigError

__all__ = [
    "RegionFiles",
    "load_regions",
    "read_participants",
    "read_region_structure",
    "write_region",
]

SUBMISSION_FORMATS = ("csv-utf8", "csv-cp1251", "xlsx")


@dataclass(frozen=True, slots=True)
class RegionFiles:
    root: Path
    manifest: dict[str, Any]


def load_regions(path: Path = CONFIG_DIR / "regions.yaml") -> dict[str, RegionInfo]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {
            str(code): RegionInfo(
                code=str(code), name=v["name"], timezone=v["timezone"], okato=str(v["okato"])
            )
            for code, v in data.items()
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"region list {path} is unreadable: {exc}") from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _submission_table(rows: pl.DataFrame) -> pl.DataFrame:
    """Only the columns a МОУО sends, under their Russian headers."""
    return rows.select(list(SUBMISSION_COLUMNS)).rename(SUBMISSION_COLUMNS)


def _write_csv(table: pl.DataFrame, path: Path, encoding: str, separator: str) -> None:
    buffer = io.StringIO()
    table.write_csv(buffer, separator=separator)
    text = buffer.getvalue()
    if encoding == "utf-8-sig":  # what Excel's "CSV UTF-8" writes
        path.write_bytes(text.encode("utf-8-sig"))
    else:
        path.write_bytes(text.encode(encoding))


def _write_xlsx(table: pl.DataFrame, path: Path, created: datetime) -> None:
    """XLSX as office software saves it: a bold header, birth dates as real date cells. The
    creation time is given, not the clock's, so the same table always gives the same bytes."""
    workbook = xlsxwriter.Workbook(str(path), workbook_options(constant_memory=True))
    workbook.set_properties({"created": created})
    sheet = workbook.add_worksheet("Участники")
    bold = workbook.add_format({"bold": True})
    date_format = workbook.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_row(0, 0, table.columns, bold)
    birth_column = table.columns.index(SUBMISSION_COLUMNS["birth_date"])
    for index, row in enumerate(table.iter_rows(), start=1):
        sheet.write_row(index, 0, row)
        # Excel date cells have no zone; an unparseable date stays text, as it was typed.
        with contextlib.suppress(TypeError, ValueError):
            day = datetime.strptime(row[birth_column], "%d.%m.%Y")  # noqa: DTZ007
            sheet.write_datetime(index, birth_column, day, date_format)
    workbook.close()


def _submission_name(mouo_code: str, fmt: str) -> str:
    suffix = "xlsx" if fmt == "xlsx" else "csv"
    return f"Участники_ИС_{mouo_code}.{suffix}"


def write_region(region: SyntheticRegion, root: Path) -> RegionFiles:
    """Write every file of the region under `root`; rewriting the same region gives the same
    bytes for every file (the XLSX creation time is the exam date, not the clock)."""
    options = region.options
    exam = options.exam_date
    created = datetime(exam.year, exam.month, exam.day, tzinfo=UTC)
    root.mkdir(parents=True, exist_ok=True)
    if (root / "manifest.json").exists() and (root / "submissions").is_dir():
        shutil.rmtree(root / "submissions")  # our own earlier output: no stale МОУО files
    structure = {
        "region": {
            "code": options.region.code,
            "name": options.region.name,
            "timezone": options.region.timezone,
        },
        "mouos": region.mouos.to_dicts(),
        "schools": region.schools.to_dicts(),
        "rooms": region.rooms.to_dicts(),
    }
    (root / "region.json").write_text(
        json.dumps(structure, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    region.participants.write_csv(root / "participants.csv")
    formats: dict[str, str] = {}
    files: dict[str, str] = {}
    for index, mouo_code in enumerate(region.mouos["mouo_code"].to_list()):
        rows = region.submissions.filter(pl.col("mouo_code") == mouo_code)
        if rows.is_empty():
            continue  # a silent МОУО sends nothing
        fmt = SUBMISSION_FORMATS[index % len(SUBMISSION_FORMATS)]
        folder = root / "submissions" / mouo_code
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / _submission_name(mouo_code, fmt)
        table = _submission_table(rows)
        if fmt == "xlsx":
            _write_xlsx(table, path, created)
        elif fmt == "csv-cp1251":
            _write_csv(table, path, "cp1251", ";")
        else:
            _write_csv(table, path, "utf-8-sig", ",")
        formats[mouo_code] = fmt
        files[mouo_code] = str(path.relative_to(root))
    errors = region.errors.with_columns(
        pl.col("mouo_code").replace_strict(files, default=None).alias("file")
    )
    errors.select(
        "mouo_code", "file", "row_number", "error", "column", "participant_key"
    ).write_csv(root / "injected_errors.csv")
    region.registry_errors.with_columns(
        pl.col("mouo_code").replace_strict(files, default=None).alias("file")
    ).select("mouo_code", "file", "row_number", "kind", "source_mouo", "participant_key").write_csv(
        root / "injected_registry_errors.csv"
    )
    manifest = {
        "generator": "rcoi region generate",
        "parameters": {
            "participants": options.participants,
            "seed": options.seed,
            "region": options.region.code,
            "exam_date": options.exam_date.isoformat(),
            "error_rate": options.error_rate,
            "silent_mouos": options.silent_mouos,
            "session_ordinal": options.session_ordinal,
            "registry_errors": options.registry_errors,
        },
        "counts": {
            "mouos": region.mouos.height,
            "schools": region.schools.height,
            "rooms": region.rooms.height,
            "participants": region.participants.height,
            "submission_rows": region.submissions.height,
            "injected_errors": region.errors.height,
            "injected_registry_errors": region.registry_errors.height,
        },
        "silent_mouos": sorted(set(region.mouos["mouo_code"].to_list()) - set(files)),
        "submission_formats": formats,
        "files": {
            name: _sha256(root / name)
            for name in [
                "region.json",
                "participants.csv",
                "injected_errors.csv",
                "injected_registry_errors.csv",
                *files.values(),
            ]
        },
    }
    (root / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return RegionFiles(root, manifest)


def read_region_structure(root: Path) -> dict[str, Any]:
    """region.json as written by `write_region`."""
    try:
        data: dict[str, Any] = json.loads((root / "region.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{root} holds no readable region.json: {exc}") from exc
    return data


def read_participants(root: Path) -> pl.DataFrame:
    """The ground-truth participants of a generated region."""
    return pl.read_csv(root / "participants.csv", infer_schema=False).with_columns(
        pl.col("birth_date").str.to_date(),
        pl.col("oral") == "true",
        pl.col("ovz") == "true",
        pl.col("attempt").cast(pl.Int64),
        pl.col("patronymic", "class_name", "ovz_document").replace("", None),
    )
