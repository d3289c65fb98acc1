"""Re-create the board's timeline pictures in docs/images (`.venv/bin/python
docs/images/make_board_images.py`): the Kemerovo essay plan's main session on 24.11.2017
12:00 (+07), a day after its first deadlines, and the whole Kuzbass road map on 15.02.2024.

Each plan is stored in a throw-away SQLite database (as `rcoi plan load` stores it), read back
as the board reads it (`load_scope`), and given a season: what was due before the clock is
done, except a few rows left late on purpose; the cells come from the board's own domain
(`cells_of`), so the picture is the one the watchdog's artifact shows."""

from __future__ import annotations

import sys
import tempfile
import zlib
from collections.abc import Callable
from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from tasks.adapters.board import BoardScope, load_scope  # noqa: E402
from tasks.adapters.database import bootstrap  # noqa: E402
from tasks.adapters.models import Mouo, School  # noqa: E402
from tasks.adapters.plan_files import load_calendar, load_plan, resolve_plan_path  # noqa: E402
from tasks.adapters.registry import upsert_campaign  # noqa: E402
from tasks.adapters.unit_of_work import UnitOfWork  # noqa: E402
from tasks.domain.board import BoardRow, Cell, Performer, cells_of, performers_of  # noqa: E402
from tasks.domain.board_timeline import STATE_COLOURS, TODAY_COLOUR, render_timeline  # noqa: E402
from tasks.domain.plan import resolve_plan  # noqa: E402

OUT = Path(__file__).resolve().parent
NOVOKUZNETSK = ZoneInfo("Asia/Novokuznetsk")
KEMEROVO_NOW = datetime(2017, 11, 24, 12, 0, tzinfo=NOVOKUZNETSK)
KUZBASS_NOW = datetime(2024, 2, 15, 12, 0, tzinfo=NOVOKUZNETSK)
# Kemerovo's performers: two МОУО with two schools each (the region's own codes).
KEMEROVO_MOUOS = {"42-01": ("4201001", "4201002"), "42-02": ("4202001", "4202002")}

LeftLate = Callable[[BoardRow, Performer, int], bool]


def stored_scope(
    plan_id: str, out: Path, mouos: dict[str, tuple[str, ...]] | None = None
) -> BoardScope:
    """The plan stored in a fresh database under `out` (with `mouos` and their schools)."""
    plan = load_plan(resolve_plan_path(plan_id))
    calendar = load_calendar(plan.calendar)
    resolved = {s.id: resolve_plan(plan, s.id, calendar) for s in plan.board_sessions()}
    database = bootstrap(Settings(out_dir=out))
    try:
        with UnitOfWork(database.session_factory) as uow:
            upsert_campaign(uow.session, plan, resolved)
            for code, schools in (mouos or {}).items():
                mouo = Mouo(code=code, region_code=plan.region.code, name=f"МОУО {code}")
                uow.session.add(mouo)
                uow.session.flush()
                for school in schools:
                    uow.session.add(School(code=school, mouo_id=mouo.id, name=f"ОО {school}"))
            uow.session.flush()
            scope = load_scope(uow.session, plan.id)
            uow.commit()
    finally:
        database.dispose()
    return scope


def season(scope: BoardScope, now: datetime, left_late: LeftLate) -> list[Cell]:
    """Every occurrence due before `now` done (at its due), but those
    `left_late` picks."""
    done = {}
    for row in scope.rows:
        for performer in performers_of(row, scope.directory):
            for number, (_, due) in enumerate(row.windows):
                if due is not None and due <= now and not left_late(row, performer, number):
                    done[(row.plan_stage_id, performer.party, number)] = (due, "демо")
    return cells_of(scope.rows, scope.directory, done, now)


def kemerovo(work: Path) -> bytes:
    scope = stored_scope("kemerovo-2017-essay", work / "kemerovo", KEMEROVO_MOUOS)
    session = "2017-12-06"
    rows = [row for row in scope.rows if row.session_code == session]

    def left_late(row: BoardRow, performer: Performer, number: int) -> bool:
        # One school has not formed its commissions, one МОУО has not sent its data.
        return (row.position, performer.party) in {(1, "4202002"), (2, "42-02")}

    cells = [c for c in season(scope, KEMEROVO_NOW, left_late) if c.row.session_code == session]
    label = f"{scope.labels[session]} 06.12.2017"
    return render_timeline(rows, cells, KEMEROVO_NOW, scope.title, rows[0].zone, label)


def kuzbass(work: Path) -> bytes:
    scope = stored_scope("kuzbass-2024-roadmap", work / "kuzbass")

    def left_late(row: BoardRow, performer: Performer, number: int) -> bool:
        return zlib.crc32(f"{row.stage_key}:{number}".encode()) % 9 == 0  # about one in nine

    cells = season(scope, KUZBASS_NOW, left_late)
    return render_timeline(
        scope.rows, cells, KUZBASS_NOW, scope.title, scope.rows[0].zone, "вся дорожная карта"
    )


def _rgb(code: str) -> tuple[int, int, int]:
    return int(code[1:3], 16), int(code[3:5], 16), int(code[5:7], 16)


def _palette() -> Image.Image:
    """The picture's own colours exactly: the states and today with their blends into white
    (antialiased edges), the bands and stripes, and a ramp of greys for the text."""
    colours = [(255, 255, 255)]
    for code in [*STATE_COLOURS.values(), TODAY_COLOUR, "#b71c1c"]:
        rgb = _rgb(code)
        for share in (1.0, 0.75, 0.5, 0.25):
            blend = [round(c * share + 255 * (1 - share)) for c in rgb]
            colours.append((blend[0], blend[1], blend[2]))
    colours += [_rgb(c) for c in ("#e3e7ec", "#c5cdd6", "#f4f5f7", "#d0d4da", "#263238")]
    colours += [_rgb(c) for c in ("#455a64", "#757575")]
    colours += [(level, level, level) for level in range(0, 256, 8)]
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for colour in colours for channel in colour])
    return palette


def smaller(png: bytes) -> bytes:
    """The same picture on a fixed palette of its own colours (a third of the bytes)."""
    with Image.open(BytesIO(png)) as image:
        buffer = BytesIO()
        fitted = image.convert("RGB").quantize(palette=_palette(), dither=Image.Dither.NONE)
        fitted.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        for name, build in (("kemerovo", kemerovo), ("kuzbass", kuzbass)):
            target = OUT / f"board-timeline-{name}.png"
            target.write_bytes(smaller(build(Path(work))))
            print(target.relative_to(ROOT))


if __name__ == "__main__":
    main()
