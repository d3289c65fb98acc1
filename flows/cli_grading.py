"""`rcoi` commands of the copy, grade and verify stages: run them, reassign a work, manage
the operators of the verification pages, close the queue, and serve the pages (`rcoi web`)."""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings

__all__ = ["register"]

PLAN_HELP = "путь к YAML или id плана"
OUT_HELP = "папка результатов (база, отчёты)"

operator_app = typer.Typer(help="Операторы страниц верификации.", no_args_is_help=True)
verify_app = typer.Typer(help="Верификация: запуск, закрытие очереди.", no_args_is_help=True)


def _environment(settings: Settings) -> None:
    from flows.cli import _prefect_environment

    _prefect_environment(settings)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Ошибка: {message}", err=True)
    return typer.Exit(2)


def copy_command(
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
    records: Annotated[Path | None, typer.Option(help="папка ведомостей ИС-05 <ОО>.csv")] = None,
    commissions: Annotated[Path | None, typer.Option(help="файл комиссий commissions.csv")] = None,
    packages: Annotated[bool, typer.Option(help="собрать комплекты копий экспертам")] = True,
) -> None:
    """Room records in; copy registers, expert assignment and expert packages out."""
    settings = Settings(out_dir=out)
    _environment(settings)
    from flows.copy import copy

    summary = copy(
        out=str(out),
        plan=plan,
        session=session,
        records=str(records) if records else None,
        commissions=str(commissions) if commissions else None,
        packages=packages,
    )
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


def grade_command(
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
    protocols: Annotated[Path | None, typer.Option(help="папка протоколов <ОО>.csv|xlsx")] = None,
) -> None:
    """Expert protocols in (rejected rows reported per school), consistency checks queued."""
    settings = Settings(out_dir=out)
    _environment(settings)
    from flows.grade import grade

    summary = grade(
        out=str(out), plan=plan, session=session, protocols=str(protocols) if protocols else None
    )
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


def assign_command(
    work: Annotated[str, typer.Argument(help="код работы")],
    expert: Annotated[str, typer.Argument(help="код эксперта той же ОО")],
    actor: Annotated[str, typer.Option(help="кто переназначает (в журнал)")] = "coordinator",
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
) -> None:
    """Give a work to another expert of its school's commission (audit-logged)."""
    from tasks.adapters.copy_store import reassign
    from tasks.adapters.unit_of_work import open_unit_of_work
    from tasks.errors import RcoiError

    try:
        with open_unit_of_work(Settings(out_dir=out)) as uow:
            old = reassign(uow.session, work, expert, actor, datetime.now(UTC))
            uow.commit()
    except RcoiError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"Работа {work}: эксперт {old} → {expert}")


@operator_app.command("add")
def operator_add(
    login: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="operator или senior")] = "operator",
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
) -> None:
    """Create an operator (or set a new password). The password is read from RCOI_NEW_PASSWORD
    or asked for; it is stored only as a hash."""
    from tasks.adapters.operators import add_operator
    from tasks.adapters.unit_of_work import open_unit_of_work
    from tasks.errors import RcoiError

    password = os.environ.get("RCOI_NEW_PASSWORD") or getpass.getpass("Пароль: ")
    try:
        with open_unit_of_work(Settings(out_dir=out)) as uow:
            add_operator(uow.session, login, password, role, actor=getpass.getuser())
            uow.commit()
    except RcoiError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"Оператор {login} ({role}) сохранён")


@verify_app.command("run")
def verify_run(
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
    poll: Annotated[float, typer.Option(help="опрос очереди, с")] = 30.0,
    timeout: Annotated[float | None, typer.Option(help="ждать не дольше, с")] = None,
) -> None:
    """Gather the queue, wait until operators empty it (or it is closed), write results."""
    settings = Settings(out_dir=out)
    _environment(settings)
    from flows.verify import verify

    summary = verify(
        out=str(out), plan=plan, session=session, poll_seconds=poll, timeout_seconds=timeout
    )
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


@verify_app.command("close")
def verify_close(
    note: Annotated[str, typer.Option(help="основание (в журнал)")],
    actor: Annotated[str, typer.Option(help="кто закрывает")] = "coordinator",
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
) -> None:
    """The coordinator closes the queue: the waiting flow writes results; works with open
    items stay «верификация не завершена»."""
    from flows.cli import _session_id
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.adapters.verify_store import close_queue

    database, session_id = _session_id(Settings(out_dir=out), plan, session)
    try:
        with UnitOfWork(database.session_factory) as uow:
            closed = close_queue(uow.session, session_id, actor, note, datetime.now(UTC))
            uow.commit()
    finally:
        database.dispose()
    typer.echo("Очередь закрыта" if closed else "Очередь уже была закрыта")


def web_command(
    port: Annotated[int, typer.Option(help="порт")] = 8080,
    host: Annotated[str, typer.Option(help="адрес")] = "127.0.0.1",
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("out"),
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
) -> None:
    """Serve /verify/ (operators), /results/ (participants' lookup), /ack/ (МОУО receipts)."""
    import uvicorn

    from tasks.adapters.plan_files import load_plan, resolve_plan_path
    from tasks.errors import RcoiError
    from web.app import create_app

    try:
        the_plan = load_plan(resolve_plan_path(plan))
        app = create_app(Settings(out_dir=out), the_plan.id, session or the_plan.sessions[0].id)
    except RcoiError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"Страницы верификации: http://{host}:{port}/verify/")
    typer.echo(f"Проверка результатов: http://{host}:{port}/results/")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def register(app: typer.Typer) -> None:
    app.command("copy")(copy_command)
    app.command("grade")(grade_command)
    app.command("assign")(assign_command)
    app.command("web")(web_command)
    app.add_typer(operator_app, name="operator")
    app.add_typer(verify_app, name="verify")
