"""Benchmark: reconciliation (выверка) of a national-size session.

Set-up, not timed: generate the region (1 % injected errors, one silent МОУО, 30 cross-МОУО
cases only reconciliation finds: one person sent by two МОУО, a СНИЛС or a passport typed from
another person's record); check every МОУО's rows with the submission rules (`prepare`,
`failures_in_frame`: the verdicts of the GX suite without its per-file cost) and stage them
with `record_submission` into a fresh SQLite regional database holding the region's structure;
a history of earlier registrations: every graduate of past years wrote last school year, 80 %
of them passed.

Timed, each phase on its own:

  load rows      `accepted_rows` + `school_table` from the database (the task's input)
  reconcile      `tasks/domain/reconcile.py` `reconcile()` (consolidation + discrepancies)
  contract       the registry contract as `tasks/reconcile.py::_check_registry` runs it: the
                 frame for GX (empty text as null) and `run_contract` (Great Expectations);
                 GX's import and context are paid once per process and shown apart
  write          `settle_document_owners` + `store_participants` + `store_discrepancies`,
                 committed, as `reconcile_session` chains them
  write again    the same write a second time: what idempotency costs (inserts nothing)
  history        `history_of` once the session's registrations are in the database (a re-run)

The aim (issue): reconcile + contract under 30 s at 700 000 participants on a 2-core machine.
Each size runs in its own process so that its peak memory (max RSS) is its own.
Usage: python -m bench.reconcile [--sizes 100000 700000]
Results: bench/results/reconcile.md and .json (timings are written, never asserted).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import (
    EXAM_DATE,
    SCHOOL_YEAR,
    SESSION_CODE,
    Phases,
    fresh_database,
    make_region,
    measure,
    number,
    structure_of,
)
from bench.machine import describe

if TYPE_CHECKING:
    import polars as pl

    from tasks.adapters.database import Database
    from tasks.domain.synthetic_region import SyntheticRegion

RESULTS = Path(__file__).resolve().parent / "results"
AIM_S = 30.0
REGISTRY_ERRORS = 30  # cross-МОУО cases (duplicate, conflicting СНИЛС, shared document)
PAST_SCHOOL_YEAR = "2016/17"
PAST_SESSION = "2016-12-07"


def _stage(region: SyntheticRegion, database: Database, session_id: int) -> dict[str, int]:
    """Every МОУО's rows checked and staged as collect leaves them (set-up, not timed)."""
    import polars as pl

    from tasks.adapters.contracts import load_contract
    from tasks.adapters.models import Submission
    from tasks.adapters.submissions import mouo_directory, record_submission
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.domain.collect import staged_rows
    from tasks.domain.participants import SUBMISSION_COLUMNS
    from tasks.domain.submission_rules import (
        SubmissionContext,
        failures_in_frame,
        prepare,
        split_rows,
    )

    contract = load_contract("submission")
    counts = {"rows_staged": 0, "rows_accepted": 0}
    with UnitOfWork(database.session_factory) as uow:
        mouos = mouo_directory(uow.session)
        for (code,), rows in sorted(region.submissions.group_by("mouo_code"), key=lambda g: g[0]):
            mouo = mouos[str(code)]
            frame = rows.select(*SUBMISSION_COLUMNS, "row_number").with_columns(
                pl.lit("").alias("parse_error")
            )
            context = SubmissionContext(mouo.code, EXAM_DATE, mouo.schools or None)
            prepared = prepare(frame, contract, context)
            checked, problems = split_rows(
                prepared, failures_in_frame(prepared, contract), contract
            )
            accepted = checked.filter(pl.col("status") == "accepted").height
            record_submission(
                uow.session,
                Submission(
                    session_id=session_id,
                    mouo_id=mouo.id,
                    file_name=f"{code}.csv",
                    content_hash=f"bench-{code}",
                    received_at=datetime.now(UTC),
                    status="accepted",
                    rows_read=checked.height,
                    rows_accepted=accepted,
                    rows_rejected=checked.height - accepted,
                ),
                staged_rows(checked, problems),
            )
            counts["rows_staged"] += checked.height
            counts["rows_accepted"] += accepted
        uow.commit()
    return counts


