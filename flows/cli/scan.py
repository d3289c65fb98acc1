"""`rcoi scan FOLDER`: recognise every scanned page of a folder, with or without a campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    OUT_HELP,
    WORKERS_HELP,
    echo_json,
    prefect_environment,
    require_folder,
    require_print_dir,
    require_session,
    run_flow,
    settings_for,
    usage_error,
)

__all__ = ["register"]


def scan_command(
    folder: Annotated[Path, typer.Argument(help="папка со сканами (TIFF, PNG, JPEG, PDF)")],
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    results: Annotated[
        Path | None,
        typer.Option(
            help="файл записей распознавания, JSON Lines (по умолчанию "
            "<out>/scan/<срок или имя папки>/results.jsonl)"
        ),
    ] = None,
    print_dir: Annotated[
        Path | None, typer.Option(help="папка печати срока: коды бланков из её манифеста")
    ] = None,
    topics: Annotated[str | None, typer.Option(help="номера тем срока через запятую")] = None,
    plan: Annotated[
        str | None, typer.Option(help="план (id или YAML): коды из региональной базы")
    ] = None,
    session: Annotated[str | None, typer.Option(help="id срока плана")] = None,
    db_out: Annotated[
        Path | None, typer.Option("--db-out", hidden=True, help="прежнее имя --out")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help=WORKERS_HELP)] = None,
    dask: Annotated[str | None, typer.Option(help="адрес кластера Dask (tcp://host:8786)")] = None,
) -> None:
    """Распознать каждую отсканированную страницу в папке FOLDER.

    По записи JSON на страницу (docs/recognition.md); изображения отклонённых страниц — в
    карантин рядом с файлом записей. С --plan записи заносятся в региональную базу рабочей
    папки."""
    if out is not None and db_out is not None and out != db_out:
        raise usage_error("--db-out — прежнее имя --out: укажите одну рабочую папку")
    settings = settings_for(out or db_out)
    require_folder(folder, "папка со сканами")
    chosen = [t.strip() for t in topics.split(",") if t.strip()] if topics else None
    if chosen and not all(t.isdigit() and len(t) == 3 for t in chosen):
        raise usage_error("номер темы — три цифры (например, 101,205)")
    if print_dir is not None:
        require_print_dir(print_dir)
    if plan is not None:
        _, session, database, _ = require_session(settings, plan, session)
        database.dispose()
    prefect_environment(settings)
    from flows.scan import run_scan

    summary = run_flow(
        run_scan,
        dask_address=dask,
        folder=str(folder),
        out=str(settings.out_dir),
        results=str(results) if results else None,
        plan=plan,
        session=session,
        print_dir=str(print_dir) if print_dir else None,
        topics=chosen,
        workers=workers,
    )
    echo_json(summary)


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)
