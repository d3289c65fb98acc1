"""`rcoi scan DIR --out results.jsonl` as an operator runs it on any folder, without a campaign."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_support import ROOT, rcoi

SAMPLES = ROOT / "tests" / "scan_samples"


def test_scan_writes_one_record_per_image_of_the_folder(tmp_path: Path) -> None:
    images = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".jpg", ".png"))
    results = tmp_path / "results.jsonl"
    result = rcoi("scan", str(SAMPLES), "--out", str(results), "--workers", "1")
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


def test_wrong_input_is_refused_in_russian_before_anything_starts(tmp_path: Path) -> None:
    for args, message in (
        ((str(tmp_path / "нет"),), "папка со сканами не найдена"),
        ((str(tmp_path), "--topics", "12"), "номер темы"),
    ):
        result = rcoi("scan", *args, "--out", str(tmp_path / "r.jsonl"), timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert "Starting temporary server" not in result.stderr
