"""Copy-stage files: the schools' ИС-05 room records and the grading commissions in; each
school's copy register and the experts' packages (PDF) out.

Room records are `room_records/<school>.csv` (UTF-8 or Windows-1251, `;`), one row per kit
with the columns of ROOM_RECORD_COLUMNS; `commissions.csv` lists `school_code;expert_code`.
Packages are built from the scanned pages (the custody path where the school scans and sends
images, DOMAIN.md §7): each page downscaled to 100 dpi grey JPEG and embedded as is, one PDF
per expert, on a process pool; each file is written under a temporary name and renamed.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.adapters.print_files import default_fonts
from tasks.adapters.scan_files import read_frames
from tasks.adapters.school_pool import run_per_school
from tasks.adapters.submission_files import UnreadableSubmission, _decode
from tasks.domain.copy import COPY_STATUS_RU, RejectedRow
from tasks.domain.copy_pdf import CopyPage, CopyWork, ExpertPackage, build_expert_package_pdf
from tasks.errors import DataError

__all__ = [
    "COPY_DPI",
    "PackageJob",
    "build_packages",
    "read_commissions",
    "read_room_record_file",
    "room_record_files",
    "write_csv",
    "write_register",
    "write_rejected_room_rows",
]

COPY_DPI = 100  # enough to read handwriting on screen or paper; ~40 KB a page
_A4_WIDTH_IN = 210 / 25.4


def room_record_files(folder: Path) -> list[tuple[str, Path]]:
    """(school code, file) for every `<school>.csv` in the folder."""
    if not folder.is_dir():
        raise DataError(f"папка ведомостей ИС-05 не найдена: {folder}")
    return sorted((p.stem, p) for p in folder.glob("*.csv") if p.stem.isdigit())


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        text, _ = _decode(path.read_bytes())
    except OSError as exc:
        raise DataError(f"файл {path.name} не прочитан: {exc.strerror}") from exc
    except UnreadableSubmission as exc:
        raise DataError(f"файл {path.name}: {exc.reason}") from exc
    return [
        {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}
        for row in csv.DictReader(io.StringIO(text), delimiter=";")
    ]


def read_room_record_file(path: Path) -> list[dict[str, str]]:
    return _rows(path)


def read_commissions(path: Path) -> dict[str, list[str]]:
    """school code → expert codes, in file order (duplicates dropped)."""
    out: dict[str, list[str]] = {}
    for row in _rows(path):
        school, expert = row.get("school_code", ""), row.get("expert_code", "")
        if school and expert and expert not in out.get(school, []):
            out.setdefault(school, []).append(expert)
    return out


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """UTF-8 with BOM and `;` (Excel opens it as is), written under a temporary name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_register(path: Path, rows: Sequence[tuple[str, str, str, str, str | None]]) -> Path:
    """A school's copy register: (work code, room, form, status, expert)."""
    forms = {"essay": "сочинение", "exposition": "изложение"}
    return write_csv(
        path,
        ["Код работы", "Аудитория", "Форма", "Копирование", "Эксперт"],
        [
            (code, room, forms.get(form, form), COPY_STATUS_RU[status], expert or "")
            for code, room, form, status, expert in rows
        ],
    )


def write_rejected_room_rows(path: Path, rejected: Sequence[RejectedRow]) -> Path:
    return write_csv(
        path,
        ["Строка", "Код работы", "Причина отклонения"],
        [(r.line, r.row.get("work_code", ""), r.reason) for r in rejected],
    )


# --- expert packages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PackageJob:
    """One expert's package: per work (code, form, topic, [(label, file, frame) or a missing
    page's (label, None, reason)])."""

    target: Path
    session: str
    school_code: str
    school_name: str
    expert_code: str
    works: tuple[tuple[str, str, str | None, tuple[tuple[str, str | None, int | str], ...]], ...]


def _small_jpeg(image: np.ndarray) -> bytes | None:
    width = round(_A4_WIDTH_IN * COPY_DPI)
    height = round(image.shape[0] * width / image.shape[1])
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return data.tobytes() if ok else None


def _copies_of(path: Path, frames: set[int]) -> dict[int, bytes | None]:
    """The wanted frames of one scan file as grey JPEGs at COPY_DPI (by the A4 width), the
    file decoded once (a multi-page TIFF or PDF holds a whole batch); None: unreadable."""
    out: dict[int, bytes | None] = dict.fromkeys(frames)
    if frames == {0} and path.suffix.lower() in (".jpg", ".jpeg"):
        # DCT-scaled decoding: a quarter of the pixels, several times faster than full size.
        image = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)
        if image is not None:
            return {0: _small_jpeg(image)}
    for found in read_frames(path):
        if found.index in frames and found.image is not None:
            out[found.index] = _small_jpeg(found.image)
        if found.index >= max(frames):
            break
    return out


def _build_school(jobs: tuple[PackageJob, ...]) -> list[tuple[str, int]]:
    """One school's packages: each scan file it needs decoded once, then one PDF per expert."""
    wanted: dict[str, set[int]] = {}
    for job in jobs:
        for _, _, _, pages in job.works:
            for _, source, where in pages:
                if source is not None:
                    wanted.setdefault(source, set()).add(int(where))
    copies = {
        (source, frame): data
        for source, frames in wanted.items()
        for frame, data in _copies_of(Path(source), frames).items()
    }
    fonts = default_fonts()
    done = []
    for job in jobs:
        works = []
        for code, form, topic, pages in job.works:
            page_copies = []
            for label, source, where in pages:
                if source is None:
                    page_copies.append(CopyPage(label, None, str(where)))
                    continue
                data = copies.get((source, int(where)))
                page_copies.append(
                    CopyPage(label, data, None if data else "изображение страницы не читается")
                )
            works.append(CopyWork(code, form, topic, tuple(page_copies)))
        package = ExpertPackage(
            job.session, job.school_code, job.school_name, job.expert_code, tuple(works)
        )
        pdf = build_expert_package_pdf(package, fonts)
        job.target.parent.mkdir(parents=True, exist_ok=True)
        tmp = job.target.with_name(f".{job.target.name}.tmp")
        tmp.write_bytes(pdf)
        os.replace(tmp, job.target)
        done.append((job.expert_code, len(pdf)))
    return done


def build_packages(
    jobs: Sequence[PackageJob], workers: int, progress: Callable[[Any], None] | None = None
) -> Mapping[str, int]:
    """Every expert's package, one school per process on `workers` processes: expert code →
    PDF size in bytes. `progress` is called as each school is done (in this process)."""
    by_school: dict[str, list[PackageJob]] = {}
    for job in jobs:
        by_school.setdefault(job.school_code, []).append(job)
    done = run_per_school(
        _build_school,
        [tuple(group) for group in by_school.values()],
        lambda group: sum(len(w[3]) for job in group for w in job.works),
        workers,
        progress,
    )
    return dict(pair for school in done for pair in school)
