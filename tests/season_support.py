"""A simulated season for the plan board's end-to-end test (tests/e2e/test_plan_season.py): a
plan loaded by `rcoi plan load` into its own SQLite database, a small directory of performers
(two МОУО, two schools each, codes and addresses only), and the watchdog's letters as the real
SMTP server received them, read back into the notices they carry."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.smtp import Envelope
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from config.settings import Settings
from flows.cli import app
from tasks.adapters.database import bootstrap
from tasks.adapters.models import Mouo, Region, School
from tasks.adapters.unit_of_work import UnitOfWork

COORDINATOR = "coordinator@rcoi.example"
AUTHORITY = "minobr@region.example"
# Names are kept in the directory but must never reach a letter: the mails name codes only.
MOUO_NAME = "Управление образования тестового района {n}"
SCHOOL_NAME = "Тестовая средняя школа {m}-{n}"


@dataclass(frozen=True, slots=True)
class Performers:
    """The performers inserted for a plan's region: МОУО codes «RR-0M», schools «RR0M00N»."""

    code: str
    mouos: tuple[str, ...]
    schools: dict[str, str]  # school -> its МОУО

    def email(self, party: str) -> str:
        if party in ("coordinator", "rcoi"):
            return COORDINATOR
        if party == "authority":
            return AUTHORITY
        return f"oo{party}@edu.example" if party.isdigit() else f"uo{party}@edu.example"

    def party_of(self, address: str) -> str:
        if address == COORDINATOR:
            return "coordinator"
        if address == AUTHORITY:
            return "authority"
        return address.split("@", 1)[0][2:]

    @property
    def names(self) -> list[str]:
        mouo_names = [MOUO_NAME.format(n=n) for n in range(1, len(self.mouos) + 1)]
        return mouo_names + [
            SCHOOL_NAME.format(m=m, n=n) for m in range(1, len(self.mouos) + 1) for n in (1, 2)
        ]


def cli(*args: str) -> Result:
    """`rcoi ARGS` in this process (the same Typer app as the installed command, without a
    second's start-up per call; tests.cli_support.rcoi runs it as a subprocess)."""
    return CliRunner().invoke(app, list(args))


@contextmanager
def database(out: Path) -> Iterator[Session]:
    """A session on the plan's regional database (SQLite in `out`), committed on success."""
    db = bootstrap(Settings(out_dir=out))
    try:
        with UnitOfWork(db.session_factory) as uow:
            yield uow.session
            uow.commit()
    finally:
        db.dispose()


def load_plan_into(plan: str, out: Path, region: str, zone: str) -> Performers:
    """`rcoi plan load`, then the region's directory: two МОУО with two schools each."""
    loaded = cli("plan", "load", "--plan", plan, "--out", str(out))
    assert loaded.exit_code == 0, loaded.output
    assert f"План {plan} в базе" in loaded.stdout
    mouos = tuple(f"{region}-0{m}" for m in (1, 2))
    schools = {f"{region}0{m}00{n}": mouos[m - 1] for m in (1, 2) for n in (1, 2)}
    directory = Performers(region, mouos, schools)
    with database(out) as session:
        if session.get(Region, region) is None:
            session.add(Region(code=region, name=f"регион {region}", timezone=zone))
            session.flush()
        for m, code in enumerate(mouos, start=1):
            mouo = Mouo(
                code=code,
                region_code=region,
                name=MOUO_NAME.format(n=m),
                emails=[directory.email(code)],
            )
            session.add(mouo)
            session.flush()
            for n in (1, 2):
                school = f"{region}0{m}00{n}"
                session.add(
                    School(
                        code=school,
                        mouo_id=mouo.id,
                        name=SCHOOL_NAME.format(m=m, n=n),
                        emails=[directory.email(school)],
                    )
                )
        session.flush()
        assert len(session.scalars(select(School.code)).all()) == 4
    return directory


# --- letters --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Letter:
    to: tuple[str, ...]
    key: str  # X-RCOI-Key
    subject: str
    body: str

    @property
    def digest(self) -> bool:
        return self.key.split(":")[1] == "digest"

    @property
    def kind(self) -> str:
        parts = self.key.split(":")
        return parts[2] if self.digest else parts[1]


def letters_of(envelopes: Sequence[Envelope]) -> list[Letter]:
    found = []
    for envelope in envelopes:
        content = envelope.content or b""
        assert isinstance(content, bytes)
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        found.append(
            Letter(
                to=tuple(envelope.rcpt_tos),
                key=str(message["X-RCOI-Key"]).strip(),
                subject=str(message["Subject"]),
                body=str(body.get_content()),
            )
        )
    return found


@dataclass(frozen=True, slots=True, order=True)
class Item:
    """One notice as a letter carries it: its kind, where it went, the row, the late parties
    it names (escalations, МОУО notices; empty for reminders and alerts)."""

    kind: str
    to: str
    stage: str
    parties: tuple[str, ...] = ()


def _party(text: str) -> str:
    """«ОО 4201002» → 4201002, «МОУО 42-01» → 42-01, «РЦОИ» → rcoi."""
    text = text.strip()
    if text == "РЦОИ":
        return "rcoi"
    for prefix in ("ОО ", "МОУО "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


_DIGEST_LINE = re.compile(
    r"^  – (?:(?P<whose>(?:ОО|МОУО) [^:]+): )?(?:строка (?P<row>\S+) )?«(?P<title>.+)» "
    r"\(срок (?P<session>[^)]+)\): до (?P<rest>.+)$"
)


def items_of(letter: Letter, titles: dict[str, str]) -> list[Item]:
    """The notices in a letter; `titles`: row title -> stage key (digests list titles)."""
    to = ",".join(sorted(letter.to))
    if not letter.digest:
        stage = letter.key.split(":")[3]
        listed = [line[4:] for line in letter.body.splitlines() if line.startswith("  – ")]
        return [Item(letter.kind, to, stage, tuple(sorted(_party(p) for p in listed)))]
    found = []
    for line in letter.body.splitlines():
        match = _DIGEST_LINE.match(line)
        if match is None:
            continue
        _, _, late = match["rest"].partition("; не выполнили: ")
        parties = tuple(sorted(_party(p) for p in late.split(", "))) if late else ()
        found.append(Item(letter.kind, to, titles[match["title"]], parties))
    assert found, f"a digest without rows: {letter.body}"
    return found


def notice_key(
    kind: str, session: str, stage: str, due: datetime, party: str, offset: timedelta | None = None
) -> str:
    """The X-RCOI-Key of one notice (docs/watchdog.md): session, row, due instant in UTC, and
    the party (reminders: and the offset before the due)."""
    base = f"watchdog:{kind}:{session}:{stage}:{due.astimezone(UTC):%Y%m%dT%H%MZ}"
    if kind == "reminder":
        assert offset is not None
        return f"{base}:{party}:{offset.days}d"
    if kind == "municipal":
        return f"{base}:mouo:{party}"
    return f"{base}:{party}"
