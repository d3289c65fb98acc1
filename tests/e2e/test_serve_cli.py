"""`rcoi serve --plan` against a real Prefect server: a stage whose plan window opens in two
minutes (in the region's zone, UTC+7) is started by Prefect's scheduler at that local time
and run by the serving process, guarded by its database key."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from infra.local_servers import prefect_server, running, service_environment, start_service
from tasks.adapters.models import StageLock

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ZONE = ZoneInfo("Asia/Novokuznetsk")
ROOT = Path(__file__).resolve().parents[2]


def plan_opening_at(path: Path, start: datetime) -> None:
    """A one-stage plan: collect, its window opening at `start` (local)."""
    exam = start.date() + timedelta(days=20)
    first = exam.year - 1 if exam.month < 9 else exam.year
    day, next_day = start.date().isoformat(), (start.date() + timedelta(days=1)).isoformat()
    opens = f'{{date: {day}, time: "{start:%H:%M}"}}'
    window = f"{{kind: window, start: {opens}, end: {{date: {next_day}}}}}"
    path.write_text(
        "\n".join(
            [
                "schema_version: 1",
                "id: test-serve-plan",
                "title: Проверка расписания",
                "procedure: ИС-11",
                f"school_year: {first}/{str(first + 1)[2:]}",
                'region: {code: "42", name: Кемеровская область, timezone: Asia/Novokuznetsk}',
                "sessions:",
                f"  - {{id: s1, exam_date: {exam.isoformat()}, label: основной срок}}",
                "stages:",
                "  - id: submit_participants",
                "    title: Представление сведений об участниках",
                "    stage: collect",
                "    performers: [МОУО]",
                "    responsible: [mouo]",
                f"    time: {window}",
                "",
            ]
        ),
        encoding="utf-8",
    )


def test_a_served_stage_starts_by_itself_at_its_local_time_and_completes(tmp_path: Path) -> None:
    start = (datetime.now(ZONE) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    plan = tmp_path / "plan.yaml"
    plan_opening_at(plan, start)
    out = tmp_path / "out"
    (out / "inbox" / "s1").mkdir(parents=True)
    fast = {
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }
    with prefect_server(ui=False, env=fast) as server:
        env = service_environment({**fast, "RCOI_PREFECT_API_URL": server.api_url})
        serving = start_service(
            "rcoi serve",
            [sys.executable, "-m", "flows.cli", "serve", "--plan", str(plan), "--out", str(out)],
            tmp_path / "serve.log",
            env,
            cwd=ROOT,
        )
        with running(serving):
            run = wait_for_run(
                server.api_url, "plan-stage/test-serve-plan · s1 · 01 collect", 330, serving
            )
            log = serving.log_tail(80)
    assert run["state"]["type"] == "COMPLETED", f"{run['state'].get('message')}\n{log}"
    expected = datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00"))
    assert expected == start  # 2 minutes from the test's start, local time UTC+7
    assert run["parameters"] == {
        "stage": "collect",
        "out": str(out.resolve()),
        "plan": str(plan.resolve()),  # not a shipped plan: runs find it by its path
        "session": "s1",
    }
    assert run["name"] == "collect · 42 · s1"  # the run says what it is
    assert {"plan:test-serve-plan", "region:42", "session:s1", "stage:collect"} <= set(run["tags"])
    engine = create_engine(f"sqlite:///{out / 'rcoi.sqlite'}")
    with engine.connect() as connection:  # the key was taken and given back
        assert connection.execute(select(func.count()).select_from(StageLock)).scalar_one() == 0
    engine.dispose()


def wait_for_run(api: str, deployment: str, timeout_s: float, service: object) -> dict:  # type: ignore[type-arg]
    """The first finished flow run of the deployment."""
    flow_name, name = deployment.split("/")
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=api, timeout=10) as client:
        while time.monotonic() < deadline:
            if not service.running:  # type: ignore[attr-defined]
                break
            found = client.get(f"/deployments/name/{flow_name}/{name}")
            if found.status_code == 200:
                runs = client.post(
                    "/flow_runs/filter",
                    json={"deployments": {"id": {"any_": [found.json()["id"]]}}},
                ).json()
                finished = ("COMPLETED", "FAILED", "CRASHED")
                done = [r for r in runs if r["state"] and r["state"]["type"] in finished]
                if done:
                    return dict(done[0])
            time.sleep(2)
    log = getattr(service, "log_tail", lambda: "")()
    raise AssertionError(f"no finished run of {deployment}; serve log:\n{log}")
