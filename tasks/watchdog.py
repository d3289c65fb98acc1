"""Prefect tasks of the deadline watchdog: evaluate the completion checks at an instant, send
each due notice once (mail + Prefect event), list them for the coordinator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from prefect.events import emit_event
from prefect.runtime import flow_run
from sqlalchemy import select

from config.settings import Settings
from tasks.adapters.automations import DEADLINE_AUTOMATION, DEADLINE_RESOURCE, automation_enabled
from tasks.adapters.board import board_cells, checks_of, load_scope, store_states
from tasks.adapters.database import bootstrap
from tasks.adapters.mail import OutgoingMail, mailer_from_settings
from tasks.adapters.models import Campaign, ExamSession, Mouo, Notification, Region, School
from tasks.adapters.notifications import record_sent, send_once
from tasks.adapters.submissions import mouo_directory
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.artifacts import EMPTY, local_time_text, status_ru, table_artifact
from tasks.board_artifacts import publish_board_artifacts
from tasks.domain.watchdog import (
    DEFAULT_POLICY,
    Notice,
    NoticeKind,
    Policy,
    digest_key,
    digest_mail,
    evaluate,
    notice_mail,
)
from tasks.errors import RegistryError
from tasks.retries import transient_failure

__all__ = ["NoticeOutcome", "send_digest", "send_notice", "watch_deadlines"]

KIND_RU = {
    NoticeKind.REMINDER: "напоминание",
    NoticeKind.ALERT: "нарушение срока",
    NoticeKind.MUNICIPAL: "в МОУО",
    NoticeKind.ESCALATION: "координатору",
    NoticeKind.AUTHORITY: "в орган управления",
}
# Who a notice goes to or who is late, as the coordinator reads it (МОУО and schools: codes).
RECIPIENT_RU = {
    "coordinator": "координатор РЦОИ",
    "rcoi": "РЦОИ",
    "authority": "орган управления образованием",
}


COORDINATOR = ("coordinator", "rcoi")
# Performers with no address of their own in the regional database (outside bodies, a kind
# standing for all МОУО or schools when the directory has none): the coordinator hears for them.
TO_COORDINATOR = ("fct", "rosobrnadzor", "other", "mouo", "school")
# The notices table of a run lists what went out now, at most this many rows.
ARTIFACT_ROWS = 300
AUTOMATION_GRACE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class NoticeOutcome:
    notice: Notice
    status: str  # sent | already_sent | no_address | automation (handed to Prefect)


def _recipients(
    settings: Settings, notice: Notice, mouo_emails: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    if notice.recipient in COORDINATOR or notice.recipient in TO_COORDINATOR:
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


@task(
    name="send-digest",
    cache_policy=NONE,
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=transient_failure,
)
def send_digest(
    settings: Settings, notices: list[Notice], to: tuple[str, ...], now: datetime
) -> bool:
    """Mail several notices of one kind to one recipient as one letter, and remember each
    notice's own key; True when sent now."""
    subject, body = digest_mail(notices, now)
    mail = OutgoingMail(key=digest_key(notices), to=to, subject=subject, body=body)
    database = bootstrap(settings)
    try:
        sent = send_once(
            database.session_factory, mailer_from_settings(settings), mail, notices[0].kind.value
        )
        record_sent(
            database.session_factory,
            [(n.key, n.plan_stage_id) for n in notices],
            notices[0].kind.value,
            ", ".join(to),
            subject,
            "digest",
        )
        return sent
    finally:
        database.dispose()


def _few(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" и ещё {len(names) - limit}" if len(names) > limit else "")


def _local(notice: Notice) -> datetime:
    return notice.due.astimezone(ZoneInfo(notice.zone))


def _emit(notice: Notice, plan_id: str, region: str) -> None:
    """A Prefect event per notice, so that automations can act on missed deadlines: the
    resource names plan and session (two regions share session dates); the payload carries
    codes only — `rcoi web` writes the coordinator's mail from the plan row it names (anyone
    who may post events could otherwise write the mail)."""
    run_id = flow_run.get_id()
    emit_event(
        event=f"rcoi.deadline.{notice.kind.value}",
        resource={
            "prefect.resource.id": (
                f"{DEADLINE_RESOURCE}.{plan_id}.{notice.session_code}.{notice.stage_key}"
            ),
            "prefect.resource.name": notice.title,
            "rcoi.plan": plan_id,
            "rcoi.region": region,
            "rcoi.session": notice.session_code,
            "rcoi.stage": notice.stage_key,
        },
        related=[
            {
                "prefect.resource.id": f"rcoi.party.{notice.recipient}",
                "prefect.resource.role": "recipient",
            }
        ],
        payload={
            "key": notice.key,
            "kind": notice.kind.value,
            "plan": plan_id,
            "region": region,
            "session": notice.session_code,
            "stage": notice.stage_key,
            "plan_stage_id": notice.plan_stage_id,
            "due": notice.due.isoformat(),
            "due_local": f"{_local(notice):%d.%m.%Y %H:%M} ({notice.zone})",
            "recipient": notice.recipient,
            "late_parties": list(notice.parties),
            "flow_run_id": str(run_id) if run_id else None,
        },
    )


