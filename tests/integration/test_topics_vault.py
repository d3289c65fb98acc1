"""The topics vault and the topics page on a real file system (and a real HTTP server on
loopback): sealed until the instant, unreadable without the right key, nothing public early."""

from __future__ import annotations

import base64
import functools
import http.server
import json
import logging
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from config import TOPICS_DIR
from config.settings import Settings
from tasks.adapters.topics import key_path, load_topics, open_topics, sealed_path
from tasks.adapters.topics_page import (
    PageTransientError,
    confirm_live,
    page_dir,
    write_page,
)
from tasks.errors import DataError, PublishError, VaultError

pytestmark = pytest.mark.integration

PLAN = "kemerovo-2017-essay"
SESSION = "2017-12-06"
NOW = datetime(2017, 12, 6, 2, 45, tzinfo=UTC)


def _titles() -> list[str]:
    document = yaml.safe_load((TOPICS_DIR / f"{SESSION}.yaml").read_text(encoding="utf-8"))
    return [t["title"] for d in document["directions"] for t in d["topics"]] + [
        d["title"] for d in document["directions"]
    ]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _key() -> str:
    return base64.urlsafe_b64encode(bytes(range(32))).decode()


def test_loaded_topics_are_sealed_outside_the_web_root_and_nothing_is_public(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(out_dir=tmp_path)
    with caplog.at_level(logging.INFO):
        result = load_topics(settings, PLAN, SESSION, "ИС-11")
    assert (result.status, result.topics, result.directions) == ("stored", 7, 5)
    sealed = sealed_path(settings, PLAN, SESSION)
    assert result.path == sealed
    assert sealed.is_relative_to(tmp_path / "topics" / "vault")
    data = sealed.read_bytes()
    for title in _titles():  # no topic, no direction in the clear
        assert title.encode("utf-8") not in data
        assert title.encode("unicode_escape") not in data
    assert not (tmp_path / "web").exists()
    assert _mode(sealed) == 0o600
    assert _mode(sealed.parent) == 0o700
    # the demo key: generated once, 0600, said so in the log, never written there
    key = key_path(settings)
    assert result.key.generated
    assert _mode(key) == 0o600
    assert _mode(key.parent) == 0o700
    assert "generated a topics key" in caplog.text
    assert key.read_text().strip() not in caplog.text
    assert key.read_text().strip() not in repr(result.key)
    assert open_topics(settings, PLAN, SESSION).count == 7


def test_loading_again_is_idempotent_and_a_changed_file_replaces_the_topics(
    tmp_path: Path,
) -> None:
    settings = Settings(out_dir=tmp_path)
    load_topics(settings, PLAN, SESSION)
    sealed = sealed_path(settings, PLAN, SESSION)
    before = sealed.read_bytes()
    again = load_topics(settings, PLAN, SESSION)
    assert again.status == "unchanged"
    assert not again.key.generated
    assert sealed.read_bytes() == before
    changed = tmp_path / "topics.yaml"
    document = yaml.safe_load((TOPICS_DIR / f"{SESSION}.yaml").read_text(encoding="utf-8"))
    document["directions"][0]["topics"][0]["title"] = "Другая тема"
    changed.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert load_topics(settings, PLAN, SESSION, source=changed).status == "replaced"
    assert open_topics(settings, PLAN, SESSION).directions[0].topics[0].title == "Другая тема"


def test_without_the_key_the_topics_cannot_be_read(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path)
    load_topics(settings, PLAN, SESSION)
    key_path(settings).unlink()
    with pytest.raises(VaultError, match="no topics key"):
        open_topics(settings, PLAN, SESSION)
    assert not key_path(settings).exists()  # opening never invents a key


def test_a_wrong_key_gives_a_clear_error(tmp_path: Path) -> None:
    load_topics(Settings(out_dir=tmp_path), PLAN, SESSION)
    other = Settings(out_dir=tmp_path, topics_key=SecretStr(_key()))
    with pytest.raises(VaultError, match=r"wrong topics key: .* sealed with key [0-9a-f]{16}"):
        open_topics(other, PLAN, SESSION)
    with pytest.raises(VaultError, match="wrong topics key"):
        load_topics(other, PLAN, SESSION)  # never reseals over topics it cannot read


def test_a_damaged_or_moved_file_does_not_open(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path, topics_key=SecretStr(_key()))
    load_topics(settings, PLAN, SESSION)
    sealed = sealed_path(settings, PLAN, SESSION)
    envelope = json.loads(sealed.read_bytes())
    good = envelope["ciphertext"]
    raw = bytearray(base64.b64decode(good))
    raw[5] ^= 1
    envelope["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    sealed.write_text(json.dumps(envelope))
    with pytest.raises(VaultError, match="damaged or was altered"):
        open_topics(settings, PLAN, SESSION)
    envelope["ciphertext"] = good
    envelope["session"] = "2018-02-07"  # relabelled for another session
    moved = sealed_path(settings, PLAN, "2018-02-07")
    moved.write_text(json.dumps(envelope))
    with pytest.raises(VaultError, match="damaged or was altered"):
        open_topics(settings, PLAN, "2018-02-07")
    sealed.write_text("not json")
    with pytest.raises(VaultError, match="not a sealed topics file"):
        open_topics(settings, PLAN, SESSION)


def test_a_key_from_the_environment_is_used_and_no_key_file_is_written(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path, topics_key=SecretStr(_key()))
    result = load_topics(settings, PLAN, SESSION)
    assert result.key.source == "env"
    assert not key_path(settings).exists()
    assert open_topics(settings, PLAN, SESSION).session == SESSION


def test_a_malformed_key_fails_at_start_up_without_echoing_it() -> None:
    with pytest.raises(ValidationError, match="32 bytes") as caught:
        Settings(topics_key=SecretStr("short-secret-value"))
    assert "short-secret-value" not in str(caught.value)


def test_missing_topics_say_how_to_load_them(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path, topics_key=SecretStr(_key()))
    with pytest.raises(VaultError, match="rcoi topics load --plan"):
        open_topics(settings, PLAN, SESSION)
    with pytest.raises(DataError, match="нет файла тем"):
        load_topics(settings, PLAN, "2019-12-04")


# --- the page ----------------------------------------------------------------------------------

FILES = {"topics.json": b'{"x": 1}\n', "index.html": "<!DOCTYPE html>\n<p>Темы</p>\n".encode()}


def test_the_page_is_written_once_and_an_identical_rewrite_touches_nothing(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path)
    first = write_page(settings, PLAN, SESSION, FILES, NOW)
    folder = page_dir(settings, SESSION)
    assert first.written
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "topics.json"]  # no temp
    stamps = {name: (folder / name).stat().st_mtime_ns for name in FILES}
    later = datetime(2017, 12, 6, 3, 0, tzinfo=UTC)
    second = write_page(settings, PLAN, SESSION, FILES, later)
    assert not second.written
    assert second.published_at == NOW  # the first publication instant is kept
    assert {name: (folder / name).stat().st_mtime_ns for name in FILES} == stamps
    assert confirm_live(settings, SESSION, first.sha256) == {
        "file:topics.json": True,
        "file:index.html": True,
    }
    (folder / "index.html").write_text("подменено")
    with pytest.raises(PublishError, match="SHA-256 differs"):
        confirm_live(settings, SESSION, first.sha256)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on loopback serving <out>/web/topics/ as the public site."""
    root = tmp_path / "web" / "topics"
    root.mkdir(parents=True)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_page_is_confirmed_live_over_http(tmp_path: Path, web_server: str) -> None:
    settings = Settings(out_dir=tmp_path, topics_public_url=web_server)
    page = write_page(settings, PLAN, SESSION, FILES, NOW)
    assert confirm_live(settings, SESSION, page.sha256) == {
        "file:topics.json": True,
        "file:index.html": True,
        "http:topics.json": True,
        "http:index.html": True,
    }
    missing = Settings(out_dir=tmp_path, topics_public_url=web_server + "nowhere/")
    with pytest.raises(PageTransientError, match="HTTP 404"):  # a mirror not caught up: retried
        confirm_live(missing, SESSION, page.sha256)
