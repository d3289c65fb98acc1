"""The processes an `rcoi` command starts end with it, even when it is killed with SIGKILL.

A command starts the ephemeral Prefect server (a uvicorn subprocess, when no server is
configured), the process pools of the stages (a forkserver and its workers) and Prefect's own
helpers. Killed with SIGKILL, the command cannot stop them, and they went on working. So
`rcoi` starts this watcher first: a separate, tiny process (the standard library only, in a
session of its own, so Ctrl+C in the terminal reaches the command and not the watcher) that
notes the command's descendants twice a second from /proc and, as soon as the command is gone,
sends them SIGTERM, then SIGKILL to any still there after a grace period. It ends the same way
after a normal exit, so nothing the command left behind survives it.

A child started in the last half second before the kill is not noted yet, and once the command
is gone it hangs below init, not below the command. So every descendant is also marked: before
the command starts anything it puts `RCOI_REAPER_TAG=<pid>:<start time>` in its environment,
which every process it starts inherits (and passes on), and after the command is gone the
watcher also ends every process whose /proc/<pid>/environ holds that tag. Only a process that
clears its environment, or one the command forks without exec (its environ is the command's
own, which never held the tag), escapes the tag; it is still caught if it was noted.

Why not a process group: the command's group is often not its own (a pipeline, a script, a
test runner), so killing the group could kill others, and making a new one takes the command
out of its terminal's foreground (Ctrl+C would miss it). Why not PR_SET_PDEATHSIG: it cannot
be given to the Prefect server's uvicorn, which Prefect starts itself, and it follows the
thread that started a child, not the process. The pools' workers also end on their own when
the process running the pool ends (`tasks/adapters/school_pool.py`): that holds for a stage run
by a Prefect worker too, where no `rcoi` command watches. Linux only (/proc); elsewhere
nothing is started.

Run as `python -I -S reaper.py PID STARTTIME` (not as a module: importing `flows.cli` would
load the whole command line)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time

__all__ = ["TAG", "descendants", "start_reaper", "tagged", "watch"]

INTERVAL_S = 0.5  # how often the command's descendants are noted
GRACE_S = 5.0  # between SIGTERM and SIGKILL
TAG = "RCOI_REAPER_TAG"

_started: subprocess.Popen[bytes] | None = None


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start time in clock ticks, state) from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            data = stream.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()  # the name may hold spaces and brackets
    return int(fields[1]), int(fields[19]), fields[0].decode()


def _running(pid: int, start: int) -> bool:
    """The same process (not a new one with a reused pid), and not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[1] == start and stat[2] != "Z"


def descendants(root: int) -> dict[int, int]:
    """Every process below `root` now, with its start time."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None:
            children.setdefault(stat[0], []).append(int(name))
            starts[int(name)] = stat[1]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = starts[child]
                todo.append(child)
    return found


def tagged(tag: str) -> dict[int, int]:
    """Every process (that this user may read) whose environment holds `TAG=tag`, with its
    start time."""
    needle = f"{TAG}={tag}".encode()
    found: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as stream:
                environ = stream.read()
        except OSError:  # gone, or another user's
            continue
        if needle in environ.split(b"\0") and (stat := _stat(int(name))) is not None:
            found[int(name)] = stat[1]
    return found


def _send(targets: dict[int, int], signum: int) -> None:
    for pid, start in targets.items():
        if _running(pid, start):
            with contextlib.suppress(OSError):  # it ended meanwhile
                os.kill(pid, signum)


def watch(parent: int, parent_start: int) -> None:
    """Note `parent`'s descendants while it runs; once it is gone, end them."""
    me = os.getpid()
    known: dict[int, int] = {}
    while _running(parent, parent_start):
        known.update(descendants(parent))
        known = {pid: start for pid, start in known.items() if _running(pid, start)}
        time.sleep(INTERVAL_S)
    # Orphans are re-parented at once, but their own children still hang below them.
    targets = dict(known)
    for pid in known:
        targets.update(descendants(pid))
    # ... and a child started since the last look is found by the tag it inherited.
    late = tagged(f"{parent}:{parent_start}")
    targets.update(late)
    for pid in late:
        targets.update(descendants(pid))
    targets.pop(me, None)
    _send(targets, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and any(_running(p, s) for p, s in targets.items()):
        time.sleep(0.1)
    targets.update(tagged(f"{parent}:{parent_start}"))  # started during the grace period
    targets.pop(me, None)
    _send(targets, signal.SIGKILL)


def start_reaper() -> None:
    """Start the watcher of this process (once; Linux only) and tag the environment every
    process started from now on inherits. A watcher that cannot start (a process limit) is a
    warning, not a failed command."""
    global _started
    if _started is not None or not sys.platform.startswith("linux"):
        return
    me = os.getpid()
    stat = _stat(me)
    if stat is None:
        return
    os.environ[TAG] = f"{me}:{stat[1]}"  # the watcher inherits it too, and spares itself
    try:
        _started = subprocess.Popen(  # kept referenced: it outlives this process
            [sys.executable, "-I", "-S", os.path.abspath(__file__), str(me), str(stat[1])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        os.environ.pop(TAG, None)
        logging.getLogger("rcoi.reaper").warning(
            "the watcher that ends this command's processes with it did not start (%s): if "
            "the command is killed, its Prefect server and pool workers may go on running",
            exc,
        )


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]))
