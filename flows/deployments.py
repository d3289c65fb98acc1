"""The deployments of the plans: one per plan, session and stage, named so that the UI lists
them in plan order («kemerovo-2017-essay · 2017-12-06 · 07 scan») and tagged `rcoi`, `plan:`,
`region:`, `session:`, `stage:` — so that every run, even one that never started (late),
says what it is; a watchdog per plan every 15 minutes in the region's zone. `rcoi deploy`
puts them on a work pool for a worker (production: schedules and lateness live on the
server), `rcoi serve` serves them from one process (development)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import RRule, Schedule

from flows.labels import run_tags
from flows.plan_stage import plan_stage
from flows.publish import publish, publish_instant
from flows.watchdog import watchdog, watchdog_schedule
from tasks.adapters.automations import WATCHED_TAG
from tasks.adapters.plan_files import load_calendar
from tasks.domain.plan import Plan, resolve_plan
from tasks.domain.plan_schedules import (
    StageRun,
    once_rrule_text,
    rrule_text,
    schedule_text,
    stage_runs,
    zone_label,
)
from tasks.errors import ConfigError

__all__ = [
    "STAGE_ORDER",
    "WATCHED_TAG",
    "PlannedRun",
    "apply_deployments",
    "deployment_name",
    "plan_deployments",
    "planned_runs",
]

# The plan-schedule's order of the stages (DOMAIN.md): the deployments' names carry it.
STAGE_ORDER = (
    "collect",
    "reconcile",
    "print",
    "publish",
    "copy",
    "grade",
    "scan",
    "verify",
    "upload",
    "inform",
)
# Runs load the flow by module path: a file path would put `flows/` first on sys.path, where
# flows/copy.py hides the standard library's `copy` (and breaks the process pools).
MODULE = EntrypointType.MODULE_PATH


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """One stage of one session of one plan as a deployment: its RRule text and, in Russian,
    when it runs in local time with the zone."""

    plan: Plan
    ref: str  # how runs find the plan again: its id, or a file's absolute path
    session: str
    stage: str
    rrule: str
    zone: str
    when: str
    slug: str


def deployment_name(plan_id: str, session: str, stage: str) -> str:
    return f"{plan_id} · {session} · {STAGE_ORDER.index(stage) + 1:02d} {stage}"


def watchdog_name(plan_id: str) -> str:
    return f"{plan_id} · 00 watchdog"  # before the plan's sessions in the UI's A–Z


def planned_runs(
    plans: Sequence[Plan],
    refs: Mapping[str, str] | None = None,
    zones: Mapping[str, Collection[str]] | None = None,
) -> list[PlannedRun]:
    """Every scheduled stage of every session of the plans, in plan order; `zones`: per plan,
    the zones of its publication's recipients (the regional database's МОУО and schools)."""
    out: list[PlannedRun] = []
    for the_plan in plans:
        ref = (refs or {}).get(the_plan.id, the_plan.id)
        calendar = load_calendar(the_plan.calendar)
        for session in the_plan.sessions:
            resolved = resolve_plan(the_plan, session.id, calendar)
            runs: dict[str, PlannedRun] = {
                run.stage: _planned(the_plan, ref, run)
                for run in stage_runs(the_plan.id, session.id, resolved)
            }
            instant = publish_instant(the_plan, session.id, (zones or {}).get(the_plan.id, ()))
            if instant is not None:
                zone = str(instant.tzinfo)
                runs["publish"] = PlannedRun(
                    the_plan,
                    ref,
                    session.id,
                    "publish",
                    once_rrule_text(instant, zone),
                    zone,
                    f"однократно {instant:%d.%m.%Y %H:%M} ({zone_label(instant, zone)})",
                    f"publish-{the_plan.id}-{session.id}",
                )
            out.extend(runs[stage] for stage in STAGE_ORDER if stage in runs)
    return out


def _planned(the_plan: Plan, ref: str, run: StageRun) -> PlannedRun:
    return PlannedRun(
        the_plan,
        ref,
        run.session_id,
        run.stage,
        rrule_text(run),
        run.zone,
        schedule_text(run),
        run.slug,
    )


def _description(planned: PlannedRun) -> str:
    region = planned.plan.region
    return (
        f"**{planned.stage}** · {region.name} ({region.code}) · сеанс {planned.session}\n\n"
        f"План: {planned.plan.title} (`{planned.plan.id}`)\n\n"
        f"Расписание: {planned.when}"
    )


def _tags(planned: PlannedRun) -> list[str]:
    labels = run_tags(planned.stage, planned.plan.id, planned.plan.region.code, planned.session)
    return [WATCHED_TAG, *labels]


def _stage_deployment(planned: PlannedRun, out: str, pool: str | None) -> RunnerDeployment:
    schedule: Schedule = RRule(
        planned.rrule,
        timezone=planned.zone,
        slug=planned.slug,
    )
    name = deployment_name(planned.plan.id, planned.session, planned.stage)
    common = {"plan": planned.ref, "session": planned.session, "out": out}
    if planned.stage == "publish":
        return publish.to_deployment(
            name=name,
            entrypoint_type=MODULE,
            schedules=[schedule],
            parameters=common,
            tags=_tags(planned),
            description=_description(planned),
            concurrency_limit=1,  # two runs would race to mail the same МОУО
            work_pool_name=pool,
        )
    return plan_stage.to_deployment(
        name=name,
        entrypoint_type=MODULE,
        schedules=[schedule],
        parameters={"stage": planned.stage, **common},
        tags=_tags(planned),
        description=_description(planned) + "\n\nКлюч в базе: один запуск на сеанс одновременно.",
        work_pool_name=pool,
    )


def _watchdog_deployment(the_plan: Plan, ref: str, out: str, pool: str | None) -> RunnerDeployment:
    zone = the_plan.region.timezone
    return watchdog.to_deployment(
        name=watchdog_name(the_plan.id),
        entrypoint_type=MODULE,
        schedules=[watchdog_schedule(the_plan)],
        parameters={"plan": ref, "out": out},
        tags=[WATCHED_TAG, *run_tags("watchdog", the_plan.id, the_plan.region.code, None)],
        description=(
            f"**Контроль сроков** · {the_plan.region.name} ({the_plan.region.code})\n\n"
            f"План: {the_plan.title} (`{the_plan.id}`)\n\n"
            f"Расписание: каждые 15 минут ({zone or 'UTC'})"
        ),
        concurrency_limit=1,
        work_pool_name=pool,
    )


def plan_deployments(
    plans: Sequence[Plan],
    out: str,
    refs: Mapping[str, str] | None = None,
    pool: str | None = None,
    zones: Mapping[str, Collection[str]] | None = None,
) -> list[RunnerDeployment]:
    """The deployments of the plans in plan order. `pool`: a work pool's name for a worker;
    None for `rcoi serve`."""
    refs = refs or {}
    deployments: list[RunnerDeployment] = []
    for the_plan in plans:
        ref = refs.get(the_plan.id, the_plan.id)
        deployments.append(_watchdog_deployment(the_plan, ref, out, pool))
        deployments.extend(
            _stage_deployment(planned, out, pool)
            for planned in planned_runs([the_plan], refs, zones)
        )
    return deployments


def _all_deployments(client: Any, tag: str, page: int = 200) -> list[Any]:
    """Every deployment with `tag`, page by page (the server answers 200 at most a call)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    found: list[Any] = []
    while True:
        batch = client.read_deployments(
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[tag])),
            limit=page,
            offset=len(found),
        )
        found += batch
        if len(batch) < page:
            return found


def apply_deployments(
    deployments: Sequence[RunnerDeployment], pool: str, plan_ids: Sequence[str]
) -> dict[str, int]:
    """Create the process work pool if it is missing, create or update every deployment
    (schedules replaced by slug), and delete the plans' deployments that are no longer in
    the list (a session taken out of a plan)."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            try:
                client.read_work_pool(pool)
            except ObjectNotFound:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            applied = {deployment.apply() for deployment in deployments}
            stale = [
                found.id
                for plan_id in plan_ids
                for found in _all_deployments(client, f"plan:{plan_id}")
                if found.id not in applied
            ]
            for deployment_id in stale:
                client.delete_deployment(deployment_id)
    except (OSError, httpx.HTTPError) as exc:
        raise ConfigError(f"сервер Prefect недоступен: {exc}") from exc
    return {"applied": len(applied), "removed": len(stale)}
