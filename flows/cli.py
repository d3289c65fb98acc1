"""The `rcoi` command line: plans, the synthetic region, the demo, the Prefect server."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings

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
app.add_typer(plan_app, name="plan")
app.add_typer(region_app, name="region")
app.add_typer(db_app, name="db")


def _prefect_environment(settings: Settings) -> None:
    """Analytics off; a configured server's API if any. Must run before Prefect is imported."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
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
    error_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    silent_mouos: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Run the campaign flow on embedded defaults and print its summary."""
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
