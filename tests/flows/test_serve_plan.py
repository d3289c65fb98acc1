"""The plans' deployments on a Prefect server (`rcoi deploy`, `rcoi serve`): one per plan,
session and stage, named in plan order, on a work pool; the stage guard (a second run at once
does nothing; a stage that waits for people ends «Ожидание», alerts once, never Failed); the
automations with their webhook. tests/e2e/test_coordinator_alerts.py makes them fire on a
real server."""

from __future__ import annotations

import email
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterTags,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)
from prefect.logging import disable_run_logger

from config.settings import Settings
from flows.deployments import apply_deployments, plan_deployments
from flows.plan_stage import plan_stage
from tasks.adapters.automations import (
    apply_automations,
    automation_enabled,
    build_automations,
    read_declarations,
    save_webhook,
)
from tasks.adapters.models import VerificationItem
from tasks.adapters.plan_files import load_plan, resolve_plan_path
from tasks.adapters.stage_locks import acquire, holder_of
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import open_unit_of_work
from tasks.plan import read_plan, store_plan

pytestmark = pytest.mark.flows

PLANS = ("kemerovo-2017-essay", "kalmykia-2017-essay")


def outbox(out: Path) -> list[email.message.Message]:
    return [
        email.message_from_bytes(p.read_bytes()) for p in sorted((out / "outbox").glob("*.eml"))
    ]


def subject(message: email.message.Message) -> str:
    return str(email.header.make_header(email.header.decode_header(message["Subject"])))


def test_every_stage_of_every_session_is_a_deployment_named_in_plan_order(tmp_path: Path) -> None:
    plans = [load_plan(resolve_plan_path(p)) for p in PLANS]
    applied = apply_deployments(
        plan_deployments(plans, str(tmp_path), pool="rcoi-test"), "rcoi-test", list(PLANS)
    )
    with get_client(sync_client=True) as client:
        grade = client.read_deployment_by_name(
            "plan-stage/kemerovo-2017-essay · 2017-12-06 · 06 grade"
        )
        watchdog = client.read_deployment_by_name("watchdog/kalmykia-2017-essay · 00 watchdog")
        publish = client.read_deployment_by_name(
            "publish/kemerovo-2017-essay · 2018-02-07 · 04 publish"
        )
        pool = client.read_work_pool("rcoi-test")
    assert pool.type == "process"
    [schedule] = grade.schedules
    assert schedule.slug == "grade-kemerovo-2017-essay-2017-12-06"
    assert schedule.schedule.timezone == "Asia/Novokuznetsk"
    assert schedule.schedule.rrule.startswith("DTSTART;TZID=Asia/Novokuznetsk:20171206T100000\n")
    assert grade.parameters == {
        "stage": "grade",
        "plan": "kemerovo-2017-essay",
        "session": "2017-12-06",
        "out": str(tmp_path),
    }
    assert set(grade.tags) >= {"rcoi", "plan:kemerovo-2017-essay", "region:42", "stage:grade"}
    assert grade.work_pool_name == "rcoi-test"
    # by module path: a file path would put flows/ first on sys.path (flows/copy.py vs copy)
    assert grade.entrypoint == "flows.plan_stage.plan_stage"
    assert watchdog.entrypoint == "flows.watchdog.watchdog"
    assert publish.entrypoint == "flows.publish.publish"
    assert publish.schedules[0].schedule.rrule.endswith("RRULE:FREQ=DAILY;COUNT=1")
    assert applied["removed"] == 0
    # a session taken out of the plan: its deployments go on the next deploy
    shorter = plans[0].model_copy(update={"sessions": plans[0].sessions[:1]})
    again = apply_deployments(
        plan_deployments([shorter], str(tmp_path), pool="rcoi-test"),
        "rcoi-test",
        [shorter.id],
    )
    removed_sessions = [
        d for d in plan_deployments(plans[:1], str(tmp_path)) if " · 2018-" in d.name
    ]
    assert again["removed"] == len(removed_sessions) > 0
    with get_client(sync_client=True) as client:
        left = client.read_deployments(
            deployment_filter=DeploymentFilter(
                tags=DeploymentFilterTags(all_=["plan:kemerovo-2017-essay"])
            )
        )
        kalmykia = client.read_deployments(
            deployment_filter=DeploymentFilter(
                tags=DeploymentFilterTags(all_=["plan:kalmykia-2017-essay"])
            )
        )
    assert {d.name.split(" · ")[1] for d in left if " · 20" in d.name} == {"2017-12-06"}
    # another plan's deployments are not touched
    assert len(kalmykia) == len(plan_deployments(plans[1:], str(tmp_path)))


