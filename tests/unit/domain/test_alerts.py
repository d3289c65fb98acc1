"""The coordinator's alert mail from what the Prefect automations post (tasks/domain/alerts.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.domain.alerts import (
    AlertError,
    DeadlineAlert,
    RunAlert,
    alert_mail,
    deadline_mail,
    parse_alert,
)

RUN = "0190f0a2-1111-7222-8333-444455556666"


def run_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "run",
        "event": "prefect.flow-run.Late",
        "flow_run_id": RUN,
        "name": "fragrant-swift",
        "expected_start": "2017-11-22T18:00:00+00:00",
        "tags": [
            "rcoi",
            "plan:kemerovo-2017-essay",
            "region:42",
            "session:2017-12-06",
            "stage:collect",
            "auto-scheduled",
        ],
        "parameters": {"stage": "collect", "out": "/srv/rcoi"},
        "flow": "plan-stage",
        "deployment": "kemerovo-2017-essay · 2017-12-06 · 01 collect",
        "ui": None,
    }
    return {**body, **changes}


def test_a_late_run_names_stage_plan_region_session_and_its_local_time() -> None:
    alert = parse_alert(run_body())
    assert isinstance(alert, RunAlert)
    mail = alert_mail(alert, "Asia/Novokuznetsk", "http://prefect.rcoi.lan:4200")
    assert mail.key == f"prefect-run:{RUN}:Late"
    assert mail.subject == (
        "Запуск «collect» (план kemerovo-2017-essay, регион 42, сеанс 2017-12-06) "
        "не начался в назначенное время"
    )
    assert "Назначен на: 23.11.2017 01:00 (Asia/Novokuznetsk)" in mail.body
    assert f"http://prefect.rcoi.lan:4200/runs/flow-run/{RUN}" in mail.body
    assert "Регион: 42" in mail.body


def test_the_servers_own_link_wins_and_parameters_fill_missing_tags() -> None:
    body = run_body(
        tags=["rcoi"],
        parameters={"stage": "scan", "plan": "p", "session": "s1"},
        ui="https://prefect.example/runs/flow-run/x",
        event="prefect.flow-run.Failed",
    )
    alert = parse_alert(body)
    assert isinstance(alert, RunAlert)
    mail = alert_mail(alert, None, "http://ignored")
    assert mail.subject == "Запуск «scan» (план p, сеанс s1) завершился ошибкой"
    assert "https://prefect.example/runs/flow-run/x" in mail.body
    assert "Назначен на: 22.11.2017 18:00 UTC" in mail.body


NOTICE: dict[str, Any] = {
    "key": "watchdog:escalation:2017-12-06:reconcile_registry:20171122T1700Z:coordinator",
    "plan_stage_id": 7,
    "plan": "kemerovo-2017-essay",
    "region": "42",
    "session": "2017-12-06",
    "stage": "reconcile_registry",
    "due": "2017-11-22T17:00:00+00:00",
    "late_parties": ["rcoi"],
    "flow_run_id": RUN,
    "subject": "any text an event poster wrote",
    "body": "is never read",
}


def test_a_deadline_notice_is_read_as_codes_and_keeps_the_watchdogs_key() -> None:
    parsed = parse_alert(
        {"kind": "deadline", "event": "rcoi.deadline.escalation", "notice": NOTICE}
    )
    assert isinstance(parsed, DeadlineAlert)
    assert (parsed.session, parsed.stage, parsed.plan_stage_id) == (
        "2017-12-06",
        "reconcile_registry",
        7,
    )
    assert parsed.parties == ("rcoi",)
    mail = deadline_mail(
        parsed, "Нарушен срок «Выверка»", "Сообщение координатору РЦОИ.\n", "http://prefect:4200"
    )
    assert (mail.key, mail.kind, mail.plan_stage_id) == (NOTICE["key"], "escalation", 7)
    assert mail.subject == "Нарушен срок «Выверка»"
    assert "any text" not in mail.body
    assert "План: kemerovo-2017-essay, регион 42, сеанс 2017-12-06, этап reconcile_registry" in (
        mail.body
    )
    assert f"http://prefect:4200/runs/flow-run/{RUN}" in mail.body


@pytest.mark.parametrize(
    "change",
    [
        {"key": "watchdog:alert:2017-12-06:reconcile:20171122T1700Z:42"},  # not the escalation
        {"key": "anything the poster likes"},
        {"plan_stage_id": "7"},
        {"plan_stage_id": True},
        {"late_parties": []},
        {"late_parties": ["ОО 1\nBcc: x@example.org"]},
        {"plan": "kemerovo\nSubject: x"},
        {"due": "2017-11-22T17:00:00"},  # naive
    ],
)
def test_a_deadline_notice_with_anything_but_codes_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(AlertError):
        parse_alert({"kind": "deadline", "notice": {**NOTICE, **change}})


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"kind": "other"},
        {"kind": "run", "event": "prefect.flow-run.Failed"},
        {"kind": "run", "flow_run_id": RUN, "event": "rcoi.deadline.alert"},
        {"kind": "deadline", "notice": {"key": "k"}},
        {"kind": "deadline", "notice": "text"},
    ],
)
def test_anything_else_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(AlertError):
        parse_alert(body)
