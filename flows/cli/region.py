"""`rcoi region generate`: a deterministic synthetic region for the demo and the tests."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import usage_error

__all__ = ["register"]

region_app = typer.Typer(
    help="Синтетический регион для демонстрации и тестов.", no_args_is_help=True
)


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
    """Записать синтетический регион (одно зерно — одни файлы): МОУО, ОО, участники, файлы МОУО."""
    from tasks.adapters.region_files import load_regions, write_region
    from tasks.domain.synthetic_region import GeneratorOptions, generate_region

    regions = load_regions()
    if region not in regions:
        raise usage_error(f"неизвестный регион {region}; известны: {', '.join(sorted(regions))}")
    try:
        day = date.fromisoformat(exam_date)
    except ValueError:
        raise usage_error(f"день экзамена {exam_date!r} не в формате ГГГГ-ММ-ДД") from None
    options = GeneratorOptions(
        participants=participants,
        seed=seed,
        region=regions[region],
        exam_date=day,
        error_rate=error_rate,
        silent_mouos=silent_mouos,
        session_ordinal=session_ordinal,
        registry_errors=registry_errors,
    )
    files = write_region(generate_region(options), out)
    typer.echo(json.dumps(files.manifest["counts"], ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.add_typer(region_app, name="region")
