"""The participants' results lookup in the regional database: exact matches only, and its rate
limit.

A participant is found by surname and identity document together, or by a work code; nothing
is matched by a part of a value, a pattern or a near spelling, and a query that fits more than
one participant finds nothing. Only verified, not annulled results are answered, with the
participant's initials at most. The rate limit keeps one row per allowed query: a keyed hash
of the client (never its address) and the instant, never what was asked. The hash is two
halves, the client's network's and the client's own, so that one row serves the limit of a
client and of its network alike (no second table), and a network's rows are one range of the
column's index (the keys that begin with its half), found without a scan.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
import stat
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from config.settings import Settings
from tasks.adapters.models import (
    Acknowledgement,
    ExamSession,
    LookupAttempt,
    Participant,
    Registration,
    Result,
    Work,
)
from tasks.domain.identifiers import WORK_CODE_LENGTH, damm_check_digit
from tasks.domain.verify import OUTCOMES_RU

__all__ = [
    "DEGRADED_LIMIT",
    "FORMS_RU",
    "LookupAnswer",
    "allow",
    "client_key",
    "find_results",
    "is_ipv6",
    "lookup_key",
    "lookup_key_path",
    "subnet_of",
]

_log = logging.getLogger(__name__)

FORMS_RU = {"essay": "сочинение", "exposition": "изложение"}
MAX_FIELD = 100  # longer input is malformed: no surname or document is this long
PRUNE_EVERY = 64  # every 64th attempt sweeps the rows older than the window
DEGRADED_LIMIT = 3  # a client's queries per window while the global ceiling is crossed
HALF = 32  # hex characters of each half of a client key: the network's, the address's
_ABOVE_HEX = "g"  # sorts after every hex digit, in SQLite's and PostgreSQL's collations alike
_WORK_CODE = re.compile(rf"[0-9]{{{WORK_CODE_LENGTH}}}")
_DOCUMENT = re.compile(r"[0-9A-ZА-ЯЁ\-]{1,40}")  # what parse_document lets into the database
_WILDCARDS = frozenset("%_*?[]\\")


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """One verified result as the public page shows it: no name beyond initials, no codes."""

    exam_date: date
    form: str  # essay | exposition
    outcome: str  # a key of OUTCOMES_RU
    initials: str | None  # «И. П.» when found by surname and document; None by work code

    @property
    def form_ru(self) -> str:
        return FORMS_RU.get(self.form, self.form)

    @property
    def outcome_ru(self) -> str:
        return OUTCOMES_RU.get(self.outcome, self.outcome)


def _surname_key(raw: str) -> str | None:
    """The surname as compared: trimmed, case-folded, «ё» as «е»; None when unusable."""
    text = unicodedata.normalize("NFC", raw).strip()
    if not text or len(text) > MAX_FIELD or _WILDCARDS.intersection(text):
        return None
    return text.casefold().replace("ё", "е")


def _document_key(raw: str) -> str | None:
    """Series and number as one string, spaces removed (parse_document stores them so)."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFC", raw)).upper()
    if len(text) > MAX_FIELD or not _DOCUMENT.fullmatch(text):
        return None
    return text


def _work_code_key(raw: str) -> str | None:
    text = raw.strip()
    if not _WORK_CODE.fullmatch(text) or damm_check_digit(text) != 0:
        return None
    return text


def _initials(name: str, patronymic: str | None) -> str:
    return " ".join(
        f"{part.strip()[0].upper()}." for part in (name, patronymic or "") if part.strip()
    )


def _verified() -> list[ColumnElement[bool]]:
    """Verified, not annulled, and issued: the session's results lists went to the МОУО
    (the inform stage), so nobody reads a result here before it is officially out."""
    issued = exists().where(
        Acknowledgement.session_id == Registration.session_id,
        Acknowledgement.document == "results",
    )
    return [Result.verified_at.is_not(None), Result.annulled.is_(False), issued]


def _answers(session: Session, participant_id: int, initials: str | None) -> list[LookupAnswer]:
    rows = session.execute(
        select(ExamSession.exam_date, Registration.form, Result.outcome)
        .join(Registration, Registration.id == Result.registration_id)
        .join(ExamSession, ExamSession.id == Registration.session_id)
        .where(Registration.participant_id == participant_id, *_verified())
        .order_by(ExamSession.exam_date, ExamSession.id)
    ).all()
    return [LookupAnswer(day, form, outcome, initials) for day, form, outcome in rows]


def _by_person(session: Session, surname: str, document: str) -> list[LookupAnswer]:
    wanted, doc = _surname_key(surname), _document_key(document)
    if wanted is None or doc is None:
        return []
    # Exact equality in SQL on the document (bound parameter: no pattern), the surname in
    # Python: SQLite's lower() does not fold Cyrillic.
    candidates = session.execute(
        select(Participant.id, Participant.surname, Participant.name, Participant.patronymic).where(
            (Participant.document_series + Participant.document_number) == doc
        )
    ).all()
    matches = [row for row in candidates if _surname_key(row.surname) == wanted]
    if len(matches) != 1:  # nobody, or a document two people share: never guess between them
        return []
    person = matches[0]
    return _answers(session, person.id, _initials(person.name, person.patronymic))


