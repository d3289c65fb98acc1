"""Benchmark: the collect stage over every МОУО file of a national-size session.

Set-up, not timed: generate the region (1 % injected errors, one silent МОУО), write its files
into a temporary folder, create a fresh SQLite regional database with the region's structure.
Timed, per phase and summed over all МОУО files, with the plain functions `tasks/collect.py`
chains (no Prefect task, so no Prefect overhead):

  read      file bytes + SHA-256 + `read_submission` (CSV UTF-8, CSV CP1251, XLSX in rotation)
  prepare   `foreign_inbox_owner` + `prepare` (normalised values, computed rule columns)
  validate  `run_contract`: the submission suite run by Great Expectations
  split     `split_rows` + `staged_rows` (verdict per row, problems, staged rows)
  write     `record_submission` in its own unit of work, committed (as `collect_file`)

Importing Great Expectations and building its context are timed apart (once per process).
Each size runs in its own process so that its peak memory (max RSS) is its own.
Usage: python -m bench.collect [--sizes 100000 700000]
Results: bench/results/collect.md and .json (timings are written, never asserted).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import EXAM_DATE, Phases, fresh_database, make_region, measure, number
from bench.machine import describe

RESULTS = Path(__file__).resolve().parent / "results"
PHASES = ("read", "prepare", "validate", "split", "write")


def run_one(participants: int, seed: int) -> dict[str, Any]:
    import polars as pl
    from sqlalchemy import func, select

    from tasks.adapters.models import Submission, SubmissionRow
    from tasks.adapters.region_files import read_region_structure, write_region
    from tasks.adapters.submission_files import read_submission
    from tasks.adapters.submissions import mouo_directory, record_submission
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.domain.collect import staged_rows
    from tasks.domain.submission_rules import (
        SubmissionContext,
        foreign_inbox_owner,
        prepare,
        split_rows,
    )

    region = make_region(participants, seed)
    phases = Phases()
    read_by_format: dict[str, float] = {}
    rows_by_format: dict[str, int] = {}
    totals = {"files": 0, "rows_read": 0, "rows_accepted": 0, "rows_rejected": 0, "rows_warned": 0}
    with tempfile.TemporaryDirectory(prefix="bench-collect-") as folder:
        root = Path(folder) / "region"
        files = write_region(region, root)
        formats: dict[str, str] = files.manifest["submission_formats"]
        database, session_id = fresh_database(Path(folder), read_region_structure(root))
        with UnitOfWork(database.session_factory) as uow:
            mouos = mouo_directory(uow.session)

        started = time.perf_counter()
        import great_expectations  # noqa: F401 - the import itself is what is timed

        gx_import = time.perf_counter() - started
        from tasks.adapters.contracts import compile_suite, load_contract, run_contract

        contract = load_contract("submission")
        started = time.perf_counter()
        compile_suite(contract)  # builds the ephemeral GX context once per process
        gx_context = time.perf_counter() - started

        for mouo_code in sorted(formats):
            path = next((root / "submissions" / mouo_code).iterdir())
            mouo = mouos[mouo_code]
            fmt = formats[mouo_code]
            with phases("read"):
                before = time.perf_counter()
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                table = read_submission(path)
                read_by_format[fmt] = read_by_format.get(fmt, 0.0) + time.perf_counter() - before
            rows_by_format[fmt] = rows_by_format.get(fmt, 0) + table.frame.height
            with phases("prepare"):
                owner = foreign_inbox_owner(table.frame, mouo.code)
                assert owner is None, f"{mouo_code}: file taken for {owner}'s"
                context = SubmissionContext(mouo.code, EXAM_DATE, mouo.schools or None)
                prepared = prepare(table.frame, contract, context)
            with phases("validate"):
                run = run_contract(prepared, contract)
            with phases("split"):
                rows, problems = split_rows(prepared, run.failures, contract)
                rejected = rows.filter(pl.col("status") == "rejected").height
                warned = problems.filter(pl.col("severity") == "warning")["row_number"].n_unique()
                staged = staged_rows(rows, problems)
            with phases("write"), UnitOfWork(database.session_factory) as uow:
                record_submission(
                    uow.session,
                    Submission(
                        session_id=session_id,
                        mouo_id=mouo.id,
                        file_name=path.name,
                        stored_path=str(path),
                        content_hash=digest,
                        received_at=datetime.now(UTC),
                        status="accepted",
                        rows_read=rows.height,
                        rows_accepted=rows.height - rejected,
                        rows_rejected=rejected,
                        rows_warned=warned,
                    ),
                    staged,
                )
                uow.commit()
            totals["files"] += 1
            totals["rows_read"] += rows.height
            totals["rows_accepted"] += rows.height - rejected
            totals["rows_rejected"] += rejected
            totals["rows_warned"] += warned

        with UnitOfWork(database.session_factory) as uow:
            stored = uow.session.scalar(select(func.count()).select_from(SubmissionRow))
        database_bytes = (Path(folder) / "rcoi.sqlite").stat().st_size
        database.dispose()
    total = sum(phases.seconds.values())
    return {
        "participants": participants,
        "mouos": region.mouos.height,
        "submission_rows": region.submissions.height,
        "injected_errors": region.errors.height,
        **totals,
        "rows_stored": int(stored or 0),
        "formats": {fmt: list(formats.values()).count(fmt) for fmt in sorted(rows_by_format)},
        "rows_by_format": rows_by_format,
        "read_by_format_s": read_by_format,
        "gx_import_s": gx_import,
        "gx_context_s": gx_context,
        **{f"{name}_s": phases.seconds.get(name, 0.0) for name in PHASES},
        "contract_s": sum(phases.seconds.get(n, 0.0) for n in ("prepare", "validate", "split")),
        "total_s": total,
        "rows_per_s": totals["rows_read"] / total if total else 0.0,
        "database_mib": database_bytes / 2**20,
    }


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Collect benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {describe()}.",
        "Command: `make bench` (`python -m bench.collect`). Region as in region generation (error "
        "rate 1 %, one silent МОУО), its files written to a temporary folder and a fresh SQLite "
        "database created before timing. Phases are summed over every МОУО file: read (bytes, "
        "SHA-256, `read_submission`), prepare (`foreign_inbox_owner`, `prepare`), validate "
        "(`run_contract`, Great Expectations), split (`split_rows`, `staged_rows`), write "
        "(`record_submission`, committed per file). Plain functions, no Prefect. Great "
        "Expectations' import and context are paid once per process and shown apart.",
        "",
        "| participants | МОУО files | rows read | accepted | rejected | injected errors | "
        "read, s | prepare, s | validate (GX), s | split, s | write, s | total, s | rows/s | "
        "GX import + context, s | peak RSS, MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {number(r['participants'])} | {r['files']} | {number(r['rows_read'])} | "
            f"{number(r['rows_accepted'])} | {number(r['rows_rejected'])} | "
            f"{number(r['injected_errors'])} | {r['read_s']:.2f} | {r['prepare_s']:.2f} | "
            f"{r['validate_s']:.2f} | {r['split_s']:.2f} | {r['write_s']:.2f} | "
            f"{r['total_s']:.2f} | {number(r['rows_per_s'])} | "
            f"{r['gx_import_s']:.2f} + {r['gx_context_s']:.2f} | {r['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        "Reading by file format (seconds, rows):",
        "",
        "| participants | "
        + " | ".join(f"{fmt}, s | {fmt}, rows" for fmt in ("csv-utf8", "csv-cp1251", "xlsx"))
        + " |",
        "| ---: |" + " ---: | ---: |" * 3,
    ]
    for r in results:
        cells = [
            f"{r['read_by_format_s'].get(fmt, 0.0):.2f} | {number(r['rows_by_format'].get(fmt, 0))}"
            for fmt in ("csv-utf8", "csv-cp1251", "xlsx")
        ]
        lines.append(f"| {number(r['participants'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 700_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.seed)))
        return
    results = [measure("bench.collect", size, args.seed) for size in args.sizes]
    RESULTS.mkdir(exist_ok=True)
    text = report(results)
    (RESULTS / "collect.md").write_text(text, encoding="utf-8")
    (RESULTS / "collect.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
