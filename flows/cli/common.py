"""What every `rcoi` command shares: the exit codes, the help texts, the settings and the
Prefect environment, one-line refusals, and running a stage flow with progress bars.

Imports no command module of the package (they all import this one)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from config.settings import Settings
from tasks.errors import ConfigError, PlanError, RcoiError

if TYPE_CHECKING:
    from tasks.adapters.database import Database
    from tasks.domain.plan import Plan

__all__ = [
    "DEFAULT_PLAN",
    "EXIT_DONE",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "OUT_HELP",
    "PLAN_HELP",
    "SESSION_HELP",
    "WORKERS_HELP",
    "echo_json",
    "exit_for",
    "load_plan_or_exit",
    "numbers",
    "open_database",
    "parse_instant",
    "prefect_environment",
    "refusal",
    "require_folder",
    "require_print_dir",
    "require_session",
    "run_flow",
    "session_code",
    "settings_for",
    "usage_error",
]

# The exit codes every command follows (README, «Commands»).
EXIT_DONE = 0  # done
EXIT_REFUSED = 1  # refused or failed: a gate closed, a stage waiting, data refused, a flow failed
EXIT_USAGE = 2  # a usage error, or something not found: a file, folder, plan, session or id

DEFAULT_PLAN = "kemerovo-2017-essay"
PLAN_HELP = "путь к YAML или id плана"
SESSION_HELP = "id срока (по умолчанию первый срок плана)"
OUT_HELP = "рабочая папка (база, отчёты, исходящие); по умолчанию RCOI_OUT_DIR"
WORKERS_HELP = "процессов (по умолчанию: ядер)"


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def usage_error(message: str) -> typer.Exit:
    """«Ошибка: …» on stderr; exit 2. Raise what it returns."""
    typer.echo(f"Ошибка: {_one_line(message)}", err=True)
    return typer.Exit(EXIT_USAGE)


def refusal(message: str) -> typer.Exit:
    """«Отказ: …» on stderr; exit 1. Raise what it returns."""
    typer.echo(f"Отказ: {_one_line(message)}", err=True)
    return typer.Exit(EXIT_REFUSED)


def _reason(exc: RcoiError) -> str:
    """The Russian sentence of an error when it has one (DataError.reason, UploadError's)."""
    return str(getattr(exc, "reason_ru", None) or getattr(exc, "reason", None) or exc)


def exit_for(exc: RcoiError) -> typer.Exit:
    """An expected error as one line: a plan or configuration that cannot be used is a usage
    error (2), anything else — data refused, a gate, a failed send — a refusal (1)."""
    if isinstance(exc, PlanError | ConfigError):
        return usage_error(_reason(exc))
    return refusal(_reason(exc))


def settings_for(out: Path | None) -> Settings:
    """The settings (RCOI_* variables, .env) with `--out` as the work folder when given."""
    from pydantic import ValidationError

    try:
        return Settings() if out is None else Settings(out_dir=out)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'настройки'}: {e['msg']}" for e in exc.errors()
        )
        raise usage_error(f"настройки (RCOI_*, .env) неверны: {problems}") from None


def prefect_environment(settings: Settings) -> None:
    """Analytics off; a configured server's API if any. Must run before Prefect is imported."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # The ephemeral API server migrates its database on first start: 20 s is short on 2 cores.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if settings.prefect_api_url:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url


def echo_json(summary: Any) -> None:
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))


# --- plans, folders, the regional database ------------------------------------------------


def load_plan_or_exit(plan: str) -> Plan:
    """The plan by id or path; exit 2 when it is missing or unreadable."""
    from tasks.adapters.plan_files import load_plan, resolve_plan_path

    try:
        path = resolve_plan_path(plan)
        if not path.is_file():
            raise usage_error(f"нет файла плана {path}")
        return load_plan(path)
    except PlanError as exc:
        raise usage_error(str(exc)) from None


def session_code(the_plan: Plan, session: str | None) -> str:
    """The session asked for, or the plan's first; exit 2 when the plan has no such session."""
    try:
        return the_plan.session(session).id if session else the_plan.board_sessions()[0].id
    except PlanError as exc:
        raise usage_error(str(exc)) from None
    except IndexError:
        raise usage_error(f"в плане {the_plan.id} нет сроков") from None


