"""The copy and grade stages' database adapters (tasks/adapters/copy_store.py, grade_store.py) on
SQLite and PostgreSQL: issued kits, ИС-05 room records stored idempotently with their flags on
the work, grading commissions, the load-balanced expert assignment (stable on a re-run, none for
works not copied), audit-logged reassignment, and grade findings kept as verification items."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tasks.adapters.copy_store import (
    RegisterRow,
    assign_session,
    issued_kits,
    reassign,
    register_rows,
    store_commissions,
    store_room_records,
)
from tasks.adapters.database import Database
from tasks.adapters.grade_store import (
    evaluations_of,
    store_evaluations,
    store_findings,
    works_to_grade,
)
from tasks.adapters.models import (
    Assignment,
    AuditLog,
    Campaign,
    Evaluation,
    ExamSession,
    Expert,
    Mouo,
    Page,
    Participant,
    Registration,
    Room,
    RoomRecord,
    School,
    Venue,
    VerificationItem,
    Work,
)
from tasks.adapters.registry import upsert_structure
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.copy import IssuedKit
from tasks.domain.copy import RoomRecord as DayRecord
from tasks.domain.evaluation_rules import ProtocolRow, WorkToGrade
from tasks.domain.grade_checks import FINDINGS, Finding
from tasks.domain.grading import GROUPS
from tasks.domain.identifiers import make_work_code
from tasks.errors import DataError

pytestmark = pytest.mark.integration

NOW = datetime(2017, 12, 7, 3, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=5)
ACTOR = "test copy stage"
A, B = "4201001", "4201002"
STRUCTURE = {
    "region": {"code": "42", "name": "Кемеровская область", "timezone": "Asia/Novokuznetsk"},
    "mouos": [{"mouo_code": "42-01", "name": "УО г. Кемерово", "email": "uo01@obr42.example"}],
    "schools": [
        {"school_code": A, "mouo_code": "42-01", "name": "МБОУ «СОШ № 1»", "kind": "school"},
        {"school_code": B, "mouo_code": "42-01", "name": "МБОУ «СОШ № 2»", "kind": "school"},
    ],
    "rooms": [
        {"school_code": A, "room": "01", "capacity": 15},
        {"school_code": A, "room": "02", "capacity": 15},
        {"school_code": B, "room": "01", "capacity": 15},
    ],
}

# School A: seven works to copy (one an ОВЗ exposition in room 02), one «Не закончил», one
# «Удален», one absent, one without a room record; school B: three works to copy.
A_COPY = [make_work_code("42", 2017, 1, n) for n in range(1, 8)]
OVZ = A_COPY[1]
NOT_FINISHED, REMOVED, ABSENT, NO_RECORD = (make_work_code("42", 2017, 1, n) for n in range(8, 12))
B_COPY = [make_work_code("42", 2017, 1, n) for n in range(12, 15)]
RESERVE = make_work_code("42", 2017, 1, 100)
A_KITS = [*A_COPY, NOT_FINISHED, REMOVED, ABSENT, NO_RECORD]
A_EXPERTS = ["Э-A1", "Э-A2", "Э-A3"]
B_EXPERTS = ["Э-B1", "Э-B2", "Э-B3"]


def day(code: str, attendance: str = "present", **flags: bool) -> DayRecord:
    return DayRecord(
        code,
        attendance,
        flags.get("not_finished", False),
        flags.get("removed", False),
        flags.get("oral", False),
        2 if attendance == "present" else None,
        (),
    )


RECORDS = [
    *(day(c) for c in A_COPY if c != OVZ),
    day(OVZ, oral=True),
    day(NOT_FINISHED, not_finished=True),
    day(REMOVED, removed=True),
    day(ABSENT, "absent"),
    *(day(c) for c in B_COPY),
]


@dataclass(frozen=True, slots=True)
class Seeded:
    db: Database
    session_id: int

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db.session_factory)


def _seed(session: Session) -> int:
    """The region, one exam session and a kit per participant, as the print stage leaves them."""
    upsert_structure(session, STRUCTURE)
    campaign = Campaign(
        code="test-2017", procedure="ИС-11", school_year="2017/18", region_code="42", title="тест"
    )
    exam = ExamSession(campaign=campaign, code="2017-12-06", ordinal=1, exam_date=date(2017, 12, 6))
    session.add_all([campaign, exam])
    session.flush()
    mouo = session.scalars(select(Mouo.id)).one()
    schools = {code: id_ for code, id_ in session.execute(select(School.code, School.id))}
    rooms = {
        (school, number): room_id
        for school, number, room_id in session.execute(
            select(School.code, Room.number, Room.id)
            .join(Venue, Venue.id == Room.venue_id)
            .join(School, School.id == Venue.school_id)
        )
    }
    kits = [(c, A, "02" if c == OVZ else "01") for c in A_KITS] + [(c, B, "01") for c in B_COPY]
    for n, (code, school, room) in enumerate(kits, start=1):
        exposition = code == OVZ
        person = Participant(
            snils=f"{n:011d}",
            surname="Петрова",
            name="Анна",
            sex="Ж",
            birth_date=date(2000, 3, 14),
            document_type="паспорт гражданина РФ",
            document_series="3214",
            document_number=f"{n:06d}",
            category="student",
            mouo_id=mouo,
            school_id=schools[school],
            form="exposition" if exposition else "essay",
            ovz=exposition,
        )
        session.add(person)
        session.flush()
        registration = Registration(
            participant_id=person.id,
            session_id=exam.id,
            school_id=schools[school],
            room_id=rooms[school, room],
            form=person.form,
        )
        session.add(registration)
        session.flush()
        session.add(
            Work(
                work_code=code,
                session_id=exam.id,
                registration_id=registration.id,
                school_id=schools[school],
                room_id=rooms[school, room],
                kind="kit",
            )
        )
    session.add(
        Work(
            work_code=RESERVE, session_id=exam.id, school_id=schools[A], kind="reserve", sequence=1
        )
    )
    session.flush()
    return exam.id


@pytest.fixture
def seeded(database: Database) -> Seeded:
    with UnitOfWork(database.session_factory) as uow:
        session_id = _seed(uow.session)
        uow.commit()
    return Seeded(database, session_id)


@pytest.fixture
def copied(seeded: Seeded) -> Seeded:
    """Room records and both commissions stored, the works assigned once."""
    with seeded.uow() as uow:
        store_room_records(uow.session, seeded.session_id, RECORDS, "is05.csv", NOW)
        store_commissions(uow.session, {A: A_EXPERTS, B: B_EXPERTS})
        counts, problems = assign_session(uow.session, seeded.session_id, ACTOR, NOW)
        uow.commit()
    assert counts == {A: len(A_COPY), B: len(B_COPY)}
    assert problems == {}
    return seeded


def assigned(session: Session) -> dict[str, str]:
    """Work code → the code of its expert."""
    rows = session.execute(
        select(Work.work_code, Expert.code)
        .join(Assignment, Assignment.work_id == Work.id)
        .join(Expert, Expert.id == Assignment.expert_id)
    )
    return {work: expert for work, expert in rows}


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- kits and room records -------------------------------------------------------------------


def test_issued_kits_are_every_participants_kit_with_its_school_room_form_and_ovz(
    seeded: Seeded,
) -> None:
    with seeded.uow() as uow:
        kits = issued_kits(uow.session, seeded.session_id)
        assert issued_kits(uow.session, seeded.session_id + 1) == {}
    assert set(kits) == {*A_KITS, *B_COPY}, "the reserve kit is nobody's"
    assert kits[OVZ] == IssuedKit(OVZ, A, "02", "exposition", True)
    assert kits[A_COPY[0]] == IssuedKit(A_COPY[0], A, "01", "essay", False)
    assert kits[B_COPY[0]] == IssuedKit(B_COPY[0], B, "01", "essay", False)


def _room_records(seeded: Seeded) -> list[tuple[object, ...]]:
    with seeded.uow() as uow:
        rows = uow.session.execute(
            select(
                RoomRecord.id,
                Work.work_code,
                RoomRecord.attendance,
                RoomRecord.not_finished,
                RoomRecord.removed,
                RoomRecord.oral,
                RoomRecord.answer_blanks,
                RoomRecord.source_file,
                RoomRecord.received_at,
            ).join(Work, Work.id == RoomRecord.work_id)
        )
        return sorted(tuple(r) for r in rows)


def _work_flags(seeded: Seeded) -> dict[str, tuple[bool, bool, bool, int | None]]:
    with seeded.uow() as uow:
        rows = uow.session.execute(
            select(Work.work_code, Work.not_finished, Work.removed, Work.oral, Work.answer_blanks)
        )
        return {code: (nf, rm, oral, blanks) for code, nf, rm, oral, blanks in rows}


def test_storing_the_room_records_twice_keeps_one_row_per_work_with_the_same_values(
    seeded: Seeded,
) -> None:
    snapshots = []
    for _ in range(2):
        with seeded.uow() as uow:
            stored = store_room_records(uow.session, seeded.session_id, RECORDS, "is05.csv", NOW)
            uow.commit()
        assert stored == len(RECORDS)
        snapshots.append(_room_records(seeded))
    assert len(snapshots[0]) == len(RECORDS)
    assert snapshots[1] == snapshots[0]


def test_the_commissions_flags_are_copied_onto_the_work_and_a_resent_sheet_replaces_them(
    seeded: Seeded,
) -> None:
    with seeded.uow() as uow:
        store_room_records(uow.session, seeded.session_id, RECORDS, "is05.csv", NOW)
        uow.commit()
    first = _work_flags(seeded)
    assert first[NOT_FINISHED] == (True, False, False, 2)
    assert first[REMOVED] == (False, True, False, 2)
    assert first[OVZ] == (False, False, True, 2)
    assert first[ABSENT] == (False, False, False, None)
    assert first[A_COPY[0]] == (False, False, False, 2)
    assert first[NO_RECORD] == (False, False, False, None)

    resent = [day(NOT_FINISHED), day(A_COPY[0], removed=True)]
    with seeded.uow() as uow:
        store_room_records(uow.session, seeded.session_id, resent, "is05-v2.csv", LATER)
        uow.commit()
    second = _work_flags(seeded)
    assert second[NOT_FINISHED] == (False, False, False, 2)
    assert second[A_COPY[0]] == (False, True, False, 2)
    records = {row[1]: row for row in _room_records(seeded)}
    assert len(records) == len(RECORDS)
    assert records[A_COPY[0]][2:] == ("present", False, True, False, 2, "is05-v2.csv", LATER)


# --- commissions -----------------------------------------------------------------------------


def _commission(seeded: Seeded) -> dict[str, tuple[str, bool]]:
    with seeded.uow() as uow:
        rows = uow.session.execute(
            select(Expert.code, School.code, Expert.active).join(
                School, School.id == Expert.school_id
            )
        )
        return {code: (school, active) for code, school, active in rows}


def test_commissions_are_stored_and_a_member_no_longer_listed_is_deactivated(
    seeded: Seeded,
) -> None:
    with seeded.uow() as uow:
        assert store_commissions(uow.session, {A: A_EXPERTS, B: B_EXPERTS}) == 6
        uow.commit()
    assert _commission(seeded) == {
        **{e: (A, True) for e in A_EXPERTS},
        **{e: (B, True) for e in B_EXPERTS},
    }
    with seeded.uow() as uow:
        store_commissions(uow.session, {A: ["Э-A1", "Э-A3", "Э-A4"]})
        uow.commit()
    after = _commission(seeded)
    assert (after["Э-A2"], after["Э-A4"]) == ((A, False), (A, True))
    assert {after[e] for e in B_EXPERTS} == {(B, True)}, "another school's commission changed"
    with seeded.uow() as uow:
        store_commissions(uow.session, {A: A_EXPERTS})
        uow.commit()
    assert _commission(seeded)["Э-A2"] == (A, True), "a member listed again is active again"


def test_a_commission_naming_another_schools_expert_or_an_unknown_school_is_refused(
    seeded: Seeded,
) -> None:
    with seeded.uow() as uow:
        store_commissions(uow.session, {A: A_EXPERTS})
        uow.commit()
    refused = "эксперт Э-A1 уже состоит в комиссии другой ОО"
    with pytest.raises(DataError, match=refused), seeded.uow() as uow:
        store_commissions(uow.session, {B: ["Э-B1", "Э-A1", "Э-B2"]})
    with pytest.raises(DataError, match="неизвестные ОО: 4299999"), seeded.uow() as uow:
        store_commissions(uow.session, {B: B_EXPERTS, "4299999": ["Э-X1"]})
    assert _commission(seeded) == {e: (A, True) for e in A_EXPERTS}


# --- assignment ------------------------------------------------------------------------------


def test_every_work_to_copy_gets_one_expert_of_its_school_with_loads_within_one(
    copied: Seeded,
) -> None:
    with copied.uow() as uow:
        assignment = assigned(uow.session)
        assert count(uow.session, Assignment) == len(A_COPY) + len(B_COPY)
        register = {r.work_code: r for r in register_rows(uow.session, copied.session_id)}
    assert set(assignment) == {*A_COPY, *B_COPY}
    for codes, experts in ((A_COPY, A_EXPERTS), (B_COPY, B_EXPERTS)):
        load = Counter(assignment[c] for c in codes)
        assert set(load) <= set(experts)
        per_expert = [load[e] for e in experts]
        assert max(per_expert) - min(per_expert) <= 1, per_expert
    assert register[OVZ] == RegisterRow(OVZ, A, "02", "exposition", "copy", assignment[OVZ])


def test_flagged_absent_and_unrecorded_works_get_no_expert(copied: Seeded) -> None:
    with copied.uow() as uow:
        assignment = assigned(uow.session)
        register = {r.work_code: r for r in register_rows(uow.session, copied.session_id)}
    for code, status in (
        (NOT_FINISHED, "not_finished"),
        (REMOVED, "removed"),
        (ABSENT, "absent"),
        (NO_RECORD, "no_record"),
    ):
        assert code not in assignment
        assert (register[code].status, register[code].expert) == (status, None)
    assert RESERVE not in assignment
    assert RESERVE not in register


def test_assigning_again_gives_the_same_assignment_and_touches_nothing(copied: Seeded) -> None:
    def snapshot() -> list[tuple[object, ...]]:
        with copied.uow() as uow:
            rows = uow.session.execute(
                select(
                    Assignment.id,
                    Assignment.work_id,
                    Assignment.expert_id,
                    Assignment.assigned_by,
                    Assignment.assigned_at,
                )
            )
            return sorted(tuple(r) for r in rows)

    before = snapshot()
    with copied.uow() as uow:
        counts, problems = assign_session(uow.session, copied.session_id, "second run", LATER)
        uow.commit()
    assert (counts, problems) == ({A: len(A_COPY), B: len(B_COPY)}, {})
    assert snapshot() == before


def test_a_school_whose_commission_is_too_small_is_reported_and_gets_no_assignment(
    seeded: Seeded,
) -> None:
    with seeded.uow() as uow:
        store_room_records(uow.session, seeded.session_id, RECORDS, "is05.csv", NOW)
        store_commissions(uow.session, {A: A_EXPERTS})
        _, problems = assign_session(uow.session, seeded.session_id, ACTOR, NOW)
        assert problems == {B: "в предметной комиссии 0 экспертов, нужно не менее 3"}
        store_commissions(uow.session, {B: ["Э-B1", "Э-B2"]})
        counts, problems = assign_session(uow.session, seeded.session_id, ACTOR, NOW)
        uow.commit()
        assignment = assigned(uow.session)
    assert counts == {A: len(A_COPY)}
    assert problems == {B: "в предметной комиссии 2 экспертов, нужно не менее 3"}
    assert set(assignment) == set(A_COPY)


def test_the_works_of_a_deactivated_expert_move_and_the_others_stay(copied: Seeded) -> None:
    with copied.uow() as uow:
        first = assigned(uow.session)
        store_commissions(uow.session, {A: ["Э-A1", "Э-A3", "Э-A4"]})
        assign_session(uow.session, copied.session_id, "second run", LATER)
        uow.commit()
        second = assigned(uow.session)
    moved = [c for c in A_COPY if first[c] == "Э-A2"]
    assert moved
    assert {second[c] for c in moved} == {"Э-A4"}
    kept = [c for c in (*A_COPY, *B_COPY) if c not in moved]
    assert {c: second[c] for c in kept} == {c: first[c] for c in kept}


def test_a_work_flagged_after_it_was_assigned_loses_its_expert(copied: Seeded) -> None:
    with copied.uow() as uow:
        store_room_records(
            uow.session, copied.session_id, [day(A_COPY[0], removed=True)], "is05-v2.csv", LATER
        )
        assign_session(uow.session, copied.session_id, "second run", LATER)
        uow.commit()
        assert A_COPY[0] not in assigned(uow.session)


# --- reassignment ----------------------------------------------------------------------------


def test_reassigning_a_work_moves_it_and_writes_the_audit_log_old_to_new(copied: Seeded) -> None:
    work = A_COPY[0]
    with copied.uow() as uow:
        old = assigned(uow.session)[work]
        new = next(e for e in A_EXPERTS if e != old)
        assert reassign(uow.session, work, new, "coordinator", LATER) == old
        uow.commit()
    with copied.uow() as uow:
        assert assigned(uow.session)[work] == new
        assignment = uow.session.scalars(
            select(Assignment).join(Work).where(Work.work_code == work)
        ).one()
        assert (assignment.assigned_by, assignment.assigned_at) == ("coordinator", LATER)
        log = uow.session.scalars(select(AuditLog)).one()
        assert (log.at, log.actor, log.action, log.entity, log.entity_id) == (
            LATER,
            "coordinator",
            "reassign",
            "work",
            work,
        )
        assert (log.old, log.new) == ({"expert": old}, {"expert": new})


def test_a_reassignment_breaking_the_rules_is_refused_and_logs_nothing(copied: Seeded) -> None:
    refused = [
        (A_COPY[0], "Э-B1", "эксперт Э-B1 — из комиссии другой ОО"),
        (A_COPY[0], "Э-Z9", "эксперт Э-Z9 не состоит в действующей комиссии"),
        (A_COPY[0], "Э-A3", "эксперт Э-A3 не состоит в действующей комиссии"),  # deactivated
        ("421719999999", "Э-A1", "нет работы с кодом 421719999999"),
        (REMOVED, "Э-A1", f"работа {REMOVED} не назначена"),
    ]
    with copied.uow() as uow:
        store_commissions(uow.session, {A: ["Э-A1", "Э-A2", "Э-A4"]})
        before = assigned(uow.session)
        for work, expert, message in refused:
            with pytest.raises(DataError, match=message):
                reassign(uow.session, work, expert, "coordinator", LATER)
        uow.session.flush()
        assert assigned(uow.session) == before
        assert count(uow.session, AuditLog) == 0


# --- grade findings --------------------------------------------------------------------------


def _finding(code: str, group: str | None, double: bool = True) -> Finding:
    return Finding(code, group, FINDINGS[code], "незачет", "зачет", double)


FOUND = {
    A_COPY[0]: [_finding("rule", "overall"), _finding("transcription_mismatch", "k3")],
    A_COPY[1]: [_finding("flag_mismatch", "flag_oral", double=False)],
    REMOVED: [_finding("graded_flagged", None, double=False)],
}
KEYS = {
    "rule": f"grade:{A_COPY[0]}:rule:overall",
    "transcription": f"grade:{A_COPY[0]}:transcription_mismatch:k3",
    "flag": f"grade:{A_COPY[1]}:flag_mismatch:flag_oral",
    "flagged": f"grade:{REMOVED}:graded_flagged:-",
}


def _items(seeded: Seeded) -> dict[str, tuple[object, ...]]:
    """Key → (status, kind, field, double check, work code, opened at)."""
    with seeded.uow() as uow:
        rows = uow.session.execute(
            select(
                VerificationItem.key,
                VerificationItem.status,
                VerificationItem.kind,
                VerificationItem.field,
                VerificationItem.double_check,
                Work.work_code,
                VerificationItem.opened_at,
            ).outerjoin(Work, Work.id == VerificationItem.work_id)
        )
        return {key: tuple(rest) for key, *rest in rows}


def test_each_finding_becomes_one_open_item_and_storing_again_opens_no_duplicate(
    copied: Seeded,
) -> None:
    with copied.uow() as uow:
        first_work = uow.session.scalars(select(Work.id).where(Work.work_code == A_COPY[0])).one()
        page = Page(
            content_hash="registration-blank-of-the-first-work",
            session_id=copied.session_id,
            work_id=first_work,
            source_file="scan.pdf",
            blank_type="registration",
        )
        uow.session.add(page)
        uow.session.flush()
        page_id = page.id
        assert store_findings(uow.session, copied.session_id, FOUND, NOW) == {
            "opened": 4,
            "closed": 0,
            "findings": 4,
        }
        uow.commit()
    first = _items(copied)
    assert first == {
        KEYS["rule"]: ("open", "result", "overall", True, A_COPY[0], NOW),
        KEYS["transcription"]: ("open", "result", "k3", True, A_COPY[0], NOW),
        KEYS["flag"]: ("open", "record", "flag_oral", False, A_COPY[1], NOW),
        KEYS["flagged"]: ("open", "record", None, False, REMOVED, NOW),
    }
    with copied.uow() as uow:
        item = uow.session.scalars(
            select(VerificationItem).where(VerificationItem.key == KEYS["rule"])
        ).one()
        assert (item.page_id, item.reason, item.recognised_value) == (
            page_id,
            FINDINGS["rule"],
            "незачет",
        )
        assert item.detail == {"finding": "rule", "expected": "зачет"}
        flag = uow.session.scalars(
            select(VerificationItem).where(VerificationItem.key == KEYS["flag"])
        ).one()
        assert flag.page_id is None, "no registration blank of that work was scanned"

        assert store_findings(uow.session, copied.session_id, FOUND, LATER) == {
            "opened": 0,
            "closed": 0,
            "findings": 4,
        }
        uow.commit()
    assert _items(copied) == first


def test_a_finding_that_disappeared_is_closed_as_gone_even_if_decided_and_scan_items_are_kept(
    copied: Seeded,
) -> None:
    with copied.uow() as uow:
        store_findings(uow.session, copied.session_id, FOUND, NOW)
        decided = uow.session.scalars(
            select(VerificationItem).where(VerificationItem.key == KEYS["flag"])
        ).one()
        decided.status, decided.resolved_value = "resolved", "да"
        uow.session.add(
            VerificationItem(
                key="scan:some-page:work_code_unknown",
                session_id=copied.session_id,
                kind="scan",
                reason="код работы не найден",
                status="open",
                opened_at=NOW,
            )
        )
        uow.commit()
    with copied.uow() as uow:
        fewer = {A_COPY[0]: FOUND[A_COPY[0]][:1]}
        assert store_findings(uow.session, copied.session_id, fewer, LATER) == {
            "opened": 0,
            "closed": 3,
            "findings": 1,
        }
        uow.commit()
        gone = uow.session.scalars(
            select(VerificationItem).where(VerificationItem.status == "gone")
        ).all()
        # the decided one too: an answer to evidence that no longer holds decides nothing
        assert sorted((i.key, i.resolved_at) for i in gone) == sorted(
            [(KEYS["transcription"], LATER), (KEYS["flagged"], LATER), (KEYS["flag"], LATER)]
        )
    statuses = {key: item[0] for key, item in _items(copied).items()}
    assert statuses[KEYS["rule"]] == "open"
    assert statuses["scan:some-page:work_code_unknown"] == "open"


def test_a_finding_that_comes_back_after_it_was_gone_is_open_again(copied: Seeded) -> None:
    with copied.uow() as uow:
        store_findings(uow.session, copied.session_id, FOUND, NOW)
        store_findings(uow.session, copied.session_id, {}, NOW)
        again = store_findings(uow.session, copied.session_id, FOUND, LATER)
        uow.commit()
    assert again["opened"] == 4
    assert {item[0] for item in _items(copied).values()} == {"open"}


def test_protocol_rows_are_stored_once_per_work_and_source_with_the_assigned_expert(
    copied: Seeded,
) -> None:
    rows = [
        ProtocolRow(2, A_COPY[0], "Э-прочее", dict.fromkeys(GROUPS, True), ()),
        ProtocolRow(3, B_COPY[0], None, {**dict.fromkeys(GROUPS, False), "k1": None}, ()),
    ]
    with copied.uow() as uow:
        works = works_to_grade(uow.session, copied.session_id)
        experts = {r.work_code: works[r.work_code].expert for r in rows}
        for _ in range(2):
            store_evaluations(uow.session, copied.session_id, rows, experts, "protocol", NOW)
        uow.commit()
    with copied.uow() as uow:
        assert count(uow.session, Evaluation) == 2
        assert evaluations_of(uow.session, copied.session_id, "protocol") == {
            r.work_code: r.marks for r in rows
        }
        assert evaluations_of(uow.session, copied.session_id, "original") == {}
        stored_experts = uow.session.execute(
            select(Work.work_code, Evaluation.expert_code).join(Evaluation)
        )
        assert {code: expert for code, expert in stored_experts} == experts
    assert works[REMOVED] == WorkToGrade(A, "essay", "removed", None)
    assert (works[OVZ].school_code, works[OVZ].form, works[OVZ].status) == (A, "exposition", "copy")
    assert works[OVZ].expert in A_EXPERTS


def test_the_watchdog_checks_the_grading_deadline_per_school_and_a_done_school_is_complete(
    seeded: Seeded,
) -> None:
    from tasks.adapters.deadlines import completion_checks
    from tasks.adapters.models import PlanStage
    from tasks.adapters.submissions import mark_stage_completed

    due = datetime(2017, 12, 12, 17, 0, tzinfo=UTC)
    with seeded.uow() as uow:
        stage = PlanStage(
            session_id=seeded.session_id,
            stage_key="grade_copies",
            title="Проверка экспертами комиссий образовательных организаций",
            kind="window",
            automated_stage="grade",
            zone="Asia/Novokuznetsk",
            due_at=due,
            responsible=["commission", "school"],
        )
        uow.session.add(stage)
        uow.session.flush()
        mark_stage_completed(uow.session, stage.id, B, due - timedelta(days=1), {}, None)
        uow.commit()
        checks = completion_checks(uow.session, [seeded.session_id])
    by_party = {c.party: c for c in checks if c.stage_key == "grade_copies"}
    assert set(by_party) == {A, B}  # the schools that hold the session, not the МОУО
    assert by_party[A].completed is False
    assert by_party[B].completed is True
    assert by_party[A].due == due
