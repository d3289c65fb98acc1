"""The stage commands an operator runs by hand: collect, reconcile, print, copy, grade, upload,
inform, and the deadline watchdog. Each checks its inputs (plan, session in the regional
database, folders) before Prefect starts, then runs the stage's flow with progress bars."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
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
    exit_for,
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
    from config.settings import Settings
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
def _guarded(
    settings: Settings, database: Database, plan: str, session: str, stage: str
) -> Iterator[None]:
    """The stage's database key for a run by hand, as `rcoi serve` takes it (a lease renewed
    while the command runs): refused while a scheduled run (or another person) holds it."""
    from tasks.adapters.stage_locks import StageKeyLost, StageLease
    from tasks.adapters.submissions import session_info
    from tasks.adapters.unit_of_work import UnitOfWork

    the_plan = load_plan_or_exit(plan)
    with UnitOfWork(database.session_factory) as uow:
        info = session_info(uow.session, the_plan.id, session)
    ttl = timedelta(seconds=settings.stage_lease_s)
    lease = StageLease(database.session_factory, info.id, stage, _holder(), ttl)
    if not lease.take():
        raise refusal(
            f"этап {stage} срока {session} уже выполняется ({lease.other}); ключ запуска, "
            f"который убит, освобождается сам за {_duration(ttl)}, вручную — rcoi stage "
            f"release --stage {stage} --session {session}"
        )
    with lease:
        yield
        try:  # the stage ran to its end, but another run may have had the key meanwhile
            lease.ensure_held()
        except StageKeyLost as exc:
            raise exit_for(exc) from None


def _holder() -> str:
    """Who holds a key taken by hand: the host, the process and the moment."""
    return f"cli-{socket.gethostname()[:24]}-{os.getpid()}-{datetime.now(UTC):%Y%m%dT%H%M%S}"


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} мин" if seconds >= 120 else f"{seconds} с"


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
        with _guarded(settings, database, plan, code, "upload"):
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
        with _guarded(settings, database, plan, code, "inform"):
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


stage_app = typer.Typer(help="Ключи этапов: один запуск этапа срока за раз.", no_args_is_help=True)


@stage_app.command("release")
def stage_release(
    stage: Annotated[str, typer.Option(help="этап: collect, reconcile, print, …, inform")],
    actor: Annotated[str, typer.Option(help="кто снимает ключ (логин координатора)")],
    note: Annotated[str, typer.Option(help="почему: например, запуск убит на узле …")],
    out: Out = None,
    plan: PlanOption = DEFAULT_PLAN,
    session: SessionOption = None,
) -> None:
    """Снять ключ этапа срока, например оставленный убитым запуском.

    Запись в журнал аудита: кто, почему, чей был ключ. Ключ живого запуска снимать не
    нужно: тот продлевает его, и этап может начаться второй раз. Код 2, если ключ не занят."""
    from tasks.adapters.stage_locks import database_now, release_by_hand
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.domain.plan import StageKind

    stages = [kind.value for kind in StageKind]
    if stage not in stages:
        raise usage_error(f"неизвестный этап «{stage}»: один из {', '.join(stages)}")
    if not actor.strip() or not note.strip():
        raise usage_error("укажите, кто снимает ключ (--actor) и почему (--note)")
    settings = settings_for(out)
    _, code, database, session_id = require_session(settings, plan, session)
    try:
        with UnitOfWork(database.session_factory) as uow:
            now = database_now(uow.session)  # the clock the key's expiry follows
            key = release_by_hand(uow.session, session_id, stage, actor.strip(), note.strip(), now)
    finally:
        database.dispose()
    if key is None:
        raise usage_error(f"ключ этапа {stage} срока {code} не занят: снимать нечего")
    # The holder's own lease length is not stored (its settings may differ from these): say
    # when the key would have run out, not when it was last renewed.
    state = (
        f"истёк {key.expires_at:%d.%m.%Y %H:%M:%S} UTC"
        if key.expires_at <= now
        else f"истекал бы в {key.expires_at:%d.%m.%Y %H:%M:%S} UTC (часы базы данных: "
        f"{now:%H:%M:%S} UTC) — если этот запуск жив, он узнает о потере ключа при следующем "
        "продлении и остановится перед следующим действием"
    )
    logging.getLogger("rcoi.stage").warning(
        "stage key %s of %s released by %s (holder %s): %s", stage, code, actor, key.holder, note
    )
    typer.echo(
        f"Ключ этапа {stage} срока {code} снят: держал {key.holder} с "
        f"{key.acquired_at:%d.%m.%Y %H:%M:%S} UTC, {state}. Запись в журнале аудита: "
        f"{actor.strip()} — {note.strip()}."
    )


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)
    app.command("reconcile")(reconcile)
    app.command("print")(print_command)
    app.command("copy")(copy_command)
    app.command("grade")(grade_command)
    app.command("upload")(upload_command)
    app.command("inform")(inform_command)
    app.command("watchdog")(watchdog)
    app.add_typer(stage_app, name="stage")
