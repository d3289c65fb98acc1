"""Publish flow (seed 000 row 10): the session's topics at 09:45 local, never earlier, to the
topics page and to every МОУО and school; the instant its one-off schedule starts it at."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.clock import clock_for
from tasks.adapters.plan_files import load_calendar, resolve_plan_path
from tasks.adapters.topics import topic_file
from tasks.domain.plan import Plan, StageKind, resolve_plan
from tasks.domain.publish import first_release, release_rule
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


@stage_flow("publish", waits=False, on_failure=[alert_failed_publication])
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


def publish_instant(
    the_plan: Plan, session_id: str, zones: Collection[str] = ()
) -> datetime | None:
    """When the session's one-off schedule starts its run (flows/deployments.py): the release
    instant in the region's zone, or the earlier one of a recipient's zone east of it (the run
    then waits for each zone's instant in turn); None when the session publishes nothing. The
    worker starts the run's process ahead of it (its prefetch) and the server holds the run
    until then; the flow itself still waits for each instant and never publishes earlier."""
    if not _publishes(the_plan, session_id):
        return None
    rule = release_rule(resolve_plan(the_plan, session_id, load_calendar(the_plan.calendar)))
    return first_release(rule, zones)


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
