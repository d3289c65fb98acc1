"""The Prefect automations of infra/automations.yaml: read, built and applied to a Prefect
server (created, or updated in place by name, so applying twice changes nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from prefect import get_client
from prefect.automations import (
    Automation,
    CallWebhook,
    EventTrigger,
    Posture,
    ResourceSpecification,
)
from prefect.blocks.webhook import Webhook
from prefect.types import SecretDict
from pydantic import SecretStr

from tasks.errors import ConfigError

__all__ = [
    "AUTOMATIONS_FILE",
    "DEADLINE_AUTOMATION",
    "DEADLINE_RESOURCE",
    "apply_automations",
    "automation_enabled",
    "build_automations",
    "read_declarations",
    "save_webhook",
]

AUTOMATIONS_FILE = Path(__file__).resolve().parents[2] / "infra" / "automations.yaml"
WATCHED_TAG = "rcoi"  # flows/deployments.py tags every deployment of the plans with it
DEADLINE_RESOURCE = "rcoi.plan-stage"  # the watchdog's events (tasks/watchdog.py)
DEADLINE_AUTOMATION = "rcoi-deadline-missed"
WEBHOOK_BLOCK = "rcoi-alerts"


def automation_enabled(name: str) -> bool:
    """Whether the Prefect server this process talks to has the automation `name` enabled
    (False without a reachable server, e.g. on an ephemeral one that holds no automations)."""
    try:
        with get_client(sync_client=True) as client:
            return any(a.enabled for a in client.read_automations_by_name(name))
    except Exception:  # any failure means: do not rely on it
        return False


def read_declarations(path: Path = AUTOMATIONS_FILE) -> dict[str, Any]:
    try:
        declared = yaml.safe_load(path.read_text(encoding="utf-8"))
        names = [a["name"] for a in declared["automations"]]
        if not all(isinstance(a.get("events"), list) for a in declared["automations"]):
            raise KeyError("events")
        watches = {a["watch"] for a in declared["automations"]}
        if not watches <= {"runs", "deadlines"}:
            raise KeyError("watch: runs or deadlines")
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(f"automations file {path} is unreadable: {exc}") from exc
    if len(names) != len(set(names)):
        raise ConfigError(f"automations file {path}: names repeat")
    return dict(declared)


# The bodies the server posts to `rcoi web` (web/alerts.py, tasks/domain/alerts.py). Every
# value goes through `tojson` or sits inside quotes as text: a bare `{{ flow_run.id }}` is
# rewritten by Prefect to `{{ flow_run.id | tojson }}`, which fails on a UUID (InvalidJinja),
# and the action then never runs.
RUN_PAYLOAD = """{
  "kind": "run",
  "event": {{ event.event | tojson }},
  "flow_run_id": "{{ flow_run.id }}",
  "name": {{ flow_run.name | tojson }},
  "expected_start": "{{ flow_run.expected_start_time }}",
  "tags": {{ flow_run.tags | tojson }},
  "parameters": {{ flow_run.parameters | tojson }},
  "flow": {{ (flow.name if flow else none) | tojson }},
  "deployment": {{ (deployment.name if deployment else none) | tojson }},
  "ui": {{ (flow_run | ui_url) | tojson }}
}"""
DEADLINE_PAYLOAD = """{
  "kind": "deadline",
  "event": {{ event.event | tojson }},
  "notice": {{ event.payload | tojson }}
}"""


def _trigger(item: dict[str, Any]) -> EventTrigger:
    """A flow run of any deployment tagged `rcoi` (`watch: runs`), or a deadline event of the
    watchdog (`watch: deadlines`, resources `rcoi.plan-stage.<plan>.<session>.<stage>`)."""
    common: dict[str, Any] = {
        "expect": set(item["events"]),
        "posture": Posture.Reactive,
        "threshold": 1,
        "within": timedelta(0),
    }
    if item["watch"] == "deadlines":
        return EventTrigger(match={"prefect.resource.id": f"{DEADLINE_RESOURCE}.*"}, **common)
    return EventTrigger(
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related=ResourceSpecification(
            {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{WATCHED_TAG}"}
        ),
        **common,
    )


def build_automations(declared: dict[str, Any], webhook_id: Any) -> list[Automation]:
    """One automation per declaration: its events make the server post the alert's JSON to
    `rcoi web` through the webhook block `webhook_id`."""
    return [
        Automation(
            name=item["name"],
            description=item.get("description", ""),
            enabled=True,
            trigger=_trigger(item),
            actions=[
                CallWebhook(
                    block_document_id=webhook_id,
                    payload=DEADLINE_PAYLOAD if item["watch"] == "deadlines" else RUN_PAYLOAD,
                )
            ],
        )
        for item in declared["automations"]
    ]


def save_webhook(url: str, token: str, name: str = WEBHOOK_BLOCK) -> Any:
    """The webhook block the automations call (created or overwritten): `url` with the Bearer
    token, kept by Prefect as secrets."""
    block = Webhook(
        method="POST",
        url=SecretStr(url),
        headers=SecretDict(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        ),
    )
    return block.save(name, overwrite=True)


def apply_automations(automations: Sequence[Automation]) -> dict[str, str]:
    """Create or update each automation by name on the configured Prefect server: name →
    created | updated."""
    done: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        existing = {a.name: a for a in client.read_automations()}
        for automation in automations:
            found = existing.get(automation.name)
            if found is None:
                automation.create()
                done[automation.name] = "created"
            else:
                automation.id = found.id
                automation.update()
                done[automation.name] = "updated"
    return done
