"""Prefect tasks of the exam-day simulator: plan the day, scan the schools' batches, write the
ground truth and the room records (docs/exam-day-simulator.md)."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from config import TOPICS_DIR
from tasks.adapters.exam_day_files import (
    SchoolScanned,
    read_print_dir,
    replace_folder,
    scan_schools,
    school_jobs,
    session_topics,
    write_commissions,
    write_ground_truth,
    write_protocols,
    write_room_records,
)
from tasks.artifacts import (
    artifact_key,
    markdown_artifact,
    markdown_table,
    table_artifact,
    value_text,
)
from tasks.domain.exam_day import (
    ExamDayOptions,
    PageInk,
    PrintManifest,
    WorkOutcome,
    commissions,
    decide_works,
    exam_day_options,
    expert_protocols,
    ground_truth,
    ink_pages,
    room_records,
    scanned_pages,
    writers,
)
from tasks.domain.exam_day_scans import ScanOptions, ScanPlan, plan_scans
from tasks.progress import progress_counter

__all__ = ["ExamDayPlan", "ScanRun", "plan_exam_day", "scan_batches", "write_exam_day"]


@dataclass(frozen=True, slots=True)
class ExamDayPlan:
    """Everything decided before a single pixel is drawn."""

    print_dir: Path
    manifest: PrintManifest
    manifest_sha256: str
    options: ExamDayOptions
    preset: str
    outcomes: tuple[WorkOutcome, ...]
    inks: dict[str, PageInk]
    scans: ScanPlan

    @property
    def noise_seed(self) -> int:
        return int(hashlib.sha256(f"{self.options.seed}|noise".encode()).hexdigest()[:8], 16)


@dataclass(frozen=True, slots=True)
class ScanRun:
    schools: list[SchoolScanned]
    seconds: float


@task(name="plan-exam-day", cache_policy=NONE)
def plan_exam_day(
    print_dir: Path,
    seed: int,
    topics: list[str] | None,
    exam: dict[str, Any] | None,
    scan: ScanOptions,
    preset: str,
) -> ExamDayPlan:
    """Read the print folder and decide the day: every work's fate and handwriting, every
    school's scanner, every page's effects and files. Topics: the given numbers, else the
    session's topics file (config/topics/<session>.yaml), else one per 2017/18 direction."""
    logger = get_run_logger()
    manifest = read_print_dir(print_dir)
    chosen = topics or session_topics(TOPICS_DIR, manifest.session)
    options = exam_day_options(seed, chosen, exam)
    outcomes = tuple(decide_works(manifest, options))
    inks = ink_pages(outcomes, options)
    scans = plan_scans(scanned_pages(manifest, outcomes, options), scan, seed)
    digest = hashlib.sha256((print_dir / "manifest.json").read_bytes()).hexdigest()
    logger.info(
        "exam day %s planned: %d works, %d pages written on, %d images in %d files, "
        "%d pages missing",
        manifest.session,
        len(outcomes),
        len(inks),
        sum(len(f.frames) for files in scans.files.values() for f in files),
        sum(len(files) for files in scans.files.values()),
        len(scans.missing),
    )
    return ExamDayPlan(print_dir, manifest, digest, options, preset, outcomes, inks, scans)


def _scope(plan: ExamDayPlan, plan_id: str | None) -> tuple[str, str]:
    """(plan, session) of the artifacts' keys: without a plan id, the region's code."""
    return plan_id or f"region-{plan.manifest.region}", plan.manifest.session


@task(name="scan-batches", cache_policy=NONE)
def scan_batches(
    plan: ExamDayPlan, work_dir: Path, workers: int | None, plan_id: str | None = None
) -> ScanRun:
    """Render, write on and scan every school's batch into `work_dir/scans/<school>/`, on a
    process pool; a progress artifact follows the schools."""
    logger = get_run_logger()
    if work_dir.exists():
        shutil.rmtree(work_dir)  # a killed run's leftovers
    jobs = school_jobs(
        plan.manifest,
        plan.print_dir,
        work_dir / "scans",
        plan.inks,
        plan.scans,
        writers(plan.options.writers, plan.options.seed),
        plan.noise_seed,
    )
    (work_dir / "scans").mkdir(parents=True, exist_ok=True)
    advance = progress_counter(
        artifact_key("exam-day-scans", *_scope(plan, plan_id)),
        "Сканирование: готово ОО, %",
        len(jobs),
    )
    started = time.perf_counter()
    done = scan_schools(jobs, workers or os.cpu_count() or 1, advance)
    seconds = time.perf_counter() - started
    images = sum(d.images for d in done)
    logger.info(
        "scanned %d images of %d schools in %.1f s (%.1f images/s)",
        images,
        len(done),
        seconds,
        images / seconds if seconds else 0.0,
    )
    return ScanRun(done, seconds)