def _history(region: SyntheticRegion, seed: int) -> pl.DataFrame:
    """Earlier registrations: every past-year graduate wrote last school year; 80 % passed."""
    import numpy as np
    import polars as pl

    graduates = region.participants.filter(pl.col("category") == "graduate")["snils"]
    passed = np.random.default_rng(seed).random(graduates.len()) < 0.8
    return pl.DataFrame(
        {
            "snils": graduates,
            "school_year": PAST_SCHOOL_YEAR,
            "session_code": PAST_SESSION,
            "passed": passed,
        },
        schema={
            "snils": pl.Utf8,
            "school_year": pl.Utf8,
            "session_code": pl.Utf8,
            "passed": pl.Boolean,
        },
    )


def run_one(participants: int, seed: int) -> dict[str, Any]:
    import polars as pl

    from tasks.adapters.reconciliation import (
        accepted_rows,
        history_of,
        school_table,
        settle_document_owners,
        store_discrepancies,
        store_participants,
    )
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.domain.contracts import value_column
    from tasks.domain.reconcile import ReconcileInput, reconcile, registry_conflicts

    region = make_region(participants, seed, REGISTRY_ERRORS)
    phases = Phases()
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as folder:
        database, session_id = fresh_database(Path(folder), structure_of(region))
        staged = _stage(region, database, session_id)
        history = _history(region, seed)

        with phases("load_rows"), UnitOfWork(database.session_factory) as uow:
            rows = accepted_rows(uow.session, session_id)
            schools = school_table(uow.session)
        data = ReconcileInput(
            rows=rows,
            history=history,
            schools=schools,
            mouos=tuple(sorted(region.mouos["mouo_code"].to_list())),
            school_year=SCHOOL_YEAR,
            session_code=SESSION_CODE,
        )

        with phases("reconcile"):
            result = reconcile(data)

        started = time.perf_counter()
        import great_expectations  # noqa: F401 - the import itself is what is timed

        gx_import = time.perf_counter() - started
        from tasks.adapters.contracts import compile_suite, load_contract, run_contract

        contract = load_contract("registry")
        started = time.perf_counter()
        compile_suite(contract)  # builds the ephemeral GX context once per process
        gx_context = time.perf_counter() - started
        participants_frame = result.participants
        with phases("contract_frame"):  # as tasks/reconcile.py::_check_registry builds it
            frame = participants_frame.select(
                (pl.col(c).replace("", None) if dtype == pl.Utf8 else pl.col(c)).alias(
                    value_column(c)
                )
                for c, dtype in participants_frame.schema.items()
            )
        with phases("contract_validate"):
            run = run_contract(frame, contract)
        del frame

        loads = []
        for phase in ("write", "write_again"):
            now = datetime.now(UTC)
            # as tasks/reconcile.py::reconcile_session writes the registry
            with phases(phase), UnitOfWork(database.session_factory) as uow:
                corrected, taken = settle_document_owners(
                    uow.session, result.participants, "reconcile", now
                )
                loaded = store_participants(
                    uow.session,
                    session_id,
                    result.participants.join(taken.select("snils"), on="snils", how="anti"),
                )
                found = pl.concat([result.discrepancies, registry_conflicts(taken)])
                changes = store_discrepancies(uow.session, session_id, found, now)
                uow.commit()
            loads.append(
                {
                    **{
                        name: {"offered": c.offered, "inserted": c.inserted}
                        for name, c in loaded.items()
                    },
                    "snils_corrected": corrected,
                    "documents_taken": taken.height,
                    "discrepancies": changes,
                }
            )

        with phases("history"), UnitOfWork(database.session_factory) as uow:
            rerun_history = history_of(uow.session, rows["snils"].to_list())
        database_bytes = (Path(folder) / "rcoi.sqlite").stat().st_size
        database.dispose()

    seconds = phases.seconds
    contract_s = seconds["contract_frame"] + seconds["contract_validate"]
    return {
        "participants": participants,
        **staged,
        "rows": rows.height,
        "registry_errors": dict(sorted(region.registry_errors.group_by("kind").len().iter_rows())),
        "history_rows": history.height,
        "schools": schools.height,
        "registry": result.participants.height,
        "discrepancies": result.discrepancies.height,
        "discrepancies_by_kind": dict(
            sorted(result.discrepancies.group_by("kind").len().iter_rows())
        ),
        "contract_success": run.success,
        "contract_failures": {rule: n for rule, n in run.rules.items() if n},
        "first_write": loads[0],
        "second_write": loads[1],
        "rerun_history_rows": rerun_history.height,
        "gx_import_s": gx_import,
        "gx_context_s": gx_context,
        **{f"{name}_s": value for name, value in seconds.items()},
        "contract_s": contract_s,
        "domain_contract_s": seconds["reconcile"] + contract_s,
        "total_s": sum(seconds.values()),
        "rows_per_s": rows.height / (seconds["reconcile"] + contract_s),
        "database_mib": database_bytes / 2**20,
    }


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Reconcile benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {describe()}.",
        "Command: `make bench` (`python -m bench.reconcile`). Region as in region generation "
        f"(error rate 1 %, one silent МОУО) plus {REGISTRY_ERRORS} cross-МОУО cases only "
        "reconciliation finds; its rows checked by the submission rules and staged into a fresh "
        "SQLite database before timing; history: one past-year result for every graduate of "
        "past years (80 % passed). Phases: load rows (`accepted_rows`, "
        "`school_table`), reconcile (domain `reconcile()`), contract (registry contract: frame "
        "+ `run_contract` by Great Expectations, whose import and context are paid once per "
        "process and shown apart), write (`settle_document_owners`, `store_participants`, "
        "`store_discrepancies`, commit), write again (idempotent re-run: inserts nothing), "
        "history (`history_of` with the session's registrations in the database). Plain "
        "functions, no Prefect.",
        f"The aim is reconcile + contract under {AIM_S:.0f} s at 700 000 participants.",
        "",
        "| participants | rows | registry | discrepancies | load rows, s | reconcile, s | "
        "contract, s | reconcile + contract, s | rows/s | write, s | write again, s | "
        "history, s | total, s | GX import + context, s | peak RSS, MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {number(r['participants'])} | {number(r['rows'])} | {number(r['registry'])} | "
            f"{number(r['discrepancies'])} | {r['load_rows_s']:.2f} | {r['reconcile_s']:.2f} | "
            f"{r['contract_s']:.2f} | {r['domain_contract_s']:.2f} | {number(r['rows_per_s'])} | "
            f"{r['write_s']:.2f} | {r['write_again_s']:.2f} | {r['history_s']:.2f} | "
            f"{r['total_s']:.2f} | {r['gx_import_s']:.2f} + {r['gx_context_s']:.2f} | "
            f"{r['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        "Correctness alongside the time (first write → second write: inserted):",
        "",
        "| participants | cross-МОУО cases injected | registry contract | participants inserted | "
        "registrations inserted | discrepancies opened | discrepancies by kind |",
        "| ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        first, second = r["first_write"], r["second_write"]
        kinds = ", ".join(f"{k} {number(n)}" for k, n in r["discrepancies_by_kind"].items())
        injected = ", ".join(f"{k} {number(n)}" for k, n in r["registry_errors"].items())
        verdict = "holds" if r["contract_success"] else f"violated {r['contract_failures']}"
        lines.append(
            f"| {number(r['participants'])} | {injected} | {verdict} | "
            f"{number(first['participants']['inserted'])} → "
            f"{number(second['participants']['inserted'])} | "
            f"{number(first['registrations']['inserted'])} → "
            f"{number(second['registrations']['inserted'])} | "
            f"{number(first['discrepancies']['opened'])} → "
            f"{number(second['discrepancies']['opened'])} | {kinds} |"
        )
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
    results = [measure("bench.reconcile", size, args.seed) for size in args.sizes]
    RESULTS.mkdir(exist_ok=True)
    text = report(results)
    (RESULTS / "reconcile.md").write_text(text, encoding="utf-8")
    (RESULTS / "reconcile.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
