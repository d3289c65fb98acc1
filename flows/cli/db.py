"""`rcoi db upgrade`: create or migrate the regional database."""

from __future__ import annotations

import typer

from flows.cli.common import refusal, settings_for

__all__ = ["register"]

db_app = typer.Typer(help="Региональная база данных.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Создать региональную базу или обновить её схему до последней версии.

    База — RCOI_DATABASE_URL, без неё SQLite в RCOI_OUT_DIR."""
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.adapters.database import bootstrap, redacted_url
    from tasks.errors import RcoiError

    settings = settings_for(None)
    try:
        database = bootstrap(settings)
    except (RcoiError, SQLAlchemyError) as exc:
        try:
            where = redacted_url(settings.resolved_database_url())
        except SQLAlchemyError:
            where = "RCOI_DATABASE_URL"
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise refusal(f"схема базы {where} не обновлена: {detail}") from None
    typer.echo(f"схема обновлена: {database.url}")
    database.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
