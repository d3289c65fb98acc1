"""The print stage's files: school PDFs built in parallel, layouts, the manifest.

Every file is written to a temporary name and renamed, so a killed run never leaves half a
PDF under its final name; a school whose pages have not changed since the last run is not
rebuilt (its page list's digest is kept beside the PDF).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.adapters.school_pool import run_per_school
from tasks.domain.blanks import all_layouts
from tasks.domain.print_pdf import (
    Fonts,
    PageSpec,
    RoomForms,
    build_kits_pdf,
    build_room_forms_pdf,
)
from tasks.errors import ConfigError

__all__ = [
    "SchoolJob",
    "SchoolPrinted",
    "default_fonts",
    "kits_file_name",
    "print_schools",
    "write_atomically",
    "write_layouts",
    "write_manifest",
]

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def default_fonts(directory: Path = FONT_DIR) -> Fonts:
    """DejaVu (Debian's fonts-dejavu-core, installed by `make setup`): full Cyrillic."""
    fonts = Fonts(
        directory / "DejaVuSans.ttf",
        directory / "DejaVuSans-Bold.ttf",
        directory / "DejaVuSansMono.ttf",
    )
    missing = [str(p) for p in (fonts.regular, fonts.bold, fonts.mono) if not p.is_file()]
    if missing:
        raise ConfigError(
            f"fonts for the blanks are missing ({', '.join(missing)}): "
            "install fonts-dejavu-core (make setup)"
        )
    return fonts


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def kits_file_name(school_code: str) -> str:
    return f"Комплекты_{school_code}.pdf"


def forms_file_name(school_code: str) -> str:
    return f"Формы_{school_code}.pdf"


@dataclass(frozen=True, slots=True)
class SchoolJob:
    school_code: str
    folder: Path
    pages: tuple[PageSpec, ...]
    forms: tuple[RoomForms, ...]
    fonts: Fonts
    title: str

    def digest(self) -> str:
        return hashlib.sha256(repr((self.pages, self.forms, self.title)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SchoolPrinted:
    school_code: str
    kits_path: Path
    forms_path: Path
    pages: int
    kits_sha256: str
    rebuilt: bool
    seconds: float


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def print_school(job: SchoolJob) -> SchoolPrinted:
    """Build and write one school's kits and forms PDFs, unless they are already there."""
    started = time.perf_counter()
    kits = job.folder / kits_file_name(job.school_code)
    forms = job.folder / forms_file_name(job.school_code)
    stamp = job.folder / ".pages.sha256"
    digest = job.digest()
    # The stamp: the page list's digest and the kits PDF's SHA-256 as written. Both must hold
    # to skip the school: a changed page list or a damaged or replaced file is rebuilt.
    stamped = stamp.read_text().split() if stamp.is_file() else []
    if len(stamped) == 2 and stamped[0] == digest and kits.is_file() and forms.is_file():
        current = _sha256(kits)
        if current == stamped[1]:
            return SchoolPrinted(
                job.school_code,
                kits,
                forms,
                len(job.pages),
                current,
                False,
                time.perf_counter() - started,
            )
    kits_pdf = build_kits_pdf(job.pages, job.fonts, f"{job.title} · {job.school_code}")
    forms_pdf = build_room_forms_pdf(
        job.forms, job.fonts, f"Формы ИС-05, ИС-08, ИС-09 · {job.school_code}"
    )
    write_atomically(kits, kits_pdf)
    write_atomically(forms, forms_pdf)
    kits_sha256 = hashlib.sha256(kits_pdf).hexdigest()
    write_atomically(stamp, f"{digest} {kits_sha256}\n".encode())
    return SchoolPrinted(
        job.school_code,
        kits,
        forms,
        len(job.pages),
        kits_sha256,
        True,
        time.perf_counter() - started,
    )


def print_schools(
    jobs: Sequence[SchoolJob],
    workers: int,
    progress: Callable[[SchoolPrinted], None] | None = None,
) -> list[SchoolPrinted]:
    """Every school's PDFs, on `workers` processes (1: in this process), largest first."""
    done = run_per_school(print_school, jobs, lambda job: len(job.pages), workers, progress)
    return sorted(done, key=lambda d: d.school_code)


def write_layouts(folder: Path) -> list[Path]:
    """One layout JSON per blank type and side: the contract between print and scan."""
    paths = []
    for layout in all_layouts():
        path = folder / f"{layout.name}.json"
        data = json.dumps(layout.as_dict(), ensure_ascii=False, indent=1).encode("utf-8")
        write_atomically(path, data)
        paths.append(path)
    return paths


def write_manifest(folder: Path, manifest: dict[str, Any]) -> tuple[Path, Path]:
    """manifest.json (everything) and manifest.csv (one line per code, for people)."""
    json_path = folder / "manifest.json"
    write_atomically(json_path, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["Код", "Вид", "Код ОО", "Аудитория", "Страниц"])
    kinds = {"kit": "комплект", "reserve": "резервный комплект", "additional": "доп. бланк"}
    for work in manifest["works"] + manifest["additional"]:
        writer.writerow(
            [
                work.get("work_code") or work["code"],
                kinds[work["kind"]],
                work["school_code"],
                work["room"] or "",
                work["pages"],
            ]
        )
    csv_path = folder / "manifest.csv"
    write_atomically(csv_path, buffer.getvalue().encode("utf-8-sig"))
    return json_path, csv_path
