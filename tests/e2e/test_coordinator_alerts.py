"""Alerts as the coordinator meets them: a real Prefect server, the plan deployed to a work
pool (`rcoi deploy`) and run by a real `prefect worker`, the automations applied (`rcoi
automations apply`), `rcoi web` receiving the server's webhook and a real SMTP server
(aiosmtpd on loopback) as the coordinator's mailbox. A stage run fails, one crashes (its
process killed with SIGKILL), one is late (the worker stopped while it is due) and the watchdog
escalates a missed deadline: each time the mailbox receives one mail naming the stage, plan,
region and session with a link to the run — and the test never calls the alerting code."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from infra.local_servers import (
    LocalService,
    free_port,
    prefect_server,
    prefect_worker,
    running,
    service_environment,
    start_service,
    stop_service,
)
from tasks.adapters.models import ExamSession, VerificationItem
from tests.smtp_support import RecordingHandler, smtp_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ZONE = ZoneInfo("Asia/Novokuznetsk")
ROOT = Path(__file__).resolve().parents[2]
PLAN_ID = "test-alerts-plan"
TOKEN = "test-alerts-token-0123456789abcdef"
COORDINATOR = "coordinator@rcoi.example"
RCOI = [sys.executable, "-c", "from flows.cli import main; main()"]
FAST_SERVER = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "5",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": "10",
}


def write_plan(path: Path, opens: datetime, reconcile_due: datetime) -> None:
    """Collect opens at `opens` (local); reconciliation (the RCOI's own) is due at
    `reconcile_due`; the scan window, and so verify, lies ahead."""
    exam = opens.date() + timedelta(days=20)
    first = exam.year - 1 if exam.month < 9 else exam.year
    day, next_day = opens.date().isoformat(), (opens.date() + timedelta(days=1)).isoformat()
    scan_from, scan_to = exam + timedelta(days=7), exam + timedelta(days=11)
    stages = [
        (
            "submit_participants",
            "Представление сведений об участниках",
            "collect",
            "mouo",
            f'{{kind: window, start: {{date: {day}, time: "{opens:%H:%M}"}}, '
            f"end: {{date: {next_day}}}}}",
        ),
        (
            "reconcile_registry",
            "Выверка региональной базы данных",
            "reconcile",
            "rcoi",
            f"{{kind: deadline, by: {{date: {reconcile_due.date().isoformat()}, "
            f'time: "{reconcile_due:%H:%M}"}}, inclusive: true}}',
        ),
        (
            "scan_originals",
            "Сканирование оригиналов бланков",
            "scan",
            "rcoi",
            f"{{kind: window, start: {{date: {scan_from.isoformat()}}}, "
            f"end: {{date: {scan_to.isoformat()}}}}}",
        ),
    ]
    lines = [
        "schema_version: 1",
        f"id: {PLAN_ID}",
        "title: Проверка оповещений",
        "procedure: ИС-11",
        f"school_year: {first}/{str(first + 1)[2:]}",
        'region: {code: "42", name: Кемеровская область, timezone: Asia/Novokuznetsk}',
        "sessions:",
        f"  - {{id: s1, exam_date: {exam.isoformat()}, label: основной срок}}",
        "stages:",
    ]
    for key, title, stage, responsible, time_spec in stages:
        lines += [
            f"  - id: {key}",
            f"    title: {title}",
            f"    stage: {stage}",
            "    performers: [РЦОИ]",
            f"    responsible: [{responsible}]",
            f"    time: {time_spec}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout_s: float,
    step: float = 1.0,
    diagnose: Callable[[], str] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{diagnose()}" if diagnose else ""))


def subject_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"])


def text_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return str(part.get_content())  # type: ignore[attr-defined]


def run_pid(flow_run_id: str) -> int | None:
    """The process the worker started for the run (its environment names the run)."""
    needle = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                return int(entry.name)
        except OSError:
            continue
    return None


@dataclass
class World:
    api: str
    out: Path
    plan: Path
    mailbox: RecordingHandler
    opens: datetime  # when collect's window opens (local)
    env: dict[str, str]
    tmp: Path
    worker: LocalService

    @property
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, timeout=10)

    def deployment(self, name: str) -> dict[str, Any]:
        flow_name, deployment = name.split("/", 1)
        answer = self.client.get(f"/deployments/name/{flow_name}/{deployment}")
        answer.raise_for_status()
        return dict(answer.json())

    def start_run(
        self,
        name: str,
        parameters: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> str:
        found = self.deployment(name)
        for _ in range(10):  # the server's SQLite answers 503 while it is busy: try again
            answer = self.client.post(
                f"/deployments/{found['id']}/create_flow_run",
                json={"parameters": parameters or {}, **({"state": state} if state else {})},
            )
            if answer.status_code != 503:
                break
            time.sleep(2)
        answer.raise_for_status()
        return str(answer.json()["id"])

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/flow_runs/{run_id}").json())

    def state(self, run_id: str) -> str:
        state = self.run(run_id).get("state") or {}
        return str(state.get("name"))

    def automation_events(self) -> str:
        """What the server's automations did (triggered, actions and their failures)."""
        found = self.client.post(
            "/events/filter",
            json={"filter": {"event": {"prefix": ["prefect.automation", "prefect.flow-run.Late"]}}},
        ).json()
        return "\n".join(
            f"{e['event']} {e['resource'].get('prefect.resource.name')} {e.get('payload')}"
            for e in found.get("events", [])
        )

    def mails(self) -> list[tuple[str, str]]:
        return [(subject_of(e.content), text_of(e.content)) for e in self.mailbox.envelopes]

    def only_new_mail(self, before: int, *words: str) -> tuple[str, str]:
        """The one mail that came since `before` mails: it names `words`, and after a pause
        no second one follows (a duplicate from another path would show here)."""
        wait_for("the mail", lambda: self.mail_about(*words), 90, diagnose=self.automation_events)
        time.sleep(8)
        new = self.mails()[before:]
        assert len(new) == 1, [subject for subject, _ in new]
        assert all(w in new[0][0] + new[0][1] for w in words)
        return new[0]

    def mail_about(self, *words: str) -> list[tuple[str, str]]:
        return [m for m in self.mails() if all(w in m[0] + m[1] for w in words)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("alerts")
    out, plan = tmp / "out", tmp / "plan.yaml"
    # Collect's window opens in an hour: no scheduled run falls due during the test.
    opens = (datetime.now(ZONE) + timedelta(hours=1)).replace(second=0, microsecond=0)
    write_plan(plan, opens, datetime.now(ZONE).replace(second=0, microsecond=0))
    mailbox = RecordingHandler()
    with smtp_server(mailbox) as smtp_port, prefect_server(ui=False, env=FAST_SERVER) as server:
        web_port = free_port()
        env = service_environment(
            {
                "RCOI_PREFECT_API_URL": server.api_url,
                "PREFECT_API_URL": server.api_url,
                "RCOI_OUT_DIR": str(out),
                "RCOI_SMTP_HOST": "127.0.0.1",
                "RCOI_SMTP_PORT": str(smtp_port),
                "RCOI_SMTP_SECURITY": "none",
                "RCOI_COORDINATOR_EMAILS": f'["{COORDINATOR}"]',
                "RCOI_ALERTS_TOKEN": TOKEN,
                "RCOI_ALERTS_URL": f"http://127.0.0.1:{web_port}/prefect/alerts",
            }
        )
        cli = {"env": env, "cwd": ROOT, "capture_output": True, "text": True, "timeout": 300}
        deployed = subprocess.run(
            [*RCOI, "deploy", "--plan", str(plan), "--out", str(out)], check=False, **cli
        )
        assert deployed.returncode == 0, deployed.stderr
        web = start_service(
            "rcoi web",
            [*RCOI, "web", "--port", str(web_port), "--out", str(out), "--plan", str(plan)],
            tmp / "web.log",
            env,
            cwd=ROOT,
        )
        with running(web):
            wait_for(
                "rcoi web",
                lambda: _answers(f"http://127.0.0.1:{web_port}/results/"),
                60,
            )
            applied = subprocess.run(
                [*RCOI, "automations", "apply", "--out", str(out)], check=False, **cli
            )
            assert applied.returncode == 0, applied.stderr
            with prefect_worker(server.api_url, "rcoi", env=env, cwd=ROOT) as worker:
                yield World(server.api_url, out, plan, mailbox, opens, env, tmp, worker)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


COLLECT = f"plan-stage/{PLAN_ID} · s1 · 01 collect"
VERIFY = f"plan-stage/{PLAN_ID} · s1 · 08 verify"


def test_a_failed_stage_run_mails_the_coordinator_once(world: World) -> None:
    before = len(world.mails())
    run = world.start_run(COLLECT, {"plan": str(world.tmp / "moved-away.yaml")})
    wait_for("the run to fail", lambda: world.state(run) == "Failed", 180)
    subject, body = world.only_new_mail(before, run)
    assert "collect" in subject
    assert "завершился ошибкой" in subject
    for word in (f"План: {PLAN_ID}", "Регион: 42", "Сеанс: s1", f"/runs/flow-run/{run}"):
        assert word in body, body


def test_a_crashed_stage_run_mails_the_coordinator_once(world: World) -> None:
    engine = create_engine(f"sqlite:///{world.out / 'rcoi.sqlite'}")
    with Session(engine) as session:  # an open item: verification waits for the operators
        session_id = session.scalar(select(ExamSession.id).where(ExamSession.code == "s1"))
        session.add(
            VerificationItem(
                key="alerts:1", session_id=session_id, kind="scan", reason="r", status="open"
            )
        )
        session.commit()
    engine.dispose()
    before = len(world.mails())
    run = world.start_run(VERIFY)
    wait_for("the run to be running", lambda: world.state(run) == "Running", 180)
    pid = wait_for("the run's process", lambda: run_pid(run), 30)
    time.sleep(3)  # well into its wait for the operators
    os.kill(pid, signal.SIGKILL)
    wait_for("the run to crash", lambda: world.state(run) == "Crashed", 120)
    subject, body = world.only_new_mail(before, run)
    assert "verify" in subject
    assert "аварийно прерван" in subject
    for word in (f"План: {PLAN_ID}", "Регион: 42", "Сеанс: s1", f"/runs/flow-run/{run}"):
        assert word in body, body


def test_a_missed_deadline_the_watchdog_escalates_reaches_the_coordinator_once(
    world: World,
) -> None:
    due = datetime.now(ZONE).replace(second=0, microsecond=0)  # as the plan was written
    before = len(world.mails())
    watched = subprocess.run(
        [
            *RCOI,
            "watchdog",
            "--out",
            str(world.out),
            "--plan",
            str(world.plan),
            "--now",
            (due + timedelta(minutes=20)).isoformat(),
        ],
        env=world.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert watched.returncode == 0, watched.stderr
    subject, body = world.only_new_mail(before, "Выверка региональной базы")
    assert subject.startswith("Нарушен срок «Выверка региональной базы данных»")
    for word in (f"План: {PLAN_ID}", "регион 42", "сеанс s1", "этап reconcile_registry"):
        assert word in body, body
    assert "/runs/flow-run/" in body  # the watchdog's run


def test_a_run_due_while_no_worker_runs_is_late_and_mails_the_coordinator(world: World) -> None:
    stop_service(world.worker)  # nothing polls the pool any more
    # A run of collect due in 20 s. (Created through the API, whose Scheduled state is an
    # event: a run the scheduler made less than 5 minutes before its time has its Late event
    # held by Prefect's triggers for up to 15 minutes — docs/operations.md, «Limits». The same
    # test with the scheduler's own run, created 6 minutes ahead, passed; it takes 3 minutes
    # longer.)
    due = (datetime.now(ZONE) + timedelta(seconds=20)).replace(microsecond=0)
    before = len(world.mails())
    run = world.start_run(
        COLLECT,
        state={"type": "SCHEDULED", "state_details": {"scheduled_time": due.isoformat()}},
    )
    wait_for("the run to be late", lambda: world.state(run) == "Late", 120, step=2)
    subject, body = world.only_new_mail(before, run)
    assert "collect" in subject
    assert "не начался в назначенное время" in subject
    local = due.strftime("%d.%m.%Y %H:%M")
    for word in (
        f"План: {PLAN_ID}",
        "Регион: 42",
        "Сеанс: s1",
        f"Назначен на: {local} (Asia/Novokuznetsk)",
        f"/runs/flow-run/{run}",
    ):
        assert word in body, body
