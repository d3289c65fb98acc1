"""A pool worker ends when the process that runs the pool ends: also when that process is left
a zombie or its pid is reused, and when the pidfd's number is 1024 or more (real processes)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.adapters.school_pool import _alive, _exists, _start_time
from tests.cli_support import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# A stand-in for a pool worker: its owner is a `sleep` it started (so that, killed and not
# waited for, the owner stays a zombie); the worker must exit (code 1) once the owner is gone.
_WORKER = """
import os, resource, signal, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from tasks.adapters import school_pool
if sys.argv[2] == "high-fd":  # push the pidfd past 1024: select() cannot wait on it
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2048), hard))
    spare = [os.dup(0) for _ in range(1100)]
else:  # no pidfd: the look every second, which a zombie used to fool
    del os.pidfd_open
owner = subprocess.Popen(["sleep", "60"])
school_pool.end_with_owner(owner.pid, school_pool._start_time(owner.pid)[0])
time.sleep(0.5)
owner.send_signal(signal.SIGKILL)  # not waited for: a zombie
time.sleep(15)
sys.exit(0)  # the watch failed: the worker outlived its owner
"""


def test_a_zombie_or_a_new_process_under_the_pid_is_not_the_owner() -> None:
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while (stat := _start_time(child.pid)) is not None and stat[1] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert stat is not None
    assert _exists(child.pid)  # kill(pid, 0) alone takes the zombie for alive
    assert not _alive(child.pid, stat[0])
    child.wait()
    own = _start_time(os.getpid())
    assert own is not None
    assert _alive(os.getpid(), own[0])
    assert not _alive(os.getpid(), own[0] + 1)  # the same pid, another start: a reused pid


@pytest.mark.parametrize("mode", ["high-fd", "no-pidfd"])
def test_a_worker_exits_once_its_owner_is_gone(mode: str, tmp_path: Path) -> None:
    if mode == "high-fd" and resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 1200:
        pytest.skip("the hard limit of open files is below 1200")
    script = tmp_path / "worker.py"
    script.write_text(_WORKER, encoding="utf-8")
    worker = subprocess.run(
        [sys.executable, str(script), str(ROOT), mode], timeout=60, capture_output=True
    )
    assert worker.returncode == 1, worker.stderr.decode()
