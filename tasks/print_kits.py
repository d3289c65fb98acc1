"""Prefect tasks of the print stage: gate, seats, codes, school PDFs, manifest, kits contract."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from config.settings import Settings
from tasks.adapters.contracts import load_contract, run_contract
from tasks.adapters.database import bootstrap
from tasks.adapters.print_files import (
    SchoolJob,
    default_fonts,
    print_schools,
    write_layouts,
    write_manifest,
)
from tasks.adapters.print_kits import (
    issue_codes,
    issued_works,
    mark_printed,
    printable_registrations,
    region_of,
    school_names,
    school_rooms,
    store_seats,
)
from tasks.adapters.reconciliation import open_critical_count
from tasks.adapters.submissions import mark_stage_completed, plan_stage_id, session_info
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.artifacts import artifact_key, markdown_artifact, markdown_table, table_artifact
from tasks.domain.contracts import value_column
from tasks.domain.print_kits import (
    PrintOptions,
    allocate_codes,
    kits_checks,
    page_entries,
    pages_per_code,
    school_pages,
    school_room_forms,
    seat_participants,
    wanted_codes,
    works_frame,
)
from tasks.errors import ContractError, PrintBlocked
from tasks.progress import progress_counter
from tasks.retries import transient_failure

__all__ = ["check_print_gate", "print_session"]


def _manifest(
    session_code: str,
    region_code: str,
    header: str,
    works: pl.DataFrame,
    files: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    kits = works.filter(pl.col("kind") != "additional").sort("school_code", "room", "work_code")
    additional = works.filter(pl.col("kind") == "additional").sort(
        "school_code", "room", "sequence"
    )
    counts = Counter(
        (s, r or "", k) for s, r, k in works.select("school_code", "room", "kind").iter_rows()
    )
    return {
        "schema_version": 1,
        "session": session_code,
        "region": region_code,
        "header": header,
        "files": [files[code] for code in sorted(files)],
        "works": [
            {
                "work_code": w["work_code"],
                "school_code": w["school_code"],
                "room": w["room"],
                "kind": w["kind"],
                "form": w["form"] or "essay",
                "oral": bool(w["oral"]),
                "ovz": bool(w["ovz"]),
                "pages": pages_per_code(w["kind"]),
            }
            for w in kits.iter_rows(named=True)
        ],
        "additional": [
            {
                "code": w["work_code"],
                "kind": "additional",
                "school_code": w["school_code"],
                "room": w["room"],
                "pages": pages_per_code("additional"),
            }
            for w in additional.iter_rows(named=True)
        ],
        "counts": {
            "schools": len(files),
            "kits": int((works["kind"] == "kit").sum()),
            "reserve": int((works["kind"] == "reserve").sum()),
            "additional": int((works["kind"] == "additional").sum()),
            "pages": sum(f["page_count"] for f in files.values()),
            "by_school_room": [
                {"school_code": s, "room": r, "kind": k, "codes": n}
                for (s, r, k), n in sorted(counts.items())
            ],
        },
    }


def _check_kits(
    registrations: pl.DataFrame, works: pl.DataFrame, manifest: dict[str, Any], session_prefix: str
) -> None:
    """The kits contract (GX) over what was issued and what the manifest lists."""
    kits = registrations.select("registration_id").join(
        works.filter(pl.col("kind") == "kit"), on="registration_id", how="full", coalesce=True
    )
    rows = pl.concat(
        [
            kits.select("registration_id", "work_code", "kind", "school_code", "room"),
            works.filter(pl.col("kind") != "kit").select(
                "registration_id", "work_code", "kind", "school_code", "room"
            ),
        ]
    ).with_columns(pl.col("room").fill_null(""), pl.col("kind").fill_null("kit"))
    listed = {
        (e["school_code"], e["room"], e["kind"]): e["codes"]
        for e in manifest["counts"]["by_school_room"]
    }
    checked = kits_checks(rows, listed, session_prefix)
    contract = load_contract("kits")
    frame = checked.select(
        pl.col("work_code").alias(value_column("work_code")),
        pl.col("registration_id").alias(value_column("registration_id")),
        pl.col("kind").alias(value_column("kind")),
        "ok__work_code_valid",
        "ok__manifest_counts",
    )
    run = run_contract(frame, contract)
    if not run.success:
        broken = {rule: count for rule, count in run.rules.items() if count}
        raise ContractError(f"kits contract violated: {broken}")


def _blocked(open_critical: int) -> str:
    return (
        f"печать запрещена: открытых критических расхождений выверки — {open_critical}; "
        "устраните или примите их (rcoi discrepancies)"
    )


def check_print_gate(settings: Settings, campaign_code: str, session_code: str) -> None:
    """The print gate, checked by the flow before any task runs (PrintBlocked: the run ends
    waiting, no task fails); `print_session` checks it again inside its transaction."""
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign_code, session_code)
            blocking = open_critical_count(uow.session, info.id)
    finally:
        database.dispose()
    if blocking:
        raise PrintBlocked(_blocked(blocking))


@task(
    name="print-session",
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=transient_failure,
)
def print_session(
    settings: Settings,
    campaign_code: str,
    session_code: str,
    title: str,
    options: PrintOptions,
    workers: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Refuse while reconciliation has open critical discrepancies; otherwise seat the
    unseated, issue the missing codes, write every school's kits and forms PDFs (only those that
    changed), the layouts and the manifest, and check the kits contract."""
    logger = get_run_logger()
    database = bootstrap(settings)
    now = datetime.now(UTC)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign_code, session_code)
            blocking = open_critical_count(uow.session, info.id)
            if blocking:
                raise PrintBlocked(_blocked(blocking))
            region_code, region_name, year, ordinal = region_of(uow.session, info.id)
            rooms = school_rooms(uow.session)
            registrations = printable_registrations(uow.session, info.id)
            seats = seat_participants(registrations, rooms)
            seated = store_seats(uow.session, seats)
            registrations = (
                registrations.join(
                    seats.select("registration_id", pl.col("room_id").alias("new_room")),
                    on="registration_id",
                    how="left",
                )
                .with_columns(pl.coalesce("room_id", "new_room").alias("room_id"))
                .drop("new_room")
            )
            existing = issued_works(uow.session, info.id)
            requests = wanted_codes(registrations, rooms, existing, options)
            codes = allocate_codes(
                requests,
                existing["work_code"].to_list(),
                region_code,
                year,
                ordinal,
                seed if seed is not None else secrets.randbits(64),
            )
            issued = issue_codes(uow.session, info.id, requests, codes)
            uow.commit()
        with UnitOfWork(database.session_factory) as uow:
            issued_now = issued_works(uow.session, info.id)
            names = school_names(uow.session)
        # A kit whose registration was withdrawn keeps its code (never reissued) but is not
        # printed again; it comes back if the registration is restored.
        withdrawn = issued_now.filter(
            (pl.col("kind") == "kit")
            & ~pl.col("registration_id").is_in(registrations["registration_id"].implode())
        )
        works = works_frame(
            issued_now.join(withdrawn.select("work_id"), on="work_id", how="anti"),
            registrations,
            rooms,
            names,
        )
        header = f"Итоговое сочинение (изложение) · {info.exam_date:%d.%m.%Y} · {region_name}"
        folder = settings.out_dir / "print" / session_code
        fonts = default_fonts()
        jobs = []
        for (school_code,), school_works in works.group_by(["school_code"], maintain_order=True):
            name = str(school_works["school_name"][0] or "")
            jobs.append(
                SchoolJob(
                    str(school_code),
                    folder / str(school_code),
                    tuple(school_pages(school_works, header, region_code)),
                    tuple(school_room_forms(school_works, header, f"{school_code} · {name}")),
                    fonts,
                    title,
                )
            )
        advance = progress_counter(
            artifact_key("print-progress", campaign_code, session_code),
            "Печать: готово ОО, %",
            len(jobs),
        )
        printed = print_schools(jobs, workers or os.cpu_count() or 1, advance)
        rooms_of = dict(works.select("work_code", "room").iter_rows())
        files = {
            p.school_code: {
                "school_code": p.school_code,
                "path": str(p.kits_path.relative_to(folder)),
                "forms_path": str(p.forms_path.relative_to(folder)),
                "sha256": p.kits_sha256,
                "page_count": p.pages,
                "pages": page_entries(job.pages, rooms_of),
            }
            for p, job in zip(printed, sorted(jobs, key=lambda j: j.school_code), strict=True)
        }
        manifest = _manifest(session_code, region_code, header, works, files)
        write_layouts(folder / "layouts")
        write_manifest(folder, manifest)
        _check_kits(registrations, works, manifest, f"{region_code}{year % 100:02d}{ordinal}")
        with UnitOfWork(database.session_factory) as uow:
            mark_printed(uow.session, works["work_id"].to_list(), now)
            mark_stage_completed(
                uow.session,
                plan_stage_id(uow.session, info.id, "print"),
                "rcoi",
                now,
                {"kits": manifest["counts"]["kits"], "pages": manifest["counts"]["pages"]},
                str(flow_run.get_id() or "") or None,
            )
            uow.commit()
    finally:
        database.dispose()
    rebuilt = sum(p.rebuilt for p in printed)
    summary = {
        "schools": len(printed),
        "kits": manifest["counts"]["kits"],
        "reserve": manifest["counts"]["reserve"],
        "additional": manifest["counts"]["additional"],
        "pages": manifest["counts"]["pages"],
        "codes_issued": issued,
        "kits_withdrawn": withdrawn.height,
        "seated": seated,
        "over_capacity": int(seats["over_capacity"].sum()) if seats.height else 0,
        "schools_rebuilt": rebuilt,
        "print_gate": "open",
        "manifest": str(folder / "manifest.json"),
    }
    table_artifact(
        "print-schools",
        campaign_code,
        session_code,
        [
            {
                "ОО": p.school_code,
                "страниц": p.pages,
                "пересобран": "да" if p.rebuilt else "нет",
                "секунд": round(p.seconds, 2),
            }
            for p in printed
        ],
        "Печать комплектов по ОО (без персональных данных)",
    )
    markdown_artifact(
        "print-summary",
        campaign_code,
        session_code,
        f"## Печать, срок {session_code}\n\n"
        + markdown_table(
            ("показатель", "значение"),
            [
                ("ОО", summary["schools"]),
                ("комплектов", summary["kits"]),
                ("резервных комплектов", summary["reserve"]),
                ("дополнительных бланков записи", summary["additional"]),
                ("страниц", summary["pages"]),
                ("ОО пересобрано", rebuilt),
                ("новых кодов работ", issued),
                ("рассажено участников", seated),
                ("сверх вместимости аудиторий", summary["over_capacity"]),
            ],
        ),
        "Печать: итог",
    )
    logger.info(
        "printed %s: %d schools (%d rebuilt), %d kits, %d pages, %d new codes",
        session_code,
        len(printed),
        rebuilt,
        summary["kits"],
        summary["pages"],
        issued,
    )
    return summary
