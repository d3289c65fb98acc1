"""The publish flow on an ephemeral Prefect server: once at 09:45 local on a simulated clock,
nothing on a re-run, a transient write failure retried, the coordinator alerted when late or
failed, and the topics mailed to every МОУО over a real SMTP server on loopback."""

from __future__ import annotations

import errno
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from config.settings import Settings
from flows.publish import publish
from tasks.adapters import topics_page
from tasks.adapters.database import bootstrap
from tasks.adapters.models import Mouo, Notification, PlanStage, School, StageCompletion
from tasks.adapters.region_files import load_regions, read_region_structure, write_region
from tasks.adapters.registry import upsert_structure
from tasks.adapters.topics import load_topics
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.synthetic_region import GeneratorOptions, generate_region
from tasks.errors import PublishError
from tests.smtp_support import HOST, RecordingHandler, smtp_server

pytestmark = pytest.mark.flows

PLAN = "kemerovo-2017-essay"
SESSION = "2017-12-06"
INSTANT = datetime(2017, 12, 6, 2, 45, tzinfo=UTC)  # 09:45 in Asia/Novokuznetsk
COORDINATOR = "coordinator@rcoi42.example"
HOUR = timedelta(hours=1)


def _region(out: Path, participants: int = 1500) -> dict[str, tuple[str, ...]]:
    """A small generated region's organisation in the database; the МОУО and their addresses."""
    options = GeneratorOptions(
        participants=participants,
        seed=3,
        region=load_regions()["42"],
        exam_date=date(2017, 12, 6),
    )
    write_region(generate_region(options), out / "region")
    database = bootstrap(Settings(out_dir=out))
    try:
        with UnitOfWork(database.session_factory) as uow:
            upsert_structure(uow.session, read_region_structure(out / "region"))
            uow.commit()
        with UnitOfWork(database.session_factory) as uow:
            return {m.code: tuple(m.emails) for m in uow.session.scalars(select(Mouo))}
    finally:
        database.dispose()


def _outbox(out: Path, prefix: str = "publish-") -> list[Path]:
    return sorted((out / "outbox").glob(f"{prefix}*.eml"))


