"""The `rcoi` command line: plans, the synthetic region, the demo, the Prefect server."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
topics_app = typer.Typer(
    help="Темы: загрузка в защищённое хранилище до публикации.", no_args_is_help=True
)
run_app = typer.Typer(help="Запуск этапа плана-графика оператором.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(run_app, name="run")


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
    simulate: Annotated[
        bool, typer.Option(help="моделировать день проведения: сканы бланков от ОО")
    ] = True,
    auto_accept: Annotated[
        bool,
        typer.Option(
            help="демо-координатор принимает открытые расхождения, чтобы продолжить печать"
        ),
    ] = True,
) -> None:
    """Run the campaign flow on a generated region with injected errors (a share of bad rows,
    one silent МОУО, cross-МОУО duplicates), print, publish the topics, simulate the exam day,
    and print its summary."""
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
        simulate=simulate,
        auto_accept=auto_accept,
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


@app.command("print")
def print_command(
    out: Annotated[Path, typer.Option(help="папка результатов (база, печать)")] = Path("out"),
    plan: Annotated[str, typer.Option(help="путь к YAML или id плана")] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока")] = None,
    reserve: Annotated[int, typer.Option(help="резервных комплектов на ОО")] = 2,
    additional_share: Annotated[
        float, typer.Option(help="доп. бланков записи: доля мест аудитории")
    ] = 0.1,
    workers: Annotated[int | None, typer.Option(help="процессов (по умолчанию: ядер)")] = None,
) -> None:
    """Print the session's kits and room forms: one PDF per school, layouts, manifest."""
    settings = Settings(out_dir=out)
    _prefect_environment(settings)
    from flows.print_kits import print_kits
    from tasks.errors import PrintBlocked

    try:
        summary = print_kits(
            out=str(out),
            plan=plan,
            session=session,
            reserve_per_school=reserve,
            additional_share=additional_share,
            workers=workers,
        )
    except PrintBlocked as exc:
        typer.echo(f"Отказ: {exc.reason}.", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


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
    from prefect.deployments.runner import EntrypointType

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
            entrypoint_type=EntrypointType.MODULE_PATH,
            name=f"watchdog-{the_plan.id}",
            schedules=[watchdog_schedule(the_plan)],
            parameters={"out": str(out.resolve()), "plan": plan},
        )
        return
    summary = watchdog_flow(out=str(out), plan=plan, session=session, now=moment)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


@topics_app.command("load")
def topics_load(
    plan: Annotated[str, typer.Option(help="путь к YAML или id плана")] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока (дата экзамена)")] = None,
    file: Annotated[
        Path | None, typer.Option(help="файл тем YAML (по умолчанию config/topics/<срок>.yaml)")
    ] = None,
    out: Annotated[Path, typer.Option(help="папка результатов (хранилище тем)")] = Path("out"),
) -> None:
    """Seal a session's topics into the vault, outside the web root (idempotent)."""
    from tasks.adapters.plan_files import load_plan, resolve_plan_path
    from tasks.adapters.topics import load_topics
    from tasks.errors import RcoiError

    try:
        the_plan = load_plan(resolve_plan_path(plan))
        session_id = the_plan.session(session).id if session else the_plan.sessions[0].id
        result = load_topics(
            Settings(out_dir=out), the_plan.id, session_id, the_plan.procedure, file
        )
    except RcoiError as exc:
        typer.echo(f"Ошибка: {getattr(exc, 'reason', exc)}", err=True)
        raise typer.Exit(2) from exc
    if result.key.generated:
        typer.echo(
            f"Создан ключ хранилища тем {result.key.source} (права 0600; только для "
            "демонстрации — в работе задайте RCOI_TOPICS_KEY).",
            err=True,
        )
    state = {"stored": "загружены", "replaced": "заменены", "unchanged": "уже загружены"}
    typer.echo(
        f"Темы срока {session_id} ({result.topics}, направлений {result.directions}) "
        f"{state[result.status]}: {result.path}"
    )


