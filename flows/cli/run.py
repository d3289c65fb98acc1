"""`rcoi run publish`: an operator starts the publication of a session's topics by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    DEFAULT_PLAN,
    EXIT_REFUSED,
    PLAN_HELP,
    echo_json,
    load_plan_or_exit,
    parse_instant,
    prefect_environment,
    run_flow,
    session_code,
    settings_for,
)

__all__ = ["register"]

run_app = typer.Typer(help="Запуск этапа плана-графика оператором.", no_args_is_help=True)


@run_app.command("publish")
def run_publish(
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = DEFAULT_PLAN,
    session: Annotated[str | None, typer.Option(help="id срока (дата экзамена)")] = None,
    now: Annotated[
        str | None,
        typer.Option(help="момент, ISO 8601 с поясом: не ждать, отказать, если рано"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="рабочая папка (база, сайт, исходящие); по умолчанию RCOI_OUT_DIR"),
    ] = None,
) -> None:
    """Опубликовать темы срока: в момент плана (09:45 местного) или позже, никогда раньше.
    С --now рано — отказ (код 1); без него команда ждёт этого момента."""
    moment = parse_instant(now)
    settings = settings_for(out)
    # a mistyped plan or session is the operator's, not a failed publication
    session_id = session_code(load_plan_or_exit(plan), session)
    prefect_environment(settings)
    from flows.publish import publish

    summary = run_flow(
        publish,
        plan=plan,
        session=session_id,
        out=str(settings.out_dir),
        now=moment,
        wait=now is None,
    )
    echo_json(summary)
    typer.echo(summary["message"], err=True)
    if summary["status"] == "too_early":
        raise typer.Exit(EXIT_REFUSED)


def register(app: typer.Typer) -> None:
    app.add_typer(run_app, name="run")
