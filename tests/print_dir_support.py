"""A print folder as the print stage writes it (manifest, layouts, one kits PDF per school),
built directly with the PDF builder for the exam-day simulator's tests and benchmark.

The manifest follows the print stage's format (tasks/print_kits.py `_manifest`): files with
their pages in print order (per room: each kit's registration blank, answer blank front and
back, then the room's additional blanks; the school's reserve kits last), works, additional.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.domain.blanks import BlankType, all_layouts
from tasks.domain.identifiers import make_work_code
from tasks.domain.print_pdf import Fonts, PageSpec, build_kits_pdf

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = Fonts(
    FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf", FONT_DIR / "DejaVuSansMono.ttf"
)
HEADER = "Итоговое сочинение (изложение) · 06.12.2017 · Кемеровская область – Кузбасс"
SESSION = "2017-12-06"
KIT = ((BlankType.REGISTRATION, 1), (BlankType.ANSWER, 1), (BlankType.ANSWER, 2))


@dataclass(frozen=True)
class SchoolSpec:
    code: str
    rooms: dict[str, int]  # room → kits
    reserve: int = 1
    additional_per_room: int = 2


def build_print_dir(
    folder: Path,
    schools: list[SchoolSpec],
    seed: int = 1,
    ovz_share: float = 0.1,
    exposition_share: float = 0.05,
) -> dict[str, Any]:
    """Write `folder/manifest.json`, `folder/layouts/*.json` and each school's kits PDF;
    return the manifest."""
    rng = random.Random(seed)
    serials = iter(rng.sample(range(900_000), 900_000 // 100))
    extra = iter(rng.sample(range(900_000, 1_000_000), 10_000))
    files, works, additional = [], [], []
    for school in schools:
        pages: list[PageSpec] = []
        entries: list[dict[str, Any]] = []

        def add(
            code: str,
            room: str | None,
            kit: bool,
            pages: list[PageSpec] = pages,
            entries: list[dict[str, Any]] = entries,
            school_code: str = school.code,
        ) -> None:
            for blank, page in (
                KIT if kit else ((BlankType.ADDITIONAL, 1), (BlankType.ADDITIONAL, 2))
            ):
                printed = {"region": "42", "school_code": school_code, "room": room or "резерв"}
                pages.append(
                    PageSpec(
                        blank,
                        page,
                        code,
                        HEADER,
                        printed if blank is BlankType.REGISTRATION else {},
                    )
                )
                entries.append({"blank_type": str(blank), "page": page, "code": code, "room": room})

        for room, kits in sorted(school.rooms.items()):
            codes = sorted(make_work_code("42", 2017, 1, next(serials)) for _ in range(kits))
            for code in codes:
                ovz = rng.random() < ovz_share
                works.append(
                    {
                        "work_code": code,
                        "school_code": school.code,
                        "room": room,
                        "kind": "kit",
                        "form": "exposition"
                        if ovz and rng.random() < exposition_share * 10
                        else "essay",
                        "oral": ovz and rng.random() < 0.3,
                        "ovz": ovz,
                        "pages": 3,
                    }
                )
                add(code, room, True)
            for _ in range(school.additional_per_room):
                code = make_work_code("42", 2017, 1, next(extra))
                additional.append(
                    {
                        "code": code,
                        "kind": "additional",
                        "school_code": school.code,
                        "room": room,
                        "pages": 2,
                    }
                )
                add(code, room, False)
        for _ in range(school.reserve):
            code = make_work_code("42", 2017, 1, next(serials))
            works.append(
                {
                    "work_code": code,
                    "school_code": school.code,
                    "room": None,
                    "kind": "reserve",
                    "form": "essay",
                    "oral": False,
                    "ovz": False,
                    "pages": 3,
                }
            )
            add(code, None, True)
        path = f"{school.code}/Комплекты_{school.code}.pdf"
        (folder / school.code).mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(build_kits_pdf(pages, FONTS, f"Комплекты · {school.code}"))
        files.append(
            {"school_code": school.code, "path": path, "page_count": len(pages), "pages": entries}
        )
    (folder / "layouts").mkdir(parents=True, exist_ok=True)
    for layout in all_layouts():
        (folder / "layouts" / f"{layout.name}.json").write_text(
            json.dumps(layout.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
        )
    manifest = {
        "schema_version": 1,
        "session": SESSION,
        "region": "42",
        "header": HEADER,
        "files": files,
        "works": works,
        "additional": additional,
        "counts": {"schools": len(schools), "kits": sum(w["kind"] == "kit" for w in works)},
    }
    (folder / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return manifest
