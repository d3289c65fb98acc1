"""A folder of scans recognised in chunks of files, each file's result cached by its content hash.

The unit of parallel work is a chunk: a few files (about `CHUNK_BYTES` of them). A worker
(a process of the local pool, or a Dask worker) opens each file, reads every page with
`read_page`, and writes the file's result to `<cache>/<sha256>.v<CACHE_VERSION>.pkl` before
going on, so a run killed half-way resumes with the files not yet done, and a re-run
recognises nothing again. Engines (Tesseract, the classifier) are made once per process.
"""

from __future__ import annotations

import math
import os
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.adapters.scan_files import count_frames, file_digest, list_scan_files, read_frames
from tasks.adapters.school_pool import run_per_school
from tasks.domain.page_reading import DigitCells, PageContext, read_page, rejected

__all__ = [
    "CACHE_VERSION",
    "Chunk",
    "FileRead",
    "ScanJob",
    "chunks_of",
    "plan_jobs",
    "recognise_chunk",
    "recognise_local",
    "save_quarantine",
]

CACHE_VERSION = 12  # bump when recognition or what a cached page holds changes
CHUNK_BYTES = 12 << 20


@dataclass(frozen=True, slots=True)
class ScanJob:
    path: Path
    rel: str  # path under the scanned folder, as records name it
    digest: str  # SHA-256 of the file
    size: int


@dataclass(frozen=True, slots=True)
class Chunk:
    jobs: tuple[ScanJob, ...]
    cache: Path
    topics: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return sum(j.size for j in self.jobs)


@dataclass(slots=True)
class FileRead:
    rel: str
    digest: str
    pages: list[tuple[dict[str, Any], dict[str, DigitCells]]] = field(default_factory=list)
    frames: int = 0  # pages the file holds, counted apart from decoding (for the contract)
    seconds: float = 0.0  # recognition time (0 when taken from the cache)
    cached: bool = False


def plan_jobs(folder: Path) -> list[ScanJob]:
    jobs = []
    for path in list_scan_files(folder):
        jobs.append(
            ScanJob(
                path, path.relative_to(folder).as_posix(), file_digest(path), path.stat().st_size
            )
        )
    return jobs


def chunks_of(
    jobs: Sequence[ScanJob], cache: Path, workers: int, topics: tuple[str, ...] = ()
) -> list[Chunk]:
    """Files dealt into chunks of about `CHUNK_BYTES`, at least four per worker, largest
    files first so that chunks come out even."""
    if not jobs:
        return []
    total = sum(j.size for j in jobs)
    count = min(len(jobs), max(workers * 4, math.ceil(total / CHUNK_BYTES)))
    bins: list[list[ScanJob]] = [[] for _ in range(count)]
    loads = [0] * count
    for job in sorted(jobs, key=lambda j: (-j.size, j.rel)):
        target = loads.index(min(loads))
        bins[target].append(job)
        loads[target] += job.size
    return [Chunk(tuple(sorted(b, key=lambda j: j.rel)), cache, topics) for b in bins if b]


_ENGINES: Any = None
_MODEL: Any = None


def _engines() -> tuple[Any, Any]:
    global _ENGINES, _MODEL
    if _ENGINES is None:
        from tasks.adapters.digits import font_model
        from tasks.adapters.recognition_engines import Engines

        cv2.setNumThreads(1)
        _MODEL = font_model()
        _ENGINES = Engines(font=_MODEL)
    return _ENGINES, _MODEL


def _cache_path(cache: Path, digest: str) -> Path:
    return cache / f"{digest}.v{CACHE_VERSION}.pkl"


def recognise_file(job: ScanJob, cache: Path, context: PageContext) -> FileRead:
    path = _cache_path(cache, job.digest)
    if path.exists():
        try:
            with path.open("rb") as stream:
                done: FileRead = pickle.load(stream)
            done.rel, done.cached, done.seconds = job.rel, True, 0.0
            # The entry is keyed by content, so it may have been written for a byte-identical
            # copy or for this file under its former name: its pages take this file's name.
            for record, _ in done.pages:
                record["source_file"] = job.rel
            return done
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass  # a damaged cache entry is recognised again
    engines, model = _engines()
    started = time.perf_counter()
    result = FileRead(job.rel, job.digest)
    for frame in read_frames(job.path):
        source = {
            "source_file": job.rel,
            "frame": frame.index,
            "file_sha256": job.digest,
            "page_id": f"{job.digest[:16]}-{frame.index}",
        }
        if frame.error:
            source["read_error"] = frame.error
        try:
            result.pages.append(read_page(frame.image, engines, model, context, source))
        except Exception as exc:
            result.pages.append(
                (rejected({**source, "error": type(exc).__name__}, "unreadable_file"), {})
            )
    # Pages the decoder could not even list (a damaged multi-page file) still get a record each.
    result.frames = count_frames(job.path)
    for index in range(len(result.pages), result.frames):
        source = {
            "source_file": job.rel,
            "frame": index,
            "file_sha256": job.digest,
            "page_id": f"{job.digest[:16]}-{index}",
        }
        result.pages.append((rejected(source, "unreadable_file"), {}))
    result.seconds = time.perf_counter() - started
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with partial.open("wb") as stream:
        pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)
    return result


def recognise_chunk(chunk: Chunk) -> list[FileRead]:
    """Every file of the chunk (module-level: pickled to worker processes and Dask)."""
    context = PageContext(chunk.topics)
    return [recognise_file(job, chunk.cache, context) for job in chunk.jobs]


def recognise_local(
    chunks: Sequence[Chunk], workers: int, progress: Callable[[Any], None] | None = None
) -> list[FileRead]:
    """The chunks on a local process pool of `workers` (in this process when 1)."""
    done = run_per_school(recognise_chunk, chunks, lambda c: c.size, workers, progress)
    return [f for files in done for f in files]


def save_quarantine(folder: Path, job_path: Path, frame: int, name: str) -> Path | None:
    """The frame's image as a lossless PNG in the quarantine folder (once). The PNG holds that
    page alone: frame N of a multi-page file is the copy's only image (its readers, such as
    the verification crops, take it whatever the record's frame says)."""
    target = folder / f"{name}.png"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    for item in read_frames(job_path):
        if item.index != frame or item.image is None:
            continue
        ok, data = cv2.imencode(".png", np.ascontiguousarray(item.image))
        if ok:
            partial = target.with_suffix(".tmp")
            partial.write_bytes(data.tobytes())
            os.replace(partial, target)
            return target
    # Nothing decodable at that frame (a damaged or truncated file): keep the file's bytes.
    raw = folder / f"{name}{job_path.suffix.lower()}"
    if not raw.exists():
        try:
            raw.write_bytes(job_path.read_bytes())
        except OSError:
            return None
    return raw
