"""`rcoi serve --plan`: every stage of the plans as Prefect deployments with the plans'
schedules, served by this process; `rcoi automations apply`: the alerts on failed, crashed
and late runs (infra/automations.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings
from flows.cli_grading import OUT_HELP, _environment, _fail
from tasks.errors import RcoiError

__all__ = ["register"]

automations_app = typer.Typer(help="Оповещения Prefect о сбоях и опозданиях.", no_args_is_help=True)


def serve_command(
    plan: Annotated[list[str], typer.Option(help="план (id или путь), можно несколько")],
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
    show: Annotated[bool, typer.Option(help="показать развёртывания и расписания и выйти")] = False,
) -> None:
    """Create a deployment per stage (schedules from the plans, in each region's zone) and
    serve them, with the notify deployment the automations run."""
    settings = Settings(out_dir=out)
    _environment(settings)
    from prefect import serve
    from prefect.deployments.runner import EntrypointType
    from prefect.logging import disable_run_logger

    from flows.deployments import plan_deployments
    from flows.notify import notify_coordinator
    from tasks.adapters.plan_files import load_plan, resolve_plan_path
    from tasks.plan import store_plan

    try:
        paths = [resolve_plan_path(p) for p in plan]
        plans = [load_plan(path) for path in paths]
        # runs find a plan again by id when it is shipped, else by the file's absolute path
        refs = {
            the_plan.id: the_plan.id if given == the_plan.id else str(path.resolve())
            for given, path, the_plan in zip(plan, paths, plans, strict=True)
        }
        deployments = plan_deployments(plans, str(out.resolve()), refs)
    except RcoiError as exc:
        raise _fail(str(exc)) from exc
    deployments.append(
        notify_coordinator.to_deployment(
            name="notify",
            parameters={"out": str(out.resolve())},
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
    )
    if show:
        listing = {
            f"{d.flow_name}/{d.name}": [
                {
                    "slug": s.slug,
                    "timezone": s.schedule.timezone,
                    "cron": getattr(s.schedule, "cron", None),
                    "rrule": getattr(s.schedule, "rrule", None),
                    "parameters": s.parameters,
                }
                for s in d.schedules or []
            ]
            for d in deployments
        }
        typer.echo(json.dumps(listing, ensure_ascii=False, indent=1))
        return
    with disable_run_logger():  # the sessions and stages the runs look up
        for the_plan in plans:
            store_plan.fn(settings, the_plan)
    serve(*deployments)


def automations_apply(out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out")) -> None:
    """Create or update the automations on the Prefect server (RCOI_PREFECT_API_URL)."""
    settings = Settings(out_dir=out)
    _environment(settings)
    from tasks.adapters.automations import (
        apply_automations,
        build_automations,
        notify_deployment_id,
        read_declarations,
    )

    try:
        declared = read_declarations()
        target = notify_deployment_id(declared["notify_deployment"])
    except RcoiError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:  # the server or the deployment is missing: say what to do
        raise _fail(
            f"развёртывание {declared['notify_deployment']} не найдено на сервере Prefect "
            f"({type(exc).__name__}): сначала запустите rcoi serve --plan"
        ) from exc
    done = apply_automations(build_automations(declared, target, str(out.resolve())))
    typer.echo(json.dumps(done, ensure_ascii=False, indent=1))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    automations_app.command("apply")(automations_apply)
    app.add_typer(automations_app, name="automations")
