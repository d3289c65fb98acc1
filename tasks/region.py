"""Prefect tasks of the synthetic region: generate it to files, load it into the database."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.region_files import load_regions, read_region_structure, write_region
from tasks.adapters.registry import upsert_structure
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.synthetic_region import GeneratorOptions, generate_region
from tasks.errors import ConfigError

__all__ = ["generate_region_files", "load_region_structure"]


@task(name="generate-region", cache_policy=NONE)
def generate_region_files(
    out: Path,
    participants: int,
    seed: int,
    region_code: str,
    exam_date: date,
    error_rate: float = 0.0,
    silent_mouos: int = 0,
    session_ordinal: int = 1,
    registry_errors: int = 0,
) -> dict[str, Any]:
    """Write a deterministic synthetic region under `out`; returns its counts."""
    regions = load_regions()
    if region_code not in regions:
        raise ConfigError(f"unknown region {region_code!r}; known: {', '.join(sorted(regions))}")
    options = GeneratorOptions(
        participants=participants,
        seed=seed,
        region=regions[region_code],
        exam_date=exam_date,
        error_rate=error_rate,
        silent_mouos=silent_mouos,
        session_ordinal=session_ordinal,
        registry_errors=registry_errors,
    )
    files = write_region(generate_region(options), out)
    counts: dict[str, Any] = files.manifest["counts"]
    get_run_logger().info("generated region %s: %s", region_code, counts)
    return counts


@task(name="load-structure", cache_policy=NONE)
def load_region_structure(settings: Settings, region_dir: Path) -> dict[str, dict[str, int]]:
    """Load the region's organisation (region, МОУО with contacts, schools, rooms) into the
    regional database. Participants arrive through collect and reconcile. Idempotent."""
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            counts = upsert_structure(uow.session, read_region_structure(region_dir))
            uow.commit()
    finally:
        database.dispose()
    summary = {name: {"offered": c.offered, "inserted": c.inserted} for name, c in counts.items()}
    get_run_logger().info("loaded region structure into %s: %s", database.url, summary)
    return summary
