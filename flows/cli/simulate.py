"""`rcoi simulate exam`: the exam day simulated from printed kits — the scans schools send back,
with the ground truth and the room records (docs/exam-day-simulator.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    WORKERS_HELP,
    echo_json,
    numbers,
    prefect_environment,
    require_print_dir,
    run_flow,
    settings_for,
    usage_error,
)

__all__ = ["register"]

simulate_app = typer.Typer(
    help="Моделирование: день экзамена — заполненные бланки, сканы, эталон.", no_args_is_help=True
)


@simulate_app.command("exam")
def simulate_exam_command(
    print_dir: Annotated[Path, typer.Option(help="папка печати: <out>/print/<срок>/")],
    out: Annotated[
        Path | None,
        typer.Option(help="рабочая папка (<out>/exam_day/<срок>/); по умолчанию RCOI_OUT_DIR"),
    ] = None,
    seed: Annotated[int, typer.Option(help="зерно: то же зерно — те же файлы")] = 42,
    topics: Annotated[str | None, typer.Option(help="номера тем через запятую")] = None,
    preset: Annotated[
        str, typer.Option(help="эффекты сканирования: none, moderate, harsh, outside")
    ] = ("moderate"),
    off: Annotated[
        list[str] | None, typer.Option(help="выключить эффект (можно несколько раз)")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help=WORKERS_HELP)] = None,
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
    dither: Annotated[
        float | None, typer.Option(help="доля сканеров 1 бит с растрированием (дизерингом)")
    ] = None,
    stains: Annotated[float | None, typer.Option(help="пятен (кофе, разводы) на страницу")] = None,
    shear: Annotated[float | None, typer.Option(help="перекос подачи до ±N градусов")] = None,
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
    """Смоделировать день экзамена по напечатанным комплектам.

    Заполненные бланки, отсканированные так, как их присылают ОО, эталон распознавания и
    ведомости аудиторий (docs/exam-day-simulator.md)."""
    from tasks.domain.exam_day import exam_day_options
    from tasks.domain.exam_day_scans import scan_options
    from tasks.errors import RcoiError

    settings = settings_for(out)
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
        except ValueError:
            raise usage_error(f"форматы задаются как jpeg=5,png=1, получено «{formats}»") from None
    effects = {
        "rotation_deg": rotation,
        "scale": scale,
        "shift_mm": shift,
        "perspective_mm": perspective,
        "blur_px": blur,
        "noise": noise,
        "speckles": speckles,
        "jpeg_quality": numbers(jpeg_quality, int),
        "binarize": binarize,
        "dither": dither,
        "stains": stains,
        "shear_deg": shear,
        "dpi": numbers(dpi, int),
        "turned": turned,
        "missing": missing,
        "duplicates": duplicates,
        "unreadable": unreadable,
        "formats": weights,
        "pdf_batches": pdf_batches,
    }
    chosen = [t.strip() for t in topics.split(",")] if topics else None
    effect_values = {k: v for k, v in effects.items() if v is not None}
    switched_off = [name.strip() for item in off or [] for name in item.split(",")]
    exam_values = {k: v for k, v in exam.items() if v is not None}
    try:  # wrong options fail here, before a Prefect server starts
        scan_options(preset, effect_values, switched_off)
        exam_day_options(seed, chosen, exam_values)
    except RcoiError as exc:
        raise usage_error(str(getattr(exc, "reason", exc))) from None
    require_print_dir(print_dir)
    prefect_environment(settings)
    from flows.simulate import simulate_exam

    summary = run_flow(
        simulate_exam,
        print_dir=str(print_dir),
        out=str(settings.out_dir),
        seed=seed,
        topics=chosen,
        preset=preset,
        effects=effect_values,
        off=switched_off,
        exam=exam_values,
        workers=workers,
    )
    echo_json(summary)


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")
