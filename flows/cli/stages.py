"""The stage commands an operator runs by hand: collect, reconcile, print, copy, grade, upload,
inform, and the deadline watchdog. Each checks its inputs (plan, session in the regional
database, folders) before Prefect starts, then runs the stage's flow with progress bars."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.common import (
    DEFAULT_PLAN,
    OUT_HELP,
    PLAN_HELP,
    SESSION_HELP,
    WORKERS_HELP,
    echo_json,
    load_plan_or_exit,
    parse_instant,
    prefect_environment,
    refusal,
    require_folder,
    require_session,
    run_flow,
    settings_for,
    usage_error,
)

if TYPE_CHECKING:
    from tasks.adapters.database import Database

__all__ = ["register"]

Out = Annotated[Path | None, typer.Option(help=OUT_HELP)]
PlanOption = Annotated[str, typer.Option(help=PLAN_HELP)]
SessionOption = Annotated[str | None, typer.Option(help=SESSION_HELP)]


def _ready(out: Path | None, plan: str, session: str | None) -> tuple[str, str]:
    """(work folder, session code) once the plan and the session are found in the regional
    database; Prefect's environment set for the run."""
    settings = settings_for(out)
    _, code, database, _ = require_session(settings, plan, session)
    database.dispose()
    prefect_environment(settings)
    return str(settings.out_dir), code


def collect(
    inbox: Annotated[Path, typer.Option(help="папка с подпапками МОУО: <inbox>/<код МОУО>/")],
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
) -> None:
    """Проверить каждый новый файл МОУО из папки, занести его строки и ответить МОУО."""
    require_folder(inbox, "папка входящих файлов МОУО")
    folder, code = _ready(out, plan, session)
    from flows.collect import collect as collect_flow

    summary = run_flow(collect_flow, inbox=str(inbox), out=folder, plan=plan, session=code)
    echo_json({k: v for k, v in summary.items() if k != "verdicts"})


def reconcile(
    out: Out = None, plan: PlanOption = DEFAULT_PLAN, session: SessionOption = None
) -> None:
    """Выверка срока в региональной базе: регистрации, расхождения, отчёты МОУО."""
    folder, code = _ready(out, plan, session)
    from flows.reconcile import reconcile as reconcile_flow

    summary = run_flow(reconcile_flow, out=folder, plan=plan, session=code)
    echo_json(summary)
    if summary["print_gate"] == "blocked":
        typer.echo(
            "Печать заблокирована: есть открытые критические расхождения "
            "(rcoi discrepancies list).",
            err=True,
        )


def print_command(
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
    reserve: Annotated[int, typer.Option(min=0, help="резервных комплектов на ОО")] = 2,
    additional_share: Annotated[
        float, typer.Option(min=0.0, help="доп. бланков записи: доля мест аудитории")
    ] = 0.1,
    workers: Annotated[int | None, typer.Option(min=1, help=WORKERS_HELP)] = None,
) -> None:
    """Напечатать комплекты и формы аудиторий срока.

    PDF на каждую ОО, разметки, манифест. Отказ (код 1), пока открыты критические
    расхождения выверки."""
    folder, code = _ready(out, plan, session)
    from flows.print_kits import print_kits

    summary = run_flow(
        print_kits,
        out=folder,
        plan=plan,
        session=code,
        reserve_per_school=reserve,
        additional_share=additional_share,
        workers=workers,
    )
    echo_json(summary)


def copy_command(
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
    records: Annotated[Path | None, typer.Option(help="папка ведомостей ИС-05 <ОО>.csv")] = None,
    commissions: Annotated[Path | None, typer.Option(help="файл комиссий commissions.csv")] = None,
    packages: Annotated[bool, typer.Option(help="собрать комплекты копий экспертам")] = True,
    workers: Annotated[int | None, typer.Option(min=1, help=WORKERS_HELP)] = None,
) -> None:
    """Копии работ экспертам: ведомости ИС-05 на входе.

    На выходе — реестры копий, назначение экспертов и комплекты копий экспертам."""
    if records is not None:
        require_folder(records, "папка ведомостей ИС-05")
    if commissions is not None and not commissions.is_file():
        raise usage_error(f"нет файла комиссий {commissions}")
    folder, code = _ready(out, plan, session)
    from flows.copy import copy

    summary = run_flow(
        copy,
        out=folder,
        plan=plan,
        session=code,
        records=str(records) if records else None,
        commissions=str(commissions) if commissions else None,
        packages=packages,
        workers=workers,
    )
    echo_json(summary)


def grade_command(
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
    protocols: Annotated[Path | None, typer.Option(help="папка протоколов <ОО>.csv|xlsx")] = None,
) -> None:
    """Протоколы экспертов на входе, проверки согласованности — в очередь верификации.

    Отклонённые строки протоколов — в отчёт по ОО."""
    if protocols is not None:
        require_folder(protocols, "папка протоколов")
    folder, code = _ready(out, plan, session)
    from flows.grade import grade

    summary = run_flow(
        grade, out=folder, plan=plan, session=code, protocols=str(protocols) if protocols else None
    )
    echo_json(summary)


