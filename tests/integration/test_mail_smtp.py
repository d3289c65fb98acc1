"""SmtpMailer against a real SMTP server (aiosmtpd on loopback): delivery, refusals, login."""

from __future__ import annotations

import base64
import logging
import socket
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from tasks.adapters.mail import (
    Attachment,
    MailPermanentError,
    MailTransientError,
    OutgoingMail,
    SmtpMailer,
)
from tests.smtp_support import HOST, RecordingHandler, smtp_server

pytestmark = pytest.mark.integration

SENDER = "РЦОИ Кузбасса <rcoi@rcoi.example>"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKBOOK = b"PK\x03\x04" + bytes(range(256)) * 64
NOW = datetime(2017, 12, 6, 10, 0, tzinfo=timezone(timedelta(hours=7)))
USERNAME = "rcoi"
PASSWORD = "correct-horse-battery-42"
WRONG_PASSWORD = "not-the-password-7f3a9c"
MAIL = OutgoingMail(
    key="collect-report:42-05:" + "ab" * 32,
    to=("Иванова А. П. <ivanova@mouo42-05.example>", "operator@mouo42-05.example"),
    subject="Отчёт о приёме файла: МОУО 42-05 «Новокузнецкий городской округ»",
    body="Здравствуйте!\n\nФайл принят. Ошибок: 0.\nСрок — 06.12.2017, 18:00.\n",
    attachments=(Attachment("Отчёт_42-05.xlsx", WORKBOOK, XLSX),),
)


class HangUpOnQuit(SMTP):
    """Takes the message, then drops the line instead of answering QUIT."""

    async def smtp_QUIT(self, arg: str) -> None:  # noqa: N802 - the name aiosmtpd calls
        assert self.transport is not None
        self.transport.close()


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def mailer(port: int, **options: Any) -> SmtpMailer:
    options.setdefault("security", "none")
    options.setdefault("timeout_s", 5.0)
    return SmtpMailer(HOST, port, SENDER, clock=lambda: NOW, **options)


