"""Operators and their signed-in sessions in the regional database
(tasks/adapters/operators.py), on SQLite and PostgreSQL: scrypt password hashes, adding an
operator, signing in, the idle and absolute expiry of a session, signing out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from tasks.adapters.database import Database
from tasks.adapters.models import AuditLog, Operator, WebSession
from tasks.adapters.operators import (
    SESSION_TTL,
    add_operator,
    authenticate,
    credentials,
    hash_password,
    sign_in,
    sign_out,
    signed_in,
    verify_password,
)
from tasks.errors import DataError

NOW = datetime(2017, 12, 8, 9, 0, tzinfo=UTC)
PASSWORD = "Сочинение-2017!"
ACTOR = "coordinator"


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session_factory() as session:
        yield session
        session.rollback()


@pytest.fixture
def anna(session: Session) -> Operator:
    add_operator(session, "anna", PASSWORD, "operator", ACTOR)
    session.commit()
    return session.scalars(select(Operator).where(Operator.login == "anna")).one()


def row_text(row: object) -> str:
    """Every column value of a row, as one string."""
    mapper = inspect(type(row))
    return " ".join(repr(getattr(row, c.key)) for c in mapper.column_attrs)


def sessions_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(WebSession)) or 0


# --- password hashes --------------------------------------------------------------------------


def test_a_hashed_password_verifies_and_a_wrong_one_does_not() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$")
    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)


def test_the_same_password_hashes_differently_with_each_salt() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert first.split("$")[4] != second.split("$")[4]
    assert verify_password(PASSWORD, first)
    assert verify_password(PASSWORD, second)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text",
        "scrypt$16384$8$1$salt",
        "bcrypt$16384$8$1$c2FsdA==$ZGlnZXN0",
        "scrypt$n$8$1$c2FsdA==$ZGlnZXN0",
        "scrypt$16384$8$1$!!!$@@@",
        "scrypt$16383$8$1$c2FsdA==$ZGlnZXN0",
    ],
)
def test_a_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert verify_password(PASSWORD, stored) is False


# --- adding an operator -----------------------------------------------------------------------


def test_a_short_password_or_an_unknown_role_is_refused_and_nothing_is_stored(
    session: Session,
) -> None:
    with pytest.raises(DataError, match="пароль короче 10 символов"):
        add_operator(session, "anna", "короткий1", "operator", ACTOR)
    with pytest.raises(DataError, match="роль: operator, senior или coordinator"):
        add_operator(session, "anna", PASSWORD, "admin", ACTOR)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Operator)) == 0
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_an_added_operator_is_stored_with_only_a_hash_of_the_password(
    session: Session, anna: Operator
) -> None:
    assert anna.role == "operator"
    assert anna.active
    assert verify_password(PASSWORD, anna.password_hash)
    assert PASSWORD not in row_text(anna)
    audit = session.scalars(select(AuditLog)).all()
    assert [(a.actor, a.action, a.entity_id, a.new) for a in audit] == [
        (ACTOR, "operator_set", "anna", {"role": "operator", "active": True})
    ]
    assert all(PASSWORD not in row_text(a) for a in audit)


def test_setting_an_operator_again_changes_the_password_and_role_and_logs_the_old_role(
    session: Session, anna: Operator
) -> None:
    new_password = "другой-пароль-42"
    add_operator(session, "anna", new_password, "senior", ACTOR)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Operator)) == 1
    assert anna.role == "senior"
    assert verify_password(new_password, anna.password_hash)
    assert not verify_password(PASSWORD, anna.password_hash)
    last = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last is not None
    assert last.old == {"role": "operator", "active": True}
    assert all(
        PASSWORD not in row_text(a) and new_password not in row_text(a)
        for a in session.scalars(select(AuditLog))
    )


# --- authenticate -----------------------------------------------------------------------------


def test_only_the_right_password_of_a_known_active_operator_authenticates(
    session: Session, anna: Operator
) -> None:
    assert authenticate(session, "anna", PASSWORD) is anna
    assert authenticate(session, "boris", PASSWORD) is None
    assert authenticate(session, "anna", "неверный-пароль") is None
    anna.active = False
    session.commit()
    assert authenticate(session, "anna", PASSWORD) is None


# --- sessions ---------------------------------------------------------------------------------


def test_a_signed_in_token_names_the_operator_and_only_its_sha256_is_stored(
    session: Session, anna: Operator
) -> None:
    token, csrf = sign_in(session, anna, NOW)
    session.commit()
    who = signed_in(session, token, NOW + timedelta(minutes=1))
    assert who is not None
    assert (who.login, who.role, who.csrf) == ("anna", "operator", csrf)
    web = session.scalars(select(WebSession)).one()
    assert web.token_sha256 == hashlib.sha256(token.encode("ascii")).hexdigest()
    assert token not in row_text(web)
    assert [signed_in(session, t, NOW) for t in (None, "", "not-a-token", web.token_sha256)] == [
        None
    ] * 4


@pytest.mark.parametrize(
    ("deactivate", "later"),
    [
        pytest.param(False, timedelta(minutes=30), id="idle for the idle timeout"),
        pytest.param(True, timedelta(minutes=1), id="its operator deactivated since"),
    ],
)
def test_a_session_that_is_no_longer_alive_ends_and_is_deleted(
    session: Session, anna: Operator, deactivate: bool, later: timedelta
) -> None:
    token, _ = sign_in(session, anna, NOW)
    anna.active = not deactivate
    session.commit()
    assert signed_in(session, token, NOW + later) is None
    session.commit()
    assert sessions_count(session) == 0


def test_each_request_extends_the_idle_expiry_but_never_past_the_shift_from_signing_in(
    session: Session, anna: Operator
) -> None:
    token, _ = sign_in(session, anna, NOW)
    session.commit()
    at = NOW
    while at + timedelta(minutes=25) < NOW + SESSION_TTL:
        at += timedelta(minutes=25)
        assert signed_in(session, token, at) is not None
        session.commit()
        session.expire_all()
        expires = session.scalars(select(WebSession.expires_at)).one()
        assert expires == min(at + timedelta(minutes=30), NOW + SESSION_TTL)
    assert expires == NOW + SESSION_TTL
    assert signed_in(session, token, NOW + SESSION_TTL) is None


def test_signing_out_ends_only_that_session_and_signing_in_sweeps_expired_ones(
    session: Session, anna: Operator
) -> None:
    token, _ = sign_in(session, anna, NOW)
    other, _ = sign_in(session, anna, NOW)
    session.commit()
    sign_out(session, token)
    sign_out(session, None)
    session.commit()
    assert signed_in(session, token, NOW + timedelta(minutes=1)) is None
    assert signed_in(session, other, NOW + timedelta(minutes=1)) is not None
    assert sessions_count(session) == 1
    sign_in(session, anna, NOW + timedelta(hours=1))
    session.commit()
    assert sessions_count(session) == 1
    assert signed_in(session, other, NOW + timedelta(hours=1)) is None


def test_credentials_give_a_hash_to_check_even_for_an_unknown_or_inactive_login(
    session: Session, anna: Operator
) -> None:
    """The web pages check the password off the event loop: the hash comes first, and an
    unknown or inactive login still gets one (a dummy), so the check costs the same."""
    found, stored = credentials(session, "anna")
    assert found is anna
    assert verify_password(PASSWORD, stored)
    nobody, dummy = credentials(session, "boris")
    assert nobody is None
    assert dummy.startswith("scrypt$")
    assert not verify_password(PASSWORD, dummy)
    anna.active = False
    assert credentials(session, "anna")[0] is None
