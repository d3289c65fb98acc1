"""The print stage in the regional database: registrations to print, seats, issued codes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tasks.adapters.models import (
    Campaign,
    ExamSession,
    Participant,
    Region,
    Registration,
    Room,
    School,
    Venue,
    Work,
)
from tasks.adapters.registry import insert_missing
from tasks.domain.identifiers import DocumentType
from tasks.domain.print_kits import CodeRequest

__all__ = [
    "issue_codes",
    "issued_works",
    "mark_printed",
    "printable_registrations",
    "region_of",
    "school_names",
    "school_rooms",
    "store_seats",
]

_BATCH = 500
# The document as a registration blank and ИС-05 print it, short enough for one line.
DOCUMENT_SHORT_RU = {
    DocumentType.PASSPORT_RF: "паспорт",
    DocumentType.BIRTH_CERTIFICATE: "свид. о рожд.",
    DocumentType.FOREIGN_PASSPORT: "док. иностр.",
    DocumentType.OTHER: "документ",
}


def region_of(session: Session, session_id: int) -> tuple[str, str, int, int]:
    """Region code, region name, school year's first year and the session's ordinal."""
    exam, campaign = session.execute(
        select(ExamSession, Campaign).join(Campaign).where(ExamSession.id == session_id)
    ).one()
    name = session.scalar(select(Region.name).where(Region.code == campaign.region_code))
    return campaign.region_code, name or "", int(campaign.school_year[:4]), exam.ordinal


def printable_registrations(session: Session, session_id: int) -> pl.DataFrame:
    """The session's current registrations with what a registration blank and ИС-05 print."""
    query = (
        select(
            Registration.id.label("registration_id"),
            Registration.school_id,
            Registration.room_id,
            Registration.form,
            Registration.oral,
            Participant.ovz,
            School.code.label("school_code"),
            Participant.class_name,
            Participant.surname,
            Participant.name,
            Participant.patronymic,
            Participant.document_type,
            Participant.document_series,
            Participant.document_number,
        )
        .join(Participant, Participant.id == Registration.participant_id)
        .join(School, School.id == Registration.school_id)
        .where(Registration.session_id == session_id, Registration.status == "registered")
        .order_by(Registration.id)
    )
    rows = session.execute(query).all()
    schema = {
        "registration_id": pl.Int64,
        "school_id": pl.Int64,
        "room_id": pl.Int64,
        "form": pl.Utf8,
        "oral": pl.Boolean,
        "ovz": pl.Boolean,
        "school_code": pl.Utf8,
        "class_name": pl.Utf8,
        "surname": pl.Utf8,
        "name": pl.Utf8,
        "patronymic": pl.Utf8,
        "document_type": pl.Utf8,
        "document_series": pl.Utf8,
        "document_number": pl.Utf8,
    }
    frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    names = {str(k): v for k, v in DOCUMENT_SHORT_RU.items()}
    return frame.with_columns(
        document=pl.concat_str(
            pl.col("document_type").replace_strict(names, default=pl.col("document_type")),
            pl.lit(" "),
            pl.col("document_series"),
            pl.lit(" "),
            pl.col("document_number"),
        ).str.replace_all(r"\s+", " ")
    ).drop("document_type", "document_series", "document_number")


def school_rooms(session: Session) -> pl.DataFrame:
    """Every school's rooms (in its own building): room_id, school_id, school_code, room,
    capacity; and the school's name for the forms."""
    query = (
        select(Room.id, School.id, School.code, School.name, Room.number, Room.capacity)
        .join(Venue, Venue.id == Room.venue_id)
        .join(School, School.id == Venue.school_id)
        .order_by(School.code, Room.number)
    )
    return pl.DataFrame(
        [tuple(r) for r in session.execute(query)],
        schema={
            "room_id": pl.Int64,
            "school_id": pl.Int64,
            "school_code": pl.Utf8,
            "school_name": pl.Utf8,
            "room": pl.Utf8,
            "capacity": pl.Int64,
        },
        orient="row",
    )


def school_names(session: Session) -> pl.DataFrame:
    """school_id, school_code, school_name of every school."""
    return pl.DataFrame(
        [tuple(r) for r in session.execute(select(School.id, School.code, School.name))],
        schema={"school_id": pl.Int64, "school_code": pl.Utf8, "school_name": pl.Utf8},
        orient="row",
    )


def store_seats(session: Session, seats: pl.DataFrame) -> int:
    """Write the new seats (registration → room); returns how many were written."""
    pairs = [(r, room) for r, room in seats.select("registration_id", "room_id").iter_rows()]
    by_room: dict[int | None, list[int]] = {}
    for registration_id, room_id in pairs:
        if room_id is not None:
            by_room.setdefault(room_id, []).append(registration_id)
    for room_id, ids in by_room.items():
        for start in range(0, len(ids), _BATCH):
            session.execute(
                update(Registration)
                .where(Registration.id.in_(ids[start : start + _BATCH]))
                .values(room_id=room_id)
            )
    return sum(len(ids) for ids in by_room.values())


def issued_works(session: Session, session_id: int) -> pl.DataFrame:
    """Every code issued for the session: work_id, work_code, kind, school_id, registration_id,
    room_id, sequence, printed_at."""
    query = select(
        Work.id,
        Work.work_code,
        Work.kind,
        Work.school_id,
        Work.registration_id,
        Work.room_id,
        Work.sequence,
        Work.printed_at,
    ).where(Work.session_id == session_id)
    return pl.DataFrame(
        [tuple(r) for r in session.execute(query)],
        schema={
            "work_id": pl.Int64,
            "work_code": pl.Utf8,
            "kind": pl.Utf8,
            "school_id": pl.Int64,
            "registration_id": pl.Int64,
            "room_id": pl.Int64,
            "sequence": pl.Int64,
            "printed_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


def issue_codes(
    session: Session, session_id: int, requests: Sequence[CodeRequest], codes: Sequence[str]
) -> int:
    """Store the new codes; a request already served (a concurrent or repeated run) is
    skipped by the unique keys, so a code is never issued twice for the same thing."""
    kits = [
        {
            "work_code": code,
            "session_id": session_id,
            "registration_id": r.registration_id,
            "school_id": r.school_id,
            "room_id": r.room_id,
            "kind": r.kind,
            "sequence": r.sequence,
            "reserve": r.kind == "reserve",
        }
        for r, code in zip(requests, codes, strict=True)
    ]
    with_registration = [k for k in kits if k["registration_id"] is not None]
    numbered = [k for k in kits if k["registration_id"] is None]
    inserted = insert_missing(session, Work, with_registration, ["registration_id"])
    inserted += insert_missing(
        session, Work, numbered, ["session_id", "school_id", "kind", "sequence"]
    )
    return inserted


def mark_printed(session: Session, work_ids: Sequence[int], at: datetime) -> None:
    """The codes whose pages went into a written PDF; the first print's instant is kept."""
    for start in range(0, len(work_ids), _BATCH):
        session.execute(
            update(Work)
            .where(Work.id.in_(work_ids[start : start + _BATCH]), Work.printed_at.is_(None))
            .values(printed_at=at)
        )
