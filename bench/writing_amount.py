"""Benchmark: the handwritten words estimated on answer pages, against the simulator's truth.

Set-up, not timed: a print folder of `--works` kits (bench/scan.py's `build_print_dir`: schools
of two rooms of 15) and, per preset (moderate, harsh), the simulator's scans of it
(bench/simulate.py's `run_one`). The simulator's seeds here (`SIMULATE_SEED`) differ from
those of the scans the thresholds were tuned on (11 and 12, bench/scan.py's, and 21 and 22), so
the numbers are held out. `--keep DIR` writes the scans under DIR; with `--reuse` a preset
already there is not simulated again.

Every image of an answer or additional blank (second scans left out) is read by `read_page`
with the real engines, in one process, and its record's `words` compared with the truth's
`pages[*].handwritten.words`:

  per page   mean absolute error, mean relative error (pages with writing), pages written on
             whose estimate is off by more than 15 %, empty pages given words
  per work   the estimates of the work's pages summed (pages given to the work by the truth, so
             a misattribution does not count here) against `works[*].words`: the same errors,
             works off by more than 15 %, and works whose estimate and truth fall on different
             sides of the volume requirement (essay 250 words, exposition 150); also over the
             complete works alone (every answer and additional page of the work read: a page
             missing from the batch or rejected unread loses its words to the estimate)
  cost       per page, right after it is read, on the same map: `text_ink` alone (cut-out, ink
             share) and `text_area` (the same cut-out, ink share and the estimate); each the
             best of `--repeats` calls, interleaved, wall ms in this process

Usage: python -m bench.writing_amount [--works 120] [--presets moderate harsh] [--keep DIR --reuse]
Results go to stdout (numbers are written, never asserted); docs/benchmarks.md keeps a run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.scan import build_print_dir

# Not 11 and 12 (bench/scan.py's) nor 21 and 22: the thresholds were tuned on those scans.
SIMULATE_SEED = {"moderate": 31, "harsh": 32}
OFF = 0.15  # an estimate further off than this share of the truth counts as off


def scans_of(base: Path, preset: str, workers: int, reuse: bool) -> Path:
    from bench.simulate import run_one as simulate

    folder = base / preset
    if not (reuse and (folder / "ground_truth.json").exists()):
        simulate(base / "print", base, preset, SIMULATE_SEED[preset], workers)
    return folder


def _best_ms(calls: list[Callable[[], Any]], repeats: int) -> list[float]:
    """Each call's best wall time of `repeats`, in ms, the calls taken in turn."""
    best = [float("inf")] * len(calls)
    for _ in range(repeats):
        for i, call in enumerate(calls):
            started = time.perf_counter()
            call()
            best[i] = min(best[i], 1000 * (time.perf_counter() - started))
    return best


def read_answer_pages(folder: Path, truth: dict[str, Any], repeats: int) -> list[dict[str, Any]]:
    """Every answer and additional page's estimate (None when not read) and its costs."""
    from tasks.adapters.digits import font_model
    from tasks.adapters.recognition_engines import Engines
    from tasks.adapters.scan_files import read_frames
    from tasks.domain import recognition as rec
    from tasks.domain.blanks import BlankType, layout_for
    from tasks.domain.page_reading import PageContext, read_page

    context = PageContext(tuple(truth["exam_day_options"]["topics"]))
    engines, model = Engines(), font_model()
    wanted: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for image in truth["images"]:
        if image["blank_type"] != "registration" and not image["duplicate"]:
            wanted[image["file"]][image["frame"]] = image
    out = []
    try:
        for file, images in sorted(wanted.items()):
            for frame in read_frames(folder / file):
                image = images.get(frame.index)
                if image is None:
                    continue
                record, _ = read_page(frame.image, engines, model, context, {})
                row: dict[str, Any] = {"page_key": image["page_key"], "words": record.get("words")}
                located = rec.locate(frame.image) if "words" in record else None
                if located is not None and not isinstance(located, str):
                    if located.turned != record["turned_180"]:
                        located = located.turned_over()
                    layout = layout_for(BlankType(record["blank_type"]), record["page"])
                    calls = [
                        partial(rec.text_ink, frame.image, located, layout),
                        partial(rec.text_area, frame.image, located, layout),
                    ]
                    row["ink_ms"], row["area_ms"] = _best_ms(calls, repeats)
                out.append(row)
    finally:
        engines.close()
    return out


def _errors(pairs: list[tuple[int, int]]) -> dict[str, Any]:
    """Errors of (estimate, truth) pairs; relative ones over those with a truth above 0."""
    written = [(e, t) for e, t in pairs if t > 0]
    relative = [abs(e - t) / t for e, t in written]
    return {
        "n": len(pairs),
        "written": len(written),
        "mae": round(statistics.fmean(abs(e - t) for e, t in pairs), 2) if pairs else None,
        "mean_relative": round(statistics.fmean(relative), 4) if relative else None,
        "bias": round(statistics.fmean((e - t) / t for e, t in written), 4) if written else None,
        "max_relative": round(max(relative), 3) if relative else None,
        "off": sum(r > OFF for r in relative),
        "empty_given_words": sum(e > 0 for e, t in pairs if t == 0),
    }


