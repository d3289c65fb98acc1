"""`rcoi plan show|check`: a plan-schedule's stages in local time and UTC, and its problems."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    EXIT_DONE,
    EXIT_REFUSED,
    OUT_HELP,
    PLAN_HELP,
    load_plan_or_exit,
    parse_instant,
    session_code,
    settings_for,
    usage_error,
)

__all__ = ["register"]

plan_app = typer.Typer(
    help="План-график: показать сроки, проверить, занести в базу, отметить строки.",
    no_args_is_help=True,
)
Out = Annotated[Path | None, typer.Option(help=OUT_HELP)]
PlanOption = Annotated[str, typer.Option("--plan", help=PLAN_HELP)]
SessionOption = Annotated[
    str | None,
    typer.Option(
        help="id срока (по умолчанию первый срок, где есть эта строка; у дорожной карты — год)"
    ),
]
MouoOption = Annotated[str | None, typer.Option("--mouo", help="код МОУО-исполнителя")]
SchoolOption = Annotated[str | None, typer.Option("--school", help="код ОО-исполнителя")]
PartyOption = Annotated[
    str | None,
    typer.Option("--party", help="другой исполнитель: rcoi, authority, fct, rosobrnadzor, other"),
]
OccurrenceOption = Annotated[
    int | None, typer.Option(min=1, help="номер периода строки с несколькими (1, 2, …)")
]


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
            [session] if session else [s.id for s in the_plan.board_sessions()] or [None]
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


@plan_app.command("load")
def plan_load(plan: PlanOption, out: Out = None) -> None:
    """Занести план в региональную базу: строки каждого срока (и года у дорожной карты).

    Повторный запуск ничего не дублирует; исправленный план обновляет свои строки."""
    from tasks.adapters.database import bootstrap
    from tasks.adapters.plan_files import inspect_plan, load_calendar, resolve_plan_path
    from tasks.adapters.registry import upsert_campaign
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.domain.plan import Severity, resolve_plan
    from tasks.domain.plan_text import located_problem
    from tasks.errors import RcoiError

    the_plan = load_plan_or_exit(plan)
    report = inspect_plan(resolve_plan_path(plan))
    if not report.ok:
        errors = [located_problem(p) for p in report.problems if p.severity is Severity.ERROR]
        raise usage_error(f"план с ошибками (rcoi plan check): {'; '.join(errors)}")
    settings = settings_for(out)
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        calendar = load_calendar(the_plan.calendar)
        resolved = {s.id: resolve_plan(the_plan, s.id, calendar) for s in the_plan.board_sessions()}
        database = bootstrap(settings)
    except RcoiError as exc:
        raise usage_error(str(exc)) from None
    try:
        with UnitOfWork(database.session_factory) as uow:
            counts = upsert_campaign(uow.session, the_plan, resolved)
            uow.commit()
    finally:
        database.dispose()
    rows = counts["plan_stages"]
    typer.echo(
        f"План {the_plan.id} в базе {settings.out_dir}: сроков {len(resolved)}, строк "
        f"{rows.offered} (новых {rows.inserted})."
    )


def _party(mouo: str | None, school: str | None, party: str | None) -> str | None:
    given = [value for value in (mouo, school, party) if value]
    if len(given) > 1:
        raise usage_error("укажите одного исполнителя: --mouo, --school или --party")
    return given[0] if given else None


def _mark(
    action: str,
    row: str,
    plan: str,
    session: str | None,
    party: str | None,
    actor: str,
    text: str,
    occurrence: int | None,
    out: Path | None,
    now: str | None,
) -> None:
    from datetime import UTC, datetime

    from flows.cli.common import open_database, refusal
    from tasks.adapters.board import load_scope, mark_done, reopen
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.errors import RcoiError

    if not actor.strip() or not text.strip():
        raise usage_error("укажите, кто отмечает (--actor) и примечание или причину")
    the_plan = load_plan_or_exit(plan)
    code = session_code(the_plan, session) if session else None
    moment = parse_instant(now) or datetime.now(UTC)
    database = open_database(settings_for(out))
    try:
        with UnitOfWork(database.session_factory) as uow:
            if code is None:  # the session that holds the row (a road map's: the year)
                every = load_scope(uow.session, the_plan.id)
                holders = [r.session_code for r in every.rows if row in (r.stage_key, r.row)] or [
                    session_code(the_plan, None)
                ]
                code = holders[0]
            scope = load_scope(uow.session, the_plan.id, [code])
            act = mark_done if action == "done" else reopen
            number = occurrence - 1 if occurrence else None
            outcome = act(
                uow.session, scope, row, code, party, actor.strip(), text.strip(), moment, number
            )
            uow.commit()
    except RcoiError as exc:
        raise refusal(str(exc)) from None
    finally:
        database.dispose()
    typer.echo(outcome.message + ("" if outcome.changed else ": ничего не изменено"))


@plan_app.command("done")
def plan_done(
    row: Annotated[str, typer.Argument(help="строка: id этапа или её номер в плане (2.2.6)")],
    plan: PlanOption,
    actor: Annotated[str, typer.Option(help="кто отмечает (логин)")],
    note: Annotated[str, typer.Option(help="примечание: что сделано, документ")],
    session: SessionOption = None,
    mouo: MouoOption = None,
    school: SchoolOption = None,
    party: PartyOption = None,
    occurrence: OccurrenceOption = None,
    out: Out = None,
    now: Annotated[str | None, typer.Option(help="момент отметки, ISO 8601 с поясом")] = None,
) -> None:
    """Отметить строку плана выполненной (работа людей: её не видит ни один этап).

    Запись в журнал аудита; повторная отметка ничего не меняет. Строки автоматических этапов
    отмечает сам этап (код 1)."""
    _mark(
        "done", row, plan, session, _party(mouo, school, party), actor, note, occurrence, out, now
    )


@plan_app.command("reopen")
def plan_reopen(
    row: Annotated[str, typer.Argument(help="строка: id этапа или её номер в плане")],
    plan: PlanOption,
    actor: Annotated[str, typer.Option(help="кто открывает (логин)")],
    reason: Annotated[str, typer.Option(help="причина")],
    session: SessionOption = None,
    mouo: MouoOption = None,
    school: SchoolOption = None,
    party: PartyOption = None,
    occurrence: OccurrenceOption = None,
    out: Out = None,
    now: Annotated[str | None, typer.Option(help="момент, ISO 8601 с поясом")] = None,
) -> None:
    """Снять отметку о выполнении строки, с причиной (запись в журнал аудита)."""
    mark = _party(mouo, school, party)
    _mark("reopen", row, plan, session, mark, actor, reason, occurrence, out, now)


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
