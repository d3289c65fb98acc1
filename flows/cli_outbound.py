"""`rcoi` commands of the upload and inform stages: send the federal package and await its
receipt, issue and mail the results lists."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings
from flows.cli_grading import OUT_HELP, PLAN_HELP, _environment, _fail
from tasks.errors import RcoiError

__all__ = ["register"]


@contextmanager
def _guarded(settings: Settings, plan: str, session: str | None, stage: str) -> Iterator[None]:
    """The stage's database key for a run by hand, as `rcoi serve` takes it: refused while a
    scheduled run (or another person) holds it."""
    from datetime import UTC, datetime

    from flows.plan_stage import HOLD, HOLD_DEFAULT
    from tasks.adapters.plan_files import load_plan, resolve_plan_path
    from tasks.adapters.stage_locks import acquire, holder_of, release
    from tasks.adapters.submissions import session_info
    from tasks.adapters.unit_of_work import open_unit_of_work

    the_plan = load_plan(resolve_plan_path(plan))
    code = session or the_plan.sessions[0].id
    holder = f"cli-{os.getpid()}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, the_plan.id, code)
        hold = HOLD.get(stage, HOLD_DEFAULT)
        if not acquire(uow.session, info.id, stage, holder, datetime.now(UTC), hold):
            other = holder_of(uow.session, info.id, stage)
            raise _fail(f"этап {stage} сеанса {code} уже выполняется ({other})")
    try:
        yield
    finally:
        with open_unit_of_work(settings) as uow:
            release(uow.session, info.id, stage, holder)


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
        with _guarded(settings, plan, session, "upload"):
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
        with _guarded(settings, plan, session, "inform"):
            summary = inform(out=str(out), plan=plan, session=session)
    except RcoiError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


def register(app: typer.Typer) -> None:
    app.command("upload")(upload_command)
    app.command("inform")(inform_command)
