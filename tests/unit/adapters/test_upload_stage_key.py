"""A run that lost its stage key sends nothing more: the upload checks the key before each file
and before the manifest, also in the SFTP transport's worker threads (no database, no sshd:
the lease's own deadline decides here)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tasks.adapters import stage_locks
from tasks.adapters.sftp import (
    LocalDropTransport,
    PackageFile,
    SftpTarget,
    SftpTransport,
    package_file,
)
from tasks.adapters.stage_locks import StageKeyLost, StageLease, current_lease

PACKAGE = "42_2017-12-06_3f9c2a1b"


class _Clock:
    """A monotonic clock that stays within the lease for `ticks` readings, then jumps past."""

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks

    def __call__(self) -> float:
        self.ticks -= 1
        return 0.0 if self.ticks >= 0 else 10_000.0


def _unused() -> Session:
    raise AssertionError("no database in these tests")


@pytest.fixture
def under_lease() -> Iterator[Any]:
    """Run the test's code under a lease (as `with StageLease(...)` sets it) whose deadline
    passes after a given number of checks."""
    tokens = []

    def enter(checks: int) -> StageLease:
        lease = StageLease(
            cast("sessionmaker[Session]", _unused),
            1,
            "upload",
            "run-1",
            timedelta(minutes=5),
            _Clock(checks),
        )
        lease.deadline = 300.0
        tokens.append(stage_locks._current.set(lease))
        return lease

    yield enter
    for token in reversed(tokens):
        stage_locks._current.reset(token)


def _package(root: Path, names: list[str]) -> tuple[Path, list[PackageFile]]:
    package_dir = root / "packages" / PACKAGE
    package_dir.mkdir(parents=True)
    for name in names:
        (package_dir / name).write_bytes(name.encode() * 100)
    files = [package_file(package_dir, name) for name in sorted(names)]
    listing = [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files]
    (package_dir / "manifest.json").write_text(json.dumps({"files": listing}), encoding="utf-8")
    return package_dir, files


def test_a_lost_key_stops_the_local_drop_before_the_next_file_and_the_manifest(
    tmp_path: Path, under_lease: Any
) -> None:
    package_dir, files = _package(tmp_path, ["a.csv", "b.csv", "c.csv"])
    under_lease(1)  # the key is held for the first file only
    with pytest.raises(StageKeyLost, match="ключ этапа upload потерян"):
        LocalDropTransport(tmp_path / "federal").send(package_dir, files)
    arrived = tmp_path / "federal" / "incoming" / PACKAGE
    assert sorted(p.name for p in arrived.iterdir()) == ["a.csv"]  # no b, c, no manifest


def test_a_held_key_lets_every_file_and_the_manifest_go(tmp_path: Path, under_lease: Any) -> None:
    package_dir, files = _package(tmp_path, ["a.csv", "b.csv"])
    under_lease(100)
    report = LocalDropTransport(tmp_path / "federal").send(package_dir, files)
    assert set(report.sent) == {"a.csv", "b.csv", "manifest.json"}


def test_the_sftp_workers_see_the_runs_stage_key(
    tmp_path: Path, under_lease: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lease = under_lease(100)
    seen: list[tuple[StageLease | None, str]] = []

    def drain(self: SftpTransport, package: str, pending: queue.SimpleQueue[Any], *_: Any) -> Any:
        seen.append((current_lease(), threading.current_thread().name))
        done: list[tuple[Any, str]] = []
        while True:
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return done
            done.append((item, "sent"))

    monkeypatch.setattr(SftpTransport, "_drain", drain)
    target = SftpTarget("h", 22, "u", tmp_path / "k", None, tmp_path / "kh", "in", "ret", 2, 5.0)
    items = [cast(Any, type("I", (), {"dest": f"in/{n}"})()) for n in range(4)]
    SftpTransport(target)._send_files(PACKAGE, items, [])
    assert len(seen) == 2
    assert all(found is lease and name.startswith("sftp-upload") for found, name in seen)