def _by_work_code(session: Session, work_code: str) -> list[LookupAnswer]:
    code = _work_code_key(work_code)
    if code is None:
        return []
    rows = session.execute(
        select(ExamSession.exam_date, Registration.form, Result.outcome)
        .select_from(Work)
        .join(Registration, Registration.id == Work.registration_id)
        .join(ExamSession, ExamSession.id == Registration.session_id)
        .join(
            Result,
            and_(
                Result.registration_id == Registration.id,
                # The graded work's code, or the kit's when no work is named on the result.
                or_(Result.work_id == Work.id, Result.work_id.is_(None)),
            ),
        )
        .where(Work.work_code == code, *_verified())
    ).all()
    return [LookupAnswer(day, form, outcome, None) for day, form, outcome in rows]


def find_results(
    session: Session, surname: str, document_number: str, work_code: str
) -> list[LookupAnswer]:
    """The verified results of exactly one participant, or nothing.

    Either `surname` and `document_number` (series and number, spaces ignored) are given and
    `work_code` is empty, or `work_code` (exactly 12 digits) alone; any other combination,
    a partial or patterned value finds nothing. By surname and document every session in the
    database is answered; by work code only that work's result.
    """
    surname, document_number, work_code = (
        surname.strip(),
        document_number.strip(),
        work_code.strip(),
    )
    if work_code and not surname and not document_number:
        return _by_work_code(session, work_code)
    if surname and document_number and not work_code:
        return _by_person(session, surname, document_number)
    return []


# --- rate limit --------------------------------------------------------------------------------


def _count(session: Session, since: datetime, *where: ColumnElement[bool]) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(LookupAttempt).where(LookupAttempt.at > since, *where)
        )
        or 0
    )


def _in_network(client_key: str) -> list[ColumnElement[bool]]:
    """The attempts of the client's network: the keys beginning with its half, as a range of
    the column (an index can serve a range; `substr(...) =` or a LIKE on SQLite it cannot)."""
    prefix = client_key[:HALF]
    return [LookupAttempt.client_key >= prefix, LookupAttempt.client_key < prefix + _ABOVE_HEX]


def allow(
    session: Session,
    client_key: str,
    now: datetime,
    limit: int,
    window: timedelta,
    *,
    network_limit: int | None = None,
    flood_network_limit: int | None = None,
    global_limit: int | None = None,
) -> bool:
    """Whether this client may query now: fewer than `limit` of its attempts, and fewer than
    `network_limit` of its network's (the first half of `client_key`), in the `window` before
    `now`. Once everyone's attempts in the window reach `global_limit`, nobody is locked out:
    every client's limit shrinks to DEGRADED_LIMIT instead, so a flood from many addresses
    slows itself down while a participant arriving now still gets his few queries; and
    `flood_network_limit`, if given, applies to the network then (only then).

    An allowed attempt is recorded (a successful query counts too); a refused one is not, so
    that a refused flood does not use up anyone else's allowance."""
    since = now - window
    everyone = _count(session, since) if global_limit is not None else 0
    flooded = global_limit is not None and everyone >= global_limit
    if flooded:
        limit = min(limit, DEGRADED_LIMIT)
    if _count(session, since, LookupAttempt.client_key == client_key) >= limit:
        return False
    network_limits = [network_limit, flood_network_limit if flooded else None]
    network = min((n for n in network_limits if n is not None), default=None)
    if network is not None and _count(session, since, *_in_network(client_key)) >= network:
        return False
    attempt = LookupAttempt(client_key=client_key, at=now)
    session.add(attempt)
    session.flush()
    if global_limit is not None and everyone + 1 == global_limit:  # this one crossed it
        _log.warning("results lookup: %d queries in the window, limits tightened", global_limit)
    if attempt.id % PRUNE_EVERY == 0:
        session.execute(delete(LookupAttempt).where(LookupAttempt.at <= since))
    return True


def lookup_key_path(settings: Settings) -> Path:
    return settings.out_dir / "secrets" / "lookup.key"


def lookup_key(settings: Settings) -> bytes:
    """The key of the clients' hashes: `RCOI_LOOKUP_SECRET`, else `<out>/secrets/lookup.key`,
    generated once (32 random bytes, mode 0600). Never logged."""
    if settings.lookup_secret is not None:
        return settings.lookup_secret.get_secret_value().encode("utf-8")
    path = lookup_key_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        # Written whole to a private temporary file, then linked into place: a concurrent
        # start-up sees no key or the whole key, and the first link wins.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".lookup.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(os.urandom(32))
            os.link(temporary, path)
            _log.warning("no RCOI_LOOKUP_SECRET set: generated the lookup key into %s", path)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            Path(temporary).unlink(missing_ok=True)
    elif path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning("lookup key file %s is readable by others: chmod 600 it", path)
    return path.read_bytes()


def is_ipv6(address: str) -> bool:
    """An IPv6 address (not an IPv4 one written as IPv6): its /64 is one subscriber's."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None


def subnet_of(address: str) -> str:
    """The network a client's address belongs to: the /24 of an IPv4 address (a hosting
    provider's block, a school's network — or a mobile carrier's NAT, shared by thousands),
    the /64 of an IPv6 one (one household or server has all of it). Anything else (a test
    client's name) stands alone."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _keyed(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:HALF]


def client_key(secret: bytes, address: str) -> str:
    """The client as the rate limit keeps it: the keyed hash (HMAC-SHA256, 128 bits, hex) of
    its subnet, then that of its address; neither can be turned back into the address."""
    return _keyed(secret, "net:" + subnet_of(address)) + _keyed(secret, "ip:" + address)
