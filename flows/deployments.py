"""The deployments `rcoi serve --plan` serves: one per stage, each with a schedule per plan
and session (in the region's zone, named `<stage>-<plan>-<session>`), so several regions are
several schedules on one deployment; plus `publish` at its instant and the watchdog every
15 minutes per region."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, RRule, Schedule

from flows.plan_stage import STAGE_FLOWS, plan_stage
from flows.publish import publish_deployment
from flows.watchdog import WATCHDOG_CRON, watchdog
from tasks.adapters.plan_files import load_calendar
from tasks.domain.plan import Plan, resolve_plan
from tasks.domain.plan_schedules import rrule_text, stage_runs

__all__ = ["plan_deployments", "stage_schedules"]

TAGS = ["rcoi"]
# Runs load the flow by module path: a file path would put `flows/` first on sys.path, where
# flows/copy.py hides the standard library's `copy` (and breaks the process pools).
MODULE = EntrypointType.MODULE_PATH


def stage_schedules(
    plans: Sequence[Plan], refs: Mapping[str, str] | None = None
) -> dict[str, list[Schedule]]:
    """Every scheduled stage's schedules over the plans and their sessions; `refs` names a
    plan the way runs find it again (the path of a plan file not shipped with the project)."""
    out: dict[str, list[Schedule]] = {stage: [] for stage in STAGE_FLOWS}
    for the_plan in plans:
        ref = (refs or {}).get(the_plan.id, the_plan.id)
        calendar = load_calendar(the_plan.calendar)
        for session in the_plan.sessions:
            for run in stage_runs(
                the_plan.id, session.id, resolve_plan(the_plan, session.id, calendar)
            ):
                out[run.stage].append(
                    RRule(
                        rrule_text(run),
                        timezone=run.zone,
                        slug=run.slug,
                        parameters={"plan": ref, "session": session.id},
                    )
                )
    return out


def plan_deployments(
    plans: Sequence[Plan], out: str, refs: Mapping[str, str] | None = None
) -> list[RunnerDeployment]:
    deployments = [
        plan_stage.to_deployment(
            name=stage,
            entrypoint_type=MODULE,
            schedules=schedules,
            parameters={"stage": stage, "out": out},
            tags=[*TAGS, stage],
            description=f"Этап «{stage}» плана-графика по расписанию (ключ в базе: один запуск "
            "на сеанс одновременно)",
        )
        for stage, schedules in stage_schedules(plans, refs).items()
        if schedules
    ]
    deployments.append(publish_deployment(plans, out, refs))
    deployments.append(
        watchdog.to_deployment(
            name="watchdog",
            entrypoint_type=MODULE,
            schedules=[
                Cron(
                    WATCHDOG_CRON,
                    timezone=p.region.timezone,
                    slug=f"watchdog-{p.id}",
                    parameters={"plan": (refs or {}).get(p.id, p.id)},
                )
                for p in plans
            ],
            parameters={"out": out},
            tags=[*TAGS, "watchdog"],
            concurrency_limit=1,
        )
    )
    return deployments
