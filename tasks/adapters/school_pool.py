"""Run one job per school on a process pool, largest first, reporting each as it finishes.

Shared by the stages whose work is CPU-bound Python per school (print, the exam-day
simulator, the scan, copies, the federal package). forkserver: the pool's processes do not
inherit Prefect's threads and event loop.

Each worker ends when the process that runs the pool ends, even killed with SIGKILL: a thread
of the worker waits on that process (a pidfd) and exits the worker at once. Nothing else would
end it: a worker holds both ends of its own job queue and the forkserver's «alive» pipe, so
neither it nor the forkserver ever sees the owner go; PR_SET_PDEATHSIG would only follow the
forkserver, which outlives the owner for the same reason. Without a pidfd the worker looks
every second, comparing the owner's start time so that a zombie or a new process under the
same pid does not keep it alive.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

__all__ = ["end_with_owner", "run_per_school"]

Job = TypeVar("Job")
Done = TypeVar("Done")


def end_with_owner(owner: int, owner_start: int | None = None) -> None:
    """In a pool worker (its initializer): exit the moment `owner` ends, or now if it has.
    `owner_start` (its start time in /proc) tells the owner from a new process that reuses its
    pid."""
    if not _alive(owner, owner_start):
        os._exit(1)
    try:
        handle: int | None = os.pidfd_open(owner)  # Linux 5.3+: readable once it ends
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # another system, or no pidfd: look every second
        handle = None
    if handle is not None and not _alive(owner, owner_start):  # the pid went to another
        os._exit(1)
    threading.Thread(target=_exit_after, args=(owner, owner_start, handle), daemon=True).start()


def _exit_after(owner: int, owner_start: int | None, handle: int | None) -> None:
    if handle is not None:
        # poll, not select: select fails on a descriptor number of 1024 or more
        waiter = select.poll()
        waiter.register(handle, select.POLLIN)
        while not waiter.poll():
            pass
    else:
        while _alive(owner, owner_start):
            time.sleep(1.0)
    os._exit(1)  # the owner is gone: nobody wants this worker's result


def _start_time(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks, state) of a process from /proc; None without /proc or when
    it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            data = stream.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()  # the name may hold spaces and brackets
    return int(fields[19]), fields[0].decode()


def _alive(pid: int, start: int | None) -> bool:
    """The owner still runs: not gone, not a zombie, not a new process under its pid."""
    if start is not None:
        stat = _start_time(pid)
        if stat is not None:
            return stat[0] == start and stat[1] not in ("Z", "X")
        if os.path.isdir("/proc"):
            return False  # /proc is there but the process is not
    return _exists(pid)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _own_start() -> int | None:
    stat = _start_time(os.getpid())
    return stat[0] if stat is not None else None


def run_per_school(
    work: Callable[[Job], Done],
    jobs: Sequence[Job],
    size: Callable[[Job], int],
    workers: int,
    progress: Callable[[Done], None] | None = None,
) -> list[Done]:
    """`work` over `jobs` on `workers` processes (1, or a single job: in this process), the
    largest (by `size`) first so that the last to finish is a small one. Results come back in
    the order they finished; `work` must be a module-level function (it is pickled)."""
    ordered = sorted(jobs, key=lambda job: -size(job))
    done: list[Done] = []
    if workers <= 1 or len(jobs) <= 1:
        for job in ordered:
            done.append(work(job))
            if progress:
                progress(done[-1])
        return done
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=end_with_owner,
        initargs=(os.getpid(), _own_start()),
    ) as pool:
        for result in pool.map(work, ordered, chunksize=1):
            done.append(result)
            if progress:
                progress(result)
    return done
