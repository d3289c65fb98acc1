"""Benchmark: the federal package's page images — bytes per page and cost, against the scans.

Set-up, not timed: a print folder of `--works` kits (bench/scan.py's `build_print_dir`) and the
simulator's `moderate` scans of it (bench/simulate.py's `run_one`), which come at 150–300 dpi
as JPEG, PNG, TIFF and PDF. Then, per page image of the scans, in one process:

  decode     the frame decoded to grey as the upload stage decodes it (`read_frames`)
  package    the same frame decoded, turned black and white (Otsu) and written as CCITT Group 4
             TIFF through libtiff (tasks/adapters/g4.py), as in the package
  pillow     the same black-and-white page written as G4 TIFF by Pillow instead (the encoder
             g4.py replaced)
  bytes      the G4 page against the page's share of its scan file, per resolution (dpi read
             from the width, as the package tags it)

Both timings are the best of `--repeats` calls, interleaved, so the ratio package/decode is
measured in one run on the same machine state.

Usage: python -m bench.federal_package [--works 60] [--repeats 3] [--keep DIR --reuse]
Results go to bench/results/federal_package.{json,md} (numbers are written, never asserted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.scan import build_print_dir

SIMULATE_SEED = 41
RESULTS = Path(__file__).parent / "results"


def measure(folder: Path, repeats: int) -> dict[str, Any]:
    from tasks.adapters import g4
    from tasks.adapters.scan_files import count_frames, list_scan_files, read_frames

    scratch = Path(tempfile.mkdtemp(prefix="bench-g4-"))

    rows: list[dict[str, Any]] = []
    for path in list_scan_files(folder / "scans"):
        frames = max(1, count_frames(path))
        share = path.stat().st_size / frames
        for frame in read_frames(path):
            if frame.image is None:
                continue
            decode = package = pillow = float("inf")
            size = 0
            for _ in range(repeats):
                started = time.perf_counter()
                next(f for f in read_frames(path) if f.index == frame.index)
                decode = min(decode, time.perf_counter() - started)
                started = time.perf_counter()
                grey = next(f for f in read_frames(path) if f.index == frame.index).image
                assert grey is not None
                page = g4.bilevel(grey)
                g4.write_g4(scratch / "page.tif", [page])
                package = min(package, time.perf_counter() - started)
                size = (scratch / "page.tif").stat().st_size
                started = time.perf_counter()
                g4._write_pillow(scratch / "pillow.tif", [page])
                pillow = min(pillow, time.perf_counter() - started)
            rows.append(
                {
                    "dpi": page.dpi,
                    "format": path.suffix.lower().lstrip("."),
                    "scan_bytes": share,
                    "g4_bytes": size,
                    "pillow_bytes": (scratch / "pillow.tif").stat().st_size,
                    "decode_ms": 1000 * decode,
                    "package_ms": 1000 * package,
                    "pillow_ms": 1000 * pillow,
                }
            )
    by_dpi: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_dpi[row["dpi"]].append(row)
    return {
        "pages": len(rows),
        "g4_kb_per_page": round(statistics.fmean(r["g4_bytes"] for r in rows) / 1024, 1),
        "scan_kb_per_page": round(statistics.fmean(r["scan_bytes"] for r in rows) / 1024, 1),
        "decode_ms": round(statistics.median(r["decode_ms"] for r in rows), 2),
        "package_ms": round(statistics.median(r["package_ms"] for r in rows), 2),
        "pillow_encode_ms": round(statistics.median(r["pillow_ms"] for r in rows), 2),
        "pillow_kb_per_page": round(statistics.fmean(r["pillow_bytes"] for r in rows) / 1024, 1),
        "package_over_decode": round(
            statistics.median(r["package_ms"] / r["decode_ms"] for r in rows), 2
        ),
        "by_dpi": {
            str(dpi): {
                "pages": len(group),
                "g4_kb": round(statistics.fmean(r["g4_bytes"] for r in group) / 1024, 1),
                "scan_kb": round(statistics.fmean(r["scan_bytes"] for r in group) / 1024, 1),
            }
            for dpi, group in sorted(by_dpi.items())
        },
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        "# Federal package images",
        "",
        f"Machine: {result['machine']}",
        f"Works: {result['works']}, pages: {result['pages']} (simulator `moderate`).",
        "",
        f"- G4 TIFF: {result['g4_kb_per_page']} KB per page; the scans: "
        f"{result['scan_kb_per_page']} KB per page",
        f"- decode alone: {result['decode_ms']} ms; decode + Otsu + G4: {result['package_ms']} ms "
        f"(median per page; ratio {result['package_over_decode']})",
        f"- Pillow's G4 encoder on the same black-and-white page: {result['pillow_encode_ms']} ms "
        f"(encoding alone), {result['pillow_kb_per_page']} KB per page",
        "",
        "| dpi | pages | G4 KB | scan KB |",
        "| --- | --- | --- | --- |",
        *(
            f"| {dpi} | {v['pages']} | {v['g4_kb']} | {v['scan_kb']} |"
            for dpi, v in result["by_dpi"].items()
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    from bench.simulate import run_one as simulate

    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        if not (args.reuse and (base / "moderate" / "ground_truth.json").exists()):
            build_print_dir(base / "print", args.works)
            simulate(base / "print", base, "moderate", SIMULATE_SEED, 2)
        measured = measure(base / "moderate", args.repeats)
        result = {"machine": describe(), "works": args.works, **measured}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "federal_package.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (RESULTS / "federal_package.md").write_text(report(result), encoding="utf-8")
    print(report(result))


if __name__ == "__main__":
    main()
