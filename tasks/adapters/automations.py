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
    EventTrigger,
    Posture,
    ResourceSpecification,
    RunDeployment,
)

from tasks.errors import ConfigError

__all__ = [
    "AUTOMATIONS_FILE",
    "apply_automations",
    "build_automations",
    "notify_deployment_id",
    "read_declarations",
]

AUTOMATIONS_FILE = Path(__file__).resolve().parents[2] / "infra" / "automations.yaml"
WATCHED_TAG = "rcoi"


def read_declarations(path: Path = AUTOMATIONS_FILE) -> dict[str, Any]:
    try:
        declared = yaml.safe_load(path.read_text(encoding="utf-8"))
        names = [a["name"] for a in declared["automations"]]
        if not all(isinstance(a.get("events"), list) for a in declared["automations"]):
            raise KeyError("events")
        str(declared["notify_deployment"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(f"automations file {path} is unreadable: {exc}") from exc
    if len(names) != len(set(names)):
        raise ConfigError(f"automations file {path}: names repeat")
    return dict(declared)


def build_automations(
    declared: dict[str, Any], notify_deployment_id: Any, out: str
) -> list[Automation]:
    """One automation per declaration: any of its events on a flow run tagged `rcoi` runs the
    notify deployment with the run's id and the event's name (Jinja, filled in by Prefect)."""
    return [
        Automation(
            name=item["name"],
            description=item.get("description", ""),
            enabled=True,
            trigger=EventTrigger(
                expect=set(item["events"]),
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related=ResourceSpecification(
                    {
                        "prefect.resource.role": "tag",
                        "prefect.resource.id": f"prefect.tag.{WATCHED_TAG}",
                    }
                ),
                posture=Posture.Reactive,
                threshold=1,
                within=timedelta(0),
            ),
            actions=[
                RunDeployment(
                    source="selected",
                    deployment_id=notify_deployment_id,
                    parameters={
                        "flow_run_id": "{{ flow_run.id }}",
                        "event": "{{ event.event }}",
                        "out": out,
                    },
                )
            ],
        )
        for item in declared["automations"]
    ]


def apply_automations(automations: Sequence[Automation]) -> dict[str, str]:
    """Create or update each automation by name on the configured Prefect server: name →
    created | updated. The notify deployment must exist (`rcoi serve --plan` creates it)."""
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


def notify_deployment_id(name: str) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name(name).id