@run_app.command("publish")
def run_publish(
    plan: Annotated[str, typer.Option(help="путь к YAML или id плана")] = "kemerovo-2017-essay",
    session: Annotated[str | None, typer.Option(help="id срока (дата экзамена)")] = None,
    now: Annotated[
        str | None,
        typer.Option(help="момент, ISO 8601 с поясом: не ждать, отказать, если рано"),
    ] = None,
    out: Annotated[Path, typer.Option(help="папка результатов (база, сайт, исходящие)")] = Path(
        "out"
    ),
) -> None:
    """Publish the session's topics: at or after the plan's instant (09:45 local), never
    before. With --now, refuse (exit 1) when it is too early; without it, wait for it."""
    from datetime import datetime

    settings = Settings(out_dir=out)
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
    from tasks.adapters.plan_files import load_plan, resolve_plan_path
    from tasks.errors import RcoiError

    try:  # a mistyped plan or session is the operator's, not a failed publication
        the_plan = load_plan(resolve_plan_path(plan))
        session_id = the_plan.session(session).id if session else the_plan.sessions[0].id
    except RcoiError as exc:
        typer.echo(f"Ошибка: {exc}", err=True)
        raise typer.Exit(2) from exc
    _prefect_environment(settings)
    from flows.publish import publish

    try:
        summary = publish(plan=plan, session=session_id, out=str(out), now=moment, wait=now is None)
    except RcoiError as exc:
        typer.echo(f"Ошибка: {getattr(exc, 'reason', exc)}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
    typer.echo(summary["message"], err=True)
    if summary["status"] == "too_early":
        raise typer.Exit(1)


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


simulate_app = typer.Typer(
    help="Моделирование: день экзамена — заполненные бланки, сканы, эталон.", no_args_is_help=True
)
app.add_typer(simulate_app, name="simulate")


def _numbers(text: str | None, kind: type = float) -> tuple[Any, ...] | None:
    """«60-90» or «200,300» as a tuple; exits with a message when malformed."""
    if text is None:
        return None
    try:
        return tuple(kind(v) for v in text.replace("-", ",").split(",") if v.strip())
    except ValueError as exc:
        typer.echo(f"Ошибка: ожидались числа, получено «{text}»", err=True)
        raise typer.Exit(2) from exc


@simulate_app.command("exam")
def simulate_exam_command(
    print_dir: Annotated[Path, typer.Option(help="папка печати: <out>/print/<срок>/")],
    out: Annotated[Path, typer.Option(help="папка результатов (<out>/exam_day/<срок>/)")] = Path(
        "out"
    ),
    seed: Annotated[int, typer.Option(help="зерно: то же зерно — те же файлы")] = 42,
    topics: Annotated[str | None, typer.Option(help="номера тем через запятую")] = None,
    preset: Annotated[str, typer.Option(help="эффекты сканирования: none, moderate, harsh")] = (
        "moderate"
    ),
    off: Annotated[
        list[str] | None, typer.Option(help="выключить эффект (можно несколько раз)")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="процессов (по умолчанию: ядер)")] = None,
    absent: Annotated[float | None, typer.Option(help="доля неявившихся")] = None,
    not_finished: Annotated[float | None, typer.Option(help="доля «Не закончил»")] = None,
    removed: Annotated[float | None, typer.Option(help="доля «Удален»")] = None,
    oral: Annotated[float | None, typer.Option(help="доля ОВЗ, выбравших устную форму")] = None,
    short: Annotated[float | None, typer.Option(help="доля работ меньше нормы слов")] = None,
    transcription_errors: Annotated[
        float | None, typer.Option(help="доля ошибок переноса отметок эксперта")
    ] = None,
    cancelled_marks: Annotated[float | None, typer.Option(help="доля отменённых отметок")] = None,
    code_errors: Annotated[
        float | None, typer.Option(help="доля бланков с ошибкой в коде работы")
    ] = None,
    writers: Annotated[int | None, typer.Option(help="число почерков")] = None,
    scan_unused: Annotated[
        bool, typer.Option(help="сканировать неиспользованные резервные и доп. бланки")
    ] = True,
    rotation: Annotated[float | None, typer.Option(help="поворот до ±N градусов")] = None,
    scale: Annotated[float | None, typer.Option(help="масштаб: отклонение до N (0.02)")] = None,
    shift: Annotated[float | None, typer.Option(help="сдвиг листа до N мм")] = None,
    perspective: Annotated[float | None, typer.Option(help="перспектива: углы до N мм")] = None,
    blur: Annotated[float | None, typer.Option(help="размытие: sigma до N пикселей")] = None,
    noise: Annotated[float | None, typer.Option(help="шум: sigma в уровнях серого")] = None,
    speckles: Annotated[float | None, typer.Option(help="пылинок на страницу")] = None,
    jpeg_quality: Annotated[str | None, typer.Option(help="качество JPEG, например 60-90")] = None,
    binarize: Annotated[float | None, typer.Option(help="доля сканеров 1 бит")] = None,
    dpi: Annotated[str | None, typer.Option(help="разрешения сканеров, например 200,300")] = None,
    turned: Annotated[float | None, typer.Option(help="доля страниц вверх ногами")] = None,
    missing: Annotated[float | None, typer.Option(help="доля недоставленных страниц")] = None,
    duplicates: Annotated[
        float | None, typer.Option(help="доля страниц, отсканированных дважды")
    ] = None,
    unreadable: Annotated[float | None, typer.Option(help="доля нечитаемых изображений")] = None,
    formats: Annotated[
        str | None, typer.Option(help="веса форматов: jpeg=5,png=1,tiff=1,tiff-multi=2")
    ] = None,
    pdf_batches: Annotated[int | None, typer.Option(help="сколько ОО сдают PDF")] = None,
) -> None:
    """Simulate the exam day from printed kits: filled-in blanks scanned as schools deliver
    them, plus the ground truth and the room records (docs/exam-day-simulator.md)."""
    settings = Settings(out_dir=out)
    _prefect_environment(settings)
    from flows.simulate import simulate_exam
    from tasks.errors import RcoiError

    exam = {
        "absent": absent,
        "not_finished": not_finished,
        "removed": removed,
        "oral_unregistered": oral,
        "short": short,
        "transcription_errors": transcription_errors,
        "cancelled_marks": cancelled_marks,
        "code_errors": code_errors,
        "writers": writers,
        "scan_unused": scan_unused,
    }
    weights = None
    if formats is not None:
        try:
            weights = {k.strip(): float(v) for k, v in (p.split("=") for p in formats.split(","))}
        except ValueError as exc:
            typer.echo(f"Ошибка: форматы задаются как jpeg=5,png=1, получено «{formats}»", err=True)
            raise typer.Exit(2) from exc
    effects = {
        "rotation_deg": rotation,
        "scale": scale,
        "shift_mm": shift,
        "perspective_mm": perspective,
        "blur_px": blur,
        "noise": noise,
        "speckles": speckles,
        "jpeg_quality": _numbers(jpeg_quality, int),
        "binarize": binarize,
        "dpi": _numbers(dpi, int),
        "turned": turned,
        "missing": missing,
        "duplicates": duplicates,
        "unreadable": unreadable,
        "formats": weights,
        "pdf_batches": pdf_batches,
    }
    from tasks.domain.exam_day import exam_day_options
    from tasks.domain.exam_day_scans import scan_options

    chosen = [t.strip() for t in topics.split(",")] if topics else None
    effect_values = {k: v for k, v in effects.items() if v is not None}
    switched_off = [name.strip() for item in off or [] for name in item.split(",")]
    exam_values = {k: v for k, v in exam.items() if v is not None}
    try:  # wrong options fail here, before a Prefect server starts
        scan_options(preset, effect_values, switched_off)
        exam_day_options(seed, chosen, exam_values)
        summary = simulate_exam(
            print_dir=str(print_dir),
            out=str(out),
            seed=seed,
            topics=chosen,
            preset=preset,
            effects=effect_values,
            off=switched_off,
            exam=exam_values,
            workers=workers,
        )
    except RcoiError as exc:
        typer.echo(f"Ошибка: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


@app.command("scan")
def scan_command(
    folder: Annotated[Path, typer.Argument(help="папка со сканами (TIFF, PNG, JPEG, PDF)")],
    out: Annotated[
        Path, typer.Option("--out", help="файл записей распознавания (JSON Lines)")
    ] = Path("results.jsonl"),
    print_dir: Annotated[
        Path | None, typer.Option(help="папка печати срока: коды бланков из её манифеста")
    ] = None,
    topics: Annotated[str | None, typer.Option(help="номера тем срока через запятую")] = None,
    plan: Annotated[
        str | None, typer.Option(help="план (id или YAML): коды из региональной базы")
    ] = None,
    session: Annotated[str | None, typer.Option(help="id срока плана")] = None,
    db_out: Annotated[
        Path, typer.Option("--db-out", help="папка региональной базы (с --plan)")
    ] = Path("out"),
    workers: Annotated[int | None, typer.Option(help="процессов (по умолчанию: ядер)")] = None,
    dask: Annotated[str | None, typer.Option(help="адрес кластера Dask (tcp://host:8786)")] = None,
) -> None:
    """Recognise every scanned page under FOLDER: one JSON record per page in OUT
    (docs/recognition.md), rejected pages' images in quarantine next to it."""
    settings = Settings(out_dir=db_out)
    _prefect_environment(settings)
    if not folder.is_dir():
        typer.echo(f"Ошибка: папка со сканами не найдена: {folder}", err=True)
        raise typer.Exit(2)
    chosen = [t.strip() for t in topics.split(",") if t.strip()] if topics else None
    if chosen and not all(t.isdigit() and len(t) == 3 for t in chosen):
        typer.echo("Ошибка: номер темы — три цифры (например, 101,205)", err=True)
        raise typer.Exit(2)
    from flows.scan import run_scan
    from tasks.errors import RcoiError

    try:
        summary = run_scan(
            dask_address=dask,
            folder=str(folder),
            out=str(db_out),
            results=str(out),
            plan=plan,
            session=session,
            print_dir=str(print_dir) if print_dir else None,
            topics=chosen,
            workers=workers,
        )
    except RcoiError as exc:
        typer.echo(f"Ошибка: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


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


# The copy, grade and verify commands live in their own module (this one is long enough).
from flows.cli_grading import register as _register_grading  # noqa: E402

_register_grading(app)

from flows.cli_outbound import register as _register_outbound  # noqa: E402

_register_outbound(app)

from flows.cli_serve import register as _register_serve  # noqa: E402

_register_serve(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
