"""The `rcoi` command line as a coordinator runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.cli_support import ROOT, rcoi
from tests.conftest import postgres_database


def _line(output: str, stage: str) -> str:
    return next(line for line in output.splitlines() if f" {stage} " in line)


def test_plan_show_gives_kemerovo_topics_at_0945_local_and_0245_utc() -> None:
    result = rcoi("plan", "show", "config/plans/kemerovo-2017-essay.yaml")
    assert result.returncode == 0, result.stderr
    assert "Asia/Novokuznetsk" in result.stdout
    block = result.stdout.split("Срок 2017-12-06")[1].split("Срок 2018-02-07")[0]
    line = _line(block, "publish_topics")
    assert "06.12.2017 09:45  06.12.2017 02:45" in line
    for session in ("2017-12-06", "2018-02-07", "2018-05-16"):
        assert f"Срок {session}" in result.stdout


def test_plan_show_gives_kalmykia_topics_at_0945_moscow_and_0645_utc() -> None:
    result = rcoi("plan", "show", "kalmykia-2017-essay")
    assert result.returncode == 0, result.stderr
    line = _line(result.stdout, "publish_topics")
    assert "06.12.2017 09:45  06.12.2017 06:45" in line
    assert line.rstrip().endswith("Europe/Moscow")


def test_plan_check_reports_the_duplicate_row_without_failing() -> None:
    result = rcoi("plan", "check", "kalmykia-2017-essay")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[duplicate-row]" in result.stdout
    assert "ошибок 0" in result.stdout


def test_plan_check_flags_the_ambiguous_do_of_tomsk() -> None:
    result = rcoi("plan", "check", "tomsk-2024-interview")
    assert result.returncode == 0
    assert "[ambiguous-deadline] этап assign_students" in result.stdout


def test_plan_check_reports_a_broken_plan_without_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("schema_version: 1\nid: x\nstages: [\n", encoding="utf-8")
    result = rcoi("plan", "check", str(broken))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "[unreadable]" in result.stdout


def test_plan_check_reports_a_plan_without_a_zone(tmp_path: Path) -> None:
    text = (ROOT / "config/plans/kalmykia-2017-essay.yaml").read_text(encoding="utf-8")
    no_zone = tmp_path / "no-zone.yaml"
    no_zone.write_text(text.replace(", timezone: Europe/Moscow}", "}"), encoding="utf-8")
    result = rcoi("plan", "check", str(no_zone))
    assert result.returncode == 1
    assert "[missing-zone]" in result.stdout


def test_plan_show_refuses_an_unknown_plan_clearly() -> None:
    result = rcoi("plan", "show", "atlantis-2030")
    assert result.returncode == 2
    assert "kemerovo-2017-essay" in result.stderr


def test_region_generate_writes_the_ground_truth_and_the_submissions(tmp_path: Path) -> None:
    result = rcoi(
        "region",
        "generate",
        "--participants",
        "500",
        "--seed",
        "4",
        "--out",
        str(tmp_path),
        "--error-rate",
        "0.05",
        "--silent-mouos",
        "1",
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["participants"] == 500
    header = (tmp_path / "participants.csv").read_text(encoding="utf-8").splitlines()[0]
    for column in (
        "snils",
        "surname",
        "name",
        "patronymic",
        "sex",
        "birth_date",
        "category",
        "form",
        "mouo_code",
        "school_code",
    ):
        assert column in header.split(",")
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["silent_mouos"]) == 1
    assert (tmp_path / "injected_errors.csv").exists()
    assert sorted(p.name for p in (tmp_path / "submissions").iterdir()) == sorted(
        manifest["submission_formats"]
    )


@pytest.mark.slow
def test_demo_runs_without_a_server_and_writes_the_summary(tmp_path: Path) -> None:
    result = rcoi("demo", "--participants", "300", "--seed", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["campaign"]["participants"] == 300
    assert "Сводка кампании" in result.stdout
    stages = {stage["stage"]: stage for stage in summary["stages"]}
    for stage in ("collect", "reconcile", "watchdog", "print", "publish", "exam_day"):
        assert stages[stage]["status"] == "completed", stage
    assert stages["print"]["counts"]["pages"] > 0
    assert stages["publish"]["counts"]["published_at"].startswith("2017-12-06T09:45:00")
    assert stages["exam_day"]["counts"]["pages_issued"] == stages["print"]["counts"]["pages"]
    assert (tmp_path / "exam_day" / "2017-12-06" / "ground_truth.json").is_file()
    for stage in ("copy", "grade", "verify"):
        assert stages[stage]["status"] == "completed", stage
    _coordinator_and_operators_by_command(tmp_path)


def _coordinator_and_operators_by_command(out: Path) -> None:
    """After the demo: an operator added (a short password refused), a work reassigned within
    its school (another school's expert refused), the queue closed once."""
    env = dict(os.environ, RCOI_NEW_PASSWORD="пароль-оператора-1")
    added = rcoi("operator", "add", "ivanova", "--out", str(out), env=env)
    assert added.returncode == 0, added.stderr[-2000:]
    short = rcoi(
        "operator", "add", "petrov", "--out", str(out), env=dict(env, RCOI_NEW_PASSWORD="123")
    )
    assert short.returncode == 1  # refused: exit codes in README, «Commands»
    assert "Отказ: пароль короче 10 символов" in short.stderr
    register = out / "copy" / "2017-12-06" / "registers"
    school = sorted(register.glob("*.csv"))[0]
    rows = [line.split(";") for line in school.read_text("utf-8-sig").splitlines()[1:]]
    work, expert = next((r[0], r[4]) for r in rows if r[4])
    commissions = (out / "exam_day" / "2017-12-06" / "commissions.csv").read_text("utf-8")
    members = [line.split(";") for line in commissions.splitlines()[1:]]
    other = next(code for s, code in members if s == school.stem and code != expert)
    foreign = next(code for s, code in members if s != school.stem)
    moved = rcoi("assign", work, other, "--actor", "ivanova", "--out", str(out))
    assert moved.returncode == 0, moved.stderr[-2000:]
    assert f"эксперт {expert} → {other}" in moved.stdout
    refused = rcoi("assign", work, foreign, "--out", str(out))
    assert refused.returncode == 1
    assert "из комиссии другой ОО" in refused.stderr
    closed = rcoi("verify", "close", "--note", "проверка", "--out", str(out))
    assert "Очередь закрыта" in closed.stdout, closed.stderr[-2000:]
    again = rcoi("verify", "close", "--note", "проверка", "--out", str(out))
    assert "уже была закрыта" in again.stdout


@pytest.mark.slow
def test_the_coordinator_works_through_the_discrepancies_and_the_watchdog_by_command(
    tmp_path: Path,
) -> None:
    out = str(tmp_path)
    result = rcoi(
        "demo",
        *("--participants", "1500", "--seed", "7", "--out", out),
        *("--no-auto-accept", "--no-simulate"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    stages = {stage["stage"]: stage for stage in summary["stages"]}
    truth = (tmp_path / "region" / "injected_registry_errors.csv").read_text(encoding="utf-8")
    cases = len(truth.splitlines()) - 1
    assert cases == summary["campaign"]["registry_errors"] == 3  # the demo's defaults
    assert stages["reconcile"]["counts"]["open"]["critical"] == cases + 1  # + the silent МОУО
    assert stages["watchdog"]["counts"]["sent"]["alert"] >= 1

    listed = rcoi("discrepancies", "list", "--out", out)
    assert listed.returncode == 0, listed.stderr
    assert "печать заблокирована" in listed.stdout
    ids = [line.split("\t")[0] for line in listed.stdout.splitlines() if "\tcritical\t" in line]
    assert len(ids) == cases + 1
    assert stages["print"]["status"] == "blocked"
    blocked = rcoi("print", "--out", out)
    assert blocked.returncode == 1
    assert f"открытых критических расхождений выверки — {cases + 1}" in blocked.stderr
    assert not (tmp_path / "print").exists()
    refused = rcoi("discrepancies", "accept", *ids, "--actor", "coord", "--note", " ", "--out", out)
    assert refused.returncode == 2
    assert "--note" in refused.stderr
    accepted = rcoi(
        "discrepancies", "accept", *ids, "--actor", "coord", "--note", "проверено", "--out", out
    )
    assert accepted.returncode == 0, accepted.stderr
    assert "Открытых критических: 0" in accepted.stdout
    twice = rcoi(
        "discrepancies", "resolve", ids[0], "--actor", "coord", "--note", "x", "--out", out
    )
    assert twice.returncode == 1
    assert "уже закрыто" in twice.stderr

    again = rcoi("reconcile", "--out", out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["print_gate"] == "open"
    printed = rcoi("print", "--out", out)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert json.loads(printed.stdout)["kits"] > 0
    assert (tmp_path / "print" / "2017-12-06" / "manifest.json").is_file()

    instant = next(iter(stages["watchdog"]["counts"]["by_instant"]))
    watched = rcoi("watchdog", "--out", out, "--now", instant)
    assert watched.returncode == 0, watched.stderr[-2000:]
    assert sum(json.loads(watched.stdout)["sent"].values()) == 0  # sent once, at the demo
    naive = rcoi("watchdog", "--out", out, "--now", "2017-11-22T10:00")
    assert naive.returncode == 2
    assert "часовой пояс" in naive.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _post(url: str, body: dict[str, object]) -> object:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _no_database() -> Iterator[str | None]:
    yield None


@pytest.fixture(params=["sqlite", "postgresql"])
def prefect_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """`rcoi server` on a free loopback port with its own Prefect home, its own database on
    SQLite (the default) or on PostgreSQL (by URL); yields its API URL."""
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect-home"))
    databases = postgres_database() if request.param == "postgresql" else _no_database()
    url = next(databases)
    if url is not None:
        env["RCOI_PREFECT_SERVER_DATABASE_URL"] = str(
            make_url(url).set(drivername="postgresql+asyncpg").render_as_string(False)
        )
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(f"{api}/health")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("rcoi server did not start")
                time.sleep(1)
        yield api
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        databases.close()  # drops the PostgreSQL database


@pytest.mark.slow
def test_demo_runs_are_visible_on_a_running_server(prefect_server: str, tmp_path: Path) -> None:
    env = dict(
        os.environ, RCOI_PREFECT_API_URL=prefect_server, PREFECT_HOME=str(tmp_path / "client-home")
    )
    result = rcoi(
        "demo",
        *("--participants", "200", "--seed", "3", "--out", str(tmp_path / "o"), "--no-simulate"),
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = _post(f"{prefect_server}/flow_runs/filter", {"limit": 20})
    assert isinstance(runs, list)
    states = [run["state_type"] for run in runs]
    # the campaign, its collect and reconcile subflows, the watchdog at three instants,
    # print and publish
    assert states == ["COMPLETED"] * 8
    flows = _post(f"{prefect_server}/flows/filter", {"limit": 10})
    assert isinstance(flows, list)
    assert sorted(flow["name"] for flow in flows) == [
        "campaign",
        "collect",
        "print",
        "publish",
        "reconcile",
        "watchdog",
    ]
    # the notices went out as Prefect events too, for automations to act on
    wanted = {
        "rcoi.deadline.reminder",
        "rcoi.deadline.alert",
        "rcoi.deadline.escalation",
        "rcoi.topics.published",
    }
    deadline = time.monotonic() + 60
    seen: set[str] = set()
    while not wanted <= seen and time.monotonic() < deadline:
        found = _post(
            f"{prefect_server}/events/filter",
            {"filter": {"event": {"prefix": ["rcoi."]}}, "limit": 50},
        )
        assert isinstance(found, dict)
        seen = {event["event"] for event in found["events"]}
        time.sleep(1)
    assert wanted <= seen
