"""Outgoing mail: build one MIME message per key, then write it to an outbox or send it by SMTP."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Literal, Protocol

from pydantic import SecretStr

from config.settings import Settings
from tasks.errors import ConfigError, RcoiError

__all__ = [
    "Attachment",
    "FakeMailer",
    "MailError",
    "MailPermanentError",
    "MailTransientError",
    "Mailer",
    "OutboxMailer",
    "OutgoingMail",
    "SmtpMailer",
    "build_message",
    "is_transient",
    "mailer_from_settings",
]

_log = logging.getLogger(__name__)

# Every part is 7-bit clean (Cyrillic text goes base64), so no hop needs 8BITMIME; lines end
# in CRLF as on the wire, in the outbox files too.
_POLICY = policy.SMTP.clone(cte_type="7bit")
_MESSAGE_ID_DOMAIN = "rcoi"
_SLUG_LENGTH = 48
# Network errors that come and go; any other OSError (permissions, bad TLS set-up) stays.
_TRANSIENT_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTUNREACH, errno.EHOSTDOWN}
)

Security = Literal["starttls", "ssl", "none"]
Clock = Callable[[], datetime]


class MailError(RcoiError):
    """A message could not be written or sent; the base of the mail errors."""


class MailTransientError(MailError):
    """The mail server could not take the message now (network, timeout, SMTP 4xx): retry."""


class MailPermanentError(MailError):
    """The message will never be accepted as it is (SMTP 5xx, refused login or recipients,
    a malformed message): do not retry, fix the data or the settings."""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str  # "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def __post_init__(self) -> None:
        if not self.filename or _has_line_break(self.filename) or "/" in self.filename:
            raise MailPermanentError(f"attachment file name {self.filename!r} is not a bare name")
        maintype, _, subtype = self.mime_type.partition("/")
        if not maintype or not subtype or "/" in subtype:
            raise MailPermanentError(
                f"attachment {self.filename!r}: bad MIME type {self.mime_type!r}"
            )


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """One message. `key` names it for idempotency ("collect-report:42-05:<sha256>"): the
    outbox and the fake take a key once; SMTP cannot tell, see `SmtpMailer`."""

    key: str
    to: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        if not self.key.strip() or _has_line_break(self.key):
            raise MailPermanentError(f"mail key {self.key!r} is empty or spans lines")
        if isinstance(self.to, str) or not self.to:
            raise MailPermanentError(f"mail {self.key}: recipients must be a non-empty tuple")
        for address in self.to:
            if _parse_address(address) is None:
                raise MailPermanentError(f"mail {self.key}: bad recipient address {address!r}")
        if _has_line_break(self.subject):
            raise MailPermanentError(f"mail {self.key}: the subject spans lines")


class Mailer(Protocol):
    def send(self, mail: OutgoingMail) -> str:
        """Deliver `mail`; return where it went: "outbox:<path>" or "smtp:<message-id>"."""
        ...


def _has_line_break(text: str) -> bool:
    return "\r" in text or "\n" in text


def _parse_address(text: str) -> Address | None:
    """One address ("a@b.ru" or "Иванов И. <a@b.ru>"), or None if `text` is not exactly one."""
    parsed = getaddresses([text])
    if _has_line_break(text) or len(parsed) != 1:
        return None
    name, addr_spec = parsed[0]
    if "@" not in addr_spec or not all(addr_spec.partition("@")[::2]):
        return None
    try:
        return Address(display_name=name, addr_spec=addr_spec)
    except (ValueError, IndexError):
        return None


def _address(text: str) -> Address:
    address = _parse_address(text)
    if address is None:
        raise MailPermanentError(f"bad mail address {text!r}")
    return address


def _checked_sender(sender: str) -> str:
    """A bad From: address fails when the mailer is built, at start-up, not at each message."""
    if _parse_address(sender) is None:
        raise ConfigError(f"mail sender {sender!r} is not one mail address")
    return sender


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _message_id(key: str) -> str:
    """The Message-ID of the message with `key`: the same on every attempt, so a receiving
    client that saw a retried message can tell it is the same one."""
    return f"<{_key_digest(key)}@{_MESSAGE_ID_DOMAIN}>"


def build_message(mail: OutgoingMail, sender: str, *, now: datetime | None = None) -> EmailMessage:
    """The MIME message of `mail`: UTF-8 subject, body and attachment names; Message-ID and
    X-RCOI-Key derived from the key; Date from `now` (aware; the current time if omitted)."""
    if now is None:
        now = _utc_now()
    if now.tzinfo is None:
        raise ValueError("naive datetime refused: the Date header needs a time zone")
    message = EmailMessage(policy=_POLICY)
    message["From"] = _address(sender)
    message["To"] = [_address(recipient) for recipient in mail.to]
    # Encoded here, not by the policy: Python 3.11's header refolding drops the space between
    # two encoded words in about one long Cyrillic subject of seven («Внесениесведений»).
    message.set_raw(
        "Subject", Header(mail.subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
    )
    message["Date"] = format_datetime(now)
    message["Message-ID"] = _message_id(mail.key)
    message["X-RCOI-Key"] = mail.key
    # RFC 3834: out-of-office robots must not answer a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body, subtype="plain", charset="utf-8")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def _outbox_filename(key: str) -> str:
    """`<slug>-<hash>.eml`: the slug makes the outbox readable, the hash makes it unique."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower())[:_SLUG_LENGTH].strip("-") or "mail"
    return f"{slug}-{_key_digest(key)}.eml"


