"""Mail adapter without a server: the MIME message, the outbox, the fake, error classification."""

from __future__ import annotations

import smtplib
import socket
import ssl
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import Settings
from tasks.adapters.mail import (
    Attachment,
    FakeMailer,
    MailError,
    MailPermanentError,
    MailTransientError,
    OutboxMailer,
    OutgoingMail,
    SmtpMailer,
    build_message,
    is_transient,
    mailer_from_settings,
)
from tasks.errors import ConfigError, RcoiError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKBOOK = b"PK\x03\x04" + bytes(range(256)) * 4  # binary, every byte value, CR and LF inside
KEY = "collect-report:42-05:" + "ab" * 32
SENDER = "РЦОИ Кузбасса <rcoi@rcoi.example>"
NOW = datetime(2017, 12, 6, 10, 0, tzinfo=timezone(timedelta(hours=7)))
SUBJECT = "Отчёт о приёме файла: МОУО 42-05 «Новокузнецкий городской округ»"
BODY = "Здравствуйте!\n\nФайл принят. Ошибок: 0.\nСрок — 06.12.2017, 18:00 (Новокузнецк).\n"


def _mail(key: str = KEY, **changes: Any) -> OutgoingMail:
    fields: dict[str, Any] = {
        "key": key,
        "to": ("Иванова А. П. <ivanova@mouo42-05.example>", "operator@mouo42-05.example"),
        "subject": SUBJECT,
        "body": BODY,
        "attachments": (Attachment("Отчёт_42-05.xlsx", WORKBOOK, XLSX),),
    }
    fields.update(changes)
    return OutgoingMail(**fields)


def _parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    # MIME text is canonical CRLF on the wire; compare lines, not line endings.
    return content.replace("\r\n", "\n")


def _eml_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.eml"))


# build_message


def test_built_message_round_trips_russian_subject_body_and_recipients() -> None:
    message = _parse(build_message(_mail(), SENDER, now=NOW).as_bytes())

    assert message["Subject"] == SUBJECT
    assert _text(message) == BODY
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        ("Иванова А. П.", "ivanova@mouo42-05.example"),
        ("", "operator@mouo42-05.example"),
    ]
    assert [(a.display_name, a.addr_spec) for a in message["From"].addresses] == [
        ("РЦОИ Кузбасса", "rcoi@rcoi.example")
    ]


@pytest.mark.parametrize(
    "subject",
    [
        "Нарушен срок «Внесение сведений об участниках в РИС (выверка и свод)»: 1 исполн.",
        "Срок нарушен: «Внесение сведений об участниках в РИС (выверка и свод)»",
        "об муниципальными в Напоминание муниципальными выверка образованием свод нарушен: "
        "муниципальными",
        "Короткая тема",
        "Представление сведений об участниках " * 8,
    ],
)
def test_a_long_russian_subject_keeps_every_space_and_short_lines(subject: str) -> None:
    data = build_message(_mail(subject=subject.strip()), SENDER, now=NOW).as_bytes()
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\nSubject: ", 1)[1]
    subject_lines = head.split(b"\r\n")[: head.count(b"=?utf-8?b?")]

    assert _parse(data)["Subject"] == subject.strip()
    assert subject_lines
    assert all(len(line) <= 78 for line in subject_lines)


def test_built_message_carries_the_xlsx_attachment_byte_for_byte() -> None:
    message = _parse(build_message(_mail(), SENDER, now=NOW).as_bytes())

    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Отчёт_42-05.xlsx"
    assert attachment.get_content_type() == XLSX
    assert attachment.get_content() == WORKBOOK


def test_built_message_is_seven_bit_clean_so_no_server_needs_8bitmime() -> None:
    data = build_message(_mail(), SENDER, now=NOW).as_bytes()

    assert data.isascii()
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_message_id_and_key_header_come_from_the_key_and_stay_the_same_on_every_build() -> None:
    first = build_message(_mail(), SENDER, now=NOW)
    again = build_message(_mail(), SENDER, now=NOW + timedelta(hours=1))
    other = build_message(_mail(key=KEY + "-другой"), SENDER, now=NOW)

    assert first["X-RCOI-Key"] == KEY
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] != other["Message-ID"]
    assert str(first["Message-ID"]).startswith("<")
    assert str(first["Message-ID"]).endswith("@rcoi>")


def test_date_header_is_the_given_instant() -> None:
    message = _parse(build_message(_mail(), SENDER, now=NOW).as_bytes())

    assert message["Date"].datetime == NOW