@contextmanager
def _guarded(database: Database, plan: str, session: str, stage: str) -> Iterator[None]:
    """The stage's database key for a run by hand, as `rcoi serve` takes it: refused while a
    scheduled run (or another person) holds it."""
    from datetime import UTC, datetime

    from flows.plan_stage import HOLD, HOLD_DEFAULT
    from tasks.adapters.stage_locks import acquire, holder_of, release
    from tasks.adapters.submissions import session_info
    from tasks.adapters.unit_of_work import UnitOfWork

    the_plan = load_plan_or_exit(plan)
    holder = f"cli-{os.getpid()}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    with UnitOfWork(database.session_factory) as uow:
        info = session_info(uow.session, the_plan.id, session)
        hold = HOLD.get(stage, HOLD_DEFAULT)
        taken = acquire(uow.session, info.id, stage, holder, datetime.now(UTC), hold)
        other = None if taken else holder_of(uow.session, info.id, stage)
    if not taken:
        raise refusal(f"этап {stage} срока {session} уже выполняется ({other})")
    try:
        yield
    finally:
        with UnitOfWork(database.session_factory) as uow:
            release(uow.session, info.id, stage, holder)


def upload_command(
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
    poll_seconds: Annotated[float, typer.Option(help="опрос квитанции ФЦТ, с")] = 300.0,
    timeout_seconds: Annotated[
        float | None, typer.Option(help="ждать квитанцию не дольше, с (по умолчанию до срока)")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help=WORKERS_HELP)] = None,
) -> None:
    """Собрать пакет для ФЦТ, отправить его и дождаться квитанции.

    Отправка по SFTP или в <out>/federal/. Отказ (код 1), пока очередь верификации не
    пуста."""
    settings = settings_for(out)
    _, code, database, _ = require_session(settings, plan, session)
    prefect_environment(settings)
    from flows.upload import upload

    try:
        with _guarded(database, plan, code, "upload"):
            summary = run_flow(
                upload,
                out=str(settings.out_dir),
                plan=plan,
                session=code,
                poll_seconds=poll_seconds,
                timeout_seconds=timeout_seconds,
                workers=workers,
            )
    finally:
        database.dispose()
    echo_json(summary)


def inform_command(
    out: Out = None, plan: PlanOption = DEFAULT_PLAN, session: SessionOption = None
) -> None:
    """Списки результатов, статистика, список пересдачи; списки — по почте каждому МОУО.

    Отказ (код 1), пока у работ нет верифицированных результатов."""
    settings = settings_for(out)
    _, code, database, _ = require_session(settings, plan, session)
    prefect_environment(settings)
    from flows.inform import inform

    try:
        with _guarded(database, plan, code, "inform"):
            summary = run_flow(inform, out=str(settings.out_dir), plan=plan, session=code)
    finally:
        database.dispose()
    echo_json(summary)


def watchdog(
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: Annotated[str | None, typer.Option(help="id срока (по умолчанию все)")] = None,
    now: Annotated[
        str | None, typer.Option(help="момент проверки, ISO 8601 с поясом (для моделирования)")
    ] = None,
    serve: Annotated[
        bool, typer.Option(help="работать по расписанию: каждые 15 минут в поясе региона")
    ] = False,
) -> None:
    """Сроки плана: напоминания, оповещения МОУО, эскалации (каждое — один раз)."""
    moment = parse_instant(now)
    settings = settings_for(out)
    the_plan, _, database, _ = require_session(settings, plan, session)
    database.dispose()
    prefect_environment(settings)
    from flows.watchdog import watchdog as watchdog_flow

    if serve:
        from prefect.deployments.runner import EntrypointType

        from flows.labels import run_tags
        from flows.watchdog import watchdog_schedule
        from tasks.adapters.automations import WATCHED_TAG

        watchdog_flow.serve(
            entrypoint_type=EntrypointType.MODULE_PATH,
            name=f"watchdog-{the_plan.id}",
            schedules=[watchdog_schedule(the_plan)],
            parameters={"out": str(settings.out_dir.resolve()), "plan": plan},
            # watched by the automations; not paused on stop, so a missed run goes «Late»
            tags=[WATCHED_TAG, *run_tags("watchdog", the_plan.id, the_plan.region.code, None)],
            pause_on_shutdown=False,
        )
        return
    summary = run_flow(
        watchdog_flow, out=str(settings.out_dir), plan=plan, session=session, now=moment
    )
    echo_json(summary)


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)
    app.command("reconcile")(reconcile)
    app.command("print")(print_command)
    app.command("copy")(copy_command)
    app.command("grade")(grade_command)
    app.command("upload")(upload_command)
    app.command("inform")(inform_command)
    app.command("watchdog")(watchdog)
