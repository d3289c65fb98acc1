"""`rcoi` commands of the upload and inform stages: send the federal package and await its
receipt, issue and mail the results lists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings
from flows.cli_grading import OUT_HELP, PLAN_HELP, _environment, _fail
from tasks.errors import RcoiError

__all__ = ["register"]


def upload_command(
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
    poll_seconds: Annotated[float, typer.Option(help="опрос квитанции ФЦТ, с")] = 300.0,
    timeout_seconds: Annotated[
        float | None, typer.Option(help="ждать квитанцию не дольше, с (по умолчанию до срока)")
    ] = None,
) -> None:
    """Build the federal package, send it (SFTP, or <out>/federal/) and await the receipt."""
    settings = Settings(out_dir=out)
    _environment(settings)
    from flows.upload import upload

    try:
        summary = upload(
            out=str(out),
            plan=plan,
            session=session,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )
    except RcoiError as exc:
        raise _fail(getattr(exc, "reason_ru", None) or str(exc)) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


def inform_command(
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
) -> None:
    """Results lists, statistics and the retake list; the lists mailed to every МОУО."""
    settings = Settings(out_dir=out)
    _environment(settings)
    from flows.inform import inform

    try:
        summary = inform(out=str(out), plan=plan, session=session)
    except RcoiError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


def register(app: typer.Typer) -> None:
    app.command("upload")(upload_command)
    app.command("inform")(inform_command)