def test_message_without_attachments_is_a_single_text_part() -> None:
    message = _parse(build_message(_mail(attachments=()), SENDER, now=NOW).as_bytes())

    assert message.get_content_type() == "text/plain"
    assert _text(message) == BODY


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        build_message(_mail(), SENDER, now=datetime(2017, 12, 6, 10, 0))


@pytest.mark.parametrize(
    "changes",
    [
        {"key": ""},
        {"key": "a\nBcc: everyone@example.org"},
        {"to": ()},
        {"to": ("не адрес",)},
        {"to": ("a@b.example, c@d.example",)},
        {"subject": "Отчёт\r\nBcc: everyone@example.org"},
    ],
    ids=["empty-key", "key-with-newline", "no-recipients", "no-at-sign",
         "two-in-one", "subject-with-newline"],
)  # fmt: skip
def test_a_malformed_mail_is_refused_as_permanent(changes: dict[str, Any]) -> None:
    with pytest.raises(MailPermanentError):
        _mail(**changes)


def test_recipients_given_as_one_string_are_refused_rather_than_read_letter_by_letter() -> None:
    with pytest.raises(MailPermanentError, match="tuple"):
        _mail(to="ivanova@mouo42-05.example")


@pytest.mark.parametrize("filename", ["", "../отчёт.xlsx", "отчёт\n.xlsx"])
def test_an_attachment_needs_a_bare_file_name(filename: str) -> None:
    with pytest.raises(MailPermanentError, match="file name"):
        Attachment(filename, b"", XLSX)


@pytest.mark.parametrize("mime_type", ["xlsx", "application/", "/xlsx", "a/b/c"])
def test_an_attachment_needs_a_full_mime_type(mime_type: str) -> None:
    with pytest.raises(MailPermanentError, match="MIME type"):
        Attachment("отчёт.xlsx", b"", mime_type)


# OutboxMailer


def test_outbox_writes_a_parseable_eml_and_returns_its_path(tmp_path: Path) -> None:
    outbox = tmp_path / "out" / "outbox"  # does not exist yet
    where = OutboxMailer(outbox, SENDER, clock=lambda: NOW).send(_mail())

    [path] = _eml_files(outbox)
    assert where == f"outbox:{path}"
    assert path.name.startswith("collect-report-42-05-")
    message = _parse(path.read_bytes())
    assert message["Subject"] == SUBJECT
    assert message["X-RCOI-Key"] == KEY
    assert [a.get_content() for a in message.iter_attachments()] == [WORKBOOK]


def test_outbox_writes_the_same_key_once_and_keeps_the_first_file(tmp_path: Path) -> None:
    first = OutboxMailer(tmp_path, SENDER, clock=lambda: NOW).send(_mail())
    written = _eml_files(tmp_path)[0].read_bytes()
    later = NOW + timedelta(days=1)
    second = OutboxMailer(tmp_path, SENDER, clock=lambda: later).send(_mail(body="другой текст"))

    assert second == first
    assert len(_eml_files(tmp_path)) == 1
    assert _eml_files(tmp_path)[0].read_bytes() == written


def test_outbox_writes_another_file_for_another_key(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, SENDER, clock=lambda: NOW)
    first = mailer.send(_mail())
    second = mailer.send(_mail(key=KEY.replace("42-05", "42-06")))

    assert first != second
    assert len(_eml_files(tmp_path)) == 2


def test_outbox_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    OutboxMailer(tmp_path, SENDER, clock=lambda: NOW).send(_mail())

    assert [p.name for p in tmp_path.iterdir()] == [_eml_files(tmp_path)[0].name]


def test_outbox_names_a_russian_only_key_by_its_hash(tmp_path: Path) -> None:
    where = OutboxMailer(tmp_path, SENDER, clock=lambda: NOW).send(_mail(key="отчёт"))

    assert Path(where.removeprefix("outbox:")).name.startswith("mail-")


