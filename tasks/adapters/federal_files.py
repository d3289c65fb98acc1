"""The federal package on disk (docs/federal-package.md): results and pages CSV, every work's
pages as one multi-page black-and-white TIFF (CCITT Group 4, tasks/adapters/g4.py), and the
manifest, written last.

Every file is written under a temporary name and renamed, so a stage killed half-way leaves
only complete files; a re-run keeps the images already written (the package's name follows
its content) and writes what is missing."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.adapters.g4 import bilevel, g4_bytes, write_g4
from tasks.adapters.scan_files import file_digest, read_frames
from tasks.adapters.school_pool import run_per_school
from tasks.domain.federal_package import (
    MANIFEST,
    PackageInfo,
    PackageWork,
    image_path,
    manifest_bytes,
    package_name,
    pages_csv,
    results_csv,
    sha256_hex,
)
from tasks.errors import ContractError

__all__ = ["BuiltPackage", "ImageJob", "g4_tiff", "verify_manifest", "write_package"]


@dataclass(frozen=True, slots=True)
class BuiltPackage:
    name: str
    directory: Path
    files: Mapping[str, tuple[int, str]]  # every file but the manifest: path -> (size, sha256)
    manifest_sha256: str
    size: int  # all files, the manifest included


@dataclass(frozen=True, slots=True)
class ImageJob:
    """One school's TIFFs: target path and its pages' (source file, frame, page id), in order."""

    school: str
    images: tuple[tuple[str, tuple[tuple[str, int, str], ...]], ...]


def g4_tiff(pages: Sequence[np.ndarray]) -> bytes:
    """Grey pages as one multi-page TIFF, CCITT Group 4, each with its resolution."""
    return g4_bytes([bilevel(page) for page in pages])


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _frames_of(path: Path, frames: set[int]) -> dict[int, np.ndarray | None]:
    """The wanted frames of one scan file at full resolution, the file decoded once."""
    out: dict[int, np.ndarray | None] = dict.fromkeys(frames)
    if frames == {0} and path.suffix.lower() in (".jpg", ".jpeg", ".png"):
        return {0: cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)}
    for found in read_frames(path):
        if found.index in frames:
            out[found.index] = found.image
        if found.index >= max(frames):
            break
    return out


def _write_school(job: tuple[Path, ImageJob]) -> list[str]:
    """One school's TIFFs (those not written yet); returns the page ids it could not read
    (a work with one is not written, so a re-run tries it again)."""
    directory, images = job
    wanted: dict[str, set[int]] = {}
    for _, pages in images.images:
        for source, frame, _ in pages:
            wanted.setdefault(source, set()).add(frame)
    decoded = {
        (source, frame): image
        for source, frames in wanted.items()
        for frame, image in _frames_of(Path(source), frames).items()
    }
    unreadable = []
    for target, pages in images.images:
        readable = []
        for source, frame, page_id in pages:
            image = decoded.get((source, frame))
            if image is None:
                unreadable.append(page_id)
            else:
                readable.append(image)
        if len(readable) == len(pages):
            write_g4(directory / target, [bilevel(image) for image in readable])
    return unreadable


def write_package(
    root: Path,
    info: PackageInfo,
    works: Sequence[PackageWork],
    workers: int,
    progress: Callable[[int], Callable[[Any], None]] | None = None,
) -> BuiltPackage:
    """The package under `root/<name>/`: CSVs, the TIFFs not yet there (one school per process
    on `workers` processes), stale files removed, then the manifest. `progress(schools)`
    gives the callback called as each school's images are written (in this process)."""
    results = results_csv(info, works)
    pages = pages_csv(works)
    name = package_name(info, results, pages)
    directory = root / name
    _write_atomically(directory / "results.csv", results)
    _write_atomically(directory / "pages.csv", pages)
    expected = {"results.csv", "pages.csv"}
    by_school: dict[str, list[tuple[str, tuple[tuple[str, int, str], ...]]]] = {}
    for work in works:
        if not work.pages:
            continue
        target = image_path(work)
        expected.add(target)
        if (directory / target).is_file():
            continue
        sources = tuple((p.source_file, p.frame, p.page_id) for p in work.ordered_pages())
        by_school.setdefault(work.school_code, []).append((target, sources))
    jobs = [(directory, ImageJob(school, tuple(items))) for school, items in by_school.items()]
    unreadable = sorted(
        page
        for school in run_per_school(
            _write_school,
            jobs,
            lambda job: sum(len(p) for _, p in job[1].images),
            workers,
            progress(len(jobs)) if progress else None,
        )
        for page in school
    )
    if unreadable:  # recognised at the scan, unreadable now: the file changed or was lost
        raise ContractError(
            f"federal package {name}: {len(unreadable)} page image(s) cannot be read any "
            f"more, first {unreadable[0]}; the package is not complete"
        )
    for path in sorted(directory.rglob("*")):  # leftovers of an earlier, different run
        if path.is_file() and path.relative_to(directory).as_posix() not in expected | {MANIFEST}:
            path.unlink()
    files = {
        rel: ((directory / rel).stat().st_size, file_digest(directory / rel))
        for rel in sorted(expected)
        if (directory / rel).is_file()
    }
    manifest = manifest_bytes(info, name, works, files)
    _write_atomically(directory / MANIFEST, manifest)
    return BuiltPackage(
        name=name,
        directory=directory,
        files=files,
        manifest_sha256=sha256_hex(manifest),
        size=sum(size for size, _ in files.values()) + len(manifest),
    )


def verify_manifest(directory: Path) -> Mapping[str, tuple[int, str]]:
    """Every file the manifest lists is there with its size and SHA-256, and nothing else is:
    the last check before sending (a file changed or lost since it was written)."""
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    listed = {f["path"]: (int(f["size"]), str(f["sha256"])) for f in manifest["files"]}
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    problems = sorted(present - set(listed)) + [
        path
        for path, (size, digest) in sorted(listed.items())
        if not (directory / path).is_file()
        or (directory / path).stat().st_size != size
        or file_digest(directory / path) != digest
    ]
    if problems:
        raise ContractError(
            f"federal package {directory.name}: {len(problems)} file(s) differ from the "
            f"manifest, first {problems[0]}"
        )
    return listed
