"""`POST /prefect/alerts` of `rcoi web` (web/alerts.py) over HTTP: only the Prefect server
holding the token gets in, a malformed body is refused, an alert is mailed once."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.logging import disable_run_logger
from pydantic import SecretStr
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.models import ExamSession, PlanStage
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.unit_of_work import open_unit_of_work
from tasks.plan import read_plan, store_plan
from web.alerts import ALERTS_PATH, alert_routes

pytestmark = pytest.mark.integration

TOKEN = "a-test-token-of-the-prefect-server"
RUN = "0190f0a2-1111-7222-8333-444455556666"
BODY = {
    "kind": "run",
    "event": "prefect.flow-run.Crashed",
    "flow_run_id": RUN,
    "name": "scan · 42 · 2017-12-06",
    "expected_start": "2017-12-13T00:00:00+07:00",
    "tags": ["rcoi", "plan:kemerovo-2017-essay", "region:42", "session:2017-12-06", "stage:scan"],
    "parameters": {},
    "flow": "plan-stage",
    "deployment": "kemerovo-2017-essay · 2017-12-06 · 07 scan",
    "ui": None,
}


def client_for(out: Path, token: str | None, **changes: Any) -> Iterator[TestClient]:
    settings = Settings(
        out_dir=out,
        alerts_token=SecretStr(token) if token else None,
        prefect_api_url="http://prefect.rcoi.lan:4200/api",
        **changes,
    )
    database = bootstrap(settings)
    try:
        yield TestClient(Starlette(routes=alert_routes(settings, database)))
    finally:
        database.dispose()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(tmp_path, TOKEN)


def outbox(out: Path) -> list[Path]:
    return sorted((out / "outbox").glob("*.eml"))


@pytest.mark.parametrize("token", [None, "", "   "])
def test_without_a_token_set_the_endpoint_does_not_exist(tmp_path: Path, token: str | None) -> None:
    for client in client_for(tmp_path, token):
        answer = client.post(ALERTS_PATH, json=BODY, headers={"Authorization": "Bearer x"})
        assert answer.status_code == 404
    assert outbox(tmp_path) == []


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_a_caller_without_the_token_is_refused(
    client: TestClient, tmp_path: Path, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    answer = client.post(ALERTS_PATH, json=BODY, headers=headers)
    assert answer.status_code == 401
    assert outbox(tmp_path) == []


@pytest.mark.parametrize(
    "content", [b"not json", b"[1, 2]", b'{"kind": "run"}', b'{"kind": "deadline", "notice": {}}']
)
def test_a_malformed_alert_is_refused_with_a_reason(
    client: TestClient, tmp_path: Path, content: bytes
) -> None:
    answer = client.post(ALERTS_PATH, content=content, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert outbox(tmp_path) == []


def test_an_alert_is_mailed_once_with_the_link_to_the_run(
    client: TestClient, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    first = client.post(ALERTS_PATH, json=BODY, headers=headers)
    again = client.post(ALERTS_PATH, json=BODY, headers=headers)  # the action fired twice
    assert first.json() == {"key": f"prefect-run:{RUN}:Crashed", "mailed": True}
    assert again.json()["mailed"] is False
    [mail] = outbox(tmp_path)
    text = mail.read_bytes().decode("utf-8", "replace")
    assert "coordinator@rcoi.example" in text
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == (
        "Запуск «scan» (план kemerovo-2017-essay, регион 42, сеанс 2017-12-06) аварийно прерван"
    )
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"http://prefect.rcoi.lan:4200/runs/flow-run/{RUN}" in body
    assert "Назначен на: 13.12.2017 00:00 (Asia/Novokuznetsk)" in body


def test_a_body_over_64_kib_is_refused_unread(client: TestClient, tmp_path: Path) -> None:
    answer = client.post(
        ALERTS_PATH,
        content=b"{" + b" " * (64 * 1024) + b"}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 413
    assert outbox(tmp_path) == []


def test_with_no_coordinator_address_the_alert_fails_visibly(tmp_path: Path) -> None:
    for client in client_for(tmp_path, TOKEN, coordinator_emails=[]):
        answer = client.post(ALERTS_PATH, json=BODY, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 503  # Prefect shows the automation's action as failed


def _stored_reconcile_row(out: Path) -> tuple[int, datetime, str]:
    """The Kemerovo plan in the regional database; its reconciliation row's id and deadline."""
    settings = Settings(out_dir=out)
    with disable_run_logger():
        store_plan.fn(settings, read_plan.fn(resolve_plan_path("kemerovo-2017-essay")))
    with open_unit_of_work(settings) as uow:
        row = uow.session.execute(
            select(PlanStage.id, PlanStage.due_at, PlanStage.stage_key)
            .join(ExamSession, PlanStage.session_id == ExamSession.id)
            .where(ExamSession.code == "2017-12-06", PlanStage.automated_stage == "reconcile")
        ).one()
    due = row.due_at if row.due_at.tzinfo else row.due_at.replace(tzinfo=UTC)
    return row.id, due, row.stage_key


