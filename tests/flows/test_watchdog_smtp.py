"""The watchdog over a real SMTP server (aiosmtpd on loopback), with the regional database on
SQLite and on PostgreSQL: who gets what, in Russian, once, with no personal data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import polars as pl
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from flows.campaign import campaign
from flows.watchdog import demo_instants, watchdog
from tasks.adapters.plan_files import load_plan, resolve_plan_path
from tests.conftest import postgres_database
from tests.smtp_support import HOST, RecordingHandler, smtp_server

pytestmark = [pytest.mark.flows, pytest.mark.integration]

COORDINATOR = "coordinator@rcoi42.example"
AUTHORITY = "minobr@kuzbass.example"


class OnceBusyHandler(RecordingHandler):
    """Answers the first watchdog message with 451 (try later), as a busy server does."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = bytes(envelope.content or b"").replace(b"\r\n ", b" ")
        if b"X-RCOI-Key: watchdog:" in content and not self.refused:
            self.refused += 1
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rcoi.sqlite'}"
    else:
        yield from postgres_database()


def _message(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def _key(message: EmailMessage) -> str:
    return str(message["X-RCOI-Key"]).strip()  # a long key is folded onto its own line


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_the_watchdog_mails_over_smtp_once_and_without_personal_data(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = OnceBusyHandler()
    with smtp_server(handler) as port:
        for name, value in {
            "RCOI_SMTP_HOST": HOST,
            "RCOI_SMTP_PORT": str(port),
            "RCOI_SMTP_SECURITY": "none",
            "RCOI_DATABASE_URL": backend,
            "RCOI_COORDINATOR_EMAILS": f'["{COORDINATOR}"]',
            "RCOI_AUTHORITY_EMAILS": f'["{AUTHORITY}"]',
        }.items():
            monkeypatch.setenv(name, value)
        document = campaign(participants=1500, seed=4, out=str(tmp_path), silent_mouos=1)
        delivered = [(e.rcpt_tos, _message(e.content)) for e in handler.envelopes]
        watch = [(to, m) for to, m in delivered if _key(m).startswith("watchdog:")]
        the_plan = load_plan(resolve_plan_path("kemerovo-2017-essay"))
        for moment in demo_instants(the_plan, "2017-12-06", timedelta(hours=24)):
            again = watchdog(out=str(tmp_path), session="2017-12-06", now=moment)
            assert sum(again["sent"].values()) == 0
        assert len(handler.envelopes) == len(delivered)  # the re-run sent nothing new

    assert handler.refused == 1  # the busy answer was retried, and the retry delivered
    keys = [_key(m) for _, m in watch]
    # 7 notices: the two escalations (collect, reconcile) go to the coordinator as one letter,
    # and so do the two to the authority
    assert len(keys) == len(set(keys)) == 5
    assert not (tmp_path / "outbox").exists()  # SMTP configured: no .eml files
    silent = next(s for s in document["stages"] if s["stage"] == "reconcile")["counts"]["by_kind"][
        "no_submission"
    ]
    assert silent == 1
    by_kind: dict[str, list[tuple[list[str], EmailMessage]]] = {}
    for to, message in watch:
        parts = _key(message).split(":")
        by_kind.setdefault(parts[2] if parts[1] == "digest" else parts[1], []).append((to, message))
    assert sorted(by_kind) == ["alert", "authority", "escalation", "reminder"]
    [(alert_to, alert)] = by_kind["alert"]  # the RCOI's own lateness goes to the coordinator
    mouo = _key(alert).rsplit(":", 1)[1]
    assert alert_to == [f"uo{mouo[-2:]}@obr42.example"]
    assert alert["Subject"].startswith("Срок нарушен: «Представление сведений об участниках")
    assert f"МОУО {mouo}" in _text(alert)
    assert "истёк 22.11.2017 24:00" in _text(alert)
    reminded = sorted(to[0] for to, _ in by_kind["reminder"])
    assert reminded == sorted([COORDINATOR, alert_to[0]])
    assert all(to == [COORDINATOR] for to, _ in by_kind["escalation"])
    assert all(to == [AUTHORITY] for to, _ in by_kind["authority"])
    assert any(f"МОУО {mouo}" in _text(m) for _, m in by_kind["escalation"])
    people = pl.read_csv(tmp_path / "region" / "participants.csv", infer_schema=False)
    text = "\n".join(f"{m['Subject']}\n{_text(m)}" for _, m in watch)
    for column in ("snils", "surname", "document_number"):
        values = [v for v in people[column].to_list() if v]
        assert values
        assert not [v for v in values if v in text], column
