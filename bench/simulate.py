"""Benchmark: the exam-day simulator on a demo-size session (about 2 000 participants).

Set-up, not timed: a print folder — `--print-dir` (e.g. `out/demo/print/2017-12-06`, which
`make demo` prints), or one built here with the blanks' PDF builder
(tests/print_dir_support.py) shaped like the demo region: schools of 10–50 participants in
rooms of 15, 2 reserve kits per school, additional blanks for 10 % of a room's seats (at
least 2), as the print stage's defaults give.

Timed, per preset (moderate, harsh), with the plain functions the Prefect tasks chain (no
Prefect, so no server start-up in the numbers):

  plan    read the manifest, `decide_works`, `ink_pages`, `plan_scans`
  scan    the process pool over schools: render every page once at 300 dpi (pypdfium2), write
          on it, apply the scan effects, encode and write the files
  truth   `ground_truth`, ground_truth.json, the room records

Images per second = images written / scan seconds. CPU per image is the workers' own CPU
time: with a busy machine (other test suites running) wall time grows, CPU time much less.
Usage: python -m bench.simulate [--print-dir DIR] [--presets moderate harsh] [--workers 2]
Results: bench/results/simulate.md and .json (timings are written, never asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Phases
from bench.machine import describe

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def build_print_dir(folder: Path, participants: int, seed: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.print_dir_support import SchoolSpec
    from tests.print_dir_support import build_print_dir as build

    rng = random.Random(seed)
    schools, left, number = [], participants, 1
    while left > 0:
        size = min(left, rng.randint(10, 50))
        rooms = {f"{r + 1:02d}": min(15, size - 15 * r) for r in range(-(-size // 15))}
        code = f"42{1 + number // 40:02d}{number % 40 + 1:03d}"
        schools.append(SchoolSpec(code, rooms, reserve=2, additional_per_room=2))
        left -= size
        number += 1
    build(folder, schools, seed=seed)


def run_one(print_dir: Path, out: Path, preset: str, seed: int, workers: int) -> dict[str, Any]:
    from tasks.adapters.exam_day_files import (
        read_print_dir,
        scan_schools,
        school_jobs,
        write_ground_truth,
        write_room_records,
    )
    from tasks.domain.exam_day import (
        ExamDayOptions,
        decide_works,
        ground_truth,
        ink_pages,
        room_records,
        scanned_pages,
        writers,
    )
    from tasks.domain.exam_day_scans import plan_scans, scan_options

    phases = Phases()
    with phases("plan"):
        manifest = read_print_dir(print_dir)
        options = ExamDayOptions(seed=seed)
        outcomes = decide_works(manifest, options)
        inks = ink_pages(outcomes, options)
        plan = plan_scans(scanned_pages(manifest, outcomes, options), scan_options(preset), seed)
    folder = out / preset
    jobs = school_jobs(
        manifest, print_dir, folder / "scans", inks, plan, writers(options.writers, seed), seed
    )
    with phases("scan"):
        done = scan_schools(jobs, workers)
    with phases("truth"):
        truth = ground_truth(manifest, outcomes, inks, plan, options, {"seed": seed})
        write_ground_truth(folder, truth)
        write_room_records(folder, room_records(outcomes))
    counts = truth["counts"]
    images = counts["images"]
    scan_s = phases.seconds["scan"]
    cpu = sum(d.cpu_seconds for d in done)
    by_dpi: dict[int, int] = {}
    for image in truth["images"]:
        dpi = image["effects"]["dpi"]
        by_dpi[dpi] = by_dpi.get(dpi, 0) + 1
    return {
        "preset": preset,
        "workers": workers,
        "schools": len(done),
        "works": counts["works"],
        "pages_issued": counts["pages_issued"],
        "images": images,
        "files": counts["files"],
        "by_format": counts["by_format"],
        "by_dpi": dict(sorted(by_dpi.items())),
        "gigabytes": round(sum(d.bytes for d in done) / 1e9, 2),
        "seconds": {k: round(v, 1) for k, v in phases.seconds.items()},
        "images_per_second": round(images / scan_s, 1),
        "cpu_ms_per_image": round(1000 * cpu / images, 1),
        "pool_utilisation": round(cpu / (scan_s * workers), 2),
    }


def report(results: list[dict[str, Any]], source: str, started: str) -> str:
    lines = [
        "# Exam-day simulator benchmark",
        "",
        f"Run {started} on: {describe()}.",
        f"Command: `python -m bench.simulate` ({source}). Plain functions, no Prefect server; "
        "plan, scan (process pool over schools) and truth timed apart. CPU per image is the "
        "pool workers' CPU time; utilisation = workers' CPU / (scan wall time × workers).",
        "",
        "| preset | workers | schools | works | pages issued | images | files | dpi | GB "
        "| plan, s | scan, s | truth, s | images/s | CPU ms/image | pool use |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    for r in results:
        s = r["seconds"]
        dpi = ", ".join(f"{d}: {n}" for d, n in r["by_dpi"].items())
        lines.append(
            f"| {r['preset']} | {r['workers']} | {r['schools']} | {r['works']} | "
            f"{r['pages_issued']} | {r['images']} | {r['files']} | {dpi} | {r['gigabytes']} | "
            f"{s['plan']} | {s['scan']} | {s['truth']} | {r['images_per_second']} | "
            f"{r['cpu_ms_per_image']} | {r['pool_utilisation']} |"
        )
    lines += ["", "Files by format:", ""]
    lines += [f"- {r['preset']}: {r['by_format']}" for r in results]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--print-dir", type=Path)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--presets", nargs="+", default=["moderate", "harsh"])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, help="write the scans here instead of a temp dir")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as temporary:
        work = Path(temporary)
        if args.print_dir:
            print_dir, source = args.print_dir, f"print folder {args.print_dir}"
        else:
            print_dir = work / "print"
            print_dir.mkdir()
            build_print_dir(print_dir, args.participants, args.seed)
            source = f"print folder built for {args.participants} participants"
        out = args.keep or work / "out"
        results = []
        for preset in args.presets:
            results.append(run_one(print_dir, out, preset, args.seed, args.workers))
            print(json.dumps(results[-1]), flush=True)
            if not args.keep:
                shutil.rmtree(out / preset)
    RESULTS.mkdir(exist_ok=True)
    text = report(results, source, started)
    (RESULTS / "simulate.md").write_text(text, encoding="utf-8")
    (RESULTS / "simulate.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
