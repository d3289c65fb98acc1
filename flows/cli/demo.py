"""`rcoi demo`: the whole campaign on a generated region, with a bar per long stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    DEFAULT_PLAN,
    PLAN_HELP,
    SESSION_HELP,
    load_plan_or_exit,
    prefect_environment,
    run_flow,
    session_code,
    settings_for,
)

__all__ = ["register"]

DEMO_OUT = Path("out/demo")


def demo(
    participants: Annotated[int, typer.Option(min=1, help="число участников")] = 2000,
    seed: Annotated[int, typer.Option(help="зерно: то же зерно — те же файлы")] = 42,
    out: Annotated[
        Path | None,
        typer.Option(help="папка демонстрации (по умолчанию RCOI_OUT_DIR, без неё out/demo)"),
    ] = None,
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = DEFAULT_PLAN,
    session: Annotated[str | None, typer.Option(help=SESSION_HELP)] = None,
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
    """Вся кампания на сгенерированном регионе, со сводкой в конце.

    В регион внесены ошибки (доля плохих строк, молчащий МОУО, межмуниципальные дубли);
    этапы: сбор, выверка, печать, публикация тем, день экзамена, сканирование, копии,
    проверка, верификация, выгрузка в ФЦТ, информирование."""
    settings = settings_for(out)
    if out is None and "out_dir" not in settings.model_fields_set:
        settings = settings_for(DEMO_OUT)  # RCOI_OUT_DIR unset: the demo keeps to its folder
    session_code(load_plan_or_exit(plan), session)  # a typo refused before anything starts
    folder = settings.out_dir
    prefect_environment(settings)
    from flows.campaign import campaign

    run_flow(
        campaign,
        participants=participants,
        seed=seed,
        out=str(folder),
        plan=plan,
        session=session,
        error_rate=error_rate,
        silent_mouos=silent_mouos,
        registry_errors=registry_errors,
        simulate=simulate,
        auto_accept=auto_accept,
    )
    typer.echo((folder / "summary.md").read_text(encoding="utf-8"))
    typer.echo(f"Сводка: {folder / 'summary.json'}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
