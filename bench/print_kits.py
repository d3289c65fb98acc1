"""Benchmark: print a region's kits (registration blank + answer blank front and back per
participant, reserve kits, additional answer blanks, room forms), one PDF per school.

Plain functions as `tasks/print_kits.py` chains them, no Prefect and no database: the region
is generated, its participants seated and their codes drawn (timed apart), then every school's
kits and forms PDFs are built and written, once in one process and once on a process pool of
one worker per core, over the same jobs in the same run (these machines are noisy: compare the
two, not runs of different days). A sample of the pages is rendered back (pypdfium2, 300 dpi)
to give the cost of looking at them.

Usage: python -m bench.print_kits [--participants 20000] [--seed 1]
Results: bench/results/print_kits.md and .json (timings are written, never asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from bench.common import Phases, make_region, number
from bench.machine import describe

RESULTS = Path(__file__).resolve().parent / "results"


def _frames(participants: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Registrations and rooms shaped as the print adapter reads them from the database."""
    region = make_region(participants, seed)
    people = region.participants.with_row_index("registration_id", offset=1)
    schools = region.schools.with_row_index("school_id", offset=1).select(
        "school_id", "school_code", pl.col("name").alias("school_name")
    )
    rooms = (
        region.rooms.with_row_index("room_id", offset=1)
        .join(schools, on="school_code")
        .select("room_id", "school_id", "school_code", "school_name", "room", "capacity")
    )
    registrations = people.join(schools, on="school_code").select(
        pl.col("registration_id").cast(pl.Int64),
        "school_id",
        pl.lit(None, dtype=pl.Int64).alias("room_id"),
        "form",
        "oral",
        "ovz",
        "school_code",
        "class_name",
        "surname",
        "name",
        "patronymic",
        pl.concat_str(pl.lit("паспорт "), "document_series", pl.lit(" "), "document_number").alias(
            "document"
        ),
    )
    return registrations, rooms.with_columns(pl.col("room_id").cast(pl.Int64))


