"""A Prefect progress artifact that counts finished units of work (schools, batches)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

__all__ = ["progress_counter"]


def progress_counter(key: str, description: str, total: int) -> Callable[[Any], None]:
    """Create the artifact at 0 % and return a callback that adds one finished unit."""
    artifact = create_progress_artifact(0.0, key=key, description=description)
    assert isinstance(artifact, UUID)  # called from a task, which runs synchronously
    finished = 0

    def advance(_: Any) -> None:
        nonlocal finished
        finished += 1
        update_progress_artifact(artifact, 100.0 * finished / max(total, 1))

    return advance
