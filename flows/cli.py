"""The `rcoi` command line: plans, the synthetic region, the demo, the Prefect server."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from config.settings import Settings

if TYPE_CHECKING:
    from tasks.adapters.database import Database

app = typer.Typer(
    help="РЦОИ: план-график итогового сочинения как потоки Prefect.",
    no_args_is_help=True,
    add_completion=False,
)
plan_app = typer.Typer(help="План-график: показать сроки, проверить.", no_args_is_help=True)
region_app = typer.Typer(
    help="Синтетический регион для демонстрации и тестов.", no_args_is_help=True
)
db_app = typer.Typer(help="Региональная база данных.", no_args_is_help=True)
discrepancy_app = typer.Typer(
    help="Расхождения выверки: просмотр и решения координатора.", no_args_is_help=True
)
app.add_typer(plan_app, name="plan")
app.add_typer(discrepancy_app, name="discrepancies")
app.add_typer(region_app, name="region")
app.add_typer(db_app, name="db")


def _prefect_environment(settings: Settings) -> None:
    """Analytics off; a configured server's API if any. Must run before Prefect is imported."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # The ephemeral API server migrates its database on first start: 20 s is short on 2 cores.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if settings.prefect_api_url:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url


@plan_app.command("show")
def plan_show(
    plan: Annotated[str, typer.Argument(help="путь к YAML или id плана")],
    session: Annotated[str | None, typer.Option(help="id срока (по умолчанию все)")] = None,
) -> None:
    """Every stage with its local time and UTC."""
    from tasks.adapters.plan_files import load_calendar, load_plan, resolve_plan_path
    from tasks.domain.plan import resolve_plan
    from tasks.domain.plan_text import format_schedule
    from tasks.errors import RcoiError

    try:
        the_plan = load_plan(resolve_plan_path(plan))
        calendar = load_calendar(the_plan.calendar)
        ids: list[str | None] = (
            [session] if session else [s.id for s in the_plan.sessions] or [None]
        )
        resolved = {sid: resolve_plan(the_plan, sid, calendar) for sid in ids}
    except RcoiError as exc:
        typer.echo(f"Ошибка: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(format_schedule(the_plan, resolved))


@plan_app.command("check")
def plan_check(plan: Annotated[str, typer.Argument(help="путь к YAML или id плана")]) -> None:
    """Problems of a plan: ambiguous «до», missing zone, order, duplicate rows, ...

    Exit code 0 without errors (warnings allowed), 1 with errors."""
    from tasks.adapters.plan_files import inspect_plan, resolve_plan_path
    from tasks.domain.plan_text import format_problems
    from tasks.errors import PlanError

    try:
        path = resolve_plan_path(plan)
    except PlanError as exc:
        typer.echo(f"Ошибка: {exc}", err=True)
        raise typer.Exit(2) from exc
    report = inspect_plan(path)
    typer.echo(f"План {path}:")
    typer.echo(format_problems(report.problems))
    raise typer.Exit(0 if report.ok else 1)


@region_app.command("generate")
def region_generate(
    participants: Annotated[int, typer.Option(min=1, help="число участников")],
    out: Annotated[Path, typer.Option(help="папка для файлов региона")],
    seed: Annotated[int, typer.Option(help="зерно генератора")] = 42,
    region: Annotated[str, typer.Option(help="код региона")] = "42",
    exam_date: Annotated[str, typer.Option(help="день экзамена, ГГГГ-ММ-ДД")] = "2017-12-06",
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="доля строк с ошибками")
    ] = 0.0,
    silent_mouos: Annotated[int, typer.Option(min=0, help="сколько МОУО ничего не присылают")] = 0,
    session_ordinal: Annotated[
        int, typer.Option(min=1, max=9, help="номер срока в учебном году (2, 3: пересдающие)")
    ] = 1,
    registry_errors: Annotated[
        int, typer.Option(min=0, help="межмуниципальные дубли и конфликты СНИЛС/документов")
    ] = 0,
) -> None:
    """Write a deterministic synthetic region: МОУО, schools, participants, МОУО files."""
    from tasks.adapters.region_files import load_regions, write_region
    from tasks.domain.synthetic_region import GeneratorOptions, generate_region

    regions = load_regions()
    if region not in regions:
        typer.echo(
            f"Ошибка: неизвестный регион {region}; известны: {', '.join(sorted(regions))}", err=True
        )
        raise typer.Exit(2)
    options = GeneratorOptions(
        participants=participants,
        seed=seed,
        region=regions[region],
        exam_date=date.fromisoformat(exam_date),
        error_rate=error_rate,
        silent_mouos=silent_mouos,
        session_ordinal=session_ordinal,
        registry_errors=registry_errors,
    )
    files = write_region(generate_region(options), out)
    typer.echo(json.dumps(files.manifest["counts"], ensure_ascii=False))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the regional database to the latest schema."""
    from tasks.adapters.database import bootstrap

    database = bootstrap(Settings())
    typer.echo(f"схема обновлена: {database.url}")
    database.dispose()


@app.command()
def demo(
    participants: Annotated[int, typer.Option(min=1)] = 2000,
    seed: Annotated[int, typer.Option()] = 42,
    out: Annotated[Path, typer.Option()] = Path("out/demo"),
    plan: Annotated[str, typer.Option(help="путь к YAML или id плана")] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option()] = None,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="доля строк с ошибками в файлах МОУО")
    ] = 0.01,
    silent_mouos: Annotated[int, typer.Option(min=0, help="сколько МОУО ничего не присылают")] = 1,
    registry_errors: Annotated[
        int, typer.Option(min=0, help="межмуниципальные дубли и конфликты для выверки")
    ] = 3,
) -> None:
    """Run the campaign flow on a generated region with injected errors (a share of bad rows,
    one silent МОУО, cross-МОУО duplicates) and print its summary."""
    settings = Settings(out_dir=out)
    _prefect_environment(settings)
    from flows.campaign import campaign

    campaign(
        participants=participants,
        seed=seed,
        out=str(out),
        plan=plan,
        session=session,
        error_rate=error_rate,
        silent_mouos=silent_mouos,
        registry_errors=registry_errors,
    )
    typer.echo((out / "summary.md").read_text(encoding="utf-8"))
    typer.echo(f"Сводка: {out / 'summary.json'}")


@app.command()
def collect(
    inbox: Annotated[Path, typer.Option(help="папка с подпапками МОУО: <inbox>/<код МОУО>/")],
    out: Annotated[Path, typer.Option(help="папка результатов (база, отчёты, исходящие)")] = Path(
        "out"
    ),
    plan: Annotated[str, typer.Option(help="путь к YAML или id плана")] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
) -> None:
    """Check every new МОУО file in the inbox, stage its rows and answer the МОУО."""
    settings = Settings(out_dir=out)
    _prefect_environment(settings)
    from flows.collect import collect as collect_flow

    summary = collect_flow(inbox=str(inbox), out=str(out), plan=plan, session=session)
    typer.echo(
        json.dumps(
            {k: v for k, v in summary.items() if k != "verdicts"}, ensure_ascii=False, indent=1
        )
    )


@app.command()
def reconcile(
    out: Annotated[Path, typer.Option(help="папка результатов (база, отчёты, исходящие)")] = Path(
        "out"
    ),
    plan: Annotated[str, typer.Option(help="путь к YAML или id плана")] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
) -> None:
    """Reconcile the regional database for a session: registrations, discrepancies, reports."""
    settings = Settings(out_dir=out)
    _prefect_environment(settings)
    from flows.reconcile import reconcile as reconcile_flow

    summary = reconcile_flow(out=str(out), plan=plan, session=session)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
    if summary["print_gate"] == "blocked":
        typer.echo(
            "Печать заблокирована: есть открытые критические расхождения "
            "(rcoi discrepancies list).",
            err=True,
        )


@app.command()
def watchdog(
    out: Annotated[Path, typer.Option(help="папка результатов (база, исходящие)")] = Path("out"),
    plan: Annotated[str, typer.Option(help="путь к YAML или id плана")] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока (по умолчанию все)")] = None,
    now: Annotated[
        str | None, typer.Option(help="момент проверки, ISO 8601 с поясом (для моделирования)")
    ] = None,
    serve: Annotated[
        bool, typer.Option(help="работать по расписанию: каждые 15 минут в поясе региона")
    ] = False,
) -> None:
    """Check the plan's deadlines: reminders, alerts to МОУО, escalations (each sent once)."""
    from datetime import datetime

    settings = Settings(out_dir=out)
    _prefect_environment(settings)
    from flows.watchdog import watchdog as watchdog_flow
    from flows.watchdog import watchdog_schedule
    from tasks.adapters.plan_files import load_plan, resolve_plan_path

    moment = None
    if now is not None:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError as exc:
            typer.echo(f"Ошибка: момент {now!r} не в формате ISO 8601", err=True)
            raise typer.Exit(2) from exc
        if moment.tzinfo is None:
            typer.echo("Ошибка: укажите часовой пояс момента, например +07:00", err=True)
            raise typer.Exit(2)
    if serve:
        the_plan = load_plan(resolve_plan_path(plan))
        watchdog_flow.serve(
            name=f"watchdog-{the_plan.id}",
            schedules=[watchdog_schedule(the_plan)],
            parameters={"out": str(out.resolve()), "plan": plan},
        )
        return
    summary = watchdog_flow(out=str(out), plan=plan, session=session, now=moment)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


