"""`rcoi` commands around grading and verification: reassign a work, manage the operators of
the verification pages, run and close the verification queue, serve the pages (`rcoi web`)."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    DEFAULT_PLAN,
    OUT_HELP,
    PLAN_HELP,
    SESSION_HELP,
    echo_json,
    exit_for,
    open_database,
    prefect_environment,
    require_session,
    run_flow,
    settings_for,
    usage_error,
)

__all__ = ["register"]

Out = Annotated[Path | None, typer.Option(help=OUT_HELP)]
PlanOption = Annotated[str, typer.Option(help=PLAN_HELP)]
SessionOption = Annotated[str | None, typer.Option(help=SESSION_HELP)]
ROLES = ("operator", "senior", "coordinator")

operator_app = typer.Typer(help="Операторы страниц верификации.", no_args_is_help=True)
verify_app = typer.Typer(help="Верификация: запуск, закрытие очереди.", no_args_is_help=True)


def assign_command(
    work: Annotated[str, typer.Argument(help="код работы")],
    expert: Annotated[str, typer.Argument(help="код эксперта той же ОО")],
    actor: Annotated[str, typer.Option(help="кто переназначает (в журнал)")] = "coordinator",
    out: Out = None,
) -> None:
    """Передать работу другому эксперту комиссии её ОО (в журнал)."""
    from sqlalchemy import select

    from tasks.adapters.copy_store import reassign
    from tasks.adapters.models import Work
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.errors import RcoiError

    database = open_database(settings_for(out))
    try:
        with UnitOfWork(database.session_factory) as uow:
            if uow.session.scalar(select(Work.id).where(Work.work_code == work)) is None:
                raise usage_error(f"нет работы с кодом {work}")
            old = reassign(uow.session, work, expert, actor, datetime.now(UTC))
            uow.commit()
    except RcoiError as exc:
        raise exit_for(exc) from None
    finally:
        database.dispose()
    typer.echo(f"Работа {work}: эксперт {old} → {expert}")


@operator_app.command("add")
def operator_add(
    login: Annotated[str, typer.Argument(help="логин оператора")],
    role: Annotated[
        str, typer.Option(help="operator, senior или coordinator (доска)")
    ] = "operator",
    out: Out = None,
) -> None:
    """Завести оператора или задать ему новый пароль.

    Пароль берётся из RCOI_NEW_PASSWORD или спрашивается; хранится только его хэш."""
    from tasks.adapters.operators import add_operator
    from tasks.adapters.unit_of_work import open_unit_of_work
    from tasks.errors import RcoiError

    if role not in ROLES:
        raise usage_error(f"роль «{role}»: operator, senior или coordinator")
    settings = settings_for(out)
    password = os.environ.get("RCOI_NEW_PASSWORD") or getpass.getpass("Пароль: ")
    try:
        with open_unit_of_work(settings) as uow:
            add_operator(uow.session, login, password, role, actor=getpass.getuser())
            uow.commit()
    except RcoiError as exc:
        raise exit_for(exc) from None
    typer.echo(f"Оператор {login} ({role}) сохранён")


@verify_app.command("run")
def verify_run(
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
    poll: Annotated[float, typer.Option(help="опрос очереди, с")] = 30.0,
    timeout: Annotated[float | None, typer.Option(help="ждать не дольше, с")] = None,
) -> None:
    """Собрать очередь верификации, дождаться её разбора, записать результаты.

    Ждёт, пока операторы разберут очередь или координатор её закроет."""
    settings = settings_for(out)
    _, code, database, _ = require_session(settings, plan, session)
    database.dispose()
    prefect_environment(settings)
    from flows.verify import verify

    summary = run_flow(
        verify,
        out=str(settings.out_dir),
        plan=plan,
        session=code,
        poll_seconds=poll,
        timeout_seconds=timeout,
    )
    echo_json(summary)


@verify_app.command("close")
def verify_close(
    note: Annotated[str, typer.Option(help="основание (в журнал)")],
    actor: Annotated[str, typer.Option(help="кто закрывает")] = "coordinator",
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
) -> None:
    """Закрыть очередь верификации (решение координатора).

    Ждущий поток записывает результаты; работы с открытыми элементами остаются
    «верификация не завершена»."""
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.adapters.verify_store import close_queue

    if not note.strip():
        raise usage_error("укажите основание (--note).")
    _, _, database, session_id = require_session(settings_for(out), plan, session)
    try:
        with UnitOfWork(database.session_factory) as uow:
            closed = close_queue(uow.session, session_id, actor, note, datetime.now(UTC))
            uow.commit()
    finally:
        database.dispose()
    typer.echo("Очередь закрыта" if closed else "Очередь уже была закрыта")


def web_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="порт")] = 8080,
    host: Annotated[str, typer.Option(help="адрес")] = "127.0.0.1",
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
) -> None:
    """Веб-страницы: /verify/ (операторы), /results/ (участники), /ack/ (МОУО)."""
    import uvicorn

    from tasks.errors import RcoiError
    from web.app import create_app, server_options

    settings = settings_for(out)
    the_plan, code, database, _ = require_session(settings, plan, session)
    database.dispose()
    try:
        app = create_app(settings, the_plan.id, code)
    except RcoiError as exc:
        raise exit_for(exc) from None
    typer.echo(f"Страницы верификации: http://{host}:{port}/verify/")
    typer.echo(f"Проверка результатов: http://{host}:{port}/results/")
    proxies = ", ".join(settings.trusted_proxies)
    typer.echo(
        f"Адрес клиента из X-Forwarded-For принимается от: {proxies}"
        if proxies
        else "Адрес клиента — адрес соединения (за прокси задайте RCOI_TRUSTED_PROXIES)"
    )
    uvicorn.run(app, host=host, port=port, **server_options(settings))


def register(app: typer.Typer) -> None:
    app.command("assign")(assign_command)
    app.command("web")(web_command)
    app.add_typer(operator_app, name="operator")
    app.add_typer(verify_app, name="verify")