def _to_automation(notice: Notice, now: datetime, automation_on: bool) -> bool:
    """The coordinator's escalation goes through the Prefect automation while it is enabled on
    the server — unless it is still unsent `AUTOMATION_GRACE` after the deadline (the
    automation did not deliver): then the watchdog mails it itself, with the same key."""
    return (
        automation_on
        and notice.kind is NoticeKind.ESCALATION  # the automation posts escalations only
        and notice.recipient in COORDINATOR
        and now < notice.due + AUTOMATION_GRACE
    )


def _sent_before(settings: Settings, keys: list[str]) -> set[str]:
    """Which of `keys` were mailed already: one connection for the run, one query per
    thousand keys (a road map's run has thousands of notices)."""
    if not keys:
        return set()
    found: set[str] = set()
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                found |= set(
                    uow.session.scalars(
                        select(Notification.dedup_key).where(Notification.dedup_key.in_(chunk))
                    )
                )
    finally:
        database.dispose()
    return found


def _plan_zone(settings: Settings, campaign_code: str) -> str:
    """The region's zone of the campaign, for a run that found no check to take it from."""
    from sqlalchemy import select

    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            zone = uow.session.scalars(
                select(Region.timezone)
                .join(Campaign, Campaign.region_code == Region.code)
                .where(Campaign.code == campaign_code)
            ).first()
    finally:
        database.dispose()
    return zone or "UTC"


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
            # A school without an address of its own is written to through its МОУО.
            emails |= {
                code: tuple(addresses) or emails.get(mouo, ())
                for code, addresses, mouo in uow.session.execute(
                    select(School.code, School.emails, Mouo.code).join(
                        Mouo, School.mouo_id == Mouo.id
                    )
                )
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
    region: str = "",
) -> dict[str, Any]:
    """Evaluate every completion check at `now` (the injected clock; default: the real one)
    and send what is due. Running again at the same instant sends nothing new."""
    logger = get_run_logger()
    moment = now or datetime.now(UTC)
    _, mouo_emails = _session_ids(settings, campaign_code, session_codes)
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            # Every plan row, automated or people's work, per performer and occurrence: the
            # board's cells, stored as the board's states, and their deadlines checked.
            scope = load_scope(uow.session, campaign_code, session_codes)
            cells = board_cells(uow.session, scope, moment)
            changed = store_states(uow.session, cells, moment)
            uow.commit()
            checks = checks_of(cells)
    finally:
        database.dispose()
    notices = evaluate(checks, moment, policy)
    outcomes: list[NoticeOutcome] = []
    automation_on = bool(notices) and automation_enabled(DEADLINE_AUTOMATION)
    handed = [n for n in notices if _to_automation(n, moment, automation_on)]
    sent_before = _sent_before(settings, [n.key for n in notices])
    # One mail per recipient and kind of notice: a single notice as its own letter, several
    # (a road map's month ending for fifty rows) as one list.
    groups: dict[tuple[NoticeKind, tuple[str, ...]], list[Notice]] = {}
    for notice in notices:
        if notice in handed:
            unsent = notice.key not in sent_before
            if unsent:  # again on every run until the automation's mail is recorded
                _emit(notice, campaign_code, region)
            outcomes.append(NoticeOutcome(notice, "automation" if unsent else "already_sent"))
            continue
        if notice.key in sent_before:
            outcomes.append(NoticeOutcome(notice, "already_sent"))
            continue
        to = _recipients(settings, notice, mouo_emails)
        if not to:
            outcomes.append(NoticeOutcome(notice, "no_address"))
            continue
        groups.setdefault((notice.kind, to), []).append(notice)
    for (_, to), group in groups.items():
        if len(group) == 1:
            sent = send_notice(settings, group[0], to, moment)
        else:
            sent = send_digest(settings, group, to, moment)
        for notice in group:
            if sent:
                _emit(notice, campaign_code, region)
            outcomes.append(NoticeOutcome(notice, "sent" if sent else "already_sent"))
    unaddressed = sorted({o.notice.recipient for o in outcomes if o.status == "no_address"})
    if unaddressed:  # once per run, not once per notice
        logger.warning(
            "no address for %d notices to %d recipients: %s",
            sum(o.status == "no_address" for o in outcomes),
            len(unaddressed),
            ", ".join(unaddressed[:20]) + (" …" if len(unaddressed) > 20 else ""),
        )
    shown = [o for o in outcomes if o.status != "already_sent"]
    zone = next((c.zone for c in checks), None) or _plan_zone(settings, campaign_code)
    table_artifact(
        "watchdog-notices",
        campaign_code,
        session_codes[0] if session_codes and len(session_codes) == 1 else None,
        [
            {
                "вид": KIND_RU[o.notice.kind],
                "этап": o.notice.title,
                "срок": o.notice.session_code,
                "крайний срок": local_time_text(o.notice.due, o.notice.zone, deadline=True),
                "кому": RECIPIENT_RU.get(o.notice.recipient, o.notice.recipient),
                "нарушили": _few([RECIPIENT_RU.get(p, p) for p in o.notice.parties]) or EMPTY,
                "состояние": status_ru(o.status),
            }
            for o in shown[:ARTIFACT_ROWS]
        ],
        f"Контроль сроков на {local_time_text(moment, zone)}"
        + (f" (первые {ARTIFACT_ROWS} из {len(shown)})" if len(shown) > ARTIFACT_ROWS else ""),
    )
    # The board per session, as the coordinator sees it in the Prefect UI: a table of every
    # row and the season's timeline (its PNG also served by `rcoi web`).
    publish_board_artifacts(settings, scope, cells, moment, redraw=changed > 0)
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
