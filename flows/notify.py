"""Notify flow: the coordinator's mail when a stage run failed, crashed or is late — run by the
Prefect automations of infra/automations.yaml (`rcoi automations apply`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from config.settings import Settings
from tasks.notify import describe_run, mail_coordinator

__all__ = ["notify_coordinator"]


@flow(name="notify-coordinator")
def notify_coordinator(flow_run_id: str, event: str = "", out: str = "out") -> dict[str, Any]:
    run = describe_run(flow_run_id)
    return {"run": run["id"], "mailed": mail_coordinator(Settings(out_dir=Path(out)), run, event)}
