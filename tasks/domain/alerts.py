"""The coordinator's alert mail from what a Prefect automation sends (infra/automations.yaml):
a stage run that failed, crashed or is late, or a missed deadline the watchdog escalated.
Pure: the webhook's JSON in, the mail's key, subject and body out. Codes, states and times
only — no personal data exists at this level to leak."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["Alert", "AlertError", "RunAlert", "alert_mail", "parse_alert"]

STATE_RU = {
    "Failed": "завершился ошибкой",
    "Crashed": "аварийно прерван",
    "Late": "не начался в назначенное время",
}
_LABELS = ("stage", "plan", "region", "session")


class AlertError(ValueError):
    """The webhook's body is not an alert this project sends."""


@dataclass(frozen=True, slots=True)
class RunAlert:
    """A run's state change, with its labels from its tags (or parameters)."""

    run_id: str
    state: str  # Failed | Crashed | Late
    name: str
    flow: str | None
    deployment: str | None
    expected: datetime | None
    labels: Mapping[str, str]
    link: str | None
    plan_ref: str = ""  # the run's plan parameter: an id, or the path of a plan not shipped


@dataclass(frozen=True, slots=True)
class Alert:
    key: str
    kind: str  # the notification kind recorded: alert | escalation
    subject: str
    body: str
    plan_stage_id: int | None = None


def _labels(tags: list[Any], parameters: Mapping[str, Any]) -> dict[str, str]:
    """stage/plan/region/session from the tags a deployment gives every run (even one that
    never started), else from the run's parameters."""
    found = {k: v for k, _, v in (str(t).partition(":") for t in tags) if k in _LABELS and v}
    for key in ("stage", "plan", "session"):
        if key not in found and parameters.get(key):
            found[key] = str(parameters[key])
    return found


def _when(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def parse_alert(body: Mapping[str, Any]) -> RunAlert | Mapping[str, Any]:
    """A `RunAlert` for `kind: run`, the watchdog's notice (a mapping) for `kind: deadline`."""
    kind = body.get("kind")
    if kind == "deadline":
        notice = body.get("notice")
        if not isinstance(notice, Mapping) or not {"key", "subject", "body"} <= set(notice):
            raise AlertError("deadline alert without its notice")
        return notice
    if kind != "run":
        raise AlertError(f"unknown alert kind {kind!r}")
    run_id, event = str(body.get("flow_run_id") or ""), str(body.get("event") or "")
    if not run_id or not event.startswith("prefect.flow-run."):
        raise AlertError("run alert without its run or event")
    parameters = body.get("parameters")
    return RunAlert(
        run_id=run_id,
        state=event.rsplit(".", 1)[-1],
        name=str(body.get("name") or run_id),
        flow=body.get("flow") or None,
        deployment=body.get("deployment") or None,
        expected=_when(body.get("expected_start")),
        labels=_labels(list(body.get("tags") or []), parameters or {}),
        link=str(body["ui"]) if isinstance(body.get("ui"), str) and body["ui"] else None,
        plan_ref=str((parameters or {}).get("plan") or ""),
    )


def _where(labels: Mapping[str, str]) -> str:
    parts = [
        f"{label} {labels[key]}"
        for key, label in (("plan", "план"), ("region", "регион"), ("session", "сеанс"))
        if key in labels
    ]
    return ", ".join(parts) or "без плана"


def _local(moment: datetime | None, zone: str | None) -> str:
    if moment is None:
        return "—"
    if not zone:
        return f"{moment:%d.%m.%Y %H:%M} UTC"
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%d.%m.%Y %H:%M} ({zone})"


def alert_mail(alert: RunAlert | Mapping[str, Any], zone: str | None, ui_base: str | None) -> Alert:
    """The mail: once per run and state (key), or per deadline notice (the watchdog's own key,
    so that the watchdog and the automation never both send it). `zone`: the plan's, for
    local times; `ui_base`: the Prefect UI's address when the server gave no link."""
    if not isinstance(alert, RunAlert):
        run = str(alert.get("flow_run_id") or "")
        link = f"{ui_base.rstrip('/')}/runs/flow-run/{run}" if ui_base and run else None
        where = (
            f"План: {alert.get('plan', '—')}, регион {alert.get('region', '—')}, "
            f"сеанс {alert.get('session', '—')}, этап {alert.get('stage', '—')}\n"
        )
        stage_id = alert.get("plan_stage_id")
        return Alert(
            key=str(alert["key"]),
            kind="escalation",
            subject=str(alert["subject"]),
            body=f"{alert['body']}\n{where}"
            + (f"Запуск контроля сроков: {link}\n" if link else "")
            + "РЦОИ\n",
            plan_stage_id=int(stage_id) if isinstance(stage_id, int) else None,
        )
    what = alert.labels.get("stage") or alert.flow or "?"
    happened = STATE_RU.get(alert.state, alert.state)
    link = alert.link or (
        f"{ui_base.rstrip('/')}/runs/flow-run/{alert.run_id}" if ui_base else alert.run_id
    )
    body = (
        f"Запуск этапа «{what}» {happened}.\n\n"
        f"Этап: {what}\n"
        f"План: {alert.labels.get('plan', '—')}\n"
        f"Регион: {alert.labels.get('region', '—')}\n"
        f"Сеанс: {alert.labels.get('session', '—')}\n"
        f"Назначен на: {_local(alert.expected, zone)}\n"
        f"Запуск: {alert.name} (поток {alert.flow or '—'}, развёртывание "
        f"{alert.deployment or '—'})\n\n"
        f"Подробности: {link}\nРЦОИ\n"
    )
    return Alert(
        key=f"prefect-run:{alert.run_id}:{alert.state}",
        kind="alert",
        subject=f"Запуск «{what}» ({_where(alert.labels)}) {happened}",
        body=body,
    )
