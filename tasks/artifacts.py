"""Prefect artifacts for the coordinator: one key per artifact, plan and session, so that one
region's run never replaces another's «latest» artifact; tables of Russian text only (the
wording is `tasks.domain.artifacts`). Codes and counts only: never a name, a document or a
СНИЛС."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.domain.artifacts import (
    EMPTY,
    STATUS_RU,
    local_time_text,
    markdown_table,
    status_ru,
    summary_rows,
    value_text,
)

__all__ = [
    "EMPTY",
    "KEY_MAX_LENGTH",
    "NO_PLAN",
    "STATUS_RU",
    "artifact_key",
    "local_time_text",
    "markdown_artifact",
    "markdown_table",
    "status_ru",
    "summary_rows",
    "table_artifact",
    "value_text",
]

# Prefect accepts lowercase letters, digits and dashes only (prefect.types.names.ArtifactKey,
# checked by the client and the server); it sets no length limit, the UI shows ~60 characters.
_VALID = re.compile(r"^[a-z0-9-]+$")
_OTHER = re.compile(r"[^a-z0-9]+")
KEY_MAX_LENGTH = 80
NO_PLAN = "no-plan"  # a run outside any plan (a scan of any folder)
ALL_SESSIONS = "all"


def _slug(part: str) -> str:
    """`part` in key letters; a part with other letters (Cyrillic, say) keeps a short digest
    of the original, so that two such parts never meet in one key."""
    slug = _OTHER.sub("-", part.lower()).strip("-")
    if not part.isascii() or not slug:
        slug = f"{slug}-{hashlib.sha256(part.encode()).hexdigest()[:8]}".strip("-")
    return slug


def artifact_key(name: str, plan_id: str, session: str | None) -> str:
    """'scan-summary-kemerovo-2017-essay-2017-12-06': the artifact's name, the plan and the
    session (None: every session, '…-all'). A key longer than KEY_MAX_LENGTH is cut and ends
    with a digest of the whole, so that it stays unique."""
    if not _VALID.match(name):
        raise ValueError(f"artifact name {name!r}: lowercase letters, digits and dashes only")
    key = "-".join((name, _slug(plan_id), _slug(session) if session else ALL_SESSIONS))
    if len(key) > KEY_MAX_LENGTH:
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        key = f"{key[: KEY_MAX_LENGTH - len(digest) - 1].rstrip('-')}-{digest}"
    return key


def table_artifact(
    name: str,
    plan_id: str,
    session: str | None,
    rows: Sequence[Mapping[str, Any]],
    description: str,
    zone: str | None = None,
) -> None:
    """A table artifact under the plan's and session's key; every cell becomes text (numbers,
    statuses in Russian, instants in `zone`), so that no cell shows JSON."""
    table = [{header: _text(value, zone) for header, value in row.items()} for row in rows]
    create_table_artifact(
        key=artifact_key(name, plan_id, session), table=table, description=description
    )


def markdown_artifact(
    name: str, plan_id: str, session: str | None, markdown: str, description: str
) -> None:
    """A markdown artifact under the plan's and session's key."""
    create_markdown_artifact(
        key=artifact_key(name, plan_id, session), markdown=markdown, description=description
    )


def _text(value: Any, zone: str | None) -> str | int | float:
    """Numbers stay numbers (the UI sorts them), text stays as written, the rest is worded."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value
    return value_text(value, zone)