def stored(out: Path) -> Settings:
    settings = Settings(out_dir=out)
    with disable_run_logger():
        store_plan.fn(settings, read_plan.fn(resolve_plan_path(PLANS[0])))
    return settings


def test_a_stage_already_running_for_the_session_makes_the_second_run_do_nothing(
    tmp_path: Path,
) -> None:
    settings = stored(tmp_path)
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, PLANS[0], "2017-12-06")
        from datetime import UTC, datetime

        assert acquire(uow.session, info.id, "upload", "another-run", datetime.now(UTC))
    result = plan_stage(stage="upload", plan=PLANS[0], session="2017-12-06", out=str(tmp_path))
    assert result["status"] == "skipped: already running"
    with open_unit_of_work(settings) as uow:
        assert holder_of(uow.session, info.id, "upload") == "another-run"  # left as it was


def test_a_stage_that_waits_for_people_alerts_once_and_ends_waiting_not_failed(
    tmp_path: Path,
) -> None:
    settings = stored(tmp_path)
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, PLANS[0], "2017-12-06")
        uow.session.add(
            VerificationItem(key="t:1", session_id=info.id, kind="scan", reason="r", status="open")
        )
        uow.commit()
    for _ in range(2):
        state = plan_stage(
            stage="upload",
            plan=PLANS[0],
            session="2017-12-06",
            out=str(tmp_path),
            return_state=True,
        )
        assert (state.type.value, state.name) == ("COMPLETED", "Ожидание")
        assert "очередь верификации" in (state.message or "")
        result = state.result()
        assert result["status"] == "waiting"
    alerts = [m for m in outbox(tmp_path) if "ожидает" in subject(m)]
    assert len(alerts) == 1  # once a day per stage and reason
    with open_unit_of_work(settings) as uow:
        assert holder_of(uow.session, info.id, "upload") is None  # the key was given back
    with get_client(sync_client=True) as client:
        parent = client.read_flow_run(state.state_details.flow_run_id)
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
    # the run and its stage subflow say what they are, and neither is a red Failed
    assert parent.name == "upload · 42 · 2017-12-06"
    assert {"plan:kemerovo-2017-essay", "region:42", "session:2017-12-06", "stage:upload"} <= set(
        parent.tags
    )
    [child] = children
    assert child.name == "upload · 42 · 2017-12-06"
    assert child.state is not None
    assert (child.state.type.value, child.state.name) == ("COMPLETED", "Ожидание")
    assert "stage:upload" in child.tags


@pytest.fixture
def applied_automations() -> Iterator[list[str]]:
    """The declared automations' names; deleted from the session's shared Prefect server
    afterwards: an enabled `rcoi-deadline-missed` makes every later watchdog hand the
    coordinator's escalation to it (as it should on a real server)."""
    names = [a["name"] for a in read_declarations()["automations"]]
    yield names
    with get_client(sync_client=True) as client:
        for automation in client.read_automations():
            if automation.name in names:
                client.delete_automation(automation.id)


def test_the_automations_are_applied_by_name_and_call_the_alert_webhook(
    applied_automations: list[str],
) -> None:
    webhook = save_webhook("http://127.0.0.1:9/prefect/alerts", "secret-token")
    declared = read_declarations()
    first = apply_automations(build_automations(declared, webhook))
    again = apply_automations(build_automations(declared, webhook))
    names = applied_automations
    assert first == dict.fromkeys(names, "created")
    assert again == dict.fromkeys(names, "updated")
    with get_client(sync_client=True) as client:
        ours = [a for a in client.read_automations() if a.name in names]
    assert len(ours) == len(names)  # applied twice, still one each
    failed = next(a for a in ours if a.name == "rcoi-run-failed")
    assert failed.trigger.expect == {"prefect.flow-run.Failed"}
    assert failed.actions[0].type == "call-webhook"
    assert failed.actions[0].block_document_id == webhook
    # every value of the body is text or tojson: a bare {{ flow_run.id }} would fail on a UUID
    assert '"flow_run_id": "{{ flow_run.id }}"' in failed.actions[0].payload
    deadline = next(a for a in ours if a.name == "rcoi-deadline-missed")
    assert deadline.trigger.expect == {"rcoi.deadline.escalation"}
    assert deadline.trigger.match.root == {"prefect.resource.id": "rcoi.plan-stage.*"}
    assert automation_enabled("rcoi-deadline-missed")
    assert not automation_enabled("no-such-automation")
