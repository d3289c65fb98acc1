"""The public topics page: files in the web root `<out>/web/topics/<session>/`, written
atomically and only when they change, and the check that the page is live."""

from __future__ import annotations

import errno
import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from config.settings import Settings
from tasks.adapters.topics import write_atomically
from tasks.errors import PublishError, TransientError

__all__ = [
    "PAGE_FILES",
    "PageTransientError",
    "PageWrite",
    "confirm_live",
    "page_dir",
    "page_url",
    "write_page",
]

# Written in this order: the page links to the JSON, so the JSON is there first.
PAGE_FILES = ("topics.json", "index.html")
# Errors of a network share or a busy disk that pass: retried. Others need an operator.
_TRANSIENT_ERRNOS = frozenset(
    {errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE, errno.EINTR, errno.ECONNRESET}
)
_HTTP_TIMEOUT_S = 10.0


class PageTransientError(PublishError, TransientError):
    """Writing or reading the page failed in a way that may pass (retried)."""


@dataclass(frozen=True, slots=True)
class PageWrite:
    published_at: datetime  # when the page first went out (kept across re-runs)
    sha256: dict[str, str]  # file name -> SHA-256 of its bytes
    written: bool  # False: the identical page was already there


def page_dir(settings: Settings, session_id: str) -> Path:
    return settings.out_dir / "web" / "topics" / session_id


def _stamp_path(settings: Settings, plan_id: str, session_id: str) -> Path:
    """When the page went out: kept outside the web root, so the page bytes stay the same."""
    return settings.out_dir / "topics" / "published" / plan_id / f"{session_id}.json"


def page_url(settings: Settings, session_id: str) -> str | None:
    if not settings.topics_public_url:
        return None
    return f"{settings.topics_public_url.rstrip('/')}/{session_id}/"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _translate(exc: OSError, what: str) -> PublishError:
    error = PageTransientError if exc.errno in _TRANSIENT_ERRNOS else PublishError
    return error(f"cannot write {what}: {exc.strerror or exc}")


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def write_page(
    settings: Settings, plan_id: str, session_id: str, files: dict[str, bytes], now: datetime
) -> PageWrite:
    """Write the page files that differ (temp file, then rename); an identical page is left
    alone, and its first publication instant is kept."""
    folder = page_dir(settings, session_id)
    digests = {name: _digest(data) for name, data in files.items()}
    stamp = _stamp_path(settings, plan_id, session_id)
    changed = [name for name in PAGE_FILES if not _same(folder / name, files[name])]
    if not changed and stamp.exists():
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        if recorded.get("sha256") == digests:
            return PageWrite(datetime.fromisoformat(recorded["published_at"]), digests, False)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in changed:
            write_atomically(folder / name, files[name])
        stamp.parent.mkdir(parents=True, exist_ok=True)
        record = {"plan": plan_id, "published_at": now.isoformat(), "sha256": digests}
        write_atomically(stamp, json.dumps(record, indent=1).encode("utf-8"))
    except OSError as exc:
        raise _translate(exc, str(folder)) from exc
    return PageWrite(now, digests, bool(changed))


def _fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "rcoi-publish"})
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        # Not yet there (404 while a mirror catches up), throttled or a server error: retry.
        if exc.code in (404, 408, 429) or exc.code >= 500:
            raise PageTransientError(f"GET {url}: HTTP {exc.code}") from exc
        raise PublishError(f"GET {url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise PageTransientError(f"GET {url}: {exc}") from exc


def confirm_live(settings: Settings, session_id: str, expected: dict[str, str]) -> dict[str, bool]:
    """Read every file back (and GET it when a public URL is set): its SHA-256 must match."""
    folder = page_dir(settings, session_id)
    checked: dict[str, bool] = {}
    for name, digest in expected.items():
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            raise _translate(exc, str(folder / name)) from exc
        if _digest(data) != digest:
            raise PublishError(f"{folder / name} is not the page just written (SHA-256 differs)")
        checked[f"file:{name}"] = True
    base = page_url(settings, session_id)
    if base is not None:
        for name, digest in expected.items():
            url = base + ("" if name == "index.html" else name)
            if _digest(_fetch(url)) != digest:
                # A cache may serve an older copy for a moment: worth another look.
                raise PageTransientError(f"GET {url}: the content differs from the page written")
            checked[f"http:{name}"] = True
    return checked