class OutboxMailer:
    """Writes each message as an .eml file into a directory instead of sending it (no SMTP
    server configured). A key already in the outbox is not written again."""

    def __init__(self, directory: Path, sender: str, *, clock: Clock = _utc_now) -> None:
        self.directory = directory
        self.sender = _checked_sender(sender)
        self._clock = clock

    def send(self, mail: OutgoingMail) -> str:
        path = self.directory / _outbox_filename(mail.key)
        if path.exists():
            return f"outbox:{path}"
        data = build_message(mail, self.sender, now=self._clock()).as_bytes()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, data)
        except OSError as exc:
            # Neither transient nor permanent: a full disk or a permission needs an operator.
            raise MailError(f"cannot write {path}: {exc}") from exc
        return f"outbox:{path}"


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers of the outbox see a whole .eml or none. Two writers of one key both rename a
    complete file onto the same name, so the outcome is still one message."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class SmtpMailer:
    """Sends each message through an SMTP server with smtplib, one connection per message.

    SMTP has no deduplication and this class keeps no state, so it cannot know whether a key
    was delivered on an earlier run: sending the same mail twice delivers it twice. Once-only
    delivery is the caller's job: the notifications table, which checks the key before sending
    and records it after. A resent message keeps its Message-ID, so mail clients can spot it.

    Errors become MailTransientError (retry) or MailPermanentError (do not); their text names
    the server and its reply, never the password or the body.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: SecretStr | None = None,
        security: Security = "starttls",
        timeout_s: float = 30.0,
        *,
        clock: Clock = _utc_now,
    ) -> None:
        if security not in ("starttls", "ssl", "none"):
            raise ConfigError(f"unknown SMTP security {security!r}")
        if (username is None) != (password is None):
            raise ConfigError("SMTP username and password go together")
        # smtplib sends AUTH as ASCII and would fail at the first message with an error that
        # holds the password: refuse it here, at start-up, without echoing it.
        if not (username or "").isascii():
            raise ConfigError(f"SMTP username {username!r} is not ASCII")
        if password is not None and not password.get_secret_value().isascii():
            raise ConfigError("the SMTP password is not ASCII, which smtplib cannot send")
        self.host = host
        self.port = port
        self.sender = _checked_sender(sender)
        self.username = username
        self._password = password
        self.security = security
        self.timeout_s = timeout_s
        self._clock = clock

    def send(self, mail: OutgoingMail) -> str:
        message = build_message(mail, self.sender, now=self._clock())
        recipients = [_address(recipient).addr_spec for recipient in mail.to]
        try:
            refused = self._deliver(message, recipients)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._translate(exc) from exc
        if refused:
            # Some recipients have the message: raising would make a retry send it to them
            # again, so the message counts as sent and the refusals are reported here.
            _log.warning(
                "mail %s: delivered, but %s refused: %s",
                mail.key,
                self._where(),
                _describe_refusals(refused),
            )
        return f"smtp:{message['Message-ID']}"

    def _where(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        if self.security == "starttls":
            try:
                client.starttls(context=ssl.create_default_context())
            except BaseException:
                client.close()
                raise
        return client

    def _deliver(
        self, message: EmailMessage, recipients: list[str]
    ) -> dict[str, tuple[int, bytes]]:
        client = self._connect()
        try:
            if self.username is not None and self._password is not None:
                client.login(self.username, self._password.get_secret_value())
            return client.send_message(
                message, from_addr=_address(self.sender).addr_spec, to_addrs=recipients
            )
        finally:
            _quit_quietly(client)

    def _translate(self, exc: smtplib.SMTPException | OSError) -> MailError:
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            reason = f"login as {self.username!r} refused: {_describe(exc)}"
        else:
            reason = _describe(exc)
        error_class = MailTransientError if is_transient(exc) else MailPermanentError
        return error_class(f"{self._where()}: {reason}")


def _quit_quietly(client: smtplib.SMTP) -> None:
    """Say goodbye; the message is already accepted (or refused), so a failing QUIT must not
    turn a delivered message into an error that a retry would send again."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _describe_refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address}: {code} {_reply_text(reply)}" for address, (code, reply) in refused.items()
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"every recipient refused: {_describe_refusals(exc.recipients)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _is_transient_reply(code: int) -> bool:
    return 400 <= code < 500


def is_transient(exc: BaseException) -> bool:
    """Whether sending again later may succeed: for a `retry_condition_fn`. Takes this
    module's errors and the raw smtplib/socket errors they are made from."""
    if isinstance(exc, MailError):
        return isinstance(exc, MailTransientError)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(_is_transient_reply(code) for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        # 421 busy, 451 local error, 452 no space, 454 auth temporarily unavailable: all 4xx.
        return _is_transient_reply(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    # Left out: no STARTTLS or AUTH on the server (SMTPNotSupportedError), an untrusted
    # certificate (SSLError), a file permission: settings to fix, not luck to wait for.
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS


class FakeMailer:
    """Records mail instead of sending it, for unit tests of code that sends mail. Idempotent by
    key like the real mailers; `failures` are raised, one per call, before anything is sent."""

    def __init__(self, failures: Iterable[MailError] = ()) -> None:
        self.sent: list[OutgoingMail] = []
        self._failures = list(failures)

    def send(self, mail: OutgoingMail) -> str:
        build_message(mail, "fake@rcoi.invalid")  # refuse what the real mailers refuse
        if any(sent.key == mail.key for sent in self.sent):
            return f"fake:{mail.key}"
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(mail)
        return f"fake:{mail.key}"


def mailer_from_settings(settings: Settings) -> Mailer:
    """SMTP when `smtp_host` is set; otherwise every message lands in the outbox directory."""
    if not settings.smtp_host:
        return OutboxMailer(settings.outbox_dir(), settings.mail_sender)
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_sender,
        username=settings.smtp_username,
        password=settings.smtp_password,
        security=settings.smtp_security,
        timeout_s=settings.smtp_timeout_s,
    )
