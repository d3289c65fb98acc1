"""`rcoi topics load` and `rcoi run publish` as an operator runs them, on a fresh folder with
no generated region: refused before 09:45 local, published at 09:45, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import rcoi


def test_topics_load_seals_them_and_says_so_in_russian(tmp_path: Path) -> None:
    args = ("topics", "load", "--plan", "kemerovo-2017-essay", "--session", "2017-12-06")
    first = rcoi(*args, "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "Темы срока 2017-12-06 (7, направлений 5) загружены" in first.stdout
    assert "Создан ключ хранилища тем" in first.stderr
    key = (tmp_path / "secrets" / "topics.key").read_text().strip()
    assert key not in first.stdout + first.stderr
    again = rcoi(*args, "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "уже загружены" in again.stdout
    assert "Создан ключ" not in again.stderr
    wrong = rcoi(*args, "--file", str(tmp_path / "missing.yaml"), "--out", str(tmp_path))
    assert wrong.returncode == 2
    assert "нет файла тем" in wrong.stderr


def test_a_naive_instant_or_an_unknown_session_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    result = rcoi("run", "publish", "--now", "2017-12-06T09:45", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "часовой пояс" in result.stderr
    unknown = rcoi("run", "publish", "--session", "2019-12-04", "--out", str(tmp_path))
    assert unknown.returncode == 2
    assert "нет срока 2019-12-04" in unknown.stderr
    assert not (tmp_path / "outbox").exists()  # an operator's typo alerts nobody


@pytest.mark.slow
def test_run_publish_refuses_before_0945_local_and_publishes_at_0945(tmp_path: Path) -> None:
    out = str(tmp_path)
    session = ("--plan", "kemerovo-2017-essay", "--session", "2017-12-06", "--out", out)
    loaded = rcoi("topics", "load", *session)
    assert loaded.returncode == 0, loaded.stderr

    early = rcoi("run", "publish", *session, "--now", "2017-12-06T09:44:59.9+07:00")
    assert early.returncode == 1, early.stderr[-2000:]
    assert "Публиковать темы рано: сейчас 06.12.2017 09:44:59.9" in early.stderr
    assert "не раньше 06.12.2017 09:45:00 по местному времени (Asia/Novokuznetsk)" in early.stderr
    assert json.loads(early.stdout)["status"] == "too_early"
    assert not (tmp_path / "web").exists()

    on_time = rcoi("run", "publish", *session, "--now", "2017-12-06T02:45:00Z")
    assert on_time.returncode == 0, on_time.stderr[-2000:]
    summary = json.loads(on_time.stdout)
    assert summary["status"] == "published"
    assert summary["published_at_local"] == "2017-12-06T09:45:00+07:00"
    assert "в РБД нет МОУО — рассылать некому" in on_time.stderr
    page = tmp_path / "web" / "topics" / "2017-12-06"
    assert "Темы итогового сочинения" in (page / "index.html").read_text(encoding="utf-8")
    assert json.loads((page / "topics.json").read_text(encoding="utf-8"))["session"] == "2017-12-06"

    again = rcoi("run", "publish", *session, "--now", "2017-12-06T10:00:00+07:00")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["status"] == "already_published"
    assert "уже опубликованы" in again.stderr
