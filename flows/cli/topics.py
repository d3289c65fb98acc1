"""`rcoi topics load`: seal a session's topics into the vault ahead of publication."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    DEFAULT_PLAN,
    PLAN_HELP,
    exit_for,
    load_plan_or_exit,
    session_code,
    settings_for,
    usage_error,
)

__all__ = ["register"]

topics_app = typer.Typer(
    help="Темы: загрузка в защищённое хранилище до публикации.", no_args_is_help=True
)


@topics_app.command("load")
def topics_load(
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = DEFAULT_PLAN,
    session: Annotated[str | None, typer.Option(help="id срока (дата экзамена)")] = None,
    file: Annotated[
        Path | None, typer.Option(help="файл тем YAML (по умолчанию config/topics/<срок>.yaml)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="рабочая папка (хранилище тем); по умолчанию RCOI_OUT_DIR")
    ] = None,
) -> None:
    """Запечатать темы срока в хранилище вне веб-каталога (повторный запуск ничего не меняет)."""
    from tasks.adapters.topics import load_topics, topic_file
    from tasks.errors import RcoiError

    settings = settings_for(out)
    the_plan = load_plan_or_exit(plan)
    session_id = session_code(the_plan, session)
    source = file or topic_file(session_id)
    if not source.is_file():
        raise usage_error(f"нет файла тем {source}")
    try:
        result = load_topics(settings, the_plan.id, session_id, the_plan.procedure, file)
    except RcoiError as exc:
        raise exit_for(exc) from None
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


def register(app: typer.Typer) -> None:
    app.add_typer(topics_app, name="topics")
