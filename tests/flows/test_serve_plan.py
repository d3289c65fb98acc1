"""`rcoi serve --plan` on a Prefect server: one deployment per stage with a schedule per plan
and session in the region's zone, the stage guard (a second run at once does nothing, a stage
that waits for people alerts instead of failing), the automations and the notify flow."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from prefect import flow, get_client
from prefect.logging import disable_run_logger

from config.settings import Settings
from flows.deployments import plan_deployments
from flows.notify import notify_coordinator
from flows.plan_stage import plan_stage
from tasks.adapters.automations import apply_automations, build_automations, read_declarations
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


def test_every_stage_is_a_deployment_with_a_schedule_per_region_and_session(tmp_path: Path) -> None:
    plans = [load_plan(resolve_plan_path(p)) for p in PLANS]
    for deployment in plan_deployments(plans, str(tmp_path)):
        deployment.apply()
    with get_client(sync_client=True) as client:
        grade = client.read_deployment_by_name("plan-stage/grade")
        schedules = {s.slug: s for s in grade.schedules}
        watchdog = client.read_deployment_by_name("watchdog/watchdog")
        publish = client.read_deployment_by_name("publish/publish")
    sessions = sum(len(p.sessions) for p in plans)
    assert len(schedules) == sessions
    kemerovo = schedules["grade-kemerovo-2017-essay-2017-12-06"]
    assert kemerovo.schedule.timezone == "Asia/Novokuznetsk"
    assert kemerovo.schedule.rrule.startswith("DTSTART:20171206T100000\n")  # local, 10:00
    assert kemerovo.parameters == {"plan": "kemerovo-2017-essay", "session": "2017-12-06"}
    assert schedules["grade-kalmykia-2017-essay-2017-12-06"].schedule.timezone == "Europe/Moscow"
    assert grade.parameters == {"stage": "grade", "out": str(tmp_path)}
    assert "rcoi" in grade.tags
    # by module path: a file path would put flows/ first on sys.path (flows/copy.py vs copy)
    assert grade.entrypoint == "flows.plan_stage.plan_stage"
    assert watchdog.entrypoint == "flows.watchdog.watchdog"
    assert publish.entrypoint == "flows.publish.publish"
    assert {s.slug for s in watchdog.schedules} == {f"watchdog-{p}" for p in PLANS}
    assert "rcoi" in publish.tags
    assert len(publish.schedules) == sessions


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
        result = plan_stage(stage="upload", plan=PLANS[0], session="2017-12-06", out=str(tmp_path))
        assert result["status"] == "waiting"
        assert "очередь верификации" in result["reason"]
    alerts = [m for m in outbox(tmp_path) if "ожидает" in subject(m)]
    assert len(alerts) == 1  # once a day per stage and reason
    with open_unit_of_work(settings) as uow:
        assert holder_of(uow.session, info.id, "upload") is None  # the key was given back


@flow(name="stage-that-fails")
def _failing() -> None:
    raise RuntimeError("boom")


def test_the_automations_are_applied_by_name_and_the_notify_flow_mails_the_coordinator(
    tmp_path: Path,
) -> None:
    deployment = notify_coordinator.to_deployment(name="notify", parameters={"out": str(tmp_path)})
    deployment_id = deployment.apply()
    declared = read_declarations()
    first = apply_automations(build_automations(declared, deployment_id, str(tmp_path)))
    again = apply_automations(build_automations(declared, deployment_id, str(tmp_path)))
    names = [a["name"] for a in declared["automations"]]
    assert first == dict.fromkeys(names, "created")
    assert again == dict.fromkeys(names, "updated")
    with get_client(sync_client=True) as client:
        ours = [a for a in client.read_automations() if a.name in names]
    assert len(ours) == len(names)  # applied twice, still one each
    failed = next(a for a in ours if a.name == "rcoi-run-failed")
    assert failed.trigger.expect == {"prefect.flow-run.Failed"}
    assert failed.actions[0].deployment_id == deployment_id
    assert failed.actions[0].parameters["flow_run_id"] == "{{ flow_run.id }}"
    # what the automation's action runs: the notify flow for a failed run
    state = _failing(return_state=True)
    run_id = str(state.state_details.flow_run_id)
    for _ in range(2):
        notify_coordinator(flow_run_id=run_id, event="prefect.flow-run.Failed", out=str(tmp_path))
    mails = outbox(tmp_path)
    assert len(mails) == 1
    assert subject(mails[0]) == "Запуск «stage-that-fails» завершился ошибкой"
