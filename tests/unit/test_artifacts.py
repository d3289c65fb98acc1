"""The coordinator's artifacts: keys Prefect accepts and that keep plans and sessions apart, and
wording in Russian — statuses translated, local times with their zone, no JSON in any cell."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.client.schemas.actions import ArtifactCreate

from tasks.artifacts import KEY_MAX_LENGTH, artifact_key
from tasks.domain.artifacts import (
    STATUS_RU,
    local_time_text,
    markdown_table,
    status_ru,
    summary_rows,
    value_text,
)
from tasks.domain.page_reading import STATUSES
from tasks.domain.summary import STAGE_COUNTS_RU, STAGE_TITLES_RU, summary_markdown

ROOT = Path(__file__).resolve().parents[2]

# --- keys ---------------------------------------------------------------------------------------


def test_a_key_carries_the_artifact_the_plan_and_the_session() -> None:
    key = artifact_key("scan-summary", "kemerovo-2017-essay", "2017-12-06")
    assert key == "scan-summary-kemerovo-2017-essay-2017-12-06"


def test_a_key_without_a_session_covers_every_session() -> None:
    assert artifact_key("watchdog-notices", "kemerovo-2017-essay", None) == (
        "watchdog-notices-kemerovo-2017-essay-all"
    )


@pytest.mark.parametrize(
    ("plan", "session"),
    [
        ("Kemerovo_2017 Essay", "2017.12.06"),
        ("tomsk-2024-interview", "основной срок"),
        ("plan", "a/b:c"),
        ("x" * 300, "y" * 300),
        ("", ""),
    ],
)
def test_every_key_is_one_prefect_accepts(plan: str, session: str) -> None:
    key = artifact_key("collect-files", plan, session)
    assert ArtifactCreate(key=key).key == key  # Prefect's own validation of the key
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", key)
    assert len(key) <= KEY_MAX_LENGTH


def test_two_regions_or_two_sessions_never_share_a_key() -> None:
    keys = {
        artifact_key("print-summary", plan, session)
        for plan in ("kemerovo-2017-essay", "kalmykia-2017-essay")
        for session in ("2017-12-06", "2018-02-07", "основной", "дополнительный", None)
    }
    assert len(keys) == 10


def test_long_keys_are_cut_but_stay_unique() -> None:
    first = artifact_key("campaign-stages", "p" * 200, "2017-12-06")
    second = artifact_key("campaign-stages", "p" * 200, "2018-02-07")
    assert first != second
    assert first.startswith("campaign-stages-ppp")
    assert len(first) == len(second) == KEY_MAX_LENGTH


def test_an_artifact_name_outside_the_key_alphabet_is_refused() -> None:
    with pytest.raises(ValueError, match="artifact name"):
        artifact_key("Scan_Summary", "kemerovo-2017-essay", "2017-12-06")


def test_every_artifact_goes_through_tasks_artifacts() -> None:
    """No stage creates a table or markdown artifact with a key of its own."""
    direct = [
        path.relative_to(ROOT).as_posix()
        for folder in ("tasks", "flows")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if re.search(r"create_(table|markdown)_artifact", path.read_text(encoding="utf-8"))
    ]
    assert direct == ["tasks/artifacts.py"]


# --- wording ------------------------------------------------------------------------------------


def test_local_time_names_the_zone_and_its_offset() -> None:
    instant = datetime(2017, 12, 6, 2, 45, tzinfo=UTC)
    assert local_time_text(instant, "Asia/Novokuznetsk") == (
        "06.12.2017 09:45 (Asia/Novokuznetsk, UTC+07:00)"
    )
    assert local_time_text(instant, "America/New_York", seconds=True) == (
        "05.12.2017 21:45:00 (America/New_York, UTC-05:00)"
    )


def test_a_deadline_at_local_midnight_reads_24_00_of_its_day() -> None:
    due = datetime(2017, 11, 22, 17, 0, tzinfo=UTC)  # 23.11.2017 00:00 in Novokuznetsk
    assert local_time_text(due, "Asia/Novokuznetsk", deadline=True) == (
        "22.11.2017 24:00 (Asia/Novokuznetsk, UTC+07:00)"
    )
    assert local_time_text(due, "Asia/Novokuznetsk") == (
        "23.11.2017 00:00 (Asia/Novokuznetsk, UTC+07:00)"
    )


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_time_text(datetime(2017, 12, 6, 9, 45), "Asia/Novokuznetsk")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (True, "да"),
        (False, "нет"),
        (12, "12"),
        (19.149, "19,15"),
        (0.0, "0"),
        ("", "—"),
        ("42-01", "42-01"),
        ("completed", "выполнено"),
        ("needs_verification", "на верификацию"),
        (["42-01", "42-02"], "42-01, 42-02"),
        ([], "—"),
        (
            {"birth_date_plausible": 1, "snils_checksum": 2},
            "birth_date_plausible: 1; snils_checksum: 2",
        ),
        ("2017-12-06T09:45:00+07:00", "06.12.2017 02:45 (UTC, UTC+00:00)"),
        ("2017-12-06", "2017-12-06"),
    ],
)
def test_a_cell_is_plain_russian_text(value: object, text: str) -> None:
    assert value_text(value) == text


def test_an_instant_in_a_summary_is_shown_in_the_regions_zone() -> None:
    assert value_text("2017-12-06T09:45:00+07:00", "Asia/Novokuznetsk") == (
        "06.12.2017 09:45 (Asia/Novokuznetsk, UTC+07:00)"
    )


def test_every_status_the_stages_report_has_its_russian_word() -> None:
    stage_statuses = {"completed", "blocked", "skipped", "failed", "not_built", "waiting"}
    collect = {"accepted", "rejected", "skipped", "error"}
    watchdog = {"sent", "already_sent", "no_address", "automation"}
    discrepancies = {"open", "resolved", "accepted", "gone", "critical", "warning"}
    publication = {"published", "already_published", "too_early", "partial"}
    receipt = {"accepted", "rejected", "late", "waiting"}
    used = stage_statuses | collect | watchdog | discrepancies | publication | receipt
    assert used | set(STATUSES) <= set(STATUS_RU)
    assert all(re.search("[а-яё]", status_ru(s)) for s in used)


def test_an_unknown_status_is_shown_as_its_code() -> None:
    assert status_ru("superseded") == "superseded"


def test_summary_rows_pick_the_labelled_counts_in_order() -> None:
    counts = {"files": 2, "open": {"critical": 4}, "verdicts": [{"file_name": "x.csv"}]}
    labels = {"open.critical": "открыто критических", "files": "файлов", "absent.path": "нет"}
    assert summary_rows(counts, labels) == [("открыто критических", "4"), ("файлов", "2")]


def test_a_markdown_table_keeps_a_pipe_inside_its_cell() -> None:
    assert markdown_table(("этап", "показатели"), [("сбор", "a | b")]) == (
        "| этап | показатели |\n| --- | --- |\n| сбор | a \\| b |\n"
    )


def test_the_campaign_summary_is_a_russian_table_without_json() -> None:
    document = {
        "campaign": {
            "plan": "kemerovo-2017-essay",
            "region": "42",
            "session": "2017-12-06",
            "participants": 40,
            "seed": 42,
            "zone": "Asia/Novokuznetsk",
        },
        "stages": [
            {
                "stage": "collect",
                "status": "completed",
                "counts": {"files": 2, "mouos_submitted": ["42-01", "42-02"]},
            },
            {
                "stage": "publish",
                "status": "completed",
                "counts": {"status": "published", "published_at": "2017-12-06T09:45:00+07:00"},
            },
            {"stage": "verify", "status": "waiting", "counts": {"reason": "очередь открыта"}},
            {"stage": "inform", "status": "not_built", "counts": {}},
        ],
    }
    text = summary_markdown(document)
    assert "| этап | состояние | показатели |" in text
    assert (
        "| Сбор сведений от МОУО | выполнено | файлов: 2; МОУО прислали сведения: 42-01, 42-02 |"
        in text
    )
    assert "опубликовано: 06.12.2017 09:45 (Asia/Novokuznetsk, UTC+07:00)" in text
    assert "| Верификация | ожидание | причина: очередь открыта |" in text
    assert "| Информирование участников | не запускался | — |" in text
    assert not re.search(r"[{}\[\]]", text)


def test_every_stage_of_the_summary_has_its_counts_in_russian() -> None:
    assert set(STAGE_COUNTS_RU) == set(STAGE_TITLES_RU)
    for labels in STAGE_COUNTS_RU.values():
        assert all(re.search("[а-яё]", label, re.IGNORECASE) for label in labels.values())
