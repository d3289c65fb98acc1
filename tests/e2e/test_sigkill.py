"""An `rcoi` command killed with SIGKILL, as real processes: its stage key is free again within
one lease (a live run renews it; `RCOI_STAGE_LEASE_S` short here), the coordinator can give a
key back by hand (audited), and nothing the command started — the ephemeral Prefect server,
the process pool's forkserver and workers — outlives it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger
from sqlalchemy import select
from typer.testing import CliRunner

from config.settings import Settings
from flows.cli import app
from flows.cli.common import EXIT_DONE, EXIT_USAGE
from flows.cli.reaper import descendants
from tasks.adapters.models import AuditLog
from tasks.adapters.plan_files import load_plan, resolve_plan_path
from tasks.adapters.stage_locks import HeldKey, acquire, held_key, holder_of
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import open_unit_of_work
from tasks.plan import store_plan
from tests.cli_support import ROOT

PLAN, SESSION = "kemerovo-2017-essay", "2017-12-06"
LEASE_S = 3.0
SAMPLES = ROOT / "tests" / "scan_samples"


def _stored(out: Path) -> tuple[Settings, int]:
    settings = Settings(out_dir=out)
    with disable_run_logger():
        store_plan.fn(settings, load_plan(resolve_plan_path(PLAN)))
    with open_unit_of_work(settings) as uow:
        return settings, session_info(uow.session, PLAN, SESSION).id


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    environment = {**os.environ, **(env or {})}
    environment.pop("PREFECT_API_URL", None)  # the command starts its own ephemeral server
    environment.pop("RCOI_PREFECT_API_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _key(settings: Settings, session_id: int, stage: str) -> HeldKey | None:
    with open_unit_of_work(settings) as uow:
        return held_key(uow.session, session_id, stage)


def _take(settings: Settings, session_id: int, holder: str) -> bool:
    with open_unit_of_work(settings) as uow:
        return acquire(
            uow.session, session_id, "upload", holder, datetime.now(UTC), timedelta(seconds=60)
        )


def test_a_killed_upload_leaves_its_key_for_one_lease_not_twelve_hours(tmp_path: Path) -> None:
    settings, session_id = _stored(tmp_path)
    command = _start("upload", "--out", str(tmp_path), env={"RCOI_STAGE_LEASE_S": str(LEASE_S)})
    try:
        # The command takes the key before its flow starts, and renews it while it lives
        # (here while the ephemeral server starts): wait for two renewals, then kill it.
        expiries: set[datetime] = set()
        deadline = time.monotonic() + 120
        while len(expiries) < 3:
            assert command.poll() is None, "the command ended before it could be killed"
            assert time.monotonic() < deadline, "the key was never taken and renewed"
            key = _key(settings, session_id, "upload")
            if key is not None:
                assert key.holder.startswith("cli-")
                expiries.add(key.expires_at)
            time.sleep(0.1)
    finally:
        command.send_signal(signal.SIGKILL)
        command.wait()
    killed = datetime.now(UTC)
    # Right after the kill the dead run still holds it: the next run is refused ...
    assert not _take(settings, session_id, "next-run")
    # ... and takes it over as soon as the lease runs out, not hours later.
    while not _take(settings, session_id, "next-run"):
        assert datetime.now(UTC) - killed < timedelta(seconds=LEASE_S + 3)
        time.sleep(0.1)
    with open_unit_of_work(settings) as uow:
        assert holder_of(uow.session, session_id, "upload") == "next-run"


def test_the_coordinator_releases_a_key_by_hand_and_it_is_audited(tmp_path: Path) -> None:
    settings, session_id = _stored(tmp_path)
    with open_unit_of_work(settings) as uow:
        acquire(uow.session, session_id, "upload", "dead-run", datetime.now(UTC), timedelta(1))
    runner = CliRunner()
    base = ["stage", "release", "--stage", "upload", "--out", str(tmp_path)]
    who = ["--actor", "ivanova", "--note", "запуск убит на узле worker-2"]
    result = runner.invoke(app, [*base, *who])
    assert result.exit_code == EXIT_DONE, result.output
    assert "Ключ этапа upload срока 2017-12-06 снят: держал dead-run" in result.stdout
    assert _key(settings, session_id, "upload") is None  # `rcoi upload` would now go on
    with open_unit_of_work(settings) as uow:
        [record] = uow.session.scalars(
            select(AuditLog).where(AuditLog.action == "stage_lock.released")
        ).all()
        assert (record.actor, record.entity_id) == ("ivanova", f"{session_id}:upload")
        assert record.old is not None
        assert record.old["holder"] == "dead-run"
        assert record.new == {"note": "запуск убит на узле worker-2"}
    # nothing held any more, a blank reason, an unknown stage: exit 2, one Russian line
    for args, fragment in (
        ([*base, *who], "не занят"),
        ([*base, "--actor", "ivanova", "--note", " "], "--note"),
        (["stage", "release", "--stage", "upload2", *who, "--out", str(tmp_path)], "upload2"),
    ):
        refused = runner.invoke(app, args)
        assert refused.exit_code == EXIT_USAGE, (args, refused.output)
        assert refused.stderr.startswith("Ошибка: "), refused.stderr
        assert fragment in refused.stderr


def _alive(pid: int, start: int) -> bool:
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[19]) == start and fields[0] != b"Z"


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_command_leaves_no_server_or_pool_process_behind(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    for index in range(40):  # enough pages that the pool is still busy when it is killed
        shutil.copy(SAMPLES / "registration_plain.jpg", scans / f"page-{index:02d}.jpg")
    command = _start("scan", str(scans), "--out", str(tmp_path / "work"), "--workers", "2")
    seen: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 180
        while True:
            assert command.poll() is None, "the scan ended before it could be killed"
            assert time.monotonic() < deadline, {p: _command_line(p) for p in seen}
            seen.update(descendants(command.pid))
            lines = [_command_line(pid) for pid in seen if _alive(pid, seen[pid])]
            server = any("uvicorn" in line for line in lines)
            pool = sum("multiprocessing.forkserver" in line for line in lines)
            if server and pool >= 3:  # the forkserver and both workers
                break
            time.sleep(0.1)
    finally:
        command.send_signal(signal.SIGKILL)
        command.wait()
    killed = time.monotonic()
    while left := {pid: _command_line(pid) for pid, start in seen.items() if _alive(pid, start)}:
        assert time.monotonic() - killed < 30, f"still running after the kill: {left}"
        time.sleep(0.2)


_PARENT = """
import importlib.util, subprocess, sys, time
spec = importlib.util.spec_from_file_location("reaper", sys.argv[1])
reaper = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reaper)
reaper.start_reaper()
early = subprocess.Popen(["sleep", "120"])
time.sleep(1.5)  # the watcher has noted it
late = subprocess.Popen(["sleep", "120"])
# a daemon: its parent exits at once, so it never hangs below this process
daemon = subprocess.run(
    ["sh", "-c", "sleep 120 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True
).stdout.strip()
print(early.pid, late.pid, daemon, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_child_started_right_before_the_kill_ends_with_the_command(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(_PARENT, encoding="utf-8")
    reaper = ROOT / "flows" / "cli" / "reaper.py"
    environment = {k: v for k, v in os.environ.items() if k != "RCOI_REAPER_TAG"}
    parent = subprocess.Popen(
        [sys.executable, str(script), str(reaper)],
        stdout=subprocess.PIPE,
        env=environment,
    )
    children: dict[int, int] = {}
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()  # blocks until the children run
        for pid in map(int, line.split()):
            stat = Path(f"/proc/{pid}/stat").read_bytes()
            children[pid] = int(stat[stat.rindex(b")") + 2 :].split()[19])
    finally:
        parent.send_signal(signal.SIGKILL)  # well within the watcher's half second
        parent.wait()
    assert len(children) == 3
    killed = time.monotonic()
    while left := [pid for pid, start in children.items() if _alive(pid, start)]:
        assert time.monotonic() - killed < 12, f"still running after the kill: {left}"
        time.sleep(0.1)
