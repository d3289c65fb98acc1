"""A scheduled stage whose key is given back by hand while it runs: the stage's tasks see the
run's lease (`current_lease()` inside a Prefect task), and the run fails with the Russian
reason instead of reporting the stage completed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefect import flow, task
from prefect.logging import disable_run_logger

import flows.plan_stage
from config.settings import Settings
from flows.plan_stage import plan_stage
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.stage_locks import current_lease, release_by_hand
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import open_unit_of_work
from tasks.plan import read_plan, store_plan

pytestmark = pytest.mark.flows

PLAN, SESSION = "kemerovo-2017-essay", "2017-12-06"


@task
def _sees_the_lease() -> bool:
    lease = current_lease()
    return lease is not None and lease.stage == "inform"


def test_a_run_whose_key_was_released_by_hand_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(out_dir=tmp_path)
    with disable_run_logger():
        store_plan.fn(settings, read_plan.fn(resolve_plan_path(PLAN)))
    with open_unit_of_work(settings) as uow:
        session_id = session_info(uow.session, PLAN, SESSION).id
    seen: list[bool] = []

    @flow(name="fake-inform")
    def fake_stage() -> dict[str, Any]:
        seen.append(_sees_the_lease())
        with open_unit_of_work(settings) as uow:
            key = release_by_hand(
                uow.session, session_id, "inform", "ivanova", "тест", datetime.now(UTC)
            )
            assert key is not None
        lease = current_lease()
        assert lease is not None
        lease.beat()  # the next renewal, without waiting a third of the lease for it
        return {"status": "done"}

    monkeypatch.setattr(flows.plan_stage, "_run", lambda *args: fake_stage())
    state: Any = plan_stage(
        stage="inform", plan=PLAN, session=SESSION, out=str(tmp_path), return_state=True
    )
    assert seen == [True]
    assert state.type.value == "FAILED"
    assert "ключ этапа inform потерян: его снял координатор" in (state.message or "")
