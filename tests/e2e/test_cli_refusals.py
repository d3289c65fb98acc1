"""Every `rcoi` command's refusal path: a missing plan, file, folder, database or id exits 2, a
refusal (a gate, data refused, a stage already running) exits 1; both as one Russian line on
stderr, never a traceback (README, «Commands»). In-process where the refusal comes before any
flow runs; the print gate runs the real flow in a subprocess."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger
from typer.testing import CliRunner

from config.settings import Settings
from flows.cli import app
from flows.cli.common import EXIT_REFUSED, EXIT_USAGE
from tasks.adapters.database import bootstrap
from tasks.adapters.models import Discrepancy
from tasks.adapters.plan_files import load_plan, resolve_plan_path
from tasks.adapters.stage_locks import acquire
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.plan import store_plan
from tests.cli_support import rcoi

PLAN = "kemerovo-2017-essay"
SESSION = "2017-12-06"


@dataclass(frozen=True)
class World:
    """`work`: a work folder whose regional database holds the plan, one open critical
    discrepancy, one accepted and the upload stage's key held by a scheduled run; `empty`: a
    folder without a database; `tmp`: anything else."""

    tmp: Path
    work: Path
    empty: Path
    open_id: int
    accepted_id: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("refusals")
    work, empty = tmp / "work", tmp / "empty"
    empty.mkdir()
    settings = Settings(out_dir=work)
    with disable_run_logger():
        store_plan.fn(settings, load_plan(resolve_plan_path(PLAN)))
    database = bootstrap(settings)
    with UnitOfWork(database.session_factory) as uow:
        session_id = session_info(uow.session, PLAN, SESSION).id
        found = [
            Discrepancy(
                session_id=session_id,
                key=f"test:{status}",
                kind="duplicate_snils",
                severity="critical",
                message="проверка отказов",
                status=status,
            )
            for status in ("open", "accepted")
        ]
        uow.session.add_all(found)
        uow.session.flush()
        ids = [d.id for d in found]
        acquire(uow.session, session_id, "upload", "scheduled-run", datetime.now(UTC), timedelta(1))
        uow.commit()
    database.dispose()
    return World(tmp, work, empty, ids[0], ids[1])


def _busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def _cases(w: World, port: int) -> list[tuple[list[str], int, str]]:
    missing, empty, work, tmp = w.tmp / "нет", str(w.empty), str(w.work), str(w.tmp)
    no_db = "нет региональной базы"
    out = ["--out", work]
    return [
        (["plan", "show", "atlantis-2030"], EXIT_USAGE, "нет плана «atlantis-2030»"),
        (["plan", "check", f"{missing}.yaml"], EXIT_USAGE, "нет файла плана"),
        (["plan", "show", PLAN, "--session", "2030-01-01"], EXIT_USAGE, "нет срока 2030-01-01"),
        (
            ["region", "generate", "--participants", "5", "--out", tmp, "--region", "99"],
            EXIT_USAGE,
            "неизвестный регион 99",
        ),
        (["demo", "--plan", "atlantis-2030", "--out", tmp], EXIT_USAGE, "нет плана"),
        (["demo", "--session", "2030-01-01", "--out", tmp], EXIT_USAGE, "нет срока"),
        (["collect", "--inbox", str(missing), "--out", work], EXIT_USAGE, "папка входящих"),
        (["collect", "--inbox", tmp, "--out", empty], EXIT_USAGE, no_db),
        (["reconcile", "--out", empty], EXIT_USAGE, no_db),
        (["reconcile", "--out", work, "--session", "2030-01-01"], EXIT_USAGE, "нет срока"),
        (["discrepancies", "list", "--out", empty], EXIT_USAGE, no_db),
        (["discrepancies", "list", "--status", "closed", "--out", work], EXIT_USAGE, "статус"),
        (
            ["discrepancies", "accept", "999", "--actor", "a", "--note", "n", "--out", work],
            EXIT_USAGE,
            "расхождение 999 не найдено",
        ),
        (
            [
                "discrepancies",
                "accept",
                str(w.open_id),
                "--actor",
                "a",
                "--note",
                " ",
                "--out",
                work,
            ],
            EXIT_USAGE,
            "--note",
        ),
        (
            ["discrepancies", "resolve", str(w.accepted_id), "--actor", "a", "--note", "x", *out],
            EXIT_REFUSED,
            "уже закрыто (accepted)",
        ),
        (["print", "--out", empty], EXIT_USAGE, no_db),
        (
            ["topics", "load", "--file", f"{missing}.yaml", "--out", tmp],
            EXIT_USAGE,
            "нет файла тем",
        ),
        (["topics", "load", "--session", "2030-01-01", "--out", tmp], EXIT_USAGE, "нет срока"),
        (["run", "publish", "--now", "2017-12-06T09:45", "--out", tmp], EXIT_USAGE, "пояс"),
        (["run", "publish", "--session", "2019-12-04", "--out", tmp], EXIT_USAGE, "нет срока"),
        (
            ["simulate", "exam", "--print-dir", str(missing), "--out", tmp],
            EXIT_USAGE,
            "папка печати",
        ),
        (["simulate", "exam", "--print-dir", tmp, "--out", tmp], EXIT_USAGE, "manifest.json"),
        (["simulate", "exam", "--print-dir", tmp, "--preset", "x"], EXIT_USAGE, "набор эффектов"),
        (["scan", str(missing), "--out", tmp], EXIT_USAGE, "папка со сканами не найдена"),
        (["scan", tmp, "--plan", PLAN, "--out", empty], EXIT_USAGE, no_db),
        (["copy", "--out", empty], EXIT_USAGE, no_db),
        (["copy", "--records", str(missing), "--out", work], EXIT_USAGE, "папка ведомостей"),
        (["grade", "--protocols", str(missing), "--out", work], EXIT_USAGE, "папка протоколов"),
        (["assign", "421710068140", "4201001-02", "--out", empty], EXIT_USAGE, no_db),
        (["assign", "421710068140", "4201001-02", "--out", work], EXIT_USAGE, "нет работы"),
        (["operator", "add", "ivanova", "--role", "boss", "--out", tmp], EXIT_USAGE, "роль"),
        (["verify", "run", "--out", empty], EXIT_USAGE, no_db),
        (["verify", "close", "--note", "x", "--out", empty], EXIT_USAGE, no_db),
        (["verify", "close", "--note", " ", "--out", work], EXIT_USAGE, "--note"),
        (["web", "--out", empty], EXIT_USAGE, no_db),
        (["upload", "--out", empty], EXIT_USAGE, no_db),
        (["upload", "--out", work], EXIT_REFUSED, "этап upload срока 2017-12-06 уже выполняется"),
        (["inform", "--out", empty], EXIT_USAGE, no_db),
        (["watchdog", "--out", empty], EXIT_USAGE, no_db),
        (["watchdog", "--now", "2017-11-22T10:00", "--out", work], EXIT_USAGE, "часовой пояс"),
        (["serve", "--plan", "atlantis-2030", "--show"], EXIT_USAGE, "нет плана"),
        (["deploy", "--plan", "atlantis-2030", "--out", tmp], EXIT_USAGE, "нет плана"),
        (["automations", "apply", "--out", tmp], EXIT_USAGE, "RCOI_ALERTS_TOKEN"),
        (
            ["server", "--host", "127.0.0.1", "--port", str(port)],
            EXIT_REFUSED,
            f"порт {port} на 127.0.0.1 занят",
        ),
    ]


def _one_russian_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert re.match(r"(Ошибка|Отказ): .*[а-яё]", lines[0]), lines[0]
    return lines[0]


def test_every_command_refuses_with_its_exit_code_and_one_russian_line(world: World) -> None:
    runner = CliRunner(
        env={"RCOI_OUT_DIR": None, "RCOI_DATABASE_URL": None, "RCOI_ALERTS_TOKEN": None}
    )
    for port in _busy_port():
        for args, code, fragment in _cases(world, port):
            result = runner.invoke(app, args)
            assert result.exit_code == code, (args, result.output, result.exception)
            line = _one_russian_line(result.stderr)
            assert fragment in line, (args, line)
            assert line.startswith("Отказ:" if code == EXIT_REFUSED else "Ошибка:"), line


def test_a_refused_password_and_an_unreachable_database_exit_1(world: World) -> None:
    runner = CliRunner()
    out = str(world.tmp / "operators")
    short = runner.invoke(
        app, ["operator", "add", "petrov", "--out", out], env={"RCOI_NEW_PASSWORD": "123"}
    )
    assert short.exit_code == EXIT_REFUSED, short.output
    assert "пароль короче" in _one_russian_line(short.stderr)
    unreachable = runner.invoke(
        app,
        ["db", "upgrade"],
        env={"RCOI_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    assert unreachable.exit_code == EXIT_REFUSED, unreachable.output
    assert "не обновлена" in _one_russian_line(unreachable.stderr)


def test_plan_check_of_a_missing_file_exits_2_and_of_a_broken_plan_1(world: World) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["plan", "check", str(world.tmp / "нет.yaml")]).exit_code == 2
    broken = world.tmp / "broken.yaml"
    broken.write_text("schema_version: 1\nid: x\nstages: [\n", encoding="utf-8")
    result = runner.invoke(app, ["plan", "check", str(broken)])
    assert result.exit_code == EXIT_REFUSED
    assert "ошибка синтаксиса YAML" in result.stdout


def test_printing_behind_the_gate_is_refused_in_one_line_by_the_real_flow(world: World) -> None:
    result = rcoi("print", "--out", str(world.work), timeout=180)
    assert result.returncode == EXIT_REFUSED, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    # Prefect's own log lines around it; the command's answer is one line of its own
    ours = [line for line in result.stderr.splitlines() if line.startswith(("Отказ", "Ошибка"))]
    assert len(ours) == 1, result.stderr[-2000:]
    assert ours[0].startswith(
        "Отказ: печать запрещена: открытых критических расхождений выверки — 1"
    )
    assert result.stdout == ""


def test_deploying_to_an_unreachable_prefect_server_is_refused_in_one_line(world: World) -> None:
    closed = _closed_port()
    env = {**os.environ, "RCOI_PREFECT_API_URL": f"http://127.0.0.1:{closed}/api"}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "deploy", "--plan", PLAN, "--out", str(world.tmp)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert "сервер Prefect недоступен" in _one_russian_line(done.stderr)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends
