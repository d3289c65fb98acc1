"""A synthetic region written to disk: the files a МОУО would send in its own format, the
ground truth of injected errors pointing at real rows, the manifest, and stable bytes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from tasks.adapters.region_files import load_regions, read_participants, write_region
from tasks.domain.participants import SUBMISSION_COLUMNS
from tasks.domain.synthetic_region import GeneratorOptions, SyntheticRegion, generate_region
from tasks.errors import ConfigError

HEADERS = list(SUBMISSION_COLUMNS.values())
BOM = b"\xef\xbb\xbf"
EXAM_DATE = date(2025, 12, 3)


def _options(**changes: object) -> GeneratorOptions:
    # 2800 participants give four МОУО: with the last one silent, each of the three formats
    # (CSV UTF-8, CSV CP1251, XLSX) is still written once.
    options = GeneratorOptions(
        participants=2800,
        seed=21,
        region=load_regions()["42"],
        exam_date=EXAM_DATE,
        error_rate=0.1,
        silent_mouos=1,
    )
    return replace(options, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def region() -> SyntheticRegion:
    return generate_region(_options())


@pytest.fixture(scope="module")
def root(region: SyntheticRegion, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("region")
    write_region(region, path)
    return path


@pytest.fixture(scope="module")
def manifest(root: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def _file_of(manifest: dict, fmt: str) -> str:  # type: ignore[type-arg]
    (mouo,) = [code for code, f in manifest["submission_formats"].items() if f == fmt]
    (name,) = [name for name in manifest["files"] if name.startswith(f"submissions/{mouo}/")]
    return name


def _excel_date(value: str) -> str:
    """A date cell read back as text ('2008-03-01 00:00:00') in the form the CSV files use."""
    if len(value) == 19 and value[4] == "-" and value.endswith(" 00:00:00"):
        return f"{value[8:10]}.{value[5:7]}.{value[:4]}"
    return value


def _read_submission(path: Path) -> pl.DataFrame:
    """A МОУО file read back as text in its own encoding and separator; empty cells are ''."""
    if path.suffix == ".xlsx":
        table = pl.read_excel(path, engine="calamine")
        birth = SUBMISSION_COLUMNS["birth_date"]
        if table.schema[birth] == pl.Date:
            table = table.with_columns(pl.col(birth).dt.strftime("%d.%m.%Y"))
        else:  # some birth date stayed text: the column comes back as text
            table = table.with_columns(
                pl.col(birth).map_elements(_excel_date, return_dtype=pl.String)
            )
    else:
        raw = path.read_bytes()
        if raw.startswith(BOM):
            text, separator = raw[len(BOM) :].decode("utf-8"), ","
        else:
            text, separator = raw.decode("cp1251"), ";"
        table = pl.read_csv(
            io.BytesIO(text.encode("utf-8")), separator=separator, infer_schema=False
        )
    return table.with_columns(pl.all().cast(pl.String).fill_null(""))


def _digits(snils: str) -> str:
    return snils.replace("-", "").replace(" ", "")


# --- files and manifest ------------------------------------------------------------------------


def test_every_file_is_written(root: Path, region: SyntheticRegion, manifest: dict) -> None:  # type: ignore[type-arg]
    for name in ("region.json", "participants.csv", "injected_errors.csv", "manifest.json"):
        assert (root / name).is_file(), name
    mouos = region.mouos["mouo_code"].to_list()
    assert sorted(p.name for p in (root / "submissions").iterdir()) == mouos[:-1]
    for mouo in mouos[:-1]:
        (file,) = (root / "submissions" / mouo).iterdir()
        assert file.name == f"Участники_ИС_{mouo}.{'xlsx' if file.suffix == '.xlsx' else 'csv'}"
    assert sorted(manifest["submission_formats"].values()) == ["csv-cp1251", "csv-utf8", "xlsx"]


def test_manifest_counts_match_the_files(
    root: Path, region: SyntheticRegion, manifest: dict
) -> None:  # type: ignore[type-arg]
    counts = manifest["counts"]
    structure = json.loads((root / "region.json").read_text(encoding="utf-8"))
    assert counts["mouos"] == len(structure["mouos"]) == region.mouos.height
    assert counts["schools"] == len(structure["schools"]) == region.schools.height
    assert counts["rooms"] == len(structure["rooms"]) == region.rooms.height
    assert counts["participants"] == pl.read_csv(root / "participants.csv").height == 2800
    assert counts["injected_errors"] == pl.read_csv(root / "injected_errors.csv").height > 0
    submitted = sum(
        _read_submission(root / name).height
        for name in manifest["files"]
        if name.startswith("submissions/")
    )
    assert counts["submission_rows"] == submitted == region.submissions.height
    assert manifest["parameters"] == {
        "participants": 2800,
        "seed": 21,
        "region": "42",
        "exam_date": "2025-12-03",
        "error_rate": 0.1,
        "silent_mouos": 1,
        "session_ordinal": 1,
        "registry_errors": 0,
    }


def test_manifest_hashes_match_the_files(root: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name


def test_the_region_json_holds_no_personal_data(root: Path, region: SyntheticRegion) -> None:
    text = (root / "region.json").read_text(encoding="utf-8")
    structure = json.loads(text)
    assert structure["region"]["code"] == "42"
    for participant in region.participants.head(50).iter_rows(named=True):
        assert participant["snils"] not in text
        assert participant["document_number"] not in text


# --- formats -----------------------------------------------------------------------------------


def test_the_cp1251_file_is_cp1251_with_semicolons(root: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    raw = (root / _file_of(manifest, "csv-cp1251")).read_bytes()
    assert not raw.startswith(BOM)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    header = next(csv.reader(io.StringIO(raw.decode("cp1251")), delimiter=";"))
    assert header == HEADERS


def test_the_utf8_file_starts_with_a_bom_and_uses_commas(root: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    raw = (root / _file_of(manifest, "csv-utf8")).read_bytes()
    assert raw.startswith(BOM)
    header = next(csv.reader(io.StringIO(raw[len(BOM) :].decode("utf-8")), delimiter=","))
    assert header == HEADERS


def test_the_xlsx_file_reads_back_with_russian_headers_and_date_cells(
    root: Path, region: SyntheticRegion, manifest: dict
) -> None:  # type: ignore[type-arg]
    name = _file_of(manifest, "xlsx")
    mouo = name.split("/")[1]
    table = pl.read_excel(root / name, engine="calamine")
    rows = region.submissions.filter(pl.col("mouo_code") == mouo)
    assert table.columns == HEADERS
    assert table.height == rows.height > 0
    birth = table[SUBMISSION_COLUMNS["birth_date"]]
    if birth.dtype == pl.Date:
        assert birth.null_count() == 0
    else:  # a text cell among the dates: still most cells must have been real dates
        assert (birth.str.ends_with(" 00:00:00")).mean() > 0.9  # type: ignore[operator]


def test_each_file_holds_exactly_its_mouos_submission_rows(
    root: Path, region: SyntheticRegion, manifest: dict
) -> None:  # type: ignore[type-arg]
    for mouo, fmt in manifest["submission_formats"].items():
        (name,) = [n for n in manifest["files"] if n.startswith(f"submissions/{mouo}/")]
        table = _read_submission(root / name)
        expected = (
            region.submissions.filter(pl.col("mouo_code") == mouo)
            .select(list(SUBMISSION_COLUMNS))
            .rename(SUBMISSION_COLUMNS)
        )
        assert table.equals(expected), fmt


# --- injected errors ---------------------------------------------------------------------------


def test_each_injected_error_points_at_its_participants_row(
    root: Path, region: SyntheticRegion, manifest: dict
) -> None:  # type: ignore[type-arg]
    errors = pl.read_csv(root / "injected_errors.csv", infer_schema=False)
    assert errors.columns == [
        "mouo_code",
        "file",
        "row_number",
        "error",
        "column",
        "participant_key",
    ]
    assert errors.height == region.errors.height
    truth = {p["participant_key"]: p for p in region.participants.iter_rows(named=True)}
    files = {name: _read_submission(root / name) for name in set(errors["file"])}
    snils, surname = SUBMISSION_COLUMNS["snils"], SUBMISSION_COLUMNS["surname"]
    seen = set()
    for error in errors.iter_rows(named=True):
        assert error["file"] in manifest["files"]
        assert error["file"].startswith(f"submissions/{error['mouo_code']}/")
        table = files[error["file"]]
        index = int(error["row_number"]) - 1
        assert 0 <= index < table.height, error
        row = table.row(index, named=True)
        person = truth[error["participant_key"]]
        assert person["mouo_code"] == error["mouo_code"]
        if error["error"] == "invalid_snils":  # the body is kept, the check number is wrong
            assert row[surname] == person["surname"]
            assert _digits(row[snils])[:9] == person["snils"][:9]
            assert _digits(row[snils]) != person["snils"]
        else:
            assert _digits(row[snils]) == person["snils"], error
        if error["error"] == "latin_lookalike":
            assert any(c.isascii() and c.isalpha() for c in row[surname]), row[surname]
        if error["error"] == "missing_name":
            assert row[SUBMISSION_COLUMNS["name"]] == ""
        if error["error"] == "duplicate_row":
            assert table.row(index - 1) == table.row(index)
        seen.add(error["error"])
    assert {"invalid_snils", "latin_lookalike", "missing_name", "duplicate_row"} <= seen


def test_the_silent_mouo_has_no_folder_and_no_errors(
    root: Path, region: SyntheticRegion, manifest: dict
) -> None:  # type: ignore[type-arg]
    silent = region.mouos["mouo_code"].to_list()[-1]
    assert manifest["silent_mouos"] == [silent]
    assert not (root / "submissions" / silent).exists()
    assert silent not in set(pl.read_csv(root / "injected_errors.csv")["mouo_code"])


# --- stable bytes and reading back -------------------------------------------------------------


def _contents(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_writing_the_same_region_twice_gives_the_same_bytes(
    region: SyntheticRegion, tmp_path: Path
) -> None:
    write_region(region, tmp_path / "a")
    first = _contents(tmp_path / "a")
    time.sleep(1.1)  # anything that embeds the wall-clock time (to the second) would differ
    write_region(region, tmp_path / "a")
    write_region(generate_region(_options()), tmp_path / "b")
    again, other = _contents(tmp_path / "a"), _contents(tmp_path / "b")
    assert set(first) == set(again) == set(other)
    assert {"manifest.json", "region.json", "participants.csv"} <= set(first)
    assert any(name.endswith(".xlsx") for name in first)
    for name in first:  # CSV, JSON and (its creation time fixed) XLSX alike
        assert first[name] == again[name] == other[name], name


def test_rewriting_with_a_silent_mouo_removes_its_old_folder(tmp_path: Path) -> None:
    write_region(generate_region(_options(silent_mouos=0)), tmp_path)
    silent = tmp_path / "submissions" / "42-04"
    assert silent.is_dir()
    write_region(generate_region(_options(silent_mouos=1)), tmp_path)
    assert not silent.exists()


def test_participants_read_back_equal_the_ground_truth(root: Path, region: SyntheticRegion) -> None:
    back = read_participants(root)
    expected = region.participants.with_columns(
        pl.col("patronymic", "class_name", "ovz_document").replace("", None)
    )
    assert back.columns == expected.columns
    assert back.equals(expected)


def test_load_regions_reads_the_configured_regions() -> None:
    regions = load_regions()
    assert {"42", "70"} <= set(regions)
    kuzbass = regions["42"]
    assert (kuzbass.code, kuzbass.timezone, kuzbass.okato) == ("42", "Asia/Novokuznetsk", "32")
    for code, info in regions.items():
        assert info.code == code
        assert len(code) == 2
        assert code.isdigit()
        assert len(info.okato) == 2
        assert info.okato.isdigit()


def test_an_unreadable_region_list_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "regions.yaml"
    broken.write_text('"42": {name: Кузбасс}\n', encoding="utf-8")  # no timezone
    with pytest.raises(ConfigError, match=r"regions\.yaml"):
        load_regions(broken)
    with pytest.raises(ConfigError):
        load_regions(tmp_path / "missing.yaml")
