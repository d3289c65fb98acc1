"""Prefect tasks of the publish stage: seal the topics, wait for the instant, open the vault,
write the page, mail every МОУО and school once, confirm the page, record and report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import Flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import FlowRun, State
from prefect.events import emit_event
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import flow_run

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.mail import MailPermanentError, OutgoingMail, mailer_from_settings
from tasks.adapters.notifications import send_once
from tasks.adapters.plan_files import load_calendar
from tasks.adapters.publication import PARTY, publish_recipients, publish_target
from tasks.adapters.submissions import mark_stage_completed
from tasks.adapters.topics import load_topics as seal_topics
from tasks.adapters.topics import open_topics
from tasks.adapters.topics_page import PageWrite, confirm_live, page_url, write_page
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.artifacts import markdown_artifact
from tasks.domain.plan import Plan, resolve_plan
from tasks.domain.publish import (
    Clock,
    ReleaseRule,
    ZoneRelease,
    ensure_due,
    failure_mail,
    is_due,
    late_alert_mail,
    lateness_s,
    local_text,
    page_html,
    page_json,
    publication_markdown,
    release_rule,
    too_early_text,
    topics_mail,
    zone_releases,
)
from tasks.retries import transient_failure

__all__ = [
    "Published",
    "Release",
    "alert_failed_publication",
    "confirm_page",
    "load_topics",
    "mail_topics",
    "prepare_release",
    "publish_page",
    "report_publication",
    "wait_for_release",
]

# Quick retries of transient failures only: the topics are due within two minutes.
_RETRIES = 3
_RETRY_DELAYS_S: list[float] = [1.0, 2.0, 4.0]


@dataclass(frozen=True, slots=True)
class Release:
    """Everything the run needs, read once before the instant (nothing secret in here)."""

    plan_id: str
    session_id: str
    region_name: str
    rule: ReleaseRule
    zones: tuple[ZoneRelease, ...]
    plan_stage_id: int
    completion: dict[str, Any] | None
    mouos: int
    schools: int


@dataclass(frozen=True, slots=True)
class Published:
    """The page as it went out, and how many topics it holds."""

    page: PageWrite
    topics: int


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).isoformat()


@task(name="load-topics", cache_policy=NONE)
def load_topics(
    settings: Settings, plan: Plan, session_id: str, source: Path | None = None
) -> dict[str, Any]:
    """Seal the session's topics into the vault ahead of time (idempotent)."""
    result = seal_topics(settings, plan.id, session_id, plan.procedure, source)
    logger = get_run_logger()
    if result.key.generated:
        logger.warning("generated the demo topics key %s (set RCOI_TOPICS_KEY)", result.key.source)
    logger.info("topics of %s/%s: %s, %d", plan.id, session_id, result.status, result.topics)
    return {"status": result.status, "topics": result.topics, "directions": result.directions}


@task(name="prepare-release", cache_policy=NONE)
def prepare_release(settings: Settings, plan: Plan, session_id: str) -> Release:
    """The release instant from the plan's publish stage, and the recipients by zone."""
    rule = release_rule(resolve_plan(plan, session_id, load_calendar(plan.calendar)))
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            target = publish_target(uow.session, plan.id, session_id, rule.stage_id)
            recipients = publish_recipients(uow.session)
    finally:
        database.dispose()
    mouos = sum(r.kind == "mouo" for r in recipients)
    logger = get_run_logger()
    if not mouos:
        logger.warning("no МОУО in the regional database: the topics go to the page only")
    zones = zone_releases(rule, recipients)
    for zone in zones:
        logger.info(
            "zone %s: release at %s (%s UTC), %d recipients%s",
            zone.zone,
            _local(zone.at, zone.zone),
            zone.at.astimezone(ZoneInfo("UTC")).isoformat(),
            len(zone.recipients),
            ", opens the page" if zone.opens_page else "",
        )
    return Release(
        plan.id,
        session_id,
        plan.region.name,
        rule,
        zones,
        target.plan_stage_id,
        target.completion,
        mouos,
        len(recipients) - mouos,
    )


@task(name="wait-for-release", cache_policy=NONE)
def wait_for_release(clock: Clock, zone: ZoneRelease, wait: bool) -> bool:
    """True at or after the zone's instant (after waiting for it, if allowed); False when it
    is too early and waiting is not allowed (an operator's run with --now)."""
    logger = get_run_logger()
    if is_due(clock.now(), zone.at):
        return True
    if not wait:
        return False
    logger.info("waiting for %s (%s)", _local(zone.at, zone.zone), zone.zone)
    clock.sleep_until(zone.at)
    ensure_due(clock.now(), zone.at)
    return True


