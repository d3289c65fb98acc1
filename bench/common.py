"""What the stage benchmarks share: the synthetic region they run on, a fresh regional database
with its structure, a phase timer and the child process that gives each size its own peak RSS.

Nothing here is timed itself: it is the set-up around the phases a benchmark measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasks.adapters.database import Database
    from tasks.domain.synthetic_region import SyntheticRegion

EXAM_DATE = date(2017, 12, 6)
SCHOOL_YEAR = "2017/18"
SESSION_CODE = "2017-12-06"
CAMPAIGN_CODE = "bench-essay-2017"


class Phases:
    """Wall-clock seconds per named phase; a phase entered several times accumulates."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def make_region(participants: int, seed: int, registry_errors: int = 0) -> SyntheticRegion:
    """The region of the benchmarks: 1 % injected errors, one silent МОУО (as region_generation);
    `registry_errors` cross-МОУО cases that only reconciliation finds."""
    from tasks.adapters.region_files import load_regions
    from tasks.domain.synthetic_region import GeneratorOptions, generate_region

    return generate_region(
        GeneratorOptions(
            participants=participants,
            seed=seed,
            region=load_regions()["42"],
            exam_date=EXAM_DATE,
            error_rate=0.01,
            silent_mouos=1,
            registry_errors=registry_errors,
        )
    )


def fresh_database(folder: Path, structure: dict[str, Any]) -> tuple[Database, int]:
    """A new SQLite regional database under `folder` (migrated by `bootstrap`) holding the
    region's structure, one campaign and its session; returns it and the session's id."""
    from sqlalchemy import select

    from config.settings import Settings
    from tasks.adapters.database import bootstrap
    from tasks.adapters.models import Campaign, ExamSession
    from tasks.adapters.registry import insert_missing, upsert_structure
    from tasks.adapters.unit_of_work import UnitOfWork

    settings = Settings(out_dir=folder, database_url=f"sqlite:///{folder / 'rcoi.sqlite'}")
    database = bootstrap(settings)
    region_code = structure["region"]["code"]
    with UnitOfWork(database.session_factory) as uow:
        upsert_structure(uow.session, structure)
        insert_missing(
            uow.session,
            Campaign,
            [
                {
                    "code": CAMPAIGN_CODE,
                    "procedure": "ИС-11",
                    "school_year": SCHOOL_YEAR,
                    "region_code": region_code,
                    "title": "Итоговое сочинение (бенчмарк)",
                }
            ],
            ["code"],
        )
        campaign_id = uow.session.scalars(
            select(Campaign.id).where(Campaign.code == CAMPAIGN_CODE)
        ).one()
        insert_missing(
            uow.session,
            ExamSession,
            [
                {
                    "campaign_id": campaign_id,
                    "code": SESSION_CODE,
                    "ordinal": 1,
                    "exam_date": EXAM_DATE,
                    "label": "основной срок",
                }
            ],
            ["campaign_id", "code"],
        )
        session_id = uow.session.scalars(
            select(ExamSession.id).where(ExamSession.campaign_id == campaign_id)
        ).one()
        uow.commit()
    return database, session_id


def structure_of(region: SyntheticRegion) -> dict[str, Any]:
    """The region's organisation as region.json holds it (what `upsert_structure` takes)."""
    options = region.options
    return {
        "region": {
            "code": options.region.code,
            "name": options.region.name,
            "timezone": options.region.timezone,
        },
        "mouos": region.mouos.to_dicts(),
        "schools": region.schools.to_dicts(),
        "rooms": region.rooms.to_dicts(),
    }


def measure(module: str, participants: int, seed: int) -> dict[str, Any]:
    """Run one size of `module` in a child process (`--one`); add the child's peak RSS."""
    child = subprocess.Popen(
        [sys.executable, "-m", module, "--one", str(participants), "--seed", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{module}: benchmark of {participants} failed with {code}")
    result: dict[str, Any] = json.loads(output)
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def number(value: float) -> str:
    """1 234 567: thousands apart by a space, as the other result tables."""
    return f"{value:,.0f}".replace(",", " ")
