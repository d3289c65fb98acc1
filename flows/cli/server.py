"""`rcoi server`: the Prefect server with its UI, for watching runs."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import refusal, settings_for

__all__ = ["register"]


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except socket.gaierror:  # an unknown host name: prefect says so itself
            return False
        except OSError:
            return True
    return False


def server(
    host: Annotated[
        str | None, typer.Option(help="адрес (по умолчанию RCOI_PREFECT_SERVER_HOST)")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="порт (по умолчанию RCOI_PREFECT_SERVER_PORT)"),
    ] = None,
) -> None:
    """Запустить сервер Prefect с интерфейсом.

    База сервера — SQLite по умолчанию, PostgreSQL по адресу RCOI_PREFECT_SERVER_DATABASE_URL."""
    settings = settings_for(None)
    address = host or settings.prefect_server_host
    number = port or settings.prefect_server_port
    if _port_taken(address, number):
        raise refusal(f"порт {number} на {address} занят: сервер уже запущен или укажите --port")
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    if settings.prefect_server_database_url is not None:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = (
            settings.prefect_server_database_url.get_secret_value()
        )
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    args = [prefect, "server", "start", "--host", address, "--port", str(number)]
    os.execvpe(args[0], args, env)


def register(app: typer.Typer) -> None:
    app.command("server")(server)