def _session_id(settings: Settings, plan: str, session: str | None) -> tuple[Database, int]:
    """The database and the id of the plan's session; exits with a message when unknown."""
    from tasks.adapters.database import bootstrap
    from tasks.adapters.plan_files import load_plan, resolve_plan_path
    from tasks.adapters.submissions import session_info
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.errors import RcoiError

    try:
        the_plan = load_plan(resolve_plan_path(plan))
        database = bootstrap(settings)
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, the_plan.id, session or the_plan.sessions[0].id)
    except RcoiError as exc:
        typer.echo(f"Ошибка: {exc}", err=True)
        raise typer.Exit(2) from exc
    return database, info.id


@discrepancy_app.command("list")
def discrepancies_list(
    out: Annotated[Path, typer.Option(help="папка результатов (база)")] = Path("out"),
    plan: Annotated[str, typer.Option(help="путь к YAML или id плана")] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
    status: Annotated[str, typer.Option(help="open, resolved, accepted, gone или all")] = "open",
) -> None:
    """The discrepancies of a session and whether printing may start."""
    from sqlalchemy import select

    from tasks.adapters.models import Discrepancy
    from tasks.adapters.reconciliation import open_critical_count
    from tasks.adapters.unit_of_work import UnitOfWork

    database, session_id = _session_id(Settings(out_dir=out), plan, session)
    with UnitOfWork(database.session_factory) as uow:
        query = select(Discrepancy).where(Discrepancy.session_id == session_id)
        if status != "all":
            query = query.where(Discrepancy.status == status)
        for d in uow.session.scalars(query.order_by(Discrepancy.severity, Discrepancy.id)):
            typer.echo(f"{d.id}\t{d.severity}\t{d.kind}\t{d.status}\t{d.message}")
        blocking = open_critical_count(uow.session, session_id)
    database.dispose()
    typer.echo(
        f"Открытых критических: {blocking}; печать "
        + ("заблокирована." if blocking else "разрешена.")
    )


