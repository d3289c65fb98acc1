"""Prefect tasks of the deadline watchdog: evaluate the completion checks at an instant, send
each due notice once (mail + Prefect event), list them for the coordinator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE
from prefect.events import emit_event

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.deadlines import completion_checks
from tasks.adapters.mail import OutgoingMail, mailer_from_settings
from tasks.adapters.models import Campaign, ExamSession, School
from tasks.adapters.notifications import send_once
from tasks.adapters.submissions import mouo_directory
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.watchdog import DEFAULT_POLICY, Notice, NoticeKind, Policy, evaluate, notice_mail
from tasks.errors import RegistryError
from tasks.retries import transient_failure

__all__ = ["NoticeOutcome", "send_notice", "watch_deadlines"]

KIND_RU = {
    NoticeKind.REMINDER: "напоминание",
    NoticeKind.ALERT: "нарушение срока",
    NoticeKind.ESCALATION: "координатору",
    NoticeKind.AUTHORITY: "в орган управления",
}


@dataclass(frozen=True, slots=True)
class NoticeOutcome:
    notice: Notice
    status: str  # sent | already_sent | no_address


def _recipients(
    settings: Settings, notice: Notice, mouo_emails: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    if notice.recipient == "coordinator" or notice.recipient == "rcoi":
        return tuple(settings.coordinator_emails)
    if notice.recipient == "authority":
        return tuple(settings.authority_emails)
    return mouo_emails.get(notice.recipient, ())


@task(
    name="send-notice",
    cache_policy=NONE,
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=transient_failure,
)
def send_notice(settings: Settings, notice: Notice, to: tuple[str, ...], now: datetime) -> bool:
    """Mail one notice unless its key was sent before; True when sent now."""
    subject, body = notice_mail(notice, now)
    mail = OutgoingMail(key=notice.key, to=to, subject=subject, body=body)
    database = bootstrap(settings)
    try:
        return send_once(
            database.session_factory,
            mailer_from_settings(settings),
            mail,
            notice.kind.value,
            notice.plan_stage_id,
        )
    finally:
        database.dispose()


def _local(notice: Notice) -> datetime:
    return notice.due.astimezone(ZoneInfo(notice.zone))


def _emit(notice: Notice) -> None:
    """A Prefect event per notice sent, so that automations can act on missed deadlines."""
    emit_event(
        event=f"rcoi.deadline.{notice.kind.value}",
        resource={
            "prefect.resource.id": f"rcoi.plan-stage.{notice.session_code}.{notice.stage_key}",
            "prefect.resource.name": notice.title,
        },
        related=[
            {
                "prefect.resource.id": f"rcoi.party.{notice.recipient}",
                "prefect.resource.role": "recipient",
            }
        ],
        payload={
            "key": notice.key,
            "due": notice.due.isoformat(),
            "recipient": notice.recipient,
            "late_parties": list(notice.parties),
        },
    )


def _session_ids(
    settings: Settings, campaign_code: str, session_codes: list[str] | None
) -> tuple[list[int], dict[str, tuple[str, ...]]]:
    from sqlalchemy import select

    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            query = (
                select(ExamSession.id, ExamSession.code)
                .join(Campaign)
                .where(Campaign.code == campaign_code)
            )
            found = dict(uow.session.execute(query).tuples().all())
            emails = {code: m.emails for code, m in mouo_directory(uow.session).items()}
            # Schools are parties too (grading): their own addresses.
            emails |= {
                code: tuple(addresses)
                for code, addresses in uow.session.execute(select(School.code, School.emails))
            }
    finally:
        database.dispose()
    if not found:
        raise RegistryError(f"no sessions of campaign {campaign_code!r}: store the plan first")
    wanted = [i for i, code in found.items() if session_codes is None or code in session_codes]
    return wanted, emails


@task(name="watch-deadlines", cache_policy=NONE)
def watch_deadlines(
    settings: Settings,
    campaign_code: str,
    session_codes: list[str] | None = None,
    now: datetime | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """Evaluate every completion check at `now` (the injected clock; default: the real one)
    and send what is due. Running again at the same instant sends nothing new."""
    logger = get_run_logger()
    moment = now or datetime.now(UTC)
    ids, mouo_emails = _session_ids(settings, campaign_code, session_codes)
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            checks = completion_checks(uow.session, ids)
    finally:
        database.dispose()
    notices = evaluate(checks, moment, policy)
    outcomes: list[NoticeOutcome] = []
    for notice in notices:
        to = _recipients(settings, notice, mouo_emails)
        if not to:
            logger.warning("no address for %s of %s: %s", notice.kind, notice.recipient, notice.key)
            outcomes.append(NoticeOutcome(notice, "no_address"))
            continue
        sent = send_notice(settings, notice, to, moment)
        if sent:
            _emit(notice)
        outcomes.append(NoticeOutcome(notice, "sent" if sent else "already_sent"))
    create_table_artifact(
        key="watchdog-notices",
        table=[
            {
                "вид": KIND_RU[o.notice.kind],
                "этап": o.notice.title,
                "срок": f"{o.notice.session_code}",
                "крайний срок": f"{_local(o.notice):%d.%m.%Y %H:%M}",
                "кому": o.notice.recipient,
                "нарушили": ", ".join(o.notice.parties),
                "состояние": {
                    "sent": "отправлено",
                    "already_sent": "уже отправлялось",
                    "no_address": "нет адреса",
                }[o.status],
            }
            for o in outcomes
        ],
        description=f"Контроль сроков на {moment:%d.%m.%Y %H:%M} UTC",
    )
    sent_now = [o for o in outcomes if o.status == "sent"]
    logger.info(
        "watchdog at %s: %d checks, %d notices due, %d sent now",
        moment.isoformat(),
        len(checks),
        len(notices),
        len(sent_now),
    )
    return {
        "at": moment.isoformat(),
        "checks": len(checks),
        "incomplete": sum(not c.completed for c in checks),
        "due": len(notices),
        "sent": {kind.value: sum(o.notice.kind is kind for o in sent_now) for kind in NoticeKind},
        "already_sent": sum(o.status == "already_sent" for o in outcomes),
        "no_address": sum(o.status == "no_address" for o in outcomes),
        "notified": sorted({f"{o.notice.kind.value}:{o.notice.recipient}" for o in sent_now}),
    }
