"""`POST /prefect/alerts` of `rcoi web` (web/alerts.py) over HTTP: only the Prefect server
holding the token gets in, a malformed body is refused, an alert is mailed once."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config.settings import Settings
from tasks.adapters.database import bootstrap
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


def client_for(out: Path, token: str | None) -> Iterator[TestClient]:
    settings = Settings(
        out_dir=out,
        alerts_token=SecretStr(token) if token else None,
        prefect_api_url="http://prefect.rcoi.lan:4200/api",
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


def test_without_a_token_set_the_endpoint_does_not_exist(tmp_path: Path) -> None:
    for client in client_for(tmp_path, None):
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