def _message(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return f"{message['Subject']}\n{body.get_content()}"


def _completion(out: Path) -> StageCompletion | None:
    database = bootstrap(Settings(out_dir=out))
    try:
        with UnitOfWork(database.session_factory) as uow:
            found = uow.session.scalars(
                select(StageCompletion)
                .join(PlanStage)
                .where(PlanStage.stage_key == "publish_topics", StageCompletion.party == "rcoi")
            ).all()
            uow.session.expunge_all()
    finally:
        database.dispose()
    assert len(found) <= 1
    return found[0] if found else None


def test_the_topics_are_published_once_at_0945_and_a_rerun_does_nothing(tmp_path: Path) -> None:
    mouos = _region(tmp_path)
    load_topics(Settings(out_dir=tmp_path), PLAN, SESSION)
    page = tmp_path / "web" / "topics" / SESSION
    first = publish(
        plan=PLAN, session=SESSION, out=str(tmp_path), now=INSTANT - timedelta(minutes=1)
    )
    assert first["status"] == "published"
    assert first["published_at"] == INSTANT.isoformat()  # waited for 09:45, not a moment less
    assert first["published_at_local"] == "2017-12-06T09:45:00+07:00"
    assert first["lateness_s"] == 0.0
    assert first["topics"] == 7
    assert first["mails"]["sent"] == len(mouos) > 0
    assert first["mails"]["no_address"] == first["schools"] > 0  # the demo schools have none
    assert first["alerts_sent"] == 0
    assert first["live"] == {"file:topics.json": True, "file:index.html": True}
    assert sorted(p.name for p in page.iterdir()) == ["index.html", "topics.json"]
    completion = _completion(tmp_path)
    assert completion is not None
    assert completion.completed_at == INSTANT
    assert completion.details["lateness_s"] == 0.0
    assert completion.details["sha256"] == first["sha256"]
    assert completion.details["topics"] == 7
    sent = _outbox(tmp_path)
    assert len(sent) == len(mouos)
    texts = [_text(_message(path.read_bytes())) for path in sent]
    assert all("Верность и измена" in text for text in texts)
    assert sorted(_code(text) for text in texts) == sorted(mouos)

    stamps = {p.name: p.stat().st_mtime_ns for p in page.iterdir()}
    second = publish(
        plan=PLAN, session=SESSION, out=str(tmp_path), now=INSTANT + timedelta(hours=1)
    )
    assert second["status"] == "already_published"
    assert second["mails"] == {"sent": 0, "already_sent": 0, "no_address": 0, "failed": 0}
    assert second["published_at"] == first["published_at"]
    assert "уже опубликованы" in second["message"]
    assert {p.name: p.stat().st_mtime_ns for p in page.iterdir()} == stamps  # nothing rewritten
    assert _outbox(tmp_path) == sent


def _code(text: str) -> str:
    return text.split("(МОУО ", 1)[1].split(")", 1)[0]


def test_before_the_instant_without_waiting_nothing_is_published_or_mailed(tmp_path: Path) -> None:
    _region(tmp_path, participants=300)
    load_topics(Settings(out_dir=tmp_path), PLAN, SESSION)
    early = INSTANT - timedelta(milliseconds=100)
    summary = publish(plan=PLAN, session=SESSION, out=str(tmp_path), now=early, wait=False)
    assert summary["status"] == "too_early"
    assert "09:44:59.9" in summary["message"]
    assert not (tmp_path / "web").exists()
    assert not (tmp_path / "outbox").exists()
    assert _completion(tmp_path) is None


def test_a_transient_failure_of_the_first_write_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_topics(Settings(out_dir=tmp_path), PLAN, SESSION)
    real = topics_page.write_atomically
    calls: list[str] = []

    def busy_once(path: Path, data: bytes, mode: int = 0o644) -> None:
        calls.append(path.name)
        if len(calls) == 1:
            raise OSError(errno.EBUSY, "Device or resource busy")
        real(path, data, mode)

    monkeypatch.setattr(topics_page, "write_atomically", busy_once)
    summary = publish(plan=PLAN, session=SESSION, out=str(tmp_path), now=INSTANT)
    assert summary["status"] == "published"
    assert calls[0] == calls[1] == "topics.json"  # failed, then written on the retry
    assert summary["mouos"] == 0
    assert "рассылать некому" in summary["message"]  # no region generated: the page only


def test_a_permanent_write_failure_fails_the_run_and_alerts_the_coordinator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_topics(Settings(out_dir=tmp_path), PLAN, SESSION)
    calls: list[str] = []

    def read_only(path: Path, data: bytes, mode: int = 0o644) -> None:
        calls.append(path.name)
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(topics_page, "write_atomically", read_only)
    with pytest.raises(PublishError, match="Read-only file system"):
        publish(plan=PLAN, session=SESSION, out=str(tmp_path), now=INSTANT)
    assert calls == ["topics.json"]  # not retried: waiting would not help
    # the key the failed-run automation's mail takes too (prefect-run:<run>:Failed): one mail
    [alert] = _outbox(tmp_path, "prefect-run-")
    message = _message(alert.read_bytes())
    assert message["To"] == "coordinator@rcoi.example"
    assert "Сбой публикации тем: срок 2017-12-06" in _text(message)


def test_publishing_after_0947_alerts_the_coordinator_once(tmp_path: Path) -> None:
    load_topics(Settings(out_dir=tmp_path), PLAN, SESSION)
    late = INSTANT + timedelta(minutes=3, seconds=30)
    summary = publish(plan=PLAN, session=SESSION, out=str(tmp_path), now=late, wait=False)
    assert summary["status"] == "published"
    assert summary["lateness_s"] == 210.0
    assert summary["alerts_sent"] == 1
    [alert] = _outbox(tmp_path, "publish-late-")
    text = _text(_message(alert.read_bytes()))
    assert "опубликованы с опозданием" in text
    assert "на 210 с" in text


def test_the_watchdog_escalates_an_unpublished_stage_at_0947(tmp_path: Path) -> None:
    from flows.watchdog import watchdog

    def escalations() -> list[Path]:
        found = _outbox(tmp_path, "watchdog-escalation-")
        return [path for path in found if "publish-topics" in path.name]

    early = publish(plan=PLAN, session=SESSION, out=str(tmp_path), now=INSTANT - HOUR, wait=False)
    assert early["status"] == "too_early"  # stores the plan, publishes nothing
    watchdog(out=str(tmp_path), session=SESSION, now=INSTANT + timedelta(seconds=119))
    assert escalations() == []
    watchdog(out=str(tmp_path), session=SESSION, now=INSTANT + timedelta(minutes=2))
    [escalation] = escalations()
    text = _text(_message(escalation.read_bytes()))
    assert "истёк 06.12.2017 09:47" in text
    assert "РЦОИ" in text


@pytest.mark.integration
def test_the_topics_reach_every_mouo_and_a_school_in_its_own_zone_over_smtp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mouos = _region(tmp_path)
    database = bootstrap(Settings(out_dir=tmp_path))
    with UnitOfWork(database.session_factory) as uow:
        school = uow.session.scalars(select(School.code).order_by(School.code)).first()
        uow.session.execute(
            update(School)
            .where(School.code == school)
            .values(emails=["east@school.example"], timezone="Asia/Irkutsk")  # UTC+8
        )
        uow.commit()
    database.dispose()
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        for name, value in {
            "RCOI_SMTP_HOST": HOST,
            "RCOI_SMTP_PORT": str(port),
            "RCOI_SMTP_SECURITY": "none",
            "RCOI_COORDINATOR_EMAILS": f'["{COORDINATOR}"]',
        }.items():
            monkeypatch.setenv(name, value)
        load_topics(Settings(out_dir=tmp_path), PLAN, SESSION)
        start = INSTANT - timedelta(hours=1, minutes=5)  # before 09:45 in Irkutsk (01:45Z)
        summary = publish(plan=PLAN, session=SESSION, out=str(tmp_path), now=start)
        again = publish(plan=PLAN, session=SESSION, out=str(tmp_path), now=INSTANT)
    assert summary["status"] == "published"
    assert summary["published_at"] == INSTANT.isoformat()  # the page at the region's 09:45
    assert summary["mails"]["sent"] == len(mouos) + 1
    assert summary["alerts_sent"] == 0
    assert again["status"] == "already_published"
    delivered = {tuple(e.rcpt_tos): _message(e.content) for e in handler.envelopes}
    assert len(handler.envelopes) == len(delivered) == len(mouos) + 1  # the re-run sent nothing
    for code, emails in mouos.items():
        text = _text(delivered[emails])
        assert f"(МОУО {code})" in text
        assert "Темы открыты с 09:45 06.12.2017 по местному времени (Asia/Novokuznetsk)" in text
        assert "Человек и общество" in text
    east = _text(delivered[("east@school.example",)])
    assert f"(ОО {school})" in east
    assert "по местному времени (Asia/Irkutsk)" in east
    assert not (tmp_path / "outbox").exists()
    database = bootstrap(Settings(out_dir=tmp_path))
    with UnitOfWork(database.session_factory) as uow:
        kinds = list(uow.session.scalars(select(Notification.kind)))
    database.dispose()
    assert kinds.count("topics") == len(mouos) + 1


def test_the_interview_opens_its_test_materials_at_0730_and_not_a_moment_before(
    tmp_path: Path,
) -> None:
    plan, session = "tomsk-2024-interview", "2024-02-14"
    load_topics(Settings(out_dir=tmp_path), plan, session, "ИС-9")
    tomsk = ZoneInfo("Asia/Tomsk")
    early = datetime(2024, 2, 14, 7, 29, 59, 900_000, tzinfo=tomsk)
    refused = publish(plan=plan, session=session, out=str(tmp_path), now=early, wait=False)
    assert refused["status"] == "too_early"
    assert refused["stage"] == "open_kim"
    assert "не раньше 14.02.2024 07:30:00" in refused["message"]
    assert not (tmp_path / "web").exists()
    opened = publish(plan=plan, session=session, out=str(tmp_path), now=early, wait=True)
    assert opened["status"] == "published"
    assert opened["published_at_local"] == "2024-02-14T07:30:00+07:00"
    page = (tmp_path / "web" / "topics" / session / "index.html").read_text(encoding="utf-8")
    assert "Материалы итогового собеседования по русскому языку" in page
    assert "Вариант 2." in page
