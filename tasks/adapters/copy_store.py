"""The copy stage in the regional database: the session's kits, ИС-05 room records, grading
commissions, the copy register and the expert assignment (one expert per work, kept on
re-runs; a reassignment is audit-logged), and the scanned pages the expert packages copy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tasks.adapters.models import (
    Assignment,
    AuditLog,
    Expert,
    Page,
    Participant,
    RecognitionResult,
    Registration,
    Room,
    RoomRecord,
    School,
    Work,
)
from tasks.domain.copy import IssuedKit, assign_experts, copy_status
from tasks.domain.copy import RoomRecord as DayRecord
from tasks.errors import DataError

__all__ = [
    "RegisterRow",
    "assign_session",
    "issued_kits",
    "reassign",
    "recognised_topics",
    "register_rows",
    "scanned_pages",
    "store_commissions",
    "store_room_records",
]


def issued_kits(session: Session, session_id: int) -> dict[str, IssuedKit]:
    """Every participant's kit of the session: code → school, room, form, ОВЗ."""
    rows = session.execute(
        select(Work.work_code, School.code, Room.number, Registration.form, Participant.ovz)
        .join(School, School.id == Work.school_id)
        .join(Registration, Registration.id == Work.registration_id)
        .join(Participant, Participant.id == Registration.participant_id)
        .outerjoin(Room, Room.id == Work.room_id)
        .where(Work.session_id == session_id, Work.kind == "kit")
    )
    return {
        code: IssuedKit(code, school, room, form, bool(ovz))
        for code, school, room, form, ovz in rows
    }


def store_room_records(
    session: Session,
    session_id: int,
    records: Sequence[DayRecord],
    source_file: str,
    now: datetime,
) -> int:
    """Upsert each listed work's room record and copy its flags onto the work (a re-sent
    sheet replaces the rows of the works it lists; a work it leaves out keeps its row)."""
    works = {
        w.work_code: w
        for w in session.scalars(
            select(Work).where(
                Work.session_id == session_id, Work.work_code.in_([r.work_code for r in records])
            )
        )
    }
    existing = {
        r.work_id: r
        for r in session.scalars(
            select(RoomRecord).where(RoomRecord.work_id.in_([w.id for w in works.values()]))
        )
    }
    for record in records:
        work = works[record.work_code]
        row = existing.get(work.id)
        if row is None:
            row = RoomRecord(session_id=session_id, work_id=work.id)
            session.add(row)
        row.attendance = record.attendance
        row.not_finished, row.removed, row.oral = record.not_finished, record.removed, record.oral
        row.answer_blanks = record.answer_blanks
        row.additional_blanks = " ".join(record.additional)
        row.source_file = source_file
        row.received_at = now
        work.not_finished, work.removed, work.oral = (
            record.not_finished,
            record.removed,
            record.oral,
        )
        work.answer_blanks = record.answer_blanks
    return len(records)


def store_commissions(session: Session, commissions: Mapping[str, Sequence[str]]) -> int:
    """Each listed school's commission: listed experts active, the school's others inactive
    (their works are reassigned on the next assignment). Unknown schools raise DataError."""
    schools = dict(session.execute(select(School.code, School.id)).tuples().all())
    unknown = sorted(set(commissions) - set(schools))
    if unknown:
        raise DataError(f"в списке комиссий неизвестные ОО: {', '.join(unknown[:5])}")
    experts = {e.code: e for e in session.scalars(select(Expert))}
    for school, codes in commissions.items():
        for code in codes:
            expert = experts.get(code)
            if expert is None:
                expert = Expert(code=code, school_id=schools[school])
                session.add(expert)
                experts[code] = expert
            elif expert.school_id != schools[school]:
                raise DataError(f"эксперт {code} уже состоит в комиссии другой ОО")
            expert.active = True
        for expert in experts.values():
            if expert.school_id == schools[school] and expert.code not in codes:
                expert.active = False
    session.flush()
    return sum(len(c) for c in commissions.values())


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """A line of a school's copy register (codes only)."""

    work_code: str
    school_code: str
    room: str | None
    form: str
    status: str  # a key of COPY_STATUS_RU
    expert: str | None


def register_rows(session: Session, session_id: int) -> list[RegisterRow]:
    """The copy register of the session: every kit with its status and assigned expert."""
    kits = issued_kits(session, session_id)
    records = {
        code: DayRecord(code, r.attendance, r.not_finished, r.removed, r.oral, None, ())
        for code, r in session.execute(
            select(Work.work_code, RoomRecord)
            .join(RoomRecord, RoomRecord.work_id == Work.id)
            .where(Work.session_id == session_id)
        )
    }
    experts = dict(
        session.execute(
            select(Work.work_code, Expert.code)
            .join(Assignment, Assignment.work_id == Work.id)
            .join(Expert, Expert.id == Assignment.expert_id)
            .where(Work.session_id == session_id)
        )
        .tuples()
        .all()
    )
    return [
        RegisterRow(
            code,
            kit.school_code,
            kit.room,
            kit.form,
            copy_status(records.get(code)),
            experts.get(code),
        )
        for code, kit in sorted(kits.items(), key=lambda i: (i[1].school_code, i[0]))
    ]


