"""Operators of the verification pages and their signed-in sessions.

Passwords are stored as scrypt hashes with a random salt (`scrypt$n$r$p$salt$hash`, base64),
compared in constant time. A session is a random token in the browser's cookie; the database
keeps only its SHA-256, the operator, a CSRF token and the expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tasks.adapters.models import AuditLog, Operator, WebSession
from tasks.errors import DataError

__all__ = [
    "SESSION_TTL",
    "SignedIn",
    "add_operator",
    "authenticate",
    "credentials",
    "hash_password",
    "sign_in",
    "sign_out",
    "signed_in",
    "verify_password",
]

SESSION_TTL = timedelta(hours=8)  # one working shift; idle sessions end sooner (IDLE_TTL)
IDLE_TTL = timedelta(minutes=30)
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 10


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def add_operator(session: Session, login: str, password: str, role: str, actor: str) -> None:
    """Create an operator or set a new password and role; audit-logged (never the password)."""
    if role not in ("operator", "senior", "coordinator"):
        raise DataError("роль: operator, senior или coordinator")
    if len(password) < MIN_PASSWORD:
        raise DataError(f"пароль короче {MIN_PASSWORD} символов")
    operator = session.scalars(select(Operator).where(Operator.login == login)).one_or_none()
    old = {"role": operator.role, "active": operator.active} if operator else None
    if operator is None:
        operator = Operator(login=login)
        session.add(operator)
    operator.password_hash, operator.role, operator.active = hash_password(password), role, True
    if operator.id is not None:  # a new password ends the sessions signed in with the old one
        session.execute(delete(WebSession).where(WebSession.operator_id == operator.id))
    session.add(
        AuditLog(
            actor=actor,
            action="operator_set",
            entity="operator",
            entity_id=login,
            old=old,
            new={"role": role, "active": True},
        )
    )


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def credentials(session: Session, login: str) -> tuple[Operator | None, str]:
    """The active operator of `login` (None for an unknown or inactive one) and the hash to
    check the password against: a dummy for None, so that the check costs the same and the
    time tells nothing. The check itself (verify_password, one scrypt) is left to the caller,
    who may run it off the event loop (web/verify.py)."""
    operator = session.scalars(select(Operator).where(Operator.login == login)).one_or_none()
    if operator is None:
        return None, _DUMMY_HASH
    return (operator if operator.active else None), operator.password_hash


def authenticate(session: Session, login: str, password: str) -> Operator | None:
    """The operator if the password is right and the operator active. One scrypt check in
    every case (unknown and inactive logins too), so the time tells nothing."""
    operator, stored = credentials(session, login)
    right = verify_password(password, stored)
    return operator if operator is not None and right else None


@dataclass(frozen=True, slots=True)
class SignedIn:
    login: str
    role: str
    csrf: str
    session_id: int


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def sign_in(session: Session, operator: Operator, now: datetime) -> tuple[str, str]:
    """A new session: (cookie token, CSRF token). Expired sessions are swept."""
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_sha256=_token_hash(token),
            operator_id=operator.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + IDLE_TTL,
        )
    )
    return token, csrf


def signed_in(session: Session, token: str | None, now: datetime) -> SignedIn | None:
    """The operator behind a cookie token, if the session is alive; each request extends the
    idle expiry, never past SESSION_TTL from signing in."""
    if not token:
        return None
    row = session.execute(
        select(WebSession, Operator)
        .join(Operator, Operator.id == WebSession.operator_id)
        .where(WebSession.token_sha256 == _token_hash(token))
    ).one_or_none()
    if row is None:
        return None
    web, operator = row
    if web.expires_at <= now or not operator.active:
        session.delete(web)
        return None
    web.expires_at = min(now + IDLE_TTL, web.created_at + SESSION_TTL)
    return SignedIn(operator.login, operator.role, web.csrf_token, web.id)


def sign_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_sha256 == _token_hash(token)))
