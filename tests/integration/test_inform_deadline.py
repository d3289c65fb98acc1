"""The watchdog's view of the inform stage: each МОУО completes it by acknowledging the
results lists (the link in the mail), and the upload stage by the federal receipt."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger

from config.settings import Settings
from tasks.adapters.acknowledgements import acknowledge, issue
from tasks.adapters.deadlines import completion_checks
from tasks.adapters.models import Mouo, Region
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import open_unit_of_work
from tasks.plan import read_plan, store_plan

pytestmark = pytest.mark.integration

PLAN, SESSION = "kemerovo-2017-essay", "2017-12-06"
NOW = datetime(2017, 12, 18, 5, tzinfo=UTC)


def test_a_mouo_that_acknowledged_the_lists_completed_the_inform_stage_the_others_not(
    tmp_path: Path,
) -> None:
    settings = Settings(out_dir=tmp_path)
    with disable_run_logger():
        store_plan.fn(settings, read_plan.fn(resolve_plan_path(PLAN)))
    with open_unit_of_work(settings) as uow:
        if uow.session.get(Region, "42") is None:
            uow.session.add(
                Region(code="42", name="Кемеровская область", timezone="Asia/Novokuznetsk")
            )
        uow.session.add_all(
            [Mouo(code=c, region_code="42", name=f"МОУО {c}") for c in ("42-01", "42-02")]
        )
        info = session_info(uow.session, PLAN, SESSION)
        token = issue(uow.session, info.id, "42-01", "results", "a" * 64, NOW)
        issue(uow.session, info.id, "42-02", "results", "b" * 64, NOW)
        uow.commit()
        assert token is not None
        acknowledge(uow.session, token, NOW)
        uow.commit()
        checks = [
            c for c in completion_checks(uow.session, [info.id]) if c.stage_key == "issue_results"
        ]
    assert {c.party: c.completed for c in checks} == {"42-01": True, "42-02": False}
    assert all(c.due == datetime(2017, 12, 18, 17, tzinfo=UTC) for c in checks)
