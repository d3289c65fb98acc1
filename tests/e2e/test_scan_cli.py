"""`rcoi scan DIR` as an operator runs it on any folder, without a campaign: `--out` the work
folder like every command, `--results` the records file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_support import ROOT, rcoi

SAMPLES = ROOT / "tests" / "scan_samples"


def test_scan_writes_one_record_per_image_of_the_folder(tmp_path: Path) -> None:
    images = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".jpg", ".png"))
    results = tmp_path / "results.jsonl"
    work = tmp_path / "work"
    result = rcoi(
        "scan", str(SAMPLES), "--out", str(work), "--results", str(results), "--workers", "1"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["source_file"] for r in records) == images
    assert summary["pages"] == len(images)
    assert sum(summary["statuses"].values()) == len(images)
    by_file = {r["source_file"]: r for r in records}
    # the second scan of the same page is rejected and kept in quarantine
    duplicate = by_file["registration_scan_2.jpg"]
    assert duplicate["reasons"] == ["duplicate_page"]
    assert Path(duplicate["quarantine"]).is_file()
    assert by_file["registration_turned.jpg"]["turned_180"] is True
    assert Path(summary["results"]) == results


def test_the_records_go_into_the_work_folder_by_default(tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "one.jpg").write_bytes((SAMPLES / "registration_plain.jpg").read_bytes())
    result = rcoi("scan", str(folder), "--out", str(tmp_path / "work"), "--workers", "1")
    assert result.returncode == 0, result.stderr
    records = tmp_path / "work" / "scan" / "scans" / "results.jsonl"
    assert len(records.read_text(encoding="utf-8").splitlines()) == 1


def test_wrong_input_is_refused_in_russian_before_anything_starts(tmp_path: Path) -> None:
    for args, message in (
        ((str(tmp_path / "нет"),), "папка со сканами не найдена"),
        ((str(tmp_path), "--topics", "12"), "номер темы"),
    ):
        result = rcoi("scan", *args, "--results", str(tmp_path / "r.jsonl"), timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert "Starting temporary server" not in result.stderr