def _decide(
    decision: str, ids: list[int], actor: str, note: str, out: Path, plan: str, session: str | None
) -> None:
    from tasks.adapters.models import Discrepancy
    from tasks.adapters.reconciliation import close_discrepancy, open_critical_count
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.errors import RegistryError

    if not note.strip():
        typer.echo("Ошибка: укажите обоснование решения (--note).", err=True)
        raise typer.Exit(2)
    database, session_id = _session_id(Settings(out_dir=out), plan, session)
    with UnitOfWork(database.session_factory) as uow:
        for discrepancy_id in ids:
            found = uow.session.get(Discrepancy, discrepancy_id)
            if found is None or found.session_id != session_id:
                typer.echo(
                    f"Ошибка: расхождение {discrepancy_id} не найдено в этом сроке.", err=True
                )
                raise typer.Exit(2)
            if found.status != "open":
                typer.echo(
                    f"Ошибка: расхождение {discrepancy_id} уже закрыто ({found.status}).", err=True
                )
                raise typer.Exit(1)
            try:
                close_discrepancy(uow.session, discrepancy_id, decision, actor, note.strip())
            except RegistryError as exc:
                typer.echo(f"Ошибка: {exc}", err=True)
                raise typer.Exit(2) from exc
        uow.commit()
        blocking = open_critical_count(uow.session, session_id)
    database.dispose()
    done = "устранено" if decision == "resolved" else "принято"
    typer.echo(f"Расхождений: {len(ids)} — {done}. Открытых критических: {blocking}.")


@discrepancy_app.command("resolve")
def discrepancies_resolve(
    ids: Annotated[list[int], typer.Argument(help="номера расхождений")],
    actor: Annotated[str, typer.Option(help="кто принимает решение (логин координатора)")],
    note: Annotated[str, typer.Option(help="что сделано")],
    out: Annotated[Path, typer.Option()] = Path("out"),
    plan: Annotated[str, typer.Option()] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Mark discrepancies as fixed (e.g. the МОУО corrected its data); audit-logged."""
    _decide("resolved", ids, actor, note, out, plan, session)


@discrepancy_app.command("accept")
def discrepancies_accept(
    ids: Annotated[list[int], typer.Argument(help="номера расхождений")],
    actor: Annotated[str, typer.Option(help="кто принимает решение (логин координатора)")],
    note: Annotated[str, typer.Option(help="почему расхождение допустимо")],
    out: Annotated[Path, typer.Option()] = Path("out"),
    plan: Annotated[str, typer.Option()] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Accept discrepancies as they are (a known, justified case); audit-logged."""
    _decide("accepted", ids, actor, note, out, plan, session)


@app.command()
def server(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Start the Prefect server with its UI (SQLite by default, PostgreSQL by URL)."""
    settings = Settings()
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    if settings.prefect_server_database_url is not None:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = (
            settings.prefect_server_database_url.get_secret_value()
        )
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    args = [
        prefect,
        "server",
        "start",
        "--host",
        host or settings.prefect_server_host,
        "--port",
        str(port or settings.prefect_server_port),
    ]
    os.execvpe(args[0], args, env)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
