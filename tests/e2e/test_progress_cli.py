"""Progress bars as a person sees them: `rcoi simulate exam` in a terminal (a pseudo-terminal
here) draws a bar per long stage; the same command with its output piped draws none and
writes no control characters."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

from tests.cli_support import ROOT, rcoi
from tests.print_dir_support import SchoolSpec, build_print_dir

ESCAPE = "\x1b["


def _in_terminal(*args: str, timeout: float = 300) -> tuple[int, str]:
    """Run `rcoi` with stdin, stdout and stderr on a pseudo-terminal of 120×40; its exit code
    and everything the terminal received."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its controlling terminal
        os.chdir(ROOT)
        os.environ.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
        os.execv(sys.executable, [sys.executable, "-m", "flows.cli", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            received += chunk
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), received.decode("utf-8", "replace")


def _print_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "print" / "2017-12-06"
    folder.mkdir(parents=True)
    build_print_dir(
        folder,
        [
            SchoolSpec("4201001", {"01": 1}, reserve=0, additional_per_room=0),
            SchoolSpec("4201002", {"01": 1}, reserve=0, additional_per_room=0),
        ],
    )
    return folder


def test_a_terminal_gets_a_bar_and_a_pipe_gets_plain_text(tmp_path: Path) -> None:
    print_dir = _print_dir(tmp_path)
    args = ("simulate", "exam", "--print-dir", str(print_dir), "--seed", "3", "--workers", "1")
    options = ("--pdf-batches", "0", "--absent", "0")

    code, screen = _in_terminal(*args, *options, "--out", str(tmp_path / "tty"))
    assert code == 0, screen[-3000:]
    # the exam-day simulation's bar: its name, the schools done of all, the percentage,
    # redrawn in place (carriage return, erase line) in colour
    assert "Сканирование" in screen
    assert "2/2" in screen
    assert "100%" in screen
    assert "\r\x1b[2K" in screen
    assert ESCAPE in screen
    assert "Traceback" not in screen

    piped = rcoi(*args, *options, "--out", str(tmp_path / "pipe"))
    assert piped.returncode == 0, piped.stderr[-3000:]
    assert ESCAPE not in piped.stdout + piped.stderr
    assert "\r" not in piped.stderr
    assert "Сканирование" not in piped.stderr  # no bar, not even a plain one
    assert json.loads(piped.stdout)["schools"] == 2
