"""Run one job per school on a process pool, largest first, reporting each as it finishes.

Shared by the stages whose work is CPU-bound Python per school (print, the exam-day
simulator, the scan, copies, the federal package). forkserver: the pool's processes do not
inherit Prefect's threads and event loop.

Each worker ends when the process that runs the pool ends, even killed with SIGKILL: a thread
of the worker waits on that process (a pidfd) and exits the worker at once. Nothing else would
end it: a worker holds both ends of its own job queue and the forkserver's «alive» pipe, so
neither it nor the forkserver ever sees the owner go; PR_SET_PDEATHSIG would only follow the
forkserver, which outlives the owner for the same reason.
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


def end_with_owner(owner: int) -> None:
    """In a pool worker (its initializer): exit the moment `owner` ends, or now if it has."""
    try:
        handle: int | None = os.pidfd_open(owner)  # Linux 5.3+: readable once it ends
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # another system, or no pidfd: look every second
        handle = None
    threading.Thread(target=_exit_after, args=(owner, handle), daemon=True).start()


def _exit_after(owner: int, handle: int | None) -> None:
    if handle is not None:
        select.select([handle], [], [])
    else:
        while _exists(owner):
            time.sleep(1.0)
    os._exit(1)  # the owner is gone: nobody wants this worker's result


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        initargs=(os.getpid(),),
    ) as pool:
        for result in pool.map(work, ordered, chunksize=1):
            done.append(result)
            if progress:
                progress(result)
    return done
