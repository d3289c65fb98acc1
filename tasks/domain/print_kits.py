"""The print stage's decisions: seating, work codes, what every school's PDF holds, the manifest.

Pure: registrations, rooms and the codes already issued in; new seats, new codes, page lists
and the manifest out. A re-print reuses every code already issued (the database keeps them), so
running the stage twice issues nothing new and prints the same pages.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from tasks.domain.blanks import PAGES, BlankType
from tasks.domain.identifiers import is_valid_work_code, make_work_code
from tasks.domain.print_pdf import PageSpec, RoomForms, RoomSeat

__all__ = [
    "ADDITIONAL_SERIALS",
    "KIT_SERIALS",
    "NO_ROOM",
    "CodeRequest",
    "PrintOptions",
    "allocate_codes",
    "kits_checks",
    "page_entries",
    "pages_per_code",
    "school_pages",
    "school_room_forms",
    "seat_participants",
    "wanted_codes",
    "works_frame",
]

# Serial ranges of the work code (RR YY S NNNNNN C): kits and reserve kits below 900 000,
# additional answer blanks above, so a blank's number never looks like a kit's code of the
# same session and both stay unique in one column.
KIT_SERIALS = range(0, 900_000)
ADDITIONAL_SERIALS = range(900_000, 1_000_000)

KIT_PAGES = ((BlankType.REGISTRATION, 1), (BlankType.ANSWER, 1), (BlankType.ANSWER, 2))
ADDITIONAL_PAGES = ((BlankType.ADDITIONAL, 1), (BlankType.ADDITIONAL, 2))
NO_ROOM = "—"


@dataclass(frozen=True, slots=True)
class PrintOptions:
    """How much to print beyond the kits: reserve kits per school, additional answer blanks
    per room (a share of its seats, at least a minimum)."""

    reserve_per_school: int = 2
    additional_share: float = 0.1
    additional_min: int = 2

    def __post_init__(self) -> None:
        if self.reserve_per_school < 0 or self.additional_min < 0:
            raise ValueError("reserve and additional blanks cannot be negative")
        if not 0 <= self.additional_share <= 1:
            raise ValueError("the share of additional blanks is between 0 and 1")

    def additional_for(self, seats: int) -> int:
        # rounded first: 100 × 0.07 is 7.000000000000001 in binary, and must stay 7
        return max(self.additional_min, math.ceil(round(seats * self.additional_share, 9)))


def _alphabetic(column: str) -> pl.Expr:
    """Russian alphabetical order for names: «Ё» sorts with «Е», not before «А»."""
    return pl.col(column).str.replace_all("Ё", "Е").str.replace_all("ё", "е")


def _room_order() -> pl.Expr:
    """Rooms in number order: «9» before «10» (numbers are compared as padded text)."""
    return pl.col("room").str.zfill(8)


_PEOPLE_ORDER = ("class_name", "surname", "name", "patronymic")


def _seat_order() -> list[pl.Expr]:
    return [_room_order(), *(_alphabetic(c) for c in _PEOPLE_ORDER), pl.col("work_code")]


def _room_key(room: str | None) -> tuple[bool, str]:
    return (room is None, (room or "").zfill(8))


def seat_participants(registrations: pl.DataFrame, rooms: pl.DataFrame) -> pl.DataFrame:
    """Seats for the registrations that have none, school by school, room by room in number
    order, each room up to its capacity. Participants already seated keep their room. When a
    school has more participants than seats, the rest go to its largest room and are marked
    `over_capacity` (reconciliation has reported it). A school with no room: `room_id` null.

    registrations: registration_id, school_code, room_id (null: unseated), class_name,
    surname, name, patronymic. rooms: room_id, school_code, room, capacity.
    Returns registration_id, room_id, over_capacity for the newly seated only."""
    taken = registrations.filter(pl.col("room_id").is_not_null()).group_by("room_id").len("taken")
    free = (
        rooms.join(taken, on="room_id", how="left")
        .with_columns(free=pl.col("capacity") - pl.col("taken").fill_null(0))
        .sort(pl.col("school_code"), _room_order())
    )
    by_school: dict[str, list[dict[str, Any]]] = {}
    for row in free.iter_rows(named=True):
        by_school.setdefault(row["school_code"], []).append(row)
    waiting = registrations.filter(pl.col("room_id").is_null()).sort(
        [
            pl.col("school_code"),
            *(_alphabetic(c) for c in _PEOPLE_ORDER),
            pl.col("registration_id"),
        ],
        nulls_last=True,
    )
    out: list[tuple[int, int | None, bool]] = []
    for (school,), group in waiting.group_by(["school_code"], maintain_order=True):
        school_rooms = by_school.get(str(school), [])
        index = 0
        for registration_id in group["registration_id"].to_list():
            while index < len(school_rooms) and school_rooms[index]["free"] <= 0:
                index += 1
            if index < len(school_rooms):
                school_rooms[index]["free"] -= 1
                out.append((registration_id, school_rooms[index]["room_id"], False))
            elif school_rooms:
                largest = max(school_rooms, key=lambda r: (r["capacity"], r["room"]))
                out.append((registration_id, largest["room_id"], True))
            else:
                out.append((registration_id, None, False))
    return pl.DataFrame(
        out,
        schema={"registration_id": pl.Int64, "room_id": pl.Int64, "over_capacity": pl.Boolean},
        orient="row",
    )


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """A code the print run needs: a kit for a registration, or a school's reserve kit or
    additional blank number `sequence` (in `room_id` for additional blanks)."""

    kind: str  # kit | reserve | additional
    school_id: int
    registration_id: int | None = None
    room_id: int | None = None
    sequence: int | None = None


def wanted_codes(
    registrations: pl.DataFrame,
    rooms: pl.DataFrame,
    existing: pl.DataFrame,
    options: PrintOptions,
) -> list[CodeRequest]:
    """What is missing: a kit per seated registration without one, reserve kits up to the
    option per school, additional blanks up to the option per room (by its seats).

    registrations: registration_id, school_id, room_id. rooms: room_id, school_id.
    existing: kind, school_id, registration_id, room_id, sequence (the codes issued)."""
    have_kit = set(existing.filter(pl.col("kind") == "kit")["registration_id"].to_list())
    wanted = [
        CodeRequest("kit", school_id, registration_id=registration_id, room_id=room_id)
        for registration_id, school_id, room_id in registrations.select(
            "registration_id", "school_id", "room_id"
        ).iter_rows()
        if registration_id not in have_kit
    ]
    reserve = existing.filter(pl.col("kind") == "reserve")
    additional = existing.filter(pl.col("kind") == "additional")
    for school_id in sorted(set(registrations["school_id"].to_list())):
        issued = set(reserve.filter(pl.col("school_id") == school_id)["sequence"].to_list())
        wanted += [
            CodeRequest("reserve", school_id, sequence=n)
            for n in range(1, options.reserve_per_school + 1)
            if n not in issued
        ]
    seats = registrations.group_by("room_id").len("seats")
    per_room = (
        rooms.join(seats, on="room_id", how="inner")
        .sort("school_id", "room_id")
        .select("room_id", "school_id", "seats")
    )
    for school_id, group in per_room.group_by("school_id", maintain_order=True):
        mine = additional.filter(pl.col("school_id") == school_id[0])
        used = set(mine["sequence"].to_list())
        have = dict(mine.group_by("room_id").len("n").iter_rows())
        next_sequence = max(used, default=0) + 1
        for room_id, _, room_seats in group.iter_rows():
            for _ in range(options.additional_for(room_seats) - have.get(room_id, 0)):
                wanted.append(
                    CodeRequest("additional", school_id[0], room_id=room_id, sequence=next_sequence)
                )
                next_sequence += 1
    return wanted


def allocate_codes(
    requests: Sequence[CodeRequest],
    used_codes: Iterable[str],
    region_code: str,
    year: int,
    session_no: int,
    seed: int,
) -> list[str]:
    """A new work code for each request, drawn at random from the serials not yet used, so that
    codes say nothing about a school, a room or a neighbour (codes are a lookup key later)."""
    used = {int(code[5:11]) for code in used_codes}
    rng = random.Random(seed)
    for pool, kinds in ((KIT_SERIALS, ("kit", "reserve")), (ADDITIONAL_SERIALS, ("additional",))):
        needed = sum(r.kind in kinds for r in requests)
        free = len(pool) - sum(serial in pool for serial in used)
        if needed > free:
            raise ValueError(f"work codes exhausted: {needed} needed, {free} left")
    out: list[str] = []
    for request in requests:
        pool = ADDITIONAL_SERIALS if request.kind == "additional" else KIT_SERIALS
        serial = rng.randrange(pool.start, pool.stop)
        while serial in used:
            serial = rng.randrange(pool.start, pool.stop)
        used.add(serial)
        out.append(make_work_code(region_code, year, session_no, serial))
    return out


def works_frame(
    works: pl.DataFrame, registrations: pl.DataFrame, rooms: pl.DataFrame, schools: pl.DataFrame
) -> pl.DataFrame:
    """Issued codes with what is printed for them: school and room numbers, participant data.

    works: work_id, work_code, kind, school_id, registration_id, room_id, sequence; the
    registrations as seated; rooms: room_id, room; schools: school_id, school_code,
    school_name."""
    people = registrations.select(
        "registration_id",
        "form",
        "oral",
        "ovz",
        "class_name",
        "surname",
        "name",
        "patronymic",
        "document",
    )
    return (
        works.join(people, on="registration_id", how="left")
        .join(rooms.select("room_id", "room"), on="room_id", how="left")
        .join(schools, on="school_id", how="left")
    )


# --- pages -------------------------------------------------------------------------------------


def _kit_pages(code: str, header: str, printed: Mapping[str, str]) -> list[PageSpec]:
    return [
        PageSpec(
            blank, page, code, header, dict(printed) if blank is BlankType.REGISTRATION else {}
        )
        for blank, page in KIT_PAGES
    ]


def school_pages(works: pl.DataFrame, header: str, region_code: str) -> list[PageSpec]:
    """Every page of one school's PDF in print order: room by room, each participant's kit
    (registration blank, answer blank front and back) sorted by surname, then the room's
    additional answer blanks; the school's reserve kits last.

    works: work_code, kind, school_code, room, class_name, surname, name, patronymic,
    document, sequence (participant columns null for reserve kits and additional blanks)."""
    pages: list[PageSpec] = []
    kits = works.filter(pl.col("kind") == "kit").sort(_seat_order(), nulls_last=True)
    additional = works.filter(pl.col("kind") == "additional").sort(
        [_room_order(), pl.col("sequence")], nulls_last=True
    )
    rooms = sorted(set(kits["room"].to_list()) | set(additional["room"].to_list()), key=_room_key)
    for room in rooms:
        for row in kits.filter(_same(pl.col("room"), room)).iter_rows(named=True):
            printed = {
                "region": region_code,
                "school_code": row["school_code"],
                "room": row["room"] or NO_ROOM,
                "class_name": row["class_name"] or "",
                "surname": row["surname"],
                "name": row["name"],
                "patronymic": row["patronymic"] or "",
                "document": row["document"],
            }
            pages += _kit_pages(row["work_code"], header, printed)
        for row in additional.filter(_same(pl.col("room"), room)).iter_rows(named=True):
            pages += [PageSpec(b, p, row["work_code"], header) for b, p in ADDITIONAL_PAGES]
    for row in works.filter(pl.col("kind") == "reserve").sort("sequence").iter_rows(named=True):
        printed = {"region": region_code, "school_code": row["school_code"], "room": "резерв"}
        pages += _kit_pages(row["work_code"], header, printed)
    return pages


def _same(column: pl.Expr, value: str | None) -> pl.Expr:
    return column.is_null() if value is None else column == value


def school_room_forms(works: pl.DataFrame, header: str, school: str) -> list[RoomForms]:
    """ИС-05 per room with its participants in seat order (as their kits are printed)."""
    kits = works.filter(pl.col("kind") == "kit").sort(_seat_order(), nulls_last=True)
    forms = []
    for (room,), group in kits.group_by(["room"], maintain_order=True):
        seats = tuple(
            RoomSeat(
                number=i,
                full_name=" ".join(
                    p for p in (row["surname"], row["name"], row["patronymic"]) if p
                ),
                document=row["document"],
                work_code=row["work_code"],
                form="изложение" if row["form"] == "exposition" else "сочинение",
            )
            for i, row in enumerate(group.iter_rows(named=True), start=1)
        )
        forms.append(RoomForms(header, school, str(room or NO_ROOM), seats))
    return forms


def page_entries(
    pages: Sequence[PageSpec], rooms: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    """The manifest's page list of one PDF: blank type, side, code and room of every page."""
    return [
        {"blank_type": str(p.blank_type), "page": p.page, "code": p.code, "room": rooms.get(p.code)}
        for p in pages
    ]


