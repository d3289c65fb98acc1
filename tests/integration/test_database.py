"""The regional database on SQLite and PostgreSQL: schema, unit of work, idempotent loads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from config import PLANS_DIR
from tasks.adapters.database import Database, migrate, table_names
from tasks.adapters.models import (
    AuditLog,
    Base,
    Campaign,
    ExamSession,
    Mouo,
    Participant,
    PlanStage,
    Region,
    Registration,
    School,
    Work,
)
from tasks.adapters.plan_files import load_calendar, load_plan
from tasks.adapters.region_files import (
    load_regions,
    read_participants,
    read_region_structure,
    write_region,
)
from tasks.adapters.registry import (
    count_rows,
    insert_missing,
    load_participants,
    upsert_campaign,
    upsert_structure,
)
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.plan import resolve_plan
from tasks.domain.synthetic_region import GeneratorOptions, generate_region
from tasks.errors import RegistryError

pytestmark = pytest.mark.integration

EXPECTED_TABLES = {
    "region",
    "mouo",
    "school",
    "venue",
    "room",
    "participant",
    "campaign",
    "exam_session",
    "registration",
    "work",
    "page",
    "recognition_result",
    "verification_item",
    "evaluation",
    "result",
    "federal_upload",
    "notification",
    "plan_stage",
    "stage_completion",
    "audit_log",
}

STRUCTURE = {
    "region": {"code": "42", "name": "Кемеровская область", "timezone": "Asia/Novokuznetsk"},
    "mouos": [{"mouo_code": "42-01", "name": "УО г. Кемерово", "email": "uo01@obr42.example"}],
    "schools": [
        {
            "school_code": "4201001",
            "mouo_code": "42-01",
            "name": "МБОУ «СОШ № 1»",
            "kind": "school",
            "planned_participants": 20,
        }
    ],
    "rooms": [
        {"school_code": "4201001", "room": "01", "capacity": 15},
        {"school_code": "4201001", "room": "02", "capacity": 15},
    ],
}


def _campaign(uow: UnitOfWork) -> ExamSession:
    upsert_structure(uow.session, STRUCTURE)
    campaign = Campaign(
        code="test-2017", procedure="ИС-11", school_year="2017/18", region_code="42", title="тест"
    )
    exam = ExamSession(campaign=campaign, code="2017-12-06", ordinal=1, exam_date=date(2017, 12, 6))
    uow.session.add_all([campaign, exam])
    uow.session.flush()
    return exam


def test_migrations_create_every_table_of_the_regional_database(database: Database) -> None:
    assert EXPECTED_TABLES <= table_names(database.engine)


def test_migrations_match_the_models_exactly(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrating_twice_changes_nothing(database: Database) -> None:
    migrate(database.engine)
    assert EXPECTED_TABLES <= table_names(database.engine)


def test_unit_of_work_rolls_back_unless_committed(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        uow.session.add(Region(code="08", name="Калмыкия", timezone="Europe/Moscow"))
        uow.session.flush()
    with UnitOfWork(database.session_factory) as uow:
        assert uow.session.get(Region, "08") is None


def test_unit_of_work_rolls_back_when_the_block_raises(database: Database) -> None:
    with pytest.raises(ZeroDivisionError), UnitOfWork(database.session_factory) as uow:
        uow.session.add(Region(code="08", name="Калмыкия", timezone="Europe/Moscow"))
        uow.session.flush()
        _ = 1 / 0
    with UnitOfWork(database.session_factory) as uow:
        assert uow.session.get(Region, "08") is None


def test_unit_of_work_keeps_what_was_committed(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        uow.session.add(Region(code="08", name="Калмыкия", timezone="Europe/Moscow"))
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        region = uow.session.get(Region, "08")
        assert region is not None
        assert region.timezone == "Europe/Moscow"


def test_instants_come_back_aware_and_equal(database: Database) -> None:
    moment = datetime(2017, 12, 6, 9, 45, tzinfo=timezone(timedelta(hours=7)))
    with UnitOfWork(database.session_factory) as uow:
        uow.session.add(AuditLog(at=moment, actor="coordinator", action="test", entity="region"))
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        stored = uow.session.scalars(select(AuditLog.at)).one()
    assert stored.tzinfo is not None
    assert stored == moment
    assert stored.astimezone(UTC).hour == 2


def test_naive_instants_are_refused(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        uow.session.add(
            AuditLog(at=datetime(2017, 12, 6, 9, 45), actor="x", action="y", entity="z")
        )
        with pytest.raises(Exception, match="naive datetime refused"):
            uow.session.flush()


def test_a_duplicate_work_code_is_refused_with_a_registry_error(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        exam = _campaign(uow)
        school_id = uow.session.scalars(select(School.id)).one()
        uow.session.add(Work(work_code="421710000017", session_id=exam.id, school_id=school_id))
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        uow.session.add(Work(work_code="421710000017", session_id=exam.id, school_id=school_id))
        with pytest.raises(RegistryError, match="commit refused"):
            uow.commit()


def test_a_participant_with_an_unknown_sex_is_refused(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        upsert_structure(uow.session, STRUCTURE)
        mouo_id = uow.session.scalars(select(Mouo.id)).one()
        uow.session.add(
            Participant(
                snils="11223344595",
                surname="Иванов",
                name="Иван",
                sex="X",
                birth_date=date(2000, 1, 1),
                document_type="passport_rf",
                document_series="3214",
                document_number="123456",
                category="student",
                mouo_id=mouo_id,
            )
        )
        with pytest.raises(RegistryError):
            uow.commit()


def test_loading_the_structure_twice_inserts_nothing_the_second_time(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        first = upsert_structure(uow.session, STRUCTURE)
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        second = upsert_structure(uow.session, STRUCTURE)
        uow.commit()
        assert count_rows(uow.session, School) == 1
    assert first["rooms"].inserted == 2
    assert all(counts.inserted == 0 for counts in second.values())
    assert second["rooms"].existing == 2


def test_insert_missing_skips_rows_whose_key_exists(database: Database) -> None:
    rows = [
        {"code": "08", "name": "Калмыкия", "timezone": "Europe/Moscow"},
        {"code": "70", "name": "Томская", "timezone": "Asia/Tomsk"},
    ]
    with UnitOfWork(database.session_factory) as uow:
        assert insert_missing(uow.session, Region, rows[:1], ["code"]) == 1
        assert insert_missing(uow.session, Region, rows, ["code"]) == 1
        assert insert_missing(uow.session, Region, rows, ["code"]) == 0
        uow.commit()


def test_loading_a_generated_region_twice_gives_no_duplicates(
    database: Database, tmp_path: Path
) -> None:
    regions = load_regions()
    options = GeneratorOptions(
        participants=300, seed=3, region=regions["42"], exam_date=date(2017, 12, 6)
    )
    write_region(generate_region(options), tmp_path)
    plan = load_plan(PLANS_DIR / "kemerovo-2017-essay.yaml")
    calendar = load_calendar()
    resolved = {s.id: resolve_plan(plan, s.id, calendar) for s in plan.sessions}
    for attempt in range(2):
        with UnitOfWork(database.session_factory) as uow:
            stored = upsert_campaign(uow.session, plan, resolved)
            upsert_structure(uow.session, read_region_structure(tmp_path))
            loaded = load_participants(
                uow.session, read_participants(tmp_path), plan.id, "2017-12-06"
            )
            uow.commit()
        expected_new = 300 if attempt == 0 else 0
        assert loaded["participants"].inserted == expected_new
        assert loaded["registrations"].inserted == expected_new
        assert stored["plan_stages"].offered == 36
    with UnitOfWork(database.session_factory) as uow:
        assert count_rows(uow.session, Participant) == 300
        assert count_rows(uow.session, Registration) == 300
        publish = uow.session.scalars(
            select(PlanStage)
            .join(ExamSession)
            .where(PlanStage.stage_key == "publish_topics", ExamSession.code == "2017-12-06")
        ).one()
        assert publish.starts_at == datetime(2017, 12, 6, 2, 45, tzinfo=UTC)


def test_a_refused_commit_does_not_echo_personal_data(database: Database) -> None:
    with UnitOfWork(database.session_factory) as uow:
        upsert_structure(uow.session, STRUCTURE)
        mouo_id = uow.session.scalars(select(Mouo.id)).one()
        person = {
            "surname": "Секретова",
            "name": "Анна",
            "sex": "Ж",
            "birth_date": date(2000, 1, 1),
            "document_type": "passport_rf",
            "document_series": "3214",
            "category": "student",
            "mouo_id": mouo_id,
        }
        uow.session.add(Participant(snils="11223344595", document_number="123456", **person))
        uow.commit()
    with UnitOfWork(database.session_factory) as uow:
        uow.session.add(Participant(snils="11223344595", document_number="654321", **person))
        with pytest.raises(RegistryError) as caught:
            uow.commit()
    message = str(caught.value)
    assert "participant" in message or "snils" in message
    for secret in ("11223344595", "Секретова", "654321"):
        assert secret not in message