def run(participants: int, seed: int) -> dict[str, Any]:
    import pypdfium2 as pdfium

    from tasks.adapters.print_files import SchoolJob, default_fonts, print_schools
    from tasks.domain.print_kits import (
        PrintOptions,
        allocate_codes,
        school_pages,
        school_room_forms,
        seat_participants,
        wanted_codes,
        works_frame,
    )

    registrations, rooms = _frames(participants, seed)
    phases = Phases()
    with phases("seat_and_codes"):
        seats = seat_participants(registrations, rooms)
        registrations = registrations.drop("room_id").join(
            seats.select("registration_id", "room_id"), on="registration_id"
        )
        empty = pl.DataFrame(
            schema={
                "kind": pl.Utf8,
                "school_id": pl.Int64,
                "registration_id": pl.Int64,
                "room_id": pl.Int64,
                "sequence": pl.Int64,
            }
        )
        requests = wanted_codes(registrations, rooms, empty, PrintOptions())
        codes = allocate_codes(requests, [], "42", 2017, 1, seed)
    works = pl.DataFrame(
        {
            "work_code": codes,
            "kind": [r.kind for r in requests],
            "school_id": [r.school_id for r in requests],
            "registration_id": [r.registration_id for r in requests],
            "room_id": [r.room_id for r in requests],
            "sequence": [r.sequence for r in requests],
        },
        schema_overrides={"registration_id": pl.Int64, "room_id": pl.Int64, "sequence": pl.Int64},
    )
    works = works_frame(
        works,
        registrations,
        rooms,
        rooms.select("school_id", "school_code", "school_name").unique("school_id"),
    )
    header = "Итоговое сочинение (изложение) · 06.12.2017 · Кемеровская область – Кузбасс"
    fonts = default_fonts()
    results: dict[str, Any] = {
        "participants": participants,
        "kits": int((works["kind"] == "kit").sum()),
        "reserve": int((works["kind"] == "reserve").sum()),
        "additional": int((works["kind"] == "additional").sum()),
        "codes_per_s": len(codes) / phases.seconds["seat_and_codes"],
        "seat_and_codes_s": phases.seconds["seat_and_codes"],
        "workers_parallel": os.cpu_count() or 1,
    }
    with tempfile.TemporaryDirectory() as folder:
        with phases("pages"):
            jobs = []
            for (school_code,), group in works.group_by(["school_code"], maintain_order=True):
                jobs.append(
                    SchoolJob(
                        str(school_code),
                        Path(folder) / "one" / str(school_code),
                        tuple(school_pages(group, header, "42")),
                        tuple(school_room_forms(group, header, str(school_code))),
                        fonts,
                        "bench",
                    )
                )
        pages = sum(len(j.pages) for j in jobs)
        forms_pages = sum(sum(-(-max(len(r.seats), 1) // 28) + 2 for r in j.forms) for j in jobs)
        results.update(
            schools=len(jobs),
            pages=pages,
            form_pages=forms_pages,
            page_lists_s=phases.seconds["pages"],
        )
        for label, workers in (("one", 1), ("parallel", results["workers_parallel"])):
            batch = [
                SchoolJob(
                    j.school_code,
                    Path(folder) / label / j.school_code,
                    j.pages,
                    j.forms,
                    j.fonts,
                    j.title,
                )
                for j in jobs
            ]
            started = time.perf_counter()
            printed = print_schools(batch, workers)
            seconds = time.perf_counter() - started
            assert all(p.rebuilt for p in printed)
            results[f"{label}_s"] = seconds
            results[f"{label}_pages_per_s"] = (pages + forms_pages) / seconds
        size = sum(p.stat().st_size for p in (Path(folder) / "one").rglob("*.pdf"))
        results["pdf_mib"] = size / 2**20
        # the cost of looking: render a sample of pages at 300 dpi
        sample = sorted((Path(folder) / "one").rglob("Комплекты_*.pdf"))[0]
        pdf = pdfium.PdfDocument(sample)
        count = min(len(pdf), 60)
        started = time.perf_counter()
        for index in range(count):
            pdf[index].render(scale=300 / 72, grayscale=True).to_numpy()
        results["render_300dpi_pages_per_s"] = count / (time.perf_counter() - started)
        pdf.close()
    results["speedup"] = results["one_s"] / results["parallel_s"]
    return results


def report(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# Print benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {describe()}.",
            "Command: `make bench` (`python -m bench.print_kits`). Region as in region generation "
            "(error rate 1 %, one silent МОУО); every generated participant gets a kit (3 pages), "
            "each school 2 reserve kits, each room additional answer blanks (10 % of its seats, "
            "at least 2; 2 pages each), each room ИС-05 (28 participants a sheet), ИС-08, ИС-09. "
            "Timed: seating + drawing the codes; building the page lists; building and writing "
            "every school's two PDFs (fpdf2) in one process, then on a pool of one process per "
            "core, over the same jobs in the same run; rendering a sample back at 300 dpi "
            "(pypdfium2).",
            "",
            "| participants | schools | kits | reserve | additional | pages (kits) | pages (forms) "
            "| seat + codes, s | one process, s | pages/s | parallel, s | pages/s | speed-up "
            "| PDF, MiB | render 300 dpi, pages/s |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | ---: | ---: |",
            f"| {number(result['participants'])} | {result['schools']} | "
            f"{number(result['kits'])} | {result['reserve']} | {result['additional']} | "
            f"{number(result['pages'])} | {number(result['form_pages'])} | "
            f"{result['seat_and_codes_s']:.2f} | {result['one_s']:.1f} | "
            f"{result['one_pages_per_s']:.0f} | {result['parallel_s']:.1f} | "
            f"{result['parallel_pages_per_s']:.0f} | {result['speedup']:.2f} | "
            f"{result['pdf_mib']:.0f} | {result['render_300dpi_pages_per_s']:.1f} |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args.participants, args.seed)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "print_kits.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "print_kits.md").write_text(report(result), encoding="utf-8")
    print(report(result))


if __name__ == "__main__":
    main()
