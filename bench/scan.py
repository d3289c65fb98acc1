"""Benchmark: recognition of simulated scans, its accuracy against the ground truth and its speed.

Set-up, not timed here (bench/simulate.py times it): a print folder of `--works` kits (schools
of two rooms of 15, one reserve kit, 3 additional blanks per room; tests/print_dir_support.py)
and, per preset (moderate, harsh, outside), the exam-day simulator's scans of it with their ground
truth. `--keep DIR` writes them under DIR; with `--reuse` a preset already there is not
simulated again. Seeds are fixed (moderate 11, harsh 12, outside 13), so the same arguments
give the same scans; `--seeds outside=13,14,15` simulates and measures a preset once per seed
given (another seed's scans go to DIR/seed<N>/<preset>), so a threshold tuned on one seed is
checked on others.

Measured per preset, in one run:

  decode     `read_frames` over every file on a pool of `--workers` processes: the floor any
             recognition pays (the files are read from the page cache in both passes)
  recognise  `recognise_local` (read_page on every frame) on the same pool, with an empty cache
  checks     `check_batch` over every page (one process)
  accuracy   tasks/domain/scan_accuracy.py: misattributed pages, mark boxes, digit fields,
             rejections, the operating curve of the fields' confidence
  cells      ~`--cells` handwritten digit cells cut from readable pages: ms per cell of
             Tesseract in-process (tesserocr) and of pytesseract (a process per call), and
             how many each reader gets right (Tesseract alone, the font classifier alone, the
             classifier with Tesseract's vote, as read_page combines them before the batch
             adapts the classifier)

Pages per second, wall = frames / wall seconds of the pool (start-up of the pool and of the
engines included): what this run got, on a machine other jobs may share (the load average
before and after is written). Per format (and "all"), from the files' own CPU seconds:
ms per page, and pages/s = workers × frames / CPU seconds, what the idle machine gives.
  by scan   pages to verification per kind of scan (grey, thresholded 1-bit, dithered 1-bit):
             on `outside` the dithered pages are the hard part

Usage: python -m bench.scan [--works 300] [--presets moderate harsh outside]
       [--seeds outside=13,14,15] [--keep DIR --reuse]
Results: bench/results/scan.md and .json (numbers are written, never asserted); the final
records go next to the scans (`<keep>/<preset>/records.json`) for a look at the errors.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.machine import describe

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
PRINT_SEED = 7
SIMULATE_SEED = {"moderate": 11, "harsh": 12, "outside": 13}
ROOM_SIZE = 15


@dataclass(frozen=True, slots=True)
class Timed:
    """One file's pass: its frames, wall and CPU seconds (and its pages when recognised)."""

    rel: str
    frames: int
    seconds: float
    cpu: float
    read: Any = None  # the FileRead of recognition


def decode_chunk(chunk: Any) -> list[Timed]:
    """Every frame of the chunk's files decoded and dropped (module-level: sent to workers)."""
    from tasks.adapters.scan_files import read_frames

    out = []
    for job in chunk.jobs:
        started, cpu = time.perf_counter(), time.process_time()
        frames = sum(1 for _ in read_frames(job.path))
        out.append(Timed(job.rel, frames, time.perf_counter() - started, time.process_time() - cpu))
    return out


def recognise_chunk(chunk: Any) -> list[Timed]:
    """`recognise_chunk` of scan_batch, file by file, with each file's CPU time (the pool's
    wall time on a shared machine says little on its own)."""
    from tasks.adapters.scan_batch import recognise_file
    from tasks.domain.page_reading import PageContext

    context = PageContext(chunk.topics)
    out = []
    for job in chunk.jobs:
        started, cpu = time.perf_counter(), time.process_time()
        read = recognise_file(job, chunk.cache, context)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        out.append(Timed(job.rel, len(read.pages), wall, cpu, read))
    return out