def test_an_unwritable_outbox_raises_a_mail_error_that_is_not_retried(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the directory should be")

    with pytest.raises(MailError, match="cannot write") as caught:
        OutboxMailer(blocker, SENDER, clock=lambda: NOW).send(_mail())
    assert not is_transient(caught.value)


# FakeMailer


def test_fake_mailer_records_each_key_once() -> None:
    mailer = FakeMailer()
    first = mailer.send(_mail())
    mailer.send(_mail(body="повтор"))
    mailer.send(_mail(key="another"))

    assert [mail.key for mail in mailer.sent] == [KEY, "another"]
    assert mailer.sent[0].body == BODY
    assert first == f"fake:{KEY}"


def test_fake_mailer_raises_the_given_failures_first_then_sends() -> None:
    mailer = FakeMailer(failures=[MailTransientError("421 busy")])

    with pytest.raises(MailTransientError):
        mailer.send(_mail())
    assert mailer.sent == []
    mailer.send(_mail())
    assert [mail.key for mail in mailer.sent] == [KEY]


# mailer_from_settings


def test_without_an_smtp_host_mail_goes_to_the_outbox(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path, smtp_host=None, mail_sender="rcoi@42.example")
    mailer = mailer_from_settings(settings)

    assert isinstance(mailer, OutboxMailer)
    assert mailer.directory == tmp_path / "outbox"
    assert mailer.sender == "rcoi@42.example"


def test_with_an_smtp_host_mail_goes_to_that_server(tmp_path: Path) -> None:
    settings = Settings(
        out_dir=tmp_path,
        smtp_host="smtp.42.example",
        smtp_port=465,
        smtp_username="rcoi",
        smtp_password=SecretStr("s3cret"),
        smtp_security="ssl",
        smtp_timeout_s=5.0,
        mail_sender="rcoi@42.example",
    )
    mailer = mailer_from_settings(settings)

    assert isinstance(mailer, SmtpMailer)
    assert (mailer.host, mailer.port, mailer.sender) == ("smtp.42.example", 465, "rcoi@42.example")
    assert (mailer.username, mailer.security, mailer.timeout_s) == ("rcoi", "ssl", 5.0)
    assert "s3cret" not in repr(vars(mailer))


def test_smtp_mailer_refuses_a_username_without_a_password() -> None:
    with pytest.raises(ConfigError):
        SmtpMailer("smtp.42.example", 587, "rcoi@42.example", username="rcoi")


def test_smtp_mailer_refuses_a_non_ascii_password_at_start_up_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="not ASCII") as caught:
        SmtpMailer("smtp.42.example", 587, "rcoi@42.example", "rcoi", SecretStr("пароль-42"))
    assert "пароль" not in str(caught.value)


@pytest.mark.parametrize("make", [OutboxMailer, SmtpMailer], ids=lambda c: c.__name__)
def test_a_mailer_with_a_bad_sender_fails_at_start_up(make: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sender"):
        make(tmp_path, "РЦОИ без адреса") if make is OutboxMailer else make("h", 25, "РЦОИ")


# is_transient


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),  # what socket.timeout is since Python 3.10
        socket.gaierror(-3, "Temporary failure in name resolution"),
        OSError(101, "Network is unreachable"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        smtplib.SMTPResponseException(421, b"4.3.2 Service not available"),
        smtplib.SMTPResponseException(451, b"4.3.0 Local error in processing"),
        smtplib.SMTPConnectError(421, b"Too many connections"),
        smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary authentication failure"),
        smtplib.SMTPRecipientsRefused({"a@b.example": (451, b"4.7.1 Greylisted")}),
        MailTransientError("421"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_transient_failures_are_worth_a_retry(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        smtplib.SMTPResponseException(550, b"5.1.1 Mailbox unavailable"),
        smtplib.SMTPResponseException(554, b"5.7.1 Rejected as spam"),
        smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "rcoi@rcoi.example"),
        smtplib.SMTPDataError(552, b"5.3.4 Message too big"),
        smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"5.1.1 No such user")}),
        smtplib.SMTPRecipientsRefused(
            {"a@b.example": (451, b"4.7.1 Greylisted"), "c@d.example": (550, b"5.1.1 No")}
        ),
        smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"),
        smtplib.SMTPResponseException(-1, b"a reply that is not a number"),
        smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
        ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate"),
        PermissionError(13, "Permission denied"),
        ValueError("not a mail error at all"),
        MailPermanentError("550"),
        MailError("outbox not writable"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_permanent_failures_are_not_retried(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_mail_errors_belong_to_the_project_hierarchy() -> None:
    assert issubclass(MailTransientError, MailError)
    assert issubclass(MailPermanentError, MailError)
    assert issubclass(MailError, RcoiError)
    assert not issubclass(MailTransientError, MailPermanentError)


def test_default_clock_stamps_an_aware_current_date() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = _parse(build_message(_mail(), SENDER).as_bytes())

    assert before <= message["Date"].datetime <= datetime.now(UTC)
