"""`rcoi deploy --plan`: every stage of the plans as Prefect deployments on a work pool, run by
`prefect worker` (production: schedules, lateness and alerts live on the server and survive
any restart of the worker); `rcoi serve --plan`: the same deployments served by this process
(development); `rcoi automations apply`: the alerts (infra/automations.yaml)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from config.settings import Settings
from flows.cli.common import (
    OUT_HELP,
    exit_for,
    prefect_environment,
    refusal,
    settings_for,
    usage_error,
)
from tasks.errors import RcoiError

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

    from tasks.domain.plan import Plan

__all__ = ["register"]

automations_app = typer.Typer(
    help="Оповещения Prefect о сбоях, опозданиях и нарушенных сроках.", no_args_is_help=True
)
PLAN_OPTION = "план (id или путь к YAML), можно несколько"
DEFAULT_POOL = "rcoi"


def _plans(plan: Sequence[str]) -> tuple[list[Plan], dict[str, str]]:
    """The plans and how runs find each again: by id when it is shipped, else by the file's
    absolute path."""
    from tasks.adapters.plan_files import load_plan, resolve_plan_path

    paths = [resolve_plan_path(p) for p in plan]
    plans = [load_plan(path) for path in paths]
    refs = {
        the_plan.id: the_plan.id if _shipped(path, the_plan.id) else str(path.resolve())
        for path, the_plan in zip(paths, plans, strict=True)
    }
    return plans, refs


def _shipped(path: Path, plan_id: str) -> bool:
    """A plan of config/plans/ (every host has it): runs find it by id, not by this path."""
    from config import PLANS_DIR

    return path.resolve() == (PLANS_DIR / f"{plan_id}.yaml").resolve()


def _listing(deployments: Sequence[RunnerDeployment]) -> str:
    """The deployments in plan order, each schedule in local time with its zone."""
    lines = []
    for d in deployments:
        lines.append(f"{d.flow_name}/{d.name}")
        tags = ", ".join(t for t in d.tags if ":" in t)
        if tags:
            lines.append(f"    метки: {tags}")
        for s in d.schedules or []:
            rule = getattr(s.schedule, "rrule", None) or getattr(s.schedule, "cron", "")
            lines.append(f"    {s.slug}: {str(rule).replace(chr(10), ' ')}")
        when = (d.description or "").rsplit("Расписание: ", 1)
        if len(when) == 2:
            lines.append(f"    {when[1].splitlines()[0]}")
    return "\n".join(lines)


def _store(settings: Settings, plans: Sequence[Plan]) -> dict[str, set[str]]:
    """Store the sessions and stages the runs look up in the regional database; per plan, the
    zones of the publication's recipients there (a school east of the region publishes
    earlier)."""
    from prefect.logging import disable_run_logger

    from tasks.adapters.database import bootstrap
    from tasks.adapters.publication import publish_recipients
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.plan import store_plan

    with disable_run_logger():
        for the_plan in plans:
            store_plan.fn(settings, the_plan)
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            zones = {r.zone for r in publish_recipients(uow.session) if r.zone}
    finally:
        database.dispose()
    return {the_plan.id: zones for the_plan in plans}


def serve_command(
    plan: Annotated[list[str], typer.Option(help=PLAN_OPTION)],
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    show: Annotated[bool, typer.Option(help="показать развёртывания и расписания и выйти")] = False,
) -> None:
    """Обслуживать развёртывания этапов планов этим процессом (для разработки).

    Расписания — в часовом поясе региона. Остановка процесса не ставит их на паузу: запуск,
    пропущенный за это время, станет «Late», и координатор получит письмо. На сервере РЦОИ —
    rcoi deploy и prefect worker."""
    settings = settings_for(out)
    prefect_environment(settings)
    from prefect import serve

    from flows.deployments import plan_deployments

    try:
        plans, refs = _plans(plan)
        if show:  # nothing stored: the schedules as the plans alone give them
            typer.echo(_listing(plan_deployments(plans, str(settings.out_dir.resolve()), refs)))
            return
        zones = _store(settings, plans)
        deployments = plan_deployments(plans, str(settings.out_dir.resolve()), refs, zones=zones)
    except RcoiError as exc:
        raise exit_for(exc) from None
    # Paused deployments get no scheduled runs, so nothing would ever be late: keep them on.
    serve(*deployments, pause_on_shutdown=False)


def deploy_command(
    plan: Annotated[list[str], typer.Option(help=PLAN_OPTION)],
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    pool: Annotated[str, typer.Option(help="пул исполнителей (prefect worker)")] = DEFAULT_POOL,
) -> None:
    """Развернуть этапы планов в пуле исполнителей на сервере Prefect.

    Сервер — RCOI_PREFECT_API_URL; запуски выполняет prefect worker --pool rcoi. Повторный
    вызов обновляет развёртывания и удаляет те, сеансов которых в плане больше нет."""
    settings = settings_for(out)
    prefect_environment(settings)
    from flows.deployments import apply_deployments, plan_deployments

    try:
        plans, refs = _plans(plan)
        zones = _store(settings, plans)
        deployments = plan_deployments(
            plans, str(settings.out_dir.resolve()), refs, pool=pool, zones=zones
        )
    except RcoiError as exc:
        raise exit_for(exc) from None
    try:
        done = apply_deployments(deployments, pool, [p.id for p in plans])
    except RcoiError as exc:
        raise refusal(str(exc)) from None
    typer.echo(_listing(deployments))
    typer.echo(
        f"\nРазвёртываний: {done['applied']}, удалено устаревших: {done['removed']}; пул «{pool}»."
    )


def automations_apply(out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None) -> None:
    """Создать или обновить оповещения на сервере Prefect.

    Автоматизации и их вебхук: сервер (RCOI_PREFECT_API_URL) отправляет оповещения в rcoi web
    (RCOI_ALERTS_URL, ключ RCOI_ALERTS_TOKEN), а тот пишет координатору."""
    settings = settings_for(out)
    prefect_environment(settings)
    from tasks.adapters.automations import (
        apply_automations,
        build_automations,
        read_declarations,
        save_webhook,
    )

    if settings.alerts_token is None:
        raise usage_error("не задан RCOI_ALERTS_TOKEN: без него rcoi web не примет оповещения")
    try:
        declared = read_declarations()
        webhook = save_webhook(settings.alerts_url, settings.alerts_token.get_secret_value())
        done = apply_automations(build_automations(declared, webhook))
    except RcoiError as exc:
        raise exit_for(exc) from None
    except Exception as exc:  # the server cannot be reached: say what to do
        raise refusal(
            f"сервер Prefect недоступен ({type(exc).__name__}): запустите rcoi server и задайте "
            "RCOI_PREFECT_API_URL"
        ) from None
    typer.echo(f"вебхук rcoi-alerts → {settings.alerts_url}")
    for name, what in done.items():
        typer.echo(f"{name}: {'создана' if what == 'created' else 'обновлена'}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("deploy")(deploy_command)
    automations_app.command("apply")(automations_apply)
    app.add_typer(automations_app, name="automations")
