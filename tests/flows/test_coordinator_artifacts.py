"""The coordinator's artifacts read back from the Prefect API: the watchdog run for two regions
on the same exam day and for a second session of one region — each keeps its own latest
artifact, in Russian, in its region's local time, without JSON in any cell."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prefect import flow, get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

from config.settings import Settings
from flows.watchdog import watchdog
from tasks.adapters.plan_files import resolve_plan_path
from tasks.artifacts import artifact_key
from tasks.plan import read_plan, store_plan

pytestmark = pytest.mark.flows

KEMEROVO, KALMYKIA = "kemerovo-2017-essay", "kalmykia-2017-essay"
RUNS = [  # (plan, session, the watchdog's clock: after the session's registry deadline)
    (KEMEROVO, "2017-12-06", datetime(2017, 11, 30, 1, 0, tzinfo=ZoneInfo("Asia/Novokuznetsk"))),
    (KALMYKIA, "2017-12-06", datetime(2017, 11, 25, 1, 0, tzinfo=ZoneInfo("Europe/Moscow"))),
    (KEMEROVO, "2018-02-07", datetime(2018, 1, 26, 1, 0, tzinfo=ZoneInfo("Asia/Novokuznetsk"))),
]
HEADERS = ["вид", "этап", "срок", "крайний срок", "кому", "нарушили", "состояние"]


@flow
def store_plans(out: str) -> None:
    for plan in (KEMEROVO, KALMYKIA):
        store_plan(Settings(out_dir=Path(out)), read_plan(resolve_plan_path(plan)))


def _latest(keys: list[str]) -> dict[str, tuple[str, list[dict[str, str]]]]:
    """key → (description, table rows) of the latest artifact of each key."""
    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=keys))
        )
    return {a.key: (a.description or "", json.loads(str(a.data))) for a in found}


def test_each_region_and_session_keeps_its_own_latest_watchdog_artifact(tmp_path: Path) -> None:
    out = str(tmp_path)
    store_plans(out)
    for plan, session, now in RUNS:
        watchdog(out=out, plan=plan, session=session, now=now)

    keys = [artifact_key("watchdog-notices", plan, session) for plan, session, _ in RUNS]
    latest = _latest(keys)

    assert sorted(latest) == sorted(keys)  # three keys, none replaced by another run
    zones = {KEMEROVO: "Asia/Novokuznetsk", KALMYKIA: "Europe/Moscow"}
    for key, (plan, session, now) in zip(keys, RUNS, strict=True):
        description, rows = latest[key]
        offset = now.strftime("%z")
        assert description == (
            f"Контроль сроков на {now:%d.%m.%Y %H:%M} ({zones[plan]}, UTC{offset[:3]}:{offset[3:]})"
        )
        assert rows, f"{key}: the watchdog found nothing due"
        for row in rows:
            assert list(row) == HEADERS
            assert row["срок"] == session  # this run's session only
            assert row["крайний срок"].endswith(f"({zones[plan]}, UTC{offset[:3]}:{offset[3:]})")
            assert re.search("[а-яё]", row["состояние"])  # a Russian status, not `sent`
            for cell in row.values():
                assert not re.search(r"[{}\[\]]", str(cell)), f"{key}: JSON in {cell!r}"
                assert "@" not in str(cell)  # codes only: no address, no person
