"""Publish flow (seed 000 row 10): the session's topics at 09:45 local, never earlier, to the
topics page and to every МОУО and school; the schedule that starts it a few minutes early."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from config.settings import Settings
from tasks.adapters.clock import clock_for
from tasks.adapters.plan_files import load_calendar, resolve_plan_path
from tasks.adapters.topics import topic_file
from tasks.domain.plan import Plan, StageKind, resolve_plan
from tasks.domain.publish import SCHEDULE_LEAD, release_rule, schedule_instant
from tasks.plan import read_plan, store_plan
from tasks.publish import (
    Published,
    alert_failed_publication,
    confirm_page,
    mail_topics,
    prepare_release,
    publish_page,
    report_publication,
    wait_for_release,
)


@flow(name="publish", on_failure=[alert_failed_publication])
def publish(
    plan: str = "kemerovo-2017-essay",
    session: str | None = None,
    out: str = "out",
    now: datetime | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Publish once: wait for each zone's instant (`now` starts a simulated clock; without it,
    the real one), or with `wait` off refuse what is not due yet. A re-run changes nothing."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_id = session or the_plan.sessions[0].id
    store_plan(settings, the_plan)  # a region never generated still has its plan stages
    release = prepare_release(settings, the_plan, session_id)
    clock = clock_for(now)
    published: Published | None = None
    mailed: list[dict[str, Any]] = []
    live = None
    zones = release.zones if release.completion is None else ()  # published before: no-op
    for zone in zones:
        if not wait_for_release(clock, zone, wait):
            break
        if zone.opens_page:
            published = publish_page(settings, release, zone, clock)
        mailed.append(mail_topics(settings, release, zone, clock))
    if published is not None:
        live = confirm_page(settings, release, published)
    return report_publication(settings, release, published, mailed, clock, live)


def publish_schedule(
    the_plan: Plan, session_id: str, lead: timedelta = SCHEDULE_LEAD, ref: str | None = None
) -> Cron:
    """A cron on the exam day, `lead` before the instant, in the region's zone; the run waits
    for the instant itself. Cron has no year: on that date of a later year the run finds the
    session published and does nothing."""
    rule = release_rule(resolve_plan(the_plan, session_id, load_calendar(the_plan.calendar)))
    start = schedule_instant(rule, lead)
    return Cron(
        f"{start.minute} {start.hour} {start.day} {start.month} *",
        timezone=rule.zone,
        slug=f"publish-{the_plan.id}-{session_id}",
        parameters={"plan": ref or the_plan.id, "session": session_id},
    )


def publish_deployment(
    plans: Iterable[Plan], out: str = "out", refs: Mapping[str, str] | None = None
) -> RunnerDeployment:
    """One deployment `publish` with a schedule per region's plan and session: a national plan
    across 11 zones publishes at 09:45 in each."""
    schedules = [
        publish_schedule(p, s.id, ref=(refs or {}).get(p.id))
        for p in plans
        for s in p.sessions
        if _publishes(p, s.id)
    ]
    return publish.to_deployment(
        name="publish",
        entrypoint_type=EntrypointType.MODULE_PATH,  # a file path would put flows/ on sys.path
        schedules=schedules,
        parameters={"out": out},
        tags=["rcoi", "publish"],
        concurrency_limit=1,  # one run at a time: two would race to mail the same МОУО
    )


def _publishes(the_plan: Plan, session_id: str) -> bool:
    stages = resolve_plan(the_plan, session_id, load_calendar(the_plan.calendar))
    return any(stage.stage is StageKind.PUBLISH for stage in stages)


def demo_start(the_plan: Plan, session_id: str) -> datetime | None:
    """The demo's simulated clock: a minute before the instant (09:44 for 09:45); None when
    the session has no publish stage or no shipped topics to publish."""
    if not _publishes(the_plan, session_id) or not topic_file(session_id).exists():
        return None
    rule = release_rule(resolve_plan(the_plan, session_id, load_calendar(the_plan.calendar)))
    return rule.instant() - timedelta(minutes=1)


def publish_counts(summary: dict[str, Any]) -> dict[str, Any]:
    """The publish run for summary.json: when (local), how late, how much went out."""
    return {
        "status": summary["status"],
        "published_at": summary.get("published_at_local"),
        "lateness_s": summary.get("lateness_s"),
        "topics": summary.get("topics"),
        "mails_sent": summary["mails"]["sent"],
        "no_address": summary["mails"]["no_address"],
    }