@task(
    name="publish-page",
    cache_policy=NONE,
    retries=_RETRIES,
    retry_delay_seconds=_RETRY_DELAYS_S,
    retry_condition_fn=transient_failure,
)
def publish_page(
    settings: Settings, release: Release, zone: ZoneRelease, clock: Clock
) -> Published:
    """Open the vault and write the topics page (index.html, topics.json) into the web root."""
    ensure_due(clock.now(), zone.at)
    topics = open_topics(settings, release.plan_id, release.session_id)
    files = {
        "topics.json": page_json(
            topics, release.rule, release.region_name, release.plan_id, zone.zone
        ),
        "index.html": page_html(topics, release.rule, release.region_name, zone.zone).encode(
            "utf-8"
        ),
    }
    page = write_page(settings, release.plan_id, release.session_id, files, clock.now())
    get_run_logger().info(
        "topics page of %s %s at %s (%d topics)",
        release.session_id,
        "written" if page.written else "already there",
        page.published_at.isoformat(),
        topics.count,
    )
    return Published(page, topics.count)


@task(
    name="mail-topics",
    cache_policy=NONE,
    retries=_RETRIES,
    retry_delay_seconds=_RETRY_DELAYS_S,
    retry_condition_fn=transient_failure,
)
def mail_topics(
    settings: Settings, release: Release, zone: ZoneRelease, clock: Clock
) -> dict[str, Any]:
    """Mail the topics to every recipient of the zone, each once (a retry or a re-run skips
    what went out). A refused address is counted, never aborts the others."""
    ensure_due(clock.now(), zone.at)
    logger = get_run_logger()
    started = clock.now()
    counts = {"sent": 0, "already_sent": 0, "no_address": 0, "failed": 0}
    if zone.recipients:
        topics = open_topics(settings, release.plan_id, release.session_id)
        mailer = mailer_from_settings(settings)
        url = page_url(settings, release.session_id)
        prefix = f"publish:{release.plan_id}:{release.session_id}"
        database = bootstrap(settings)
        try:
            for recipient in zone.recipients:
                if not recipient.emails:
                    counts["no_address"] += 1
                    continue
                subject, body = topics_mail(topics, recipient, zone.at, zone.zone, url)
                key = f"{prefix}:{recipient.kind}:{recipient.code}"
                try:
                    mail = OutgoingMail(key=key, to=recipient.emails, subject=subject, body=body)
                    sent = send_once(
                        database.session_factory, mailer, mail, "topics", release.plan_stage_id
                    )
                except MailPermanentError as exc:
                    logger.error(
                        "topics mail to %s %s refused: %s", recipient.kind, recipient.code, exc
                    )
                    counts["failed"] += 1
                    continue
                counts["sent" if sent else "already_sent"] += 1
        finally:
            database.dispose()
    logger.info("topics mail in %s: %s", zone.zone, counts)
    return {
        "zone": zone.zone,
        "release_at": _local(zone.at, zone.zone),
        "out_at": started.isoformat(),
        "recipients": len(zone.recipients),
        **counts,
    }


@task(
    name="confirm-live",
    cache_policy=NONE,
    retries=_RETRIES,
    retry_delay_seconds=_RETRY_DELAYS_S,
    retry_condition_fn=transient_failure,
)
def confirm_page(settings: Settings, release: Release, published: Published) -> dict[str, bool]:
    """The page is live: every file read back (and fetched, with a public URL) matches."""
    checked = confirm_live(settings, release.session_id, published.page.sha256)
    get_run_logger().info("topics page of %s is live: %s", release.session_id, sorted(checked))
    return checked


def _alert(settings: Settings, release: Release, key: str, subject: str, body: str) -> int:
    if not settings.coordinator_emails:
        return 0
    mail = OutgoingMail(key=key, to=tuple(settings.coordinator_emails), subject=subject, body=body)
    database = bootstrap(settings)
    try:
        mailer = mailer_from_settings(settings)
        return int(
            send_once(database.session_factory, mailer, mail, "alert", release.plan_stage_id)
        )
    finally:
        database.dispose()


def _late_alerts(
    settings: Settings,
    release: Release,
    page_out: datetime | None,
    mailed: list[dict[str, Any]],
    now: datetime,
) -> int:
    """Alert the coordinator once per zone when nothing was out there by 09:47: still nothing
    (the run ends unpublished past it), or out, but after it."""
    out_at = {m["zone"]: datetime.fromisoformat(m["out_at"]) for m in mailed}
    sent = 0
    for zone in release.zones:
        out = page_out if zone.opens_page else out_at.get(zone.zone)
        if (now if out is None else out) < zone.alert_at:
            continue
        subject, body = late_alert_mail(release.rule, release.session_id, zone.zone, out)
        key = f"publish:late:{release.plan_id}:{release.session_id}:{zone.zone}"
        sent += _alert(settings, release, key, subject, body)
    return sent


def _record(
    settings: Settings, release: Release, published: Published, zones: list[Any]
) -> dict[str, Any]:
    """The plan stage's completion: the actual instant, the lateness, the page's digests."""
    page = published.page
    page_zone = next(z for z in release.zones if z.opens_page)
    details = {
        "published_at": page.published_at.isoformat(),
        "published_at_local": _local(page.published_at, page_zone.zone),
        "lateness_s": lateness_s(page.published_at, page_zone.at),
        "sha256": page.sha256["topics.json"],
        "sha256_html": page.sha256["index.html"],
        "topics": published.topics,
        "zones": {m["zone"]: m["release_at"] for m in zones},
    }
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            run_id = str(flow_run.get_id() or "") or None
            mark_stage_completed(
                uow.session, release.plan_stage_id, PARTY, page.published_at, details, run_id
            )
            uow.commit()
    finally:
        database.dispose()
    return details