def parsed(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    message = BytesParser(policy=policy.default).parsebytes(envelope.content)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def mail_logs(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """The text this project logged (aiosmtpd's own server-side log excluded)."""
    caplog.set_level(logging.DEBUG)
    return lambda: "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("tasks."))


def test_delivers_to_every_recipient_with_russian_text_and_the_attachment() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        where = mailer(port).send(MAIL)

    [envelope] = handler.envelopes
    assert envelope.mail_from == "rcoi@rcoi.example"
    assert envelope.rcpt_tos == ["ivanova@mouo42-05.example", "operator@mouo42-05.example"]
    message = parsed(envelope)
    assert message["Subject"] == MAIL.subject
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == MAIL.body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Отчёт_42-05.xlsx"
    assert attachment.get_content() == WORKBOOK
    assert message["X-RCOI-Key"] == MAIL.key
    assert where == f"smtp:{message['Message-ID']}"


def test_sending_the_same_key_twice_delivers_twice_with_one_message_id() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        first = mailer(port).send(MAIL)
        second = mailer(port).send(MAIL)

    assert first == second
    assert len(handler.envelopes) == 2  # SMTP has no dedup: once-only is the caller's job
    assert parsed(handler.envelopes[0])["Message-ID"] == parsed(handler.envelopes[1])["Message-ID"]


def test_a_message_the_server_took_is_sent_even_if_the_line_drops_at_quit() -> None:
    handler = RecordingHandler()
    with smtp_server(handler, server_class=HangUpOnQuit) as port:
        where = mailer(port).send(MAIL)

    assert where.startswith("smtp:<")
    assert len(handler.envelopes) == 1


def test_a_451_for_the_recipient_is_transient() -> None:
    handler = RecordingHandler(
        refuse={
            "ivanova@mouo42-05.example": "451 4.3.0 Try again later",
            "operator@mouo42-05.example": "451 4.3.0 Try again later",
        }
    )
    with smtp_server(handler) as port, pytest.raises(MailTransientError, match="451"):
        mailer(port).send(MAIL)
    assert handler.envelopes == []


def test_a_550_for_every_recipient_is_permanent() -> None:
    handler = RecordingHandler(
        refuse={
            "ivanova@mouo42-05.example": "550 5.1.1 No such user",
            "operator@mouo42-05.example": "550 5.1.1 No such user",
        }
    )
    with smtp_server(handler) as port, pytest.raises(MailPermanentError, match="550"):
        mailer(port).send(MAIL)
    assert handler.envelopes == []


def test_one_refused_recipient_of_two_is_logged_and_the_message_counts_as_sent(
    mail_logs: Callable[[], str],
) -> None:
    handler = RecordingHandler(refuse={"operator@mouo42-05.example": "550 5.1.1 No such user"})
    with smtp_server(handler) as port:
        where = mailer(port).send(MAIL)

    assert where.startswith("smtp:<")
    assert [envelope.rcpt_tos for envelope in handler.envelopes] == [["ivanova@mouo42-05.example"]]
    assert "operator@mouo42-05.example: 550" in mail_logs()


def test_the_body_is_never_logged(mail_logs: Callable[[], str]) -> None:
    handler = RecordingHandler(refuse={"operator@mouo42-05.example": "550 5.1.1 No such user"})
    with smtp_server(handler) as port:
        mailer(port).send(MAIL)

    assert mail_logs()  # the refusal was logged, so there is text to look at
    assert "Ошибок" not in mail_logs()


def test_a_closed_port_is_transient() -> None:
    # A bound socket that does not listen refuses connections, and no one else can take it.
    with socket.socket() as closed:
        closed.bind((HOST, 0))
        port = closed.getsockname()[1]
        with pytest.raises(MailTransientError, match="ConnectionRefused"):
            mailer(port).send(MAIL)


def test_a_server_that_never_greets_times_out_as_transient() -> None:
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen(1)  # the kernel completes the handshake; no one ever says 220
        with pytest.raises(MailTransientError, match="timed out"):
            mailer(silent.getsockname()[1], timeout_s=0.3).send(MAIL)


def test_starttls_against_a_server_without_tls_fails_permanently_instead_of_sending_plain() -> None:
    handler = RecordingHandler()
    with (
        smtp_server(handler) as port,
        pytest.raises(MailPermanentError, match="STARTTLS"),
    ):
        mailer(port, security="starttls").send(MAIL)
    assert handler.envelopes == []


def test_ssl_against_a_plain_server_fails_permanently() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port, pytest.raises(MailPermanentError, match="SSL"):
        mailer(port, security="ssl").send(MAIL)
    assert handler.envelopes == []


# Login in clear text is what these tests are about; aiosmtpd warns about it on every start.
clear_text_login = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)
AUTH_OPTIONS: dict[str, Any] = {
    "auth_required": True,
    "auth_require_tls": False,
    "authenticator": authenticator,
}


@clear_text_login
def test_login_with_the_right_password_delivers() -> None:
    handler = RecordingHandler()
    with smtp_server(handler, **AUTH_OPTIONS) as port:
        mailer(port, username=USERNAME, password=SecretStr(PASSWORD)).send(MAIL)

    assert len(handler.envelopes) == 1


@clear_text_login
def test_without_login_a_server_that_requires_it_refuses_permanently() -> None:
    handler = RecordingHandler()
    with smtp_server(handler, **AUTH_OPTIONS) as port, pytest.raises(MailPermanentError):
        mailer(port).send(MAIL)
    assert handler.envelopes == []


@clear_text_login
def test_a_wrong_password_is_permanent_and_never_shown(mail_logs: Callable[[], str]) -> None:
    handler = RecordingHandler()
    with (
        smtp_server(handler, **AUTH_OPTIONS) as port,
        pytest.raises(MailPermanentError, match="535") as caught,
    ):
        mailer(port, username=USERNAME, password=SecretStr(WRONG_PASSWORD)).send(MAIL)

    assert handler.envelopes == []
    # Everything a log or an alert could print: the error, its cause, the whole traceback.
    shown = "\n".join(
        [str(caught.value), repr(caught.value), *traceback.format_exception(caught.value)]
    )
    assert USERNAME in shown  # the text does name the account, so the check below has teeth
    plain = base64.b64encode(f"\0{USERNAME}\0{WRONG_PASSWORD}".encode()).decode()
    for secret in (WRONG_PASSWORD, plain, base64.b64encode(WRONG_PASSWORD.encode()).decode()):
        assert secret not in shown
        assert secret not in mail_logs()
