"""Run one job per school on a process pool, largest first, reporting each as it finishes.

Shared by the stages whose work is CPU-bound Python per school (print, the exam-day
simulator). forkserver: the pool's processes do not inherit Prefect's threads and event loop.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

__all__ = ["run_per_school"]

Job = TypeVar("Job")
Done = TypeVar("Done")


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
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for result in pool.map(work, ordered, chunksize=1):
            done.append(result)
            if progress:
                progress(result)
    return done