def pages_per_code(kind: str) -> int:
    if kind == "additional":
        return PAGES[BlankType.ADDITIONAL]
    return PAGES[BlankType.REGISTRATION] + PAGES[BlankType.ANSWER]


# --- the kits contract's computed checks -------------------------------------------------------


def kits_checks(
    kits: pl.DataFrame, manifest_counts: Mapping[tuple[str, str, str], int], session_prefix: str
) -> pl.DataFrame:
    """The rows the `kits` contract validates, with its computed checks.

    kits: one row per registered participant (left-joined to its kit: a missing kit leaves
    work_code null) and one per reserve kit and additional blank; columns registration_id,
    work_code, kind, school_code, room. `manifest_counts`: (school, room, kind) → codes the
    manifest lists. Adds ok__work_code_valid (Damm check digit, this session's prefix) and
    ok__manifest_counts (the group's count equals the manifest's)."""
    counted = kits.group_by("school_code", "room", "kind").len("n")
    listed = pl.DataFrame(
        [(s, r, k, n) for (s, r, k), n in manifest_counts.items()],
        schema={"school_code": pl.Utf8, "room": pl.Utf8, "kind": pl.Utf8, "listed": pl.Int64},
        orient="row",
    )
    groups = counted.join(listed, on=["school_code", "room", "kind"], how="left", nulls_equal=True)
    return (
        kits.join(groups, on=["school_code", "room", "kind"], how="left", nulls_equal=True)
        .with_columns(
            ok__work_code_valid=pl.col("work_code").map_elements(
                lambda c: bool(c) and is_valid_work_code(c) and c.startswith(session_prefix),
                return_dtype=pl.Boolean,
                skip_nulls=False,
            ),
            ok__manifest_counts=(pl.col("n") == pl.col("listed")).fill_null(False),
        )
        .drop("n", "listed")
    )
