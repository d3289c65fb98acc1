"""When a Prefect task is worth retrying: a failure that may pass (mail server, network,
database lock). Bugs and bad data are not retried: they fail the same way again."""

from __future__ import annotations

from typing import Any

from tasks.adapters.mail import is_transient
from tasks.errors import TransientError

__all__ = ["transient_failure"]


def transient_failure(task: Any, task_run: Any, state: Any) -> bool:
    """A `retry_condition_fn`: retry only transient failures."""
    try:
        state.result()
    except Exception as exc:
        return (
            is_transient(exc) or isinstance(exc, TransientError) or "database is locked" in str(exc)
        )
    return False