def build_print_dir(folder: Path, works: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.print_dir_support import SchoolSpec
    from tests.print_dir_support import build_print_dir as build

    schools = [
        SchoolSpec(f"42010{i:02d}", {"01": ROOM_SIZE, "02": ROOM_SIZE}, 1, 3)
        for i in range(-(-works // (2 * ROOM_SIZE)))
    ]
    folder.mkdir(parents=True, exist_ok=True)
    build(folder, schools, seed=PRINT_SEED)


def scans_of(base: Path, preset: str, seed: int, workers: int, reuse: bool) -> Path:
    """The preset's simulated folder (scans/, ground_truth.json) for `seed` under `base`
    (`base/<preset>` for the preset's own seed, `base/seed<N>/<preset>` for another), made
    from the print folder `base/print`."""
    from bench.simulate import run_one as simulate

    out = base if seed == SIMULATE_SEED[preset] else base / f"seed{seed}"
    folder = out / preset
    if not (reuse and (folder / "ground_truth.json").exists()):
        simulate(base / "print", out, preset, seed, workers)
    return folder


def parse_seeds(given: list[str], presets: list[str]) -> list[tuple[str, int]]:
    """(preset, seed) pairs to run, in the order of `presets`: the seeds given per preset
    (`outside=13,14,15`), else the preset's own seed."""
    seeds: dict[str, list[int]] = {}
    for item in given:
        preset, _, values = item.partition("=")
        if preset not in SIMULATE_SEED or not values:
            raise SystemExit(f"--seeds: expected PRESET=N[,N...] for a known preset, got {item!r}")
        seeds[preset] = [int(v) for v in values.split(",")]
    return [(p, s) for p in presets for s in seeds.get(p, [SIMULATE_SEED[p]])]


def _format(rel: str, frames: int) -> str:
    suffix = Path(rel).suffix.lower().lstrip(".")
    suffix = {"jpg": "jpeg", "tif": "tiff"}.get(suffix, suffix)
    return f"{suffix}-multi" if suffix == "tiff" and frames > 1 else suffix


def _by_format(
    decoded: list[Timed], recognised: list[Timed], workers: int
) -> dict[str, dict[str, Any]]:
    """Per file format, from the files' CPU seconds: ms per page and the pages per second
    `workers` busy processes would give."""
    cpu = {r.rel: r.cpu for r in recognised}
    rows: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for d in decoded:
        for name in (_format(d.rel, d.frames), "all"):
            row = rows[name]
            row["files"] += 1
            row["pages"] += d.frames
            row["decode_s"] += d.cpu
            row["recognise_s"] += cpu[d.rel]
    out = {}
    for name, row in sorted(rows.items(), key=lambda item: (item[0] != "all", item[0])):
        out[name] = {
            "files": int(row["files"]),
            "pages": int(row["pages"]),
            "decode_ms_per_page": round(1000 * row["decode_s"] / row["pages"], 1),
            "recognise_ms_per_page": round(1000 * row["recognise_s"] / row["pages"], 1),
            "decode_pages_per_s": round(workers * row["pages"] / row["decode_s"], 1),
            "recognise_pages_per_s": round(workers * row["pages"] / row["recognise_s"], 1),
            "ratio": round(row["recognise_s"] / row["decode_s"], 2),
        }
    return out


class RecordingEngines:
    """The real engines, keeping every batch of cell images read_page hands to `describe`."""

    def __init__(self) -> None:
        from tasks.adapters.recognition_engines import Engines

        self._engines = Engines()
        self.calls: list[list[Any]] = []

    def qr(self, grey: Any, rect: Any) -> Any:
        return self._engines.qr(grey, rect)

    def describe(self, cells: Any) -> Any:
        self.calls.append(list(cells))
        return self._engines.describe(cells)

    def printed_digits(self, image: Any) -> str:
        return self._engines.printed_digits(image)


def cut_cells(folder: Path, truth: dict[str, Any], wanted: int, seed: int) -> list[tuple[Any, int]]:
    """About `wanted` inked digit cells with the digit written in them, from readable pages of
    every blank type that has digit fields (taken in turn, in a seeded order)."""
    from tasks.adapters.digits import font_model
    from tasks.adapters.scan_files import read_frames
    from tasks.domain.page_reading import PageContext, read_page

    topics = tuple(truth["exam_day_options"]["topics"])
    pages = {p["page_key"]: p for p in truth["pages"]}
    queues: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for image in truth["images"]:
        written = pages.get(image["page_key"], {}).get("handwritten", {}).get("digits")
        if written and not image["duplicate"] and not image["effects"]["unreadable"]:
            queues[image["blank_type"]].append(image)
    rng = random.Random(seed)
    for queue in queues.values():
        rng.shuffle(queue)
    model, engines = font_model(), RecordingEngines()
    cells: list[tuple[Any, int]] = []
    while len(cells) < wanted and any(queues.values()):
        for queue in queues.values():
            if not queue or len(cells) >= wanted:
                continue
            image = queue.pop()
            path = folder / image["file"]
            frame = next(f for i, f in enumerate(read_frames(path)) if i == image["frame"])
            engines.calls.clear()
            record, _ = read_page(frame.image, engines, model, PageContext(topics), {})
            if record["status"] == "rejected":
                continue
            written = pages[image["page_key"]]["handwritten"]["digits"]
            calls = iter(engines.calls)
            for name, reading in record["fields"].items():
                inked = [i for i, c in enumerate(reading["cells"]) if c != ""]
                if not inked:
                    continue
                images = next(calls)
                true = written.get(name, {}).get("cells", [])
                if len(images) != len(inked) or len(true) != len(reading["cells"]):
                    continue
                for position, cell in zip(inked, images, strict=True):
                    if true[position].isdigit():
                        cells.append((cell, int(true[position])))
    return cells[:wanted]


def digit_readers(cells: list[tuple[Any, int]]) -> dict[str, Any]:
    import numpy as np

    from tasks.adapters.digits import cell_features, font_model
    from tasks.adapters.ocr import PytesseractDigits, TesseractDigits

    images = [c for c, _ in cells]
    truth = np.array([d for _, d in cells])
    tesserocr = TesseractDigits()
    tesserocr.read(images[:5])  # the first call loads the model
    started = time.perf_counter()
    guesses = tesserocr.read(images)
    in_process = time.perf_counter() - started
    started = time.perf_counter()
    PytesseractDigits().read(images)
    per_call = time.perf_counter() - started
    tess = [int(g.digit) if g.digit is not None else None for g in guesses]
    model = font_model()
    features = [cell_features(c) for c in images]
    alone = model.probabilities(features, [None] * len(features)).argmax(axis=1)
    both = model.probabilities(features, tess).argmax(axis=1)
    n = len(cells)
    return {
        "cells": n,
        "tesserocr_ms_per_cell": round(1000 * in_process / n, 2),
        "pytesseract_ms_per_cell": round(1000 * per_call / n, 1),
        "speed_up": round(per_call / in_process, 1),
        "right": {
            "tesseract": round(
                float(np.mean([t == d for t, d in zip(tess, truth, strict=True)])), 4
            ),
            "tesseract_no_digit": sum(t is None for t in tess),
            "classifier": round(float(np.mean(alone == truth)), 4),
            "classifier_and_tesseract": round(float(np.mean(both == truth)), 4),
        },
    }


def run_one(
    folder: Path, print_dir: Path, seed: int, workers: int, cells_wanted: int
) -> dict[str, Any]:
    from tasks.adapters.digits import font_model
    from tasks.adapters.scan_batch import chunks_of, plan_jobs
    from tasks.adapters.school_pool import run_per_school
    from tasks.domain.scan_accuracy import score
    from tasks.domain.scan_checks import SessionCodes, check_batch

    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    manifest = json.loads((print_dir / "manifest.json").read_text(encoding="utf-8"))
    topics = tuple(truth["exam_day_options"]["topics"])
    codes = {w["work_code"]: (w["kind"], w["school_code"]) for w in manifest["works"]}
    codes |= {a["code"]: ("additional", a["school_code"]) for a in manifest["additional"]}
    jobs = plan_jobs(folder / "scans")
    with tempfile.TemporaryDirectory(prefix="bench-scan-cache-") as cache:
        chunks = chunks_of(jobs, Path(cache), workers, topics)
        load = [round(os.getloadavg()[0], 2)]
        started = time.perf_counter()
        decoded = [
            d for ds in run_per_school(decode_chunk, chunks, lambda c: c.size, workers) for d in ds
        ]
        decode_s = time.perf_counter() - started
        started = time.perf_counter()
        recognised = [
            r
            for rs in run_per_school(recognise_chunk, chunks, lambda c: c.size, workers)
            for r in rs
        ]
        recognise_s = time.perf_counter() - started
        load.append(round(os.getloadavg()[0], 2))
    files = sorted((r.read for r in recognised), key=lambda f: f.rel)
    pages = [p for f in files for p in f.pages]
    started = time.perf_counter()
    records, summary = check_batch(pages, font_model(), SessionCodes(codes, topics))
    checks_s = time.perf_counter() - started
    frames = sum(d.frames for d in decoded)
    (folder / "records.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return {
        "preset": folder.name,
        "seed": seed,
        "works": truth["counts"]["works"],
        "files": len(jobs),
        "pages": len(records),
        "workers": workers,
        "speed": {
            "decode_s": round(decode_s, 1),
            "recognise_s": round(recognise_s, 1),
            "checks_s": round(checks_s, 1),
            "decode_pages_per_s": round(frames / decode_s, 1),
            "recognise_pages_per_s": round(len(pages) / recognise_s, 1),
            "ratio": round(recognise_s / decode_s, 2),
            "load_average": load,
            "by_format": _by_format(decoded, recognised, workers),
        },
        "summary": summary.as_dict(),
        "accuracy": score(records, truth),
        "by_scan": by_scan(records, truth),
        "digit_readers": digit_readers(cut_cells(folder, truth, cells_wanted, seed=1)),
    }


def by_scan(records: list[dict[str, Any]], truth: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Pages per kind of scan (grey, 1-bit thresholded, 1-bit dithered) and how many of them
    went to verification or were rejected, with the reasons of those sent to verification."""
    kinds = {}
    for image in truth["images"]:
        e = image["effects"]
        kind = "grey"
        if e.get("dither"):
            kind = f"dithered ({e['dither']})"
        elif e["binarized"]:
            kind = "1-bit"
        kinds[(str(image["file"]).removeprefix("scans/"), int(image["frame"]))] = kind
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        key = (str(record["source_file"]), int(record["frame"]))
        kind = kinds.get(key, "?")
        row = out.setdefault(
            kind, {"pages": 0, "needs_verification": 0, "rejected": 0, "reasons": {}}
        )
        row["pages"] += 1
        if record["status"] != "accepted":
            row[record["status"]] += 1
        if record["status"] == "needs_verification":
            for reason in record["reasons"]:
                row["reasons"][reason] = row["reasons"].get(reason, 0) + 1
    return dict(sorted(out.items()))


def _name(result: dict[str, Any]) -> str:
    """A result's row label: the preset and the seed its scans were simulated with."""
    seed = result.get("seed", SIMULATE_SEED.get(result["preset"]))
    return f"{result['preset']} (seed {seed})"


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f} %"


def report(results: list[dict[str, Any]], command: str, started: str) -> str:
    lines = [
        "# Scan (recognition) benchmark",
        "",
        f"Run {started} on: {describe()}.",
        f"Command: `{command}`.",
        "",
        "| preset | pages | to verification | digit fields to verification | wrong accepted "
        "fields | misattributed pages |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        a = r["accuracy"]
        f = a["digit_fields"]
        lines.append(
            f"| {_name(r)} | {r['pages']} | "
            f"{_pct(a['pages']['statuses'].get('needs_verification', 0) / max(r['pages'], 1))} | "
            f"{_pct(f['verification_share'])} | {f['accepted_wrong']} | "
            f"{a['pages']['misattributed']} |"
        )
    lines += [
        "",
        "Pages by kind of scan:",
        "",
        "| preset | scan | pages | to verification | rejected | reasons (to verification) |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        for kind, row in r["by_scan"].items():
            lines.append(
                f"| {_name(r)} | {kind} | {row['pages']} | "
                f"{row['needs_verification']} "
                f"({_pct(row['needs_verification'] / row['pages'], 1)}) | "
                f"{row['rejected']} | {row['reasons']} |"
            )
    lines += [
        "",
        "| preset | works | files | pages | accepted | verification | rejected | misattributed "
        "| wrong blank | mark boxes (accepted pages) | boxes right | digit fields | accepted right "
        "| to verification |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for r in results:
        a = r["accuracy"]
        st = a["pages"]["statuses"]
        f = a["digit_fields"]
        lines.append(
            f"| {_name(r)} | {r['works']} | {r['files']} | {r['pages']} | "
            f"{st.get('accepted', 0)} | {st.get('needs_verification', 0)} | "
            f"{st.get('rejected', 0)} | {a['pages']['misattributed']} | "
            f"{a['pages']['wrong_blank_identity']} | {a['marks']['boxes']} | "
            f"{_pct(a['marks']['right_share'], 3)} | {f['fields']} | {_pct(f['right_share'])} "
            f"({f['accepted_wrong']} wrong, {f['accepted_wrong_on_accepted_pages']} on accepted "
            f"pages) | {_pct(f['verification_share'])} |"
        )
    lines += ["", "Rejected pages:", ""]
    for r in results:
        rej = r["accuracy"]["rejected"]
        lines.append(
            f"- {_name(r)}: {rej['pages']} ({rej['by_reason']}); truly unreadable "
            f"{rej['truly_unreadable']} of {r['accuracy']['images_unreadable']} "
            f"({rej['unreadable_images_by_status']}), duplicates {rej['duplicates']}, unused "
            f"additional blanks {rej['unused_additional']}, readable pages rejected "
            f"{rej['readable_rejected']}; images "
            f"without a record {r['accuracy']['missing_records']}"
        )
    lines += ["", "Reasons (pages, every status):", ""]
    lines += [f"- {_name(r)}: {r['summary']['reasons']}" for r in results]
    lines += [
        "",
        "Operating curve of the digit fields (a field accepted when its confidence ≥ t; "
        "“current” is the decision recognition made):",
        "",
        "| preset | t | accepted | wrong | error | to verification | current ∧ conf ≥ t: "
        "wrong | error | to verification |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        curve = r["accuracy"]["operating_curve"]
        c = curve["current"]
        lines.append(
            f"| {_name(r)} | current | {c['accepted']} | {c['accepted_wrong']} | "
            f"{_pct(c['error'])} | {_pct(c['verification_share'])} | | | |"
        )
        for p, q in zip(curve["confidence_only"], curve["current_and_confidence"], strict=True):
            lines.append(
                f"| {_name(r)} | {p['threshold']} | {p['accepted']} | {p['accepted_wrong']} | "
                f"{_pct(p['error'])} | {_pct(p['verification_share'])} | {q['accepted_wrong']} | "
                f"{_pct(q['error'])} | {_pct(q['verification_share'])} |"
            )
    lines += [
        "",
        "Speed: “wall” is the pool's wall time in this run (load average before → after "
        "in brackets); the other rows come from the files' own CPU seconds (pages/s = "
        "workers × pages / CPU s, what an idle machine gives):",
        "",
        "| preset | format | files | pages | decode, CPU ms/page | recognise, CPU ms/page "
        "| decode, pages/s | recognise, pages/s | recognise / decode |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s = r["speed"]
        lines.append(
            f"| {_name(r)} | wall (load {s['load_average'][0]} → {s['load_average'][1]}) | "
            f"{r['files']} | {r['pages']} | | | "
            f"{s['decode_pages_per_s']} | {s['recognise_pages_per_s']} | {s['ratio']} |"
        )
        for name, row in s["by_format"].items():
            lines.append(
                f"| {_name(r)} | {name} | {row['files']} | {row['pages']} | "
                f"{row['decode_ms_per_page']} | {row['recognise_ms_per_page']} | "
                f"{row['decode_pages_per_s']} | {row['recognise_pages_per_s']} | {row['ratio']} |"
            )
    lines += [
        "",
        "Digit cells (handwritten, cut from readable pages):",
        "",
        "| preset | cells | tesserocr, ms/cell | pytesseract, ms/cell | × | Tesseract right "
        "| classifier right | classifier + Tesseract right |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        d = r["digit_readers"]
        right = d["right"]
        lines.append(
            f"| {_name(r)} | {d['cells']} | {d['tesserocr_ms_per_cell']} | "
            f"{d['pytesseract_ms_per_cell']} | {d['speed_up']} | {_pct(right['tesseract'], 1)} | "
            f"{_pct(right['classifier'], 1)} | {_pct(right['classifier_and_tesseract'], 1)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--works", type=int, default=300)
    parser.add_argument("--presets", nargs="+", default=["moderate", "harsh", "outside"])
    parser.add_argument(
        "--seeds",
        nargs="*",
        default=[],
        metavar="PRESET=N,N",
        help="simulation seeds per preset (default: moderate 11, harsh 12, outside 13)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="write the simulated scans here")
    parser.add_argument("--reuse", action="store_true", help="take the scans already in --keep")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python -m bench.scan " + " ".join(sys.argv[1:])
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as temporary:
        base = args.keep or Path(temporary)
        if not (args.reuse and (base / "print" / "manifest.json").exists()):
            build_print_dir(base / "print", args.works)
        for preset, seed in parse_seeds(args.seeds, args.presets):
            folder = scans_of(base, preset, seed, args.workers, args.reuse)
            results.append(run_one(folder, base / "print", seed, args.workers, args.cells))
            print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    RESULTS.mkdir(exist_ok=True)
    text = report(results, command.strip(), started)
    (RESULTS / "scan.md").write_text(text, encoding="utf-8")
    (RESULTS / "scan.json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    print(text)


if __name__ == "__main__":
    main()
