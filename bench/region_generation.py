"""Benchmark: generate a synthetic region of 10^4, 10^5 and 10^6 participants and write its
files (ground truth, МОУО submissions in CSV UTF-8, CSV CP1251 and XLSX).

Each size runs in its own process so that its peak memory (max RSS) is its own.
Usage: python -m bench.region_generation [--sizes 10000 100000 1000000]
Results: bench/results/region_generation.md and .json (timings are written, never asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bench.machine import describe

RESULTS = Path(__file__).resolve().parent / "results"


def run_one(participants: int, seed: int) -> dict[str, float | int]:
    """Generate and write one region; the timings of both steps."""
    from tasks.adapters.region_files import load_regions, write_region
    from tasks.domain.synthetic_region import GeneratorOptions, generate_region

    options = GeneratorOptions(
        participants=participants,
        seed=seed,
        region=load_regions()["42"],
        exam_date=date(2017, 12, 6),
        error_rate=0.01,
        silent_mouos=1,
    )
    started = time.perf_counter()
    region = generate_region(options)
    generated = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        files = write_region(region, Path(folder))
        written = time.perf_counter()
        size = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    return {
        "participants": participants,
        "generate_s": generated - started,
        "write_s": written - generated,
        "total_s": written - started,
        "mouos": files.manifest["counts"]["mouos"],
        "schools": files.manifest["counts"]["schools"],
        "bytes_written": size,
    }


def measure(participants: int, seed: int) -> dict[str, float | int]:
    """Run one size in a child process; add its peak RSS."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.region_generation",
            "--one",
            str(participants),
            "--seed",
            str(seed),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"benchmark of {participants} failed with {child.returncode}")
    result: dict[str, float | int] = json.loads(output)
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def report(results: list[dict[str, float | int]]) -> str:
    lines = [
        "# Region generation benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {describe()}.",
        "Command: `make bench` (`python -m bench.region_generation`). Error rate 1 %, one silent "
        "МОУО. Generation is in memory (numpy/polars); writing covers participants.csv, "
        "region.json, every МОУО file (CSV UTF-8, CSV CP1251, XLSX in rotation) and the manifest "
        "with SHA-256.",
        "",
        "| participants | МОУО | schools | generate, s | write files, s | total, s | "
        "files, MiB | peak RSS, MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['participants']:,} | {r['mouos']} | {r['schools']:,} | {r['generate_s']:.2f} | "
            f"{r['write_s']:.2f} | {r['total_s']:.2f} | {r['bytes_written'] / 2**20:.1f} | "
            f"{r['peak_rss_mib']:.0f} |".replace(",", " ")
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.seed)))
        return
    results = [measure(size, args.seed) for size in args.sizes]
    RESULTS.mkdir(exist_ok=True)
    text = report(results)
    (RESULTS / "region_generation.md").write_text(text, encoding="utf-8")
    (RESULTS / "region_generation.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
