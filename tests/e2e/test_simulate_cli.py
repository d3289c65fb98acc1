"""`rcoi simulate exam` as an operator runs it: options reach the simulator, wrong options are
refused in Russian before anything starts, the summary is printed as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_support import rcoi
from tests.print_dir_support import SchoolSpec, build_print_dir


def test_simulate_exam_writes_the_exam_day_with_the_given_effects(tmp_path: Path) -> None:
    print_dir = tmp_path / "print" / "2017-12-06"
    print_dir.mkdir(parents=True)
    build_print_dir(print_dir, [SchoolSpec("4201001", {"01": 1}, reserve=0, additional_per_room=1)])
    result = rcoi(
        "simulate",
        "exam",
        "--print-dir",
        str(print_dir),
        "--out",
        str(tmp_path),
        "--seed",
        "5",
        "--preset",
        "harsh",
        "--off",
        "noise,blur",
        "--dpi",
        "200",
        "--formats",
        "png=1",
        "--pdf-batches",
        "0",
        "--topics",
        "205",
        "--absent",
        "0",
        "--workers",
        "1",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["present"] == 1
    truth = json.loads((tmp_path / "exam_day" / "2017-12-06" / "ground_truth.json").read_text())
    assert truth["preset"] == "harsh"
    assert truth["scan_options"]["noise"] == 0
    assert truth["scan_options"]["blur_px"] == 0
    assert {i["effects"]["dpi"] for i in truth["images"]} == {200}
    assert {w["topic"] for w in truth["works"] if w["attendance"] == "present"} == {"205"}


def test_wrong_options_are_refused_before_anything_starts(tmp_path: Path) -> None:
    for args, message in (
        (("--preset", "gentle"), "неизвестный набор эффектов"),
        (("--off", "sparkle"), "неизвестный эффект"),
        (("--turned", "2"), "доля от 0 до 1"),
        (("--topics", "05"), "номер темы"),
        (("--formats", "jpeg"), "форматы задаются"),
    ):
        result = rcoi("simulate", "exam", "--print-dir", str(tmp_path), *args, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert "Starting temporary server" not in result.stderr