def _deadline(stage_id: int, due: datetime, stage_key: str, **changes: Any) -> dict[str, Any]:
    notice = {
        "key": f"watchdog:escalation:2017-12-06:{stage_key}:{due:%Y%m%dT%H%MZ}:coordinator",
        "kind": "escalation",
        "plan": "kemerovo-2017-essay",
        "region": "42",
        "session": "2017-12-06",
        "stage": stage_key,
        "plan_stage_id": stage_id,
        "due": due.isoformat(),
        "late_parties": ["rcoi"],
        "flow_run_id": RUN,
        "subject": "Срочно: позвоните по номеру …",  # an event poster's text: never mailed
        "body": "…",
        **changes,
    }
    return {"kind": "deadline", "event": "rcoi.deadline.escalation", "notice": notice}


def test_a_deadline_escalation_is_written_from_the_plan_row_and_mailed_once(
    client: TestClient, tmp_path: Path
) -> None:
    stage_id, due, stage_key = _stored_reconcile_row(tmp_path)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    first = client.post(ALERTS_PATH, json=_deadline(stage_id, due, stage_key), headers=headers)
    again = client.post(ALERTS_PATH, json=_deadline(stage_id, due, stage_key), headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["mailed"], again.json()["mailed"]) == (True, False)
    [mail] = outbox(tmp_path)
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert str(message["Subject"]).startswith("Нарушен срок «")
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "позвоните" not in body
    assert "Срочно" not in str(message["Subject"])
    assert f"сеанс 2017-12-06, этап {stage_key}" in body
    assert f"http://prefect.rcoi.lan:4200/runs/flow-run/{RUN}" in body


@pytest.mark.parametrize(
    "changes",
    [
        {"plan_stage_id": 999999},  # no such row
        {"plan": "kalmykia-2017-essay"},  # a row of another plan
        {"session": "2018-02-07"},  # the key's session is what counts: still the row's
    ],
)
def test_a_deadline_alert_naming_no_real_plan_row_is_refused(
    client: TestClient, tmp_path: Path, changes: dict[str, Any]
) -> None:
    stage_id, due, stage_key = _stored_reconcile_row(tmp_path)
    body = _deadline(stage_id, due, stage_key, **changes)
    if "session" in changes:  # a key naming another session than the row's
        body["notice"]["key"] = body["notice"]["key"].replace("2017-12-06", "2018-02-07")
    answer = client.post(ALERTS_PATH, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400
    assert outbox(tmp_path) == []


def test_a_deadline_not_yet_passed_is_refused(client: TestClient, tmp_path: Path) -> None:
    stage_id, _, stage_key = _stored_reconcile_row(tmp_path)
    later = datetime.now(UTC) + timedelta(days=1)
    answer = client.post(
        ALERTS_PATH,
        json=_deadline(stage_id, later.replace(second=0, microsecond=0), stage_key),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 400
    assert outbox(tmp_path) == []