def assign_session(
    session: Session, session_id: int, actor: str, now: datetime
) -> tuple[dict[str, int], dict[str, str]]:
    """Assign every work to copy to one expert of its school's active commission. Returns
    (works assigned per school, schools whose commission is too small → the reason)."""
    rows = register_rows(session, session_id)
    by_school: dict[str, list[str]] = {}
    for row in rows:
        if row.status == "copy":
            by_school.setdefault(row.school_code, []).append(row.work_code)
    experts = session.execute(
        select(School.code, Expert.code, Expert.id)
        .join(School, School.id == Expert.school_id)
        .where(Expert.active.is_(True))
    )
    commission: dict[str, dict[str, int]] = {}
    for school, code, expert_id in experts:
        commission.setdefault(school, {})[code] = expert_id
    works = {
        w.work_code: w.id
        for w in session.scalars(select(Work).where(Work.session_id == session_id))
    }
    current = {
        a.work_id: a
        for a in session.scalars(select(Assignment).join(Work).where(Work.session_id == session_id))
    }
    # A work no longer to copy (flagged or absent on a re-sent ИС-05) loses its expert.
    to_copy = {works[code] for codes in by_school.values() for code in codes}
    for work_id in [w for w in current if w not in to_copy]:
        session.delete(current.pop(work_id))
    expert_code = {e.id: e.code for e in session.scalars(select(Expert))}
    counts: dict[str, int] = {}
    problems: dict[str, str] = {}
    for school, codes in sorted(by_school.items()):
        members = commission.get(school, {})
        now_assigned = {
            code: expert_code[current[works[code]].expert_id]
            for code in codes
            if works[code] in current
        }
        try:
            wanted = assign_experts(codes, list(members), now_assigned)
        except ValueError as exc:
            problems[school] = str(exc)
            for code in codes:  # its works stay unassigned until the commission is complete
                if works[code] in current:
                    session.delete(current.pop(works[code]))
            continue
        for code, expert in wanted.items():
            assignment = current.get(works[code])
            if assignment is None:
                session.add(
                    Assignment(
                        work_id=works[code],
                        expert_id=members[expert],
                        assigned_by=actor,
                        assigned_at=now,
                    )
                )
            elif assignment.expert_id != members[expert]:
                assignment.expert_id = members[expert]
                assignment.assigned_by, assignment.assigned_at = actor, now
        counts[school] = len(wanted)
    return counts, problems


def reassign(session: Session, work_code: str, expert_code: str, actor: str, now: datetime) -> str:
    """The coordinator gives a work to another expert of the same school's commission; the
    change goes to the audit log. Returns the previous expert's code."""
    work = session.scalars(select(Work).where(Work.work_code == work_code)).one_or_none()
    if work is None:
        raise DataError(f"нет работы с кодом {work_code}")
    expert = session.scalars(select(Expert).where(Expert.code == expert_code)).one_or_none()
    if expert is None or not expert.active:
        raise DataError(f"эксперт {expert_code} не состоит в действующей комиссии")
    if expert.school_id != work.school_id:
        raise DataError(f"эксперт {expert_code} — из комиссии другой ОО")
    assignment = session.scalars(
        select(Assignment).where(Assignment.work_id == work.id)
    ).one_or_none()
    if assignment is None:
        raise DataError(f"работа {work_code} не назначена: её не копируют или копирование не шло")
    previous = session.get(Expert, assignment.expert_id)
    old = previous.code if previous else ""
    assignment.expert_id, assignment.assigned_by, assignment.assigned_at = expert.id, actor, now
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action="reassign",
            entity="work",
            entity_id=work_code,
            old={"expert": old},
            new={"expert": expert_code},
        )
    )
    return old


def scanned_pages(session: Session, session_id: int) -> dict[str, list[tuple[str, str, int]]]:
    """The identified scanned pages of each work: code → [(page key, image file, frame)]."""
    rows = session.execute(
        select(Work.work_code, Page.page_key, Page.image_path, Page.source_index)
        .join(Work, Work.id == Page.work_id)
        .where(Page.session_id == session_id, Page.page_key.is_not(None))
        .where(Page.status != "rejected", Page.image_path.is_not(None))
    )
    out: dict[str, list[tuple[str, str, int]]] = {}
    for code, key, source, frame in rows:
        out.setdefault(code, []).append((str(key), str(source), frame))
    return out


def recognised_topics(session: Session, session_id: int) -> dict[str, str]:
    """The topic number read on each work's registration blank (where it was read)."""
    rows = session.execute(
        select(Work.work_code, RecognitionResult.value)
        .join(Page, Page.work_id == Work.id)
        .join(RecognitionResult, RecognitionResult.page_id == Page.id)
        .where(
            Page.session_id == session_id,
            Page.blank_type == "registration",
            RecognitionResult.field == "topic_number",
            RecognitionResult.value.is_not(None),
        )
    )
    return {code: str(value) for code, value in rows}