@task(name="write-exam-day", cache_policy=NONE)
def write_exam_day(
    plan: ExamDayPlan, run: ScanRun, work_dir: Path, folder: Path, plan_id: str | None = None
) -> dict[str, Any]:
    """Write the ground truth and the room records beside the scans, swap the run in for the
    previous one, and report counts (codes and counts only) as artifacts."""
    logger = get_run_logger()
    meta = {
        "seed": plan.options.seed,
        "preset": plan.preset,
        "print_manifest_sha256": plan.manifest_sha256,
    }
    truth = ground_truth(plan.manifest, plan.outcomes, plan.inks, plan.scans, plan.options, meta)
    write_ground_truth(work_dir, truth)
    write_room_records(work_dir, room_records(plan.outcomes))
    write_protocols(work_dir, expert_protocols(plan.outcomes))
    write_commissions(work_dir, commissions(plan.outcomes, plan.options.seed))
    replace_folder(work_dir, folder)
    counts = truth["counts"]
    images = counts["images"]
    scanned, seconds = run.schools, run.seconds
    summary: dict[str, Any] = {
        "session": plan.manifest.session,
        "folder": str(folder),
        "ground_truth": str(folder / "ground_truth.json"),
        "schools": len(scanned),
        "seconds": round(seconds, 1),
        "images_per_second": round(images / seconds, 1) if seconds else None,
        "bytes": sum(s.bytes for s in scanned),
        **counts,
    }
    per_school = Counter(p.school_code for p in plan.manifest.pages)
    missing = Counter(m["school_code"] for m in truth["missing"])
    table_artifact(
        "exam-day-schools",
        *_scope(plan, plan_id),
        [
            {
                "ОО": s.school_code,
                "страниц выдано": per_school[s.school_code],
                "не доставлено": missing[s.school_code],
                "изображений": s.images,
                "файлов": s.files,
                "формат": plan.scans.scanners[s.school_code].file_format,
                "dpi": plan.scans.scanners[s.school_code].dpi,
                "секунд": round(s.seconds, 1),
            }
            for s in scanned
        ],
        "День экзамена: сканы по ОО (без персональных данных)",
    )
    markdown_artifact(
        "exam-day-summary",
        *_scope(plan, plan_id),
        _markdown(summary),
        "День экзамена (моделирование): итог",
    )
    logger.info(
        "exam day %s written: %d present, %d absent, %d images, %d missing pages → %s",
        plan.manifest.session,
        counts["present"],
        counts["absent"],
        images,
        counts["pages_missing"],
        folder,
    )
    return summary


def _markdown(s: dict[str, Any]) -> str:
    formats = ", ".join(f"{name.upper()}: {n}" for name, n in sorted(s["by_format"].items()))
    speed = f"{value_text(s['images_per_second'])} изобр./с за {value_text(s['seconds'])} с"
    rows = [
        ("комплектов", s["kits"]),
        ("явились", s["present"]),
        ("не явились", s["absent"]),
        ("«Не закончил»", s["not_finished"]),
        ("«Удален»", s["removed"]),
        ("в устной форме", s["oral"]),
        ("проверено экспертами", s["graded"]),
        ("зачет", s["passed"]),
        ("ошибки переноса отметок", s["transcription_errors"]),
        ("доп. бланков использовано", s["additional_used"]),
        ("страниц выдано", s["pages_issued"]),
        ("не доставлено", s["pages_missing"]),
        (
            "изображений",
            f"{s['images']} (дублей {s['duplicates']}, нечитаемых {s['unreadable']}, "
            f"перевёрнуто {s['turned']})",
        ),
        ("файлов", f"{s['files']} ({formats})" if formats else s["files"]),
        ("скорость", speed),
    ]
    return f"## День экзамена {s['session']} (моделирование)\n\n" + markdown_table(
        ("показатель", "значение"), rows
    )