def require_folder(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise usage_error(f"{what} не найдена: {path}")
    return path


def require_print_dir(path: Path) -> Path:
    """A session's print folder, as `rcoi print` writes it; exit 2 when it is not one."""
    if not (require_folder(path, "папка печати") / "manifest.json").is_file():
        raise usage_error(f"в папке печати {path} нет manifest.json: сначала rcoi print")
    return path


def open_database(settings: Settings) -> Database:
    """The regional database that must already exist (a command run on a wrong folder must
    not create an empty one there); exit 2 when it does not, 1 when it cannot be opened."""
    from tasks.adapters.database import bootstrap

    sqlite = settings.out_dir / "rcoi.sqlite"
    if settings.database_url is None and not sqlite.is_file():
        raise usage_error(
            f"в папке {settings.out_dir} нет региональной базы rcoi.sqlite: укажите рабочую "
            "папку (--out или RCOI_OUT_DIR); базу создают rcoi demo и rcoi serve"
        )
    try:
        return bootstrap(settings)
    except RcoiError as exc:
        raise refusal(f"региональная база недоступна: {exc}") from None


def require_session(
    settings: Settings, plan: str, session: str | None
) -> tuple[Plan, str, Database, int]:
    """The plan, the session's code, the open database and the session's row id there; exit 2
    when the plan, the database or the session in it is not found."""
    from tasks.adapters.submissions import session_info
    from tasks.adapters.unit_of_work import UnitOfWork

    the_plan = load_plan_or_exit(plan)
    code = session_code(the_plan, session)
    database = open_database(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, the_plan.id, code)
    except RcoiError:
        database.dispose()
        raise usage_error(
            f"в региональной базе {settings.out_dir} нет срока {code} плана {the_plan.id}: "
            "план заносят в базу rcoi serve --plan и rcoi demo"
        ) from None
    return the_plan, code, database, info.id


def parse_instant(now: str | None) -> datetime | None:
    """An ISO 8601 instant with its zone; exit 2 when malformed or naive."""
    if now is None:
        return None
    try:
        moment = datetime.fromisoformat(now)
    except ValueError:
        raise usage_error(f"момент {now!r} не в формате ISO 8601") from None
    if moment.tzinfo is None:
        raise usage_error("укажите часовой пояс момента, например +07:00")
    return moment


def numbers(text: str | None, kind: type = float) -> tuple[Any, ...] | None:
    """«60-90» or «200,300» as a tuple; exit 2 when malformed."""
    if text is None:
        return None
    try:
        return tuple(kind(v) for v in text.replace("-", ",").split(",") if v.strip())
    except ValueError:
        raise usage_error(f"ожидались числа, получено «{text}»") from None


# --- running a flow -------------------------------------------------------------------------


class _NoTracebackFor(logging.Formatter):
    """A console formatter that leaves out the traceback of an expected error (the command
    says it in one line); the run's logs on the server keep it."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and isinstance(record.exc_info[1], RcoiError):
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return self.inner.format(record)


def _console_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    found: dict[int, logging.Handler] = {}
    for lg in loggers:
        for handler in lg.handlers:
            if type(handler).__name__ == "PrefectConsoleHandler":
                found[id(handler)] = handler
    return list(found.values())


@contextmanager
def _expected_errors_in_one_line() -> Iterator[None]:
    handlers = _console_handlers()
    formatters = [h.formatter for h in handlers]
    for handler, formatter in zip(handlers, formatters, strict=True):
        handler.setFormatter(_NoTracebackFor(formatter))
    try:
        yield
    finally:
        for handler, formatter in zip(handlers, formatters, strict=True):
            handler.formatter = formatter


def run_flow(flow: Callable[..., Any], **parameters: Any) -> Any:
    """Run a flow with progress bars on a terminal; an expected error, or a stage that ended
    waiting for people (flows/labels.py), becomes one line on stderr and exit 1 (2 for a
    plan or configuration that cannot be used)."""
    from flows.labels import is_waiting
    from tasks.progress import terminal_progress

    try:
        with terminal_progress(), _expected_errors_in_one_line():
            summary = flow(**parameters)
    except RcoiError as exc:
        raise exit_for(exc) from None
    if is_waiting(summary):
        raise refusal(str(summary.get("reason") or "этап ждёт решения людей"))
    return summary
