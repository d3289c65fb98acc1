"""The coordinator's mail about a stage run that failed, crashed or is late, sent when a
Prefect automation (infra/automations.yaml) runs the `notify-coordinator` deployment."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import get_client, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.settings import PREFECT_UI_URL

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.mail import OutgoingMail, mailer_from_settings
from tasks.adapters.notifications import send_once

__all__ = ["STATE_RU", "describe_run", "mail_coordinator"]

STATE_RU = {
    "Failed": "завершился ошибкой",
    "Crashed": "аварийно прерван",
    "Late": "не начался в назначенное время",
}
# Parameters worth naming in the mail: codes only (never a file of participants).
_SHOWN = ("stage", "plan", "session")


@task(name="describe-run", cache_policy=NONE, retries=2, retry_delay_seconds=5)
def describe_run(flow_run_id: str) -> dict[str, Any]:
    """The run's name, state, deployment and its stage/plan/session parameters."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        deployment = client.read_deployment(run.deployment_id).name if run.deployment_id else None
        flow_name = client.read_flow(run.flow_id).name
    return {
        "id": flow_run_id,
        "name": run.name,
        "flow": flow_name,
        "state": run.state.name if run.state else "?",
        "deployment": deployment,
        "parameters": {k: str(run.parameters[k]) for k in _SHOWN if k in run.parameters},
    }


@task(name="mail-coordinator", cache_policy=NONE)
def mail_coordinator(settings: Settings, run: dict[str, Any], event: str) -> int:
    """Once per run and state."""
    if not settings.coordinator_emails:
        return 0
    state = event.rsplit(".", 1)[-1] if event else run["state"]
    what = run["parameters"].get("stage") or run["flow"]
    where = ", ".join(f"{k}={v}" for k, v in run["parameters"].items())
    ui = PREFECT_UI_URL.value()
    link = f"{ui.rstrip('/')}/runs/flow-run/{run['id']}" if ui else run["id"]
    mail = OutgoingMail(
        key=f"prefect-run:{run['id']}:{state}",
        to=tuple(settings.coordinator_emails),
        subject=f"Запуск «{what}» {STATE_RU.get(state, state)}",
        body=(
            f"Запуск {run['name']} потока {run['flow']} (развёртывание {run['deployment'] or '—'}) "
            f"{STATE_RU.get(state, state)}.\n{where}\n\nПодробности: {link}\nРЦОИ\n"
        ),
    )
    database = bootstrap(settings)
    try:
        sent = send_once(database.session_factory, mailer_from_settings(settings), mail, "alert")
    finally:
        database.dispose()
    get_run_logger().info("run %s %s: coordinator mailed: %s", run["id"], state, sent)
    return int(sent)
