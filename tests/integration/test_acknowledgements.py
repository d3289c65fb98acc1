"""Acknowledgements of the results lists (tasks/adapters/acknowledgements.py), on SQLite and
PostgreSQL: a token issued once per content, shown without changing anything, acknowledged
once (the first instant stays), re-issued when the content changes, audit-logged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tasks.adapters.acknowledgements import AckView, ack_url, acknowledge, issue, pending, view
from tasks.adapters.database import Database
from tasks.adapters.models import Acknowledgement, AuditLog, Campaign, ExamSession, Region

pytestmark = pytest.mark.integration  # a real database, both backends

SENT = datetime(2017, 12, 18, 5, 0, tzinfo=UTC)
SEEN = datetime(2017, 12, 18, 8, 30, tzinfo=UTC)
CONTENT = hashlib.sha256(b"results lists v1").hexdigest()
CHANGED = hashlib.sha256(b"results lists v2").hexdigest()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session_factory() as session:
        session.add(Region(code="42", name="Кемеровская область", timezone="Asia/Novokuznetsk"))
        session.flush()
        yield session
        session.rollback()


@pytest.fixture
def exam_id(session: Session) -> int:
    campaign = Campaign(
        code="test-2017", procedure="ИС-11", school_year="2017/18", region_code="42", title="т"
    )
    exam = ExamSession(campaign=campaign, code="2017-12-06", ordinal=1, exam_date=date(2017, 12, 6))
    session.add_all([campaign, exam])
    session.flush()
    return exam.id


def audit(session: Session, action: str) -> list[AuditLog]:
    return list(
        session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
    )


def test_an_issued_token_shows_what_is_to_be_acknowledged_and_is_stored_only_as_a_hash(
    session: Session, exam_id: int
) -> None:
    token = issue(session, exam_id, "42-05", "results", CONTENT, SENT)
    assert token is not None
    assert len(token) >= 40
    row = session.scalars(select(Acknowledgement)).one()
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([row.token_sha256, row.content_sha256, row.party])
    assert view(session, token) == AckView(
        "42-05", "results", "2017-12-06", date(2017, 12, 6), "Asia/Novokuznetsk", SENT, None
    )
    assert row.acknowledged_at is None  # viewing changes nothing


def test_acknowledging_twice_keeps_the_first_instant_and_audits_once(
    session: Session, exam_id: int
) -> None:
    token = issue(session, exam_id, "42-05", "results", CONTENT, SENT)
    assert token is not None
    first = acknowledge(session, token, SEEN)
    assert first is not None
    assert first.acknowledged_at == SEEN
    again = acknowledge(session, token, SEEN + timedelta(hours=2))
    assert again is not None
    assert again.acknowledged_at == SEEN
    shown = view(session, token)
    assert shown is not None
    assert shown.acknowledged_at == SEEN
    [entry] = audit(session, "acknowledged")
    assert (entry.actor, entry.entity, entry.old) == (
        "42-05",
        "acknowledgement",
        {"acknowledged_at": None},
    )
    assert entry.new is not None
    assert entry.new["acknowledged_at"] == SEEN.isoformat()
    assert token not in repr(entry.new)


def test_the_same_content_is_not_issued_again(session: Session, exam_id: int) -> None:
    assert issue(session, exam_id, "42-05", "results", CONTENT, SENT) is not None
    assert issue(session, exam_id, "42-05", "results", CONTENT, SENT + timedelta(hours=1)) is None
    assert session.scalars(select(Acknowledgement)).one().sent_at == SENT


def test_changed_content_reissues_and_the_old_acknowledgement_no_longer_counts(
    session: Session, exam_id: int
) -> None:
    old = issue(session, exam_id, "42-05", "results", CONTENT, SENT)
    assert old is not None
    acknowledge(session, old, SEEN)
    later = SENT + timedelta(days=1)
    new = issue(session, exam_id, "42-05", "results", CHANGED, later)
    assert new is not None
    assert new != old
    assert view(session, old) is None  # the old link is dead
    shown = view(session, new)
    assert shown is not None
    assert (shown.sent_at, shown.acknowledged_at) == (later, None)
    assert pending(session, exam_id, "results") == [("42-05", later)]
    assert [e.old for e in audit(session, "ack_issued")] == [
        None,
        {"content_sha256": CONTENT, "acknowledged": True},
    ]


def test_pending_lists_the_parties_not_yet_acknowledged(session: Session, exam_id: int) -> None:
    tokens = {
        party: issue(session, exam_id, party, "results", CONTENT, SENT)
        for party in ("42-07", "42-05", "42-06")
    }
    token = tokens["42-06"]
    assert token is not None
    acknowledge(session, token, SEEN)
    assert pending(session, exam_id, "results") == [("42-05", SENT), ("42-07", SENT)]
    assert pending(session, exam_id, "other") == []


@pytest.mark.parametrize(
    "token", ["", "x", "a" * 43, "не-токен", "../../etc/passwd", "a" * 500, "%00" * 20]
)
def test_an_unknown_or_malformed_token_finds_nothing(
    session: Session, exam_id: int, token: str
) -> None:
    issue(session, exam_id, "42-05", "results", CONTENT, SENT)
    assert view(session, token) is None
    assert acknowledge(session, token, SEEN) is None
    assert audit(session, "acknowledged") == []


def test_the_link_is_the_public_base_url_and_the_token() -> None:
    assert ack_url("https://rcoi.example/", "abc") == "https://rcoi.example/ack/abc"