def _emit(release: Release, details: dict[str, Any]) -> None:
    """`rcoi.topics.published`, for automations (e.g. a site cache purge); no topic text."""
    emit_event(
        event="rcoi.topics.published",
        resource={
            "prefect.resource.id": f"rcoi.topics.{release.plan_id}.{release.session_id}",
            "prefect.resource.name": release.rule.title,
        },
        related=[
            {
                "prefect.resource.id": (
                    f"rcoi.plan-stage.{release.plan_id}.{release.session_id}."
                    f"{release.rule.stage_id}"
                ),
                "prefect.resource.role": "plan-stage",
            }
        ],
        payload={k: details[k] for k in ("published_at", "lateness_s", "sha256", "topics")},
    )


@task(
    name="report-publication",
    cache_policy=NONE,
    retries=_RETRIES,
    retry_delay_seconds=_RETRY_DELAYS_S,
    retry_condition_fn=transient_failure,
)
def report_publication(
    settings: Settings,
    release: Release,
    published: Published | None,
    mailed: list[dict[str, Any]],
    clock: Clock,
    live: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """Record the completion (actual instant, lateness), emit `rcoi.topics.published`, alert
    the coordinator if late, and leave a markdown artifact; returns the run's summary."""
    logger = get_run_logger()
    now = clock.now()
    page_zone = next(z for z in release.zones if z.opens_page)
    mails = {k: sum(m[k] for m in mailed) for k in ("sent", "already_sent", "no_address", "failed")}
    summary: dict[str, Any] = {
        "plan": release.plan_id,
        "session": release.session_id,
        "stage": release.rule.stage_id,
        "release_at": _local(release.rule.instant(), release.rule.zone),
        "zone": release.rule.zone,
        "mouos": release.mouos,
        "schools": release.schools,
        "mails": mails,
    }
    if release.completion is not None:  # published before: report it, touch nothing
        when = datetime.fromisoformat(release.completion["published_at"])
        summary |= {"status": "already_published", **release.completion}
        summary["message"] = (
            f"Темы срока {release.session_id} уже опубликованы "
            f"({local_text(when, page_zone.zone)}); повторно ничего не записано и не разослано."
        )
        logger.info("topics of %s were published before: nothing to do", release.session_id)
    elif published is None:  # too early for (some) zones, and not allowed to wait
        done = {m["zone"] for m in mailed}
        first = next(z for z in release.zones if z.zone not in done)
        summary["status"] = "partial" if mailed else "too_early"
        summary["message"] = too_early_text(release.rule, now, first.at, first.zone)
        summary["alerts_sent"] = _late_alerts(settings, release, None, mailed, now)
    else:
        details = _record(settings, release, published, mailed)
        summary |= {"status": "published", **details, "live": live or {}}
        summary["alerts_sent"] = _late_alerts(
            settings, release, published.page.published_at, mailed, now
        )
        _emit(release, details)  # last: a retry of a failed alert does not emit twice
        sent = f"писем отправлено: {mails['sent']}"
        summary["message"] = (
            f"Темы срока {release.session_id} опубликованы "
            f"{local_text(published.page.published_at, page_zone.zone)} по местному времени "
            f"({page_zone.zone}), опоздание {details['lateness_s']} с; "
            f"{sent if release.mouos else 'в РБД нет МОУО — рассылать некому'}."
        )
        logger.info(
            "published the topics of %s at %s, %.3f s after the instant",
            release.session_id,
            details["published_at_local"],
            details["lateness_s"],
        )
    markdown_artifact(
        "publish-summary",
        release.plan_id,
        release.session_id,
        publication_markdown(summary, mailed),
        f"Публикация тем: срок {release.session_id}",
    )
    return summary


def alert_failed_publication(flow: Flow[Any, Any], run: FlowRun, state: State[Any]) -> None:
    """on_failure hook of the publish flow: tell the coordinator at once (once per run). The
    key is the one the `rcoi-run-failed` automation's mail takes (web/alerts.py): whichever
    comes first is sent, the other finds it sent."""
    logger = flow_run_logger(run, flow)
    parameters = run.parameters or {}
    plan_id = str(parameters.get("plan") or "?")
    session_id = str(parameters.get("session") or "?")
    settings = Settings(out_dir=Path(str(parameters.get("out") or "out")))
    subject, body = failure_mail(session_id, plan_id, state.message or state.name or "ошибка")
    try:
        mail = OutgoingMail(
            key=f"prefect-run:{run.id}:Failed",
            to=tuple(settings.coordinator_emails),
            subject=subject,
            body=body,
        )
        database = bootstrap(settings)
        try:
            send_once(database.session_factory, mailer_from_settings(settings), mail, "alert")
        finally:
            database.dispose()
    except Exception:  # a hook must not hide the failure it reports
        logger.exception("could not alert the coordinator about the failed publication")
    else:
        logger.error(
            "publication of %s/%s failed: the coordinator was alerted", plan_id, session_id
        )
