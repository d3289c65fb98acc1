"""The reconcile stage's and the watchdog's database adapters on SQLite and PostgreSQL: staged
rows, consolidated registrations, discrepancies and decisions, completion checks, mail once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

import polars as pl
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from config import PLANS_DIR
from tasks.adapters.database import Database
from tasks.adapters.deadlines import completion_checks
from tasks.adapters.mail import FakeMailer, MailTransientError, OutgoingMail
from tasks.adapters.models import (
    AuditLog,
    Discrepancy,
    Mouo,
    Notification,
    Participant,
    Registration,
    Result,
    School,
    StageCompletion,
    Submission,
)
from tasks.adapters.notifications import send_once
from tasks.adapters.plan_files import load_calendar, load_plan
from tasks.adapters.reconciliation import (
    accepted_rows,
    close_discrepancy,
    history_of,
    open_critical_count,
    school_table,
    settle_document_owners,
    store_discrepancies,
    store_participants,
)
from tasks.adapters.registry import LoadCounts, count_rows, upsert_campaign, upsert_structure
from tasks.adapters.submissions import (
    mark_stage_completed,
    plan_stage_id,
    record_submission,
    session_info,
)
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.participants import SUBMISSION_COLUMNS
from tasks.domain.plan import Plan, ResolvedStage, resolve_plan
from tasks.domain.reconcile import DISCREPANCY_SCHEMA
from tasks.errors import RegistryError

pytestmark = pytest.mark.integration

CAMPAIGN = "kemerovo-2017-essay"
FIRST = "2017-12-06"
LATER = "2018-02-07"
NOVOKUZNETSK = timezone(timedelta(hours=7))
NOW = datetime(2017, 11, 24, 3, 0, tzinfo=UTC)

STRUCTURE = {
    "region": {"code": "42", "name": "Кемеровская область", "timezone": "Asia/Novokuznetsk"},
    "mouos": [
        {"mouo_code": "42-01", "name": "УО г. Кемерово", "email": "uo01@obr42.example"},
        {"mouo_code": "42-02", "name": "УО г. Новокузнецка", "email": "uo02@obr42.example"},
    ],
    "schools": [
        {
            "school_code": "4201001",
            "mouo_code": "42-01",
            "name": "МБОУ «СОШ № 1»",
            "kind": "school",
            "planned_participants": 20,
        },
        {
            "school_code": "4201002",
            "mouo_code": "42-01",
            "name": "МБОУ «СОШ № 2»",
            "kind": "school",
            "planned_participants": None,
        },
        {
            "school_code": "4202001",
            "mouo_code": "42-02",
            "name": "МБОУ «Лицей № 1»",
            "kind": "school",
            "planned_participants": 12,
        },
    ],
    "rooms": [
        {"school_code": "4201001", "room": "01", "capacity": 15},
        {"school_code": "4201001", "room": "02", "capacity": 10},
        {"school_code": "4202001", "room": "01", "capacity": 30},
    ],
}


@dataclass(frozen=True, slots=True)
class Sessions:
    first: int
    later: int


@pytest.fixture(scope="module")
def plan() -> tuple[Plan, dict[str, list[ResolvedStage]]]:
    loaded = load_plan(PLANS_DIR / "kemerovo-2017-essay.yaml")
    calendar = load_calendar()
    return loaded, {s.id: list(resolve_plan(loaded, s.id, calendar)) for s in loaded.sessions}


@pytest.fixture
def sessions(database: Database, plan: tuple[Plan, dict[str, list[ResolvedStage]]]) -> Sessions:
    """The Kemerovo 2017 plan stored with a small region: two МОУО, three schools."""
    with UnitOfWork(database.session_factory) as uow:
        upsert_campaign(uow.session, *plan)
        upsert_structure(uow.session, STRUCTURE)
        ids = Sessions(
            session_info(uow.session, CAMPAIGN, FIRST).id,
            session_info(uow.session, CAMPAIGN, LATER).id,
        )
        uow.commit()
    return ids


def _person(n: int, school_code: str = "4201001", **changes: str) -> dict[str, str]:
    """A normalised submission row (every field a string) for person number `n`."""
    row = {
        "surname": "Петрова",
        "name": "Анна",
        "patronymic": "Ивановна",
        "sex": "Ж",
        "birth_date": "14.03.2000",
        "document_type": "паспорт гражданина РФ",
        "document_series": "32 14",
        "document_number": f"{n:06d}",
        "snils": f"{n:011d}",
        "category": "Обучающийся 11 класса",
        "school_code": school_code,
        "class_name": "11А",
        "form": "сочинение",
        "oral": "нет",
        "ovz": "нет",
        "ovz_document": "",
        "attempt": "1",
    }
    assert set(row) == set(SUBMISSION_COLUMNS)
    return row | changes


def _snils(n: int) -> str:
    return f"{n:011d}"


def _submit(
    session: Session,
    session_id: int,
    mouo_code: str,
    people: list[dict[str, str]],
    *,
    tag: str,
    status: str = "accepted",
    rejected_rows: frozenset[int] = frozenset(),
) -> Submission:
    """Record a МОУО file as collect does: one staged row per person, numbered from 1."""
    mouo_id = session.scalars(select(Mouo.id).where(Mouo.code == mouo_code)).one()
    rows = pl.DataFrame(
        [
            {
                "row_number": n,
                "status": "rejected" if n in rejected_rows else "accepted",
                "data": person,
                "problems": [],
            }
            for n, person in enumerate(people, start=1)
        ]
    )
    submission = Submission(
        session_id=session_id,
        mouo_id=mouo_id,
        file_name=f"{tag}.xlsx",
        content_hash=hashlib.sha256(tag.encode()).hexdigest(),
        received_at=NOW,
        status=status,
        rows_read=len(people),
        rows_accepted=len(people) - len(rejected_rows),
        rows_rejected=len(rejected_rows),
    )
    return record_submission(session, submission, rows if people else None)


def _store(database: Database, session_id: int) -> dict[str, LoadCounts]:
    """Consolidate the current accepted rows of the session into registrations, committed."""
    with UnitOfWork(database.session_factory) as uow:
        loaded = store_participants(uow.session, session_id, accepted_rows(uow.session, session_id))
        uow.commit()
    return loaded


def _submit_and_store(
    database: Database, session_id: int, people: dict[str, list[dict[str, str]]], tag: str
) -> dict[str, LoadCounts]:
    with UnitOfWork(database.session_factory) as uow:
        for mouo_code, rows in people.items():
            _submit(uow.session, session_id, mouo_code, rows, tag=f"{tag}:{mouo_code}")
        uow.commit()
    return _store(database, session_id)


def _statuses(session: Session, session_id: int) -> dict[str, str]:
    """СНИЛС → registration status in the session."""
    query = (
        select(Participant.snils, Registration.status)
        .join(Registration, Registration.participant_id == Participant.id)
        .where(Registration.session_id == session_id)
    )
    return {snils: status for snils, status in session.execute(query) if snils is not None}


def _found(*rows: tuple[str, str]) -> pl.DataFrame:
    """Discrepancies as reconcile finds them: (key, severity) with a message per key."""
    return pl.DataFrame(
        [
            {
                "key": key,
                "kind": key.split(":", 1)[0],
                "severity": severity,
                "mouo_code": "42-01",
                "school_code": "",
                "message": f"сообщение {key}",
                "rows": "МОУО 42-01 стр. 1",
            }
            for key, severity in rows
        ],
        schema=DISCREPANCY_SCHEMA,
    )


def _snapshot(row: object) -> SimpleNamespace:
    """The stored values of a model instance, still readable once its unit of work is over (the
    rollback on leaving it expires every instance of the session)."""
    return SimpleNamespace(**{a.key: getattr(row, a.key) for a in inspect(row).mapper.column_attrs})


def _discrepancies(session: Session, session_id: int) -> dict[str, SimpleNamespace]:
    return {
        d.key: _snapshot(d)
        for d in session.scalars(select(Discrepancy).where(Discrepancy.session_id == session_id))
    }


# --- accepted rows -----------------------------------------------------------------------------


def test_accepted_rows_are_the_accepted_rows_of_each_mouos_current_submission(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        _submit(
            uow.session,
            sessions.first,
            "42-01",
            [_person(1), _person(2), _person(3)],
            tag="a",
            rejected_rows=frozenset({2}),
        )
        _submit(uow.session, sessions.first, "42-02", [_person(4, "4202001")], tag="b")
        _submit(uow.session, sessions.later, "42-02", [_person(5, "4202001")], tag="c")
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        rows = accepted_rows(uow.session, sessions.first)
    assert rows.columns == ["mouo_code", "row_number", *SUBMISSION_COLUMNS]
    assert sorted(rows.select("mouo_code", "row_number", "snils").iter_rows()) == [
        ("42-01", 1, _snils(1)),
        ("42-01", 3, _snils(3)),
        ("42-02", 1, _snils(4)),
    ]
    first = rows.filter(pl.col("snils") == _snils(1)).row(0, named=True)
    assert (first["mouo_code"], first["row_number"]) == ("42-01", 1)
    assert {k: first[k] for k in SUBMISSION_COLUMNS} == _person(1)


def test_a_resubmission_supersedes_the_mouos_earlier_submission(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        _submit(uow.session, sessions.first, "42-01", [_person(1), _person(2)], tag="v1")
        _submit(uow.session, sessions.first, "42-02", [_person(3, "4202001")], tag="other")
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        _submit(uow.session, sessions.first, "42-01", [_person(1), _person(7)], tag="v2")
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        rows = accepted_rows(uow.session, sessions.first)
        statuses = dict(uow.session.execute(select(Submission.file_name, Submission.status)).all())
    assert sorted(rows.select("mouo_code", "snils").iter_rows()) == [
        ("42-01", _snils(1)),
        ("42-01", _snils(7)),
        ("42-02", _snils(3)),
    ]
    assert statuses == {"v1.xlsx": "superseded", "v2.xlsx": "accepted", "other.xlsx": "accepted"}


def test_a_rejected_file_leaves_the_earlier_accepted_submission_current(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        _submit(uow.session, sessions.first, "42-01", [_person(1), _person(2)], tag="good")
        _submit(uow.session, sessions.first, "42-01", [], tag="unreadable", status="rejected")
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        rows = accepted_rows(uow.session, sessions.first)
    assert sorted(rows["snils"]) == [_snils(1), _snils(2)]


def test_accepted_rows_of_a_session_without_submissions_are_an_empty_frame(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        rows = accepted_rows(uow.session, sessions.first)
    assert rows.height == 0
    assert rows.columns == ["mouo_code", "row_number", *SUBMISSION_COLUMNS]


# --- participants and registrations ------------------------------------------------------------


def test_storing_participants_inserts_people_and_registrations_once(
    database: Database, sessions: Sessions
) -> None:
    people = {
        "42-01": [
            _person(1),
            _person(2, "4201002"),
            _person(
                3,
                category="Выпускник прошлых лет",
                form="изложение",
                oral="да",
                ovz="да",
                ovz_document="Заключение ПМПК № 12",
                patronymic="",
                attempt="2",
            ),
        ],
        "42-02": [_person(4, "4202001"), _person(5, "4202001")],
    }
    first = _submit_and_store(database, sessions.first, people, "v1")
    second = _store(database, sessions.first)
    assert first == {
        "participants": LoadCounts(5, 5),
        "registrations": LoadCounts(5, 5),
        "withdrawn": LoadCounts(0, 0),
    }
    assert second == {
        "participants": LoadCounts(5, 0),
        "registrations": LoadCounts(5, 0),
        "withdrawn": LoadCounts(0, 0),
    }
    with UnitOfWork(database.session_factory) as uow:
        assert count_rows(uow.session, Participant) == 5
        assert count_rows(uow.session, Registration) == 5
        assert set(_statuses(uow.session, sessions.first).values()) == {"registered"}
        person = _snapshot(
            uow.session.scalars(select(Participant).where(Participant.snils == _snils(3))).one()
        )
        registration = _snapshot(
            uow.session.scalars(
                select(Registration).where(Registration.participant_id == person.id)
            ).one()
        )
        school_id = uow.session.scalars(select(School.id).where(School.code == "4201001")).one()
    assert (person.birth_date, person.document_type, person.document_series) == (
        date(2000, 3, 14),
        "passport_rf",
        "3214",
    )
    assert (person.category, person.form, person.oral, person.ovz) == (
        "graduate",
        "exposition",
        True,
        True,
    )
    assert person.patronymic is None
    assert person.school_id == school_id
    assert (registration.attempt, registration.form, registration.oral) == (2, "exposition", True)
    assert registration.school_id == school_id


def test_a_person_dropped_from_the_submissions_is_withdrawn_and_restored_when_back(
    database: Database, sessions: Sessions
) -> None:
    _submit_and_store(database, sessions.first, {"42-01": [_person(1), _person(2)]}, "v1")
    dropped = _submit_and_store(database, sessions.first, {"42-01": [_person(1)]}, "v2")
    with UnitOfWork(database.session_factory) as uow:
        after_drop = _statuses(uow.session, sessions.first)
    back = _submit_and_store(database, sessions.first, {"42-01": [_person(2), _person(1)]}, "v3")
    with UnitOfWork(database.session_factory) as uow:
        after_return = _statuses(uow.session, sessions.first)
        assert count_rows(uow.session, Registration) == 2
    assert dropped["withdrawn"] == LoadCounts(1, 1)
    assert after_drop == {_snils(1): "registered", _snils(2): "withdrawn"}
    assert back["registrations"] == LoadCounts(2, 0)
    assert back["withdrawn"] == LoadCounts(0, 0)
    assert after_return == {_snils(1): "registered", _snils(2): "registered"}


def test_withdrawing_touches_only_the_reconciled_session(
    database: Database, sessions: Sessions
) -> None:
    both = {"42-01": [_person(1), _person(2)]}
    _submit_and_store(database, sessions.first, both, "first")
    _submit_and_store(database, sessions.later, both, "later")
    _submit_and_store(database, sessions.first, {"42-01": [_person(1)]}, "first-v2")
    with UnitOfWork(database.session_factory) as uow:
        assert _statuses(uow.session, sessions.first)[_snils(2)] == "withdrawn"
        assert _statuses(uow.session, sessions.later)[_snils(2)] == "registered"
        assert count_rows(uow.session, Participant) == 2


def test_withdrawals_and_restores_beyond_one_batch_work(
    database: Database, sessions: Sessions
) -> None:
    everyone = [_person(n) for n in range(1, 1_201)]
    _submit_and_store(database, sessions.first, {"42-01": everyone}, "all")
    withdrawn = _submit_and_store(database, sessions.first, {"42-01": everyone[:50]}, "few")
    with UnitOfWork(database.session_factory) as uow:
        after_drop = list(_statuses(uow.session, sessions.first).values())
    restored = _submit_and_store(database, sessions.first, {"42-01": everyone}, "all-again")
    with UnitOfWork(database.session_factory) as uow:
        after_return = list(_statuses(uow.session, sessions.first).values())
    assert withdrawn["withdrawn"] == LoadCounts(1_150, 1_150)
    assert (after_drop.count("withdrawn"), after_drop.count("registered")) == (1_150, 50)
    assert restored["withdrawn"] == LoadCounts(0, 0)
    assert restored["registrations"] == LoadCounts(1_200, 0)
    assert after_return.count("registered") == 1_200


def test_storing_a_new_snils_on_a_known_document_unsettled_is_refused_without_personal_data(
    database: Database, sessions: Sessions
) -> None:
    _submit_and_store(database, sessions.first, {"42-01": [_person(1)]}, "v1")
    with UnitOfWork(database.session_factory) as uow:
        _submit(uow.session, sessions.first, "42-01", [_person(1, snils="11223344595")], tag="v2")
        uow.commit()
    with pytest.raises(RegistryError) as refused:
        _store(database, sessions.first)
    text = str(refused.value)
    assert "refused" in text
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__  # the original, with parameters, is not printed
    for secret in ("11223344595", _snils(1), "Петрова", "000001"):
        assert secret not in text


def _settle_and_store(database: Database, session_id: int) -> tuple[int, pl.DataFrame]:
    now = datetime(2017, 11, 20, tzinfo=UTC)
    with UnitOfWork(database.session_factory) as uow:
        rows = accepted_rows(uow.session, session_id)
        corrected, taken = settle_document_owners(uow.session, rows, "reconcile", now)
        store_participants(
            uow.session, session_id, rows.join(taken.select("snils"), on="snils", how="anti")
        )
        uow.commit()
    return corrected, taken


def test_a_corrected_snils_is_taken_over_by_the_known_person_and_audit_logged(
    database: Database, sessions: Sessions
) -> None:
    _submit_and_store(database, sessions.first, {"42-01": [_person(1), _person(2)]}, "v1")
    with UnitOfWork(database.session_factory) as uow:
        before = uow.session.scalar(select(Participant.id).where(Participant.snils == _snils(1)))
        rows = [_person(1, snils="11223344595"), _person(2)]
        _submit(uow.session, sessions.first, "42-01", rows, tag="v2")
        uow.commit()
    corrected, taken = _settle_and_store(database, sessions.first)
    assert corrected == 1
    assert taken.is_empty()
    with UnitOfWork(database.session_factory) as uow:
        after = uow.session.scalar(select(Participant.id).where(Participant.snils == "11223344595"))
        assert after == before  # the same person, not a new one
        assert count_rows(uow.session, Participant) == 2
        assert _statuses(uow.session, sessions.first) == {
            "11223344595": "registered",
            _snils(2): "registered",
        }
        [log] = uow.session.scalars(
            select(AuditLog).where(AuditLog.action == "participant.snils_corrected")
        ).all()
        assert log.entity_id == str(before)
        assert "11223344595" not in repr((log.old, log.new))
        assert _snils(1) not in repr((log.old, log.new))
    again, _ = _settle_and_store(database, sessions.first)
    assert again == 0  # idempotent


def test_a_new_snils_on_the_document_of_a_graded_person_is_not_loaded_but_returned(
    database: Database, sessions: Sessions
) -> None:
    _submit_and_store(database, sessions.first, {"42-01": [_person(1)]}, "v1")
    with UnitOfWork(database.session_factory) as uow:
        registration = uow.session.scalar(select(Registration.id))
        uow.session.add(Result(registration_id=registration, passed=False, outcome="незачет"))
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        _submit(uow.session, sessions.later, "42-01", [_person(1, snils="11223344595")], tag="x")
        uow.commit()
    corrected, taken = _settle_and_store(database, sessions.later)
    assert corrected == 0
    assert taken.select("mouo_code", "row_number", "snils").rows() == [("42-01", 1, "11223344595")]
    with UnitOfWork(database.session_factory) as uow:
        assert count_rows(uow.session, Participant) == 1
        assert _statuses(uow.session, sessions.later) == {}
        assert uow.session.scalar(select(Participant.snils)) == _snils(1)


def test_discrepancies_are_opened_once_and_their_text_refreshed(
    database: Database, sessions: Sessions
) -> None:
    found = _found(("no_submission:42-02", "critical"), ("count_gap:4201001", "warning"))
    later = NOW + timedelta(hours=1)
    with UnitOfWork(database.session_factory) as uow:
        first = store_discrepancies(uow.session, sessions.first, found, NOW)
        uow.commit()
    refreshed = found.with_columns(pl.col("message") + " (уточнено)")
    with UnitOfWork(database.session_factory) as uow:
        second = store_discrepancies(uow.session, sessions.first, refreshed, later)
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        stored = _discrepancies(uow.session, sessions.first)
    assert first == {"found": 2, "opened": 2, "gone": 0}
    assert second == {"found": 2, "opened": 0, "gone": 0}
    assert sorted(stored) == ["count_gap:4201001", "no_submission:42-02"]
    assert {d.status for d in stored.values()} == {"open"}
    assert {d.found_at for d in stored.values()} == {NOW}
    assert stored["no_submission:42-02"].message == "сообщение no_submission:42-02 (уточнено)"
    assert stored["no_submission:42-02"].severity == "critical"


def test_a_discrepancy_no_longer_found_is_gone_and_reopened_when_found_again(
    database: Database, sessions: Sessions
) -> None:
    both = _found(("no_submission:42-02", "critical"), ("duplicate_snils:ab", "critical"))
    second_run, third_run = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    with UnitOfWork(database.session_factory) as uow:
        store_discrepancies(uow.session, sessions.first, both, NOW)
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        gone = store_discrepancies(uow.session, sessions.first, both.head(1), second_run)
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        closed = _discrepancies(uow.session, sessions.first)["duplicate_snils:ab"]
        blocking_after_gone = open_critical_count(uow.session, sessions.first)
    with UnitOfWork(database.session_factory) as uow:
        back = store_discrepancies(uow.session, sessions.first, both, third_run)
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        reopened = _discrepancies(uow.session, sessions.first)["duplicate_snils:ab"]
        blocking_after_return = open_critical_count(uow.session, sessions.first)
    assert gone == {"found": 1, "opened": 0, "gone": 1}
    assert (closed.status, closed.closed_by, closed.closed_at) == ("gone", "reconcile", second_run)
    assert blocking_after_gone == 1
    assert back == {"found": 2, "opened": 1, "gone": 0}
    assert (reopened.status, reopened.closed_by, reopened.closed_at) == ("open", None, None)
    assert reopened.id == closed.id
    assert blocking_after_return == 2


def test_a_coordinators_decision_is_kept_when_the_discrepancy_is_found_again_or_not(
    database: Database, sessions: Sessions
) -> None:
    found = _found(
        ("no_submission:42-02", "critical"),
        ("duplicate_snils:ab", "critical"),
        ("count_gap:4201001", "warning"),
    )
    with UnitOfWork(database.session_factory) as uow:
        store_discrepancies(uow.session, sessions.first, found, NOW)
        stored = _discrepancies(uow.session, sessions.first)
        close_discrepancy(
            uow.session, stored["no_submission:42-02"].id, "accepted", "coordinator", "письмо"
        )
        close_discrepancy(
            uow.session, stored["duplicate_snils:ab"].id, "resolved", "coordinator", "исправлено"
        )
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        again = store_discrepancies(uow.session, sessions.first, found, NOW + timedelta(hours=1))
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        after_again = {k: d.status for k, d in _discrepancies(uow.session, sessions.first).items()}
    with UnitOfWork(database.session_factory) as uow:
        empty = found.clear()
        missing = store_discrepancies(uow.session, sessions.first, empty, NOW + timedelta(hours=2))
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        after_missing = {
            k: (d.status, d.closed_by)
            for k, d in _discrepancies(uow.session, sessions.first).items()
        }
    assert again == {"found": 3, "opened": 0, "gone": 0}
    assert after_again == {
        "no_submission:42-02": "accepted",
        "duplicate_snils:ab": "resolved",
        "count_gap:4201001": "open",
    }
    assert missing == {"found": 0, "opened": 0, "gone": 1}
    assert after_missing == {
        "no_submission:42-02": ("accepted", "coordinator"),
        "duplicate_snils:ab": ("resolved", "coordinator"),
        "count_gap:4201001": ("gone", "reconcile"),
    }


def test_closing_a_discrepancy_is_audit_logged_and_unblocks_printing(
    database: Database, sessions: Sessions
) -> None:
    found = _found(
        ("no_submission:42-02", "critical"),
        ("duplicate_snils:ab", "critical"),
        ("count_gap:4201001", "warning"),
    )
    decided = datetime(2017, 11, 25, 10, 30, tzinfo=NOVOKUZNETSK)
    with UnitOfWork(database.session_factory) as uow:
        store_discrepancies(uow.session, sessions.first, found, NOW)
        store_discrepancies(uow.session, sessions.later, found.head(1), NOW)
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        ids = {k: d.id for k, d in _discrepancies(uow.session, sessions.first).items()}
        before = open_critical_count(uow.session, sessions.first)
        close_discrepancy(
            uow.session, ids["count_gap:4201001"], "accepted", "coordinator", "норма", decided
        )
        after_warning = open_critical_count(uow.session, sessions.first)
        accepted = _snapshot(
            close_discrepancy(
                uow.session, ids["no_submission:42-02"], "accepted", "ivanova", "сдали на бумаге"
            )
        )
        after_one = open_critical_count(uow.session, sessions.first)
        close_discrepancy(
            uow.session, ids["duplicate_snils:ab"], "resolved", "petrov", "МОУО исправило"
        )
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        after_all = open_critical_count(uow.session, sessions.first)
        other_session = open_critical_count(uow.session, sessions.later)
        log = {
            entry.entity_id: _snapshot(entry)
            for entry in uow.session.scalars(select(AuditLog).order_by(AuditLog.id))
        }
    assert (before, after_warning, after_one, after_all) == (2, 2, 1, 0)
    assert other_session == 1
    assert (accepted.status, accepted.closed_by, accepted.note) == (
        "accepted",
        "ivanova",
        "сдали на бумаге",
    )
    assert set(log) == {str(i) for i in ids.values()}
    entry = log[str(ids["no_submission:42-02"])]
    assert (entry.actor, entry.action, entry.entity) == (
        "ivanova",
        "discrepancy.accepted",
        "discrepancy",
    )
    assert entry.old == {"status": "open", "note": None}
    assert entry.new == {"status": "accepted", "note": "сдали на бумаге"}
    resolved = log[str(ids["duplicate_snils:ab"])]
    assert (resolved.actor, resolved.action) == ("petrov", "discrepancy.resolved")
    assert resolved.new == {"status": "resolved", "note": "МОУО исправило"}
    assert log[str(ids["count_gap:4201001"])].at == decided


def test_closing_with_an_unknown_status_or_id_is_refused(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        store_discrepancies(
            uow.session, sessions.first, _found(("no_submission:42-02", "critical")), NOW
        )
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        known = _discrepancies(uow.session, sessions.first)["no_submission:42-02"].id
        for status in ("gone", "open", "closed"):
            with pytest.raises(RegistryError, match="resolved or accepted"):
                close_discrepancy(uow.session, known, status, "coordinator", "")
        with pytest.raises(RegistryError, match=f"no discrepancy {known + 1000}"):
            close_discrepancy(uow.session, known + 1000, "accepted", "coordinator", "")
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        assert count_rows(uow.session, AuditLog) == 0
        assert _discrepancies(uow.session, sessions.first)["no_submission:42-02"].status == "open"
        assert open_critical_count(uow.session, sessions.first) == 1


# --- history and schools -----------------------------------------------------------------------


def test_history_lists_the_asked_peoples_registrations_with_their_results(
    database: Database, sessions: Sessions
) -> None:
    people = {"42-01": [_person(n) for n in range(1, 6)]}
    _submit_and_store(database, sessions.first, people, "first")
    _submit_and_store(database, sessions.later, {"42-01": [_person(1)]}, "later")
    _submit_and_store(database, sessions.first, {"42-01": people["42-01"][:4]}, "first-v2")
    with UnitOfWork(database.session_factory) as uow:
        registration = {
            snils: id_
            for snils, id_ in uow.session.execute(
                select(Participant.snils, Registration.id)
                .join(Registration, Registration.participant_id == Participant.id)
                .where(Registration.session_id == sessions.first)
            )
        }
        uow.session.add_all(
            [
                Result(registration_id=registration[_snils(1)], passed=True, outcome="зачет"),
                Result(registration_id=registration[_snils(2)], passed=False, outcome="незачет"),
                Result(registration_id=registration[_snils(3)], passed=None, outcome="flagged"),
            ]
        )
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        asked = [_snils(n) for n in (1, 2, 3, 5, 99)]
        history = history_of(uow.session, asked)
        nobody = history_of(uow.session, [])
    assert history.schema == pl.Schema(
        {"snils": pl.Utf8, "school_year": pl.Utf8, "session_code": pl.Utf8, "passed": pl.Boolean}
    )
    assert history.sort("snils", "session_code").rows() == [
        (_snils(1), "2017/18", FIRST, True),
        (_snils(1), "2017/18", LATER, None),
        (_snils(2), "2017/18", FIRST, False),
        (_snils(3), "2017/18", FIRST, None),
    ]
    assert nobody.height == 0


def test_school_table_gives_planned_counts_and_the_seats_of_the_rooms(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        schools = school_table(uow.session)
    assert schools.columns == ["school_code", "mouo_code", "planned", "capacity"]
    assert sorted(schools.iter_rows()) == [
        ("4201001", "42-01", 20, 25),
        ("4201002", "42-01", None, None),
        ("4202001", "42-02", 12, 30),
    ]


# --- plan stages and completion checks ---------------------------------------------------------


def test_session_info_names_the_collect_stage_and_its_deadline(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        info = session_info(uow.session, CAMPAIGN, FIRST)
        collect = plan_stage_id(uow.session, sessions.first, "collect")
        reconcile = plan_stage_id(uow.session, sessions.first, "reconcile")
        untracked = plan_stage_id(uow.session, sessions.first, "no-such-stage")
        with pytest.raises(RegistryError, match="store the plan first"):
            session_info(uow.session, CAMPAIGN, "2019-12-04")
    assert (info.id, info.code, info.exam_date) == (sessions.first, FIRST, date(2017, 12, 6))
    assert info.zone == "Asia/Novokuznetsk"
    assert info.collect_stage_id == collect
    assert info.collect_due == datetime(2017, 11, 23, tzinfo=NOVOKUZNETSK)
    assert reconcile is not None
    assert reconcile != collect
    assert untracked is None


def test_completion_checks_ask_every_mouo_for_collect_and_the_rcoi_for_the_rcoi_stages(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        checks = completion_checks(uow.session, [sessions.first])
        collect = plan_stage_id(uow.session, sessions.first, "collect")
        reconcile = plan_stage_id(uow.session, sessions.first, "reconcile")
        publish = plan_stage_id(uow.session, sessions.first, "publish")
        printing = plan_stage_id(uow.session, sessions.first, "print")
        scanning = plan_stage_id(uow.session, sessions.first, "scan")
        issuing = plan_stage_id(uow.session, sessions.first, "inform")
    assert sorted((c.plan_stage_id, c.party, c.completed) for c in checks) == sorted(
        [
            (collect, "42-01", False),
            (collect, "42-02", False),
            (reconcile, "rcoi", False),
            (printing, "rcoi", False),
            (publish, "rcoi", False),
            (scanning, "rcoi", False),
            # each МОУО completes the inform stage by acknowledging its results lists
            (issuing, "42-01", False),
            (issuing, "42-02", False),
        ]
    )
    by_stage = {(c.stage_key, c.party): c for c in checks}
    assert set(by_stage) == {
        ("submit_participants", "42-01"),
        ("submit_participants", "42-02"),
        ("load_registry", "rcoi"),
        ("print_kits", "rcoi"),
        ("publish_topics", "rcoi"),
        ("regional_processing", "rcoi"),
        ("issue_results", "42-01"),
        ("issue_results", "42-02"),
    }
    assert {c.session_code for c in checks} == {FIRST}
    assert {c.zone for c in checks} == {"Asia/Novokuznetsk"}
    # the topics are due at 09:45 and late two minutes later, not at the end of the day
    assert by_stage["publish_topics", "rcoi"].due == datetime(
        2017, 12, 6, 9, 47, tzinfo=NOVOKUZNETSK
    )
    # printing: «не позднее чем за день до проведения», the 5th inclusive
    assert by_stage["print_kits", "rcoi"].due == datetime(2017, 12, 6, tzinfo=NOVOKUZNETSK)
    # scanning (with verification): days 7 to 11 after the exam, the 17th inclusive
    assert by_stage["regional_processing", "rcoi"].due == datetime(
        2017, 12, 18, tzinfo=NOVOKUZNETSK
    )
    later = ("publish_topics", "print_kits", "regional_processing", "issue_results")
    assert {c.due for c in checks if c.stage_key not in later} == {
        datetime(2017, 11, 23, tzinfo=NOVOKUZNETSK)
    }
    # results issued D+12: the МОУО acknowledge by the end of that day
    assert by_stage["issue_results", "42-01"].due == datetime(2017, 12, 19, tzinfo=NOVOKUZNETSK)


def test_a_completion_counts_only_for_the_party_that_completed(
    database: Database, sessions: Sessions
) -> None:
    def completed(session_id: int) -> dict[str, bool]:
        tracked = {"collect": "mouo", "reconcile": "rcoi"}  # one "rcoi" check: reconcile's
        with UnitOfWork(database.session_factory) as uow:
            checks = completion_checks(uow.session, [session_id], tracked)
            return {c.party: c.completed for c in checks}

    with UnitOfWork(database.session_factory) as uow:
        collect = plan_stage_id(uow.session, sessions.first, "collect")
        mark_stage_completed(uow.session, collect, "42-01", NOW, {"rows": 3}, "run-1")
        uow.commit()
    after_collect = completed(sessions.first)
    with UnitOfWork(database.session_factory) as uow:
        reconcile = plan_stage_id(uow.session, sessions.first, "reconcile")
        mark_stage_completed(uow.session, reconcile, "rcoi", NOW, {"participants": 3})
        mark_stage_completed(uow.session, None, "rcoi", NOW, {})  # a plan without the stage
        uow.commit()
    assert after_collect == {"42-01": True, "42-02": False, "rcoi": False}
    assert completed(sessions.first) == {"42-01": True, "42-02": False, "rcoi": True}
    assert completed(sessions.later) == {"42-01": False, "42-02": False, "rcoi": False}


def test_marking_a_stage_completed_again_updates_the_details_only(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        collect = plan_stage_id(uow.session, sessions.first, "collect")
        mark_stage_completed(uow.session, collect, "42-01", NOW, {"rows": 3}, "run-1")
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        later = NOW + timedelta(days=1)
        mark_stage_completed(uow.session, collect, "42-01", later, {"rows": 5}, "run-2")
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        stored = _snapshot(uow.session.scalars(select(StageCompletion)).one())
    assert (stored.party, stored.completed_at, stored.flow_run_id) == ("42-01", NOW, "run-1")
    assert stored.details == {"rows": 5}


# --- notifications -----------------------------------------------------------------------------


def _mail(key: str = "reconcile-report:2017-12-06:42-01:0123456789abcdef") -> OutgoingMail:
    return OutgoingMail(
        key=key,
        to=("uo01@obr42.example",),
        subject="Выверка РБД: расхождения МОУО 42-01",
        body="Расхождений, требующих решения, нет.",
    )


def test_send_once_sends_a_key_once_and_records_one_notification(
    database: Database, sessions: Sessions
) -> None:
    with UnitOfWork(database.session_factory) as uow:
        stage = plan_stage_id(uow.session, sessions.first, "reconcile")
    first, again = FakeMailer(), FakeMailer()  # a fresh mailer: only the table can remember
    sent = send_once(database.session_factory, first, _mail(), "reconcile-report", stage)
    repeated = send_once(database.session_factory, again, _mail(), "reconcile-report", stage)
    other = send_once(database.session_factory, again, _mail("reconcile-report:x"), "report")
    with UnitOfWork(database.session_factory) as uow:
        stored = {n.dedup_key: _snapshot(n) for n in uow.session.scalars(select(Notification))}
    assert (sent, repeated, other) == (True, False, True)
    assert [m.key for m in first.sent] == [_mail().key]
    assert [m.key for m in again.sent] == ["reconcile-report:x"]
    assert len(stored) == 2
    notification = stored[_mail().key]
    assert (notification.kind, notification.channel, notification.recipient) == (
        "reconcile-report",
        "fake",
        "uo01@obr42.example",
    )
    assert notification.plan_stage_id == stage
    assert notification.subject == _mail().subject


def test_a_mail_that_failed_to_send_is_not_recorded_and_goes_on_the_retry(
    database: Database, sessions: Sessions
) -> None:
    mailer = FakeMailer(failures=[MailTransientError("421 try again later")])
    with pytest.raises(MailTransientError):
        send_once(database.session_factory, mailer, _mail(), "reconcile-report")
    with UnitOfWork(database.session_factory) as uow:
        assert count_rows(uow.session, Notification) == 0
    assert send_once(database.session_factory, mailer, _mail(), "reconcile-report") is True
    with UnitOfWork(database.session_factory) as uow:
        assert count_rows(uow.session, Notification) == 1
    assert len(mailer.sent) == 1
