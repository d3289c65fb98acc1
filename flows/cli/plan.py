"""`rcoi plan show|check`: a plan-schedule's stages in local time and UTC, and its problems."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import EXIT_DONE, EXIT_REFUSED, PLAN_HELP, load_plan_or_exit, usage_error

__all__ = ["register"]

plan_app = typer.Typer(help="План-график: показать сроки, проверить.", no_args_is_help=True)


@plan_app.command("show")
def plan_show(
    plan: Annotated[str, typer.Argument(help=PLAN_HELP)],
    session: Annotated[str | None, typer.Option(help="id срока (по умолчанию все)")] = None,
) -> None:
    """Каждый этап плана: начало и окончание по местному времени и в UTC.

    Местное время, которого нет или которое бывает дважды (перевод часов), отмечено под
    таблицей (подробно — rcoi plan check)."""
    from tasks.adapters.plan_files import load_calendar, resolve_plan_path
    from tasks.domain.plan import local_time_problems, resolve_plan
    from tasks.domain.plan_text import format_problems, format_schedule
    from tasks.errors import RcoiError

    the_plan = load_plan_or_exit(plan)
    try:
        calendar = load_calendar(the_plan.calendar)
        ids: list[str | None] = (
            [session] if session else [s.id for s in the_plan.sessions] or [None]
        )
        resolved = {sid: resolve_plan(the_plan, sid, calendar) for sid in ids}
    except RcoiError as exc:
        raise usage_error(f"{resolve_plan_path(plan)}: {exc}") from None
    typer.echo(format_schedule(the_plan, resolved))
    clock_changes = [p for stages in resolved.values() for p in local_time_problems(stages)]
    if clock_changes:
        typer.echo("")
        typer.echo(format_problems(clock_changes))


@plan_app.command("check")
def plan_check(plan: Annotated[str, typer.Argument(help=PLAN_HELP)]) -> None:
    """Проблемы плана: неоднозначное «до», нет пояса, порядок этапов, повторы строк…

    Код выхода 0 без ошибок (предупреждения допустимы), 1 с ошибками, 2 если плана нет."""
    from tasks.adapters.plan_files import inspect_plan, resolve_plan_path
    from tasks.domain.plan_text import format_problems
    from tasks.errors import PlanError

    try:
        path = resolve_plan_path(plan)
    except PlanError as exc:
        raise usage_error(str(exc)) from None
    if not path.is_file():
        raise usage_error(f"нет файла плана {path}")
    report = inspect_plan(path)
    typer.echo(f"План {path}:")
    typer.echo(format_problems(report.problems))
    raise typer.Exit(EXIT_DONE if report.ok else EXIT_REFUSED)


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