def _sides(works: list[dict[str, Any]], estimate: dict[str, int]) -> int:
    """Works whose estimate and truth fall on different sides of the volume requirement."""
    from tasks.domain.exam_day import MIN_WORDS  # «Требование 1»: essay 250, exposition 150

    return sum(
        (estimate[w["work_code"]] >= MIN_WORDS[w["form"]]) != (w["words"] >= MIN_WORDS[w["form"]])
        for w in works
    )


def score(rows: list[dict[str, Any]], truth: dict[str, Any]) -> dict[str, Any]:
    pages = {p["page_key"]: p for p in truth["pages"]}
    read = [r for r in rows if r["words"] is not None]
    per_page = [(r["words"], pages[r["page_key"]]["handwritten"]["words"]) for r in read]
    estimate: dict[str, int] = defaultdict(int)
    for r in read:
        work = pages[r["page_key"]]["work_code"]
        if work:
            estimate[work] += r["words"]
    unread: set[str] = set()
    read_keys = {r["page_key"] for r in read}
    for page in truth["pages"]:
        if page["blank_type"] != "registration" and page["page_key"] not in read_keys:
            unread.add(page["work_code"])
    works = [w for w in truth["works"] if w["words"] > 0]
    complete = [w for w in works if w["work_code"] not in unread]
    timed = [r for r in read if "ink_ms" in r]
    ink = statistics.fmean(r["ink_ms"] for r in timed)
    area = statistics.fmean(r["area_ms"] for r in timed)
    return {
        "pages": len(rows),
        "pages_read": len(read),
        "per_page": _errors(per_page),
        "per_work": _errors([(estimate[w["work_code"]], w["words"]) for w in works]),
        "per_complete_work": _errors([(estimate[w["work_code"]], w["words"]) for w in complete]),
        "requirement_side_wrong": _sides(works, estimate),
        "requirement_side_wrong_complete": _sides(complete, estimate),
        "works_below_requirement": len(works) - _sides(works, defaultdict(int)),
        "cost": {
            "pages_timed": len(timed),
            "text_ink_ms": round(ink, 2),
            "text_area_ms": round(area, 2),
            "estimate_ms": round(area - ink, 2),
        },
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def report(results: list[dict[str, Any]], command: str, started: str) -> str:
    lines = [
        "# Handwritten words on answer pages (writing amount)",
        "",
        f"Run {started} on: {describe()}.",
        f"Command: `{command}`.",
        "",
        "| preset | unit | compared | MAE, words | mean rel. error | bias | max rel. error "
        f"| off > {OFF:.0%} | empty given words | requirement side wrong |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        for unit, side in (
            ("per_page", ""),
            ("per_work", r["requirement_side_wrong"]),
            ("per_complete_work", r["requirement_side_wrong_complete"]),
        ):
            e = r[unit]
            lines.append(
                f"| {r['preset']} | {unit.replace('per_', '').replace('_', ' ')} "
                f"| {e['n']} ({e['written']} written) | {e['mae']} | {_pct(e['mean_relative'])} "
                f"| {_pct(e['bias'])} | {_pct(e['max_relative'])} | {e['off']} "
                f"| {e['empty_given_words']} | {side} |"
            )
    lines += [
        "",
        "Works below the requirement (truth): "
        + ", ".join(f"{r['preset']} {r['works_below_requirement']}" for r in results)
        + ". “Requirement side wrong”: works whose estimate and truth fall on different sides "
        "of it (essay 250, exposition 150).",
    ]
    lines += [
        "",
        "Cost per page (wall ms, best of the repeats, one process):",
        "",
        "| preset | pages read / images | pages timed | text_ink alone | text_area (ink + words) "
        "| the estimate's share | load average before → after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        c = r["cost"]
        lines.append(
            f"| {r['preset']} | {r['pages_read']} / {r['pages']} | {c['pages_timed']} "
            f"| {c['text_ink_ms']} | {c['text_area_ms']} | {c['estimate_ms']} "
            f"| {r['load_average'][0]} → {r['load_average'][1]} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--works", type=int, default=120)
    parser.add_argument("--presets", nargs="+", default=["moderate", "harsh"])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the simulated scans here")
    parser.add_argument("--reuse", action="store_true", help="take the scans already in --keep")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = ("python -m bench.writing_amount " + " ".join(sys.argv[1:])).strip()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-writing-") as temporary:
        base = args.keep or Path(temporary)
        if not (args.reuse and (base / "print" / "manifest.json").exists()):
            build_print_dir(base / "print", args.works)
        for preset in args.presets:
            folder = scans_of(base, preset, args.workers, args.reuse)
            truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
            load = os.getloadavg()[0]
            rows = read_answer_pages(folder, truth, args.repeats)
            result = {"preset": preset, **score(rows, truth)}
            result["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
            results.append(result)
            print(json.dumps(result, ensure_ascii=False), flush=True)
    print(report(results, command, started))


if __name__ == "__main__":
    main()
