"""The coordinator's alert mail from what a Prefect automation sends (infra/automations.yaml):
a stage run that failed, crashed or is late, or a missed deadline the watchdog escalated.
Pure: the webhook's JSON in, the mail's key, subject and body out. Codes, states and times
only — no personal data exists at this level to leak."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "Alert",
    "AlertError",
    "DeadlineAlert",
    "RunAlert",
    "alert_mail",
    "deadline_mail",
    "parse_alert",
]

STATE_RU = {
    "Failed": "завершился ошибкой",
    "Crashed": "аварийно прерван",
    "Late": "не начался в назначенное время",
}
_LABELS = ("stage", "plan", "region", "session")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ESCALATION_KEY = re.compile(
    r"^watchdog:escalation:(?P<session>[a-z0-9][a-z0-9-]*):(?P<stage>[A-Za-z0-9_]+):"
    r"\d{8}T\d{4}Z:coordinator$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_PARTIES = 1000


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
class DeadlineAlert:
    """A missed deadline the watchdog escalated, as codes only: the endpoint takes no text
    from the event (anyone who may post events to the Prefect API could write it) and builds
    the mail from the plan row it finds in the regional database."""

    key: str
    plan_stage_id: int
    session: str
    stage: str
    due: datetime
    parties: tuple[str, ...]
    plan: str
    region: str
    flow_run_id: str | None


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


def _code(value: Any, what: str) -> str:
    text = str(value if value is not None else "")
    if not _CODE.match(text):
        raise AlertError(f"deadline alert: {what} is not a code")
    return text


def _deadline(notice: Any) -> DeadlineAlert:
    """The escalation's codes, each checked: its key as the watchdog makes it, the plan row's
    id, the late parties' codes, an aware deadline. Anything else is refused."""
    if not isinstance(notice, Mapping):
        raise AlertError("deadline alert without its notice")
    key = str(notice.get("key") or "")
    found = _ESCALATION_KEY.match(key)
    if found is None:
        raise AlertError("deadline alert: not a watchdog escalation key")
    stage_id = notice.get("plan_stage_id")
    if not isinstance(stage_id, int) or isinstance(stage_id, bool) or stage_id <= 0:
        raise AlertError("deadline alert: no plan row")
    parties = notice.get("late_parties")
    if not isinstance(parties, list) or not 0 < len(parties) <= MAX_PARTIES:
        raise AlertError("deadline alert: no late parties")
    due = _when(notice.get("due"))
    if due is None:
        raise AlertError("deadline alert: no deadline")
    run = str(notice.get("flow_run_id") or "")
    return DeadlineAlert(
        key=key,
        plan_stage_id=stage_id,
        session=found["session"],
        stage=found["stage"],
        due=due,
        parties=tuple(_code(p, "a party") for p in parties),
        plan=_code(notice.get("plan"), "the plan"),
        region=_code(notice.get("region"), "the region"),
        flow_run_id=run if _UUID.match(run) else None,
    )


def parse_alert(body: Mapping[str, Any]) -> RunAlert | DeadlineAlert:
    """A `RunAlert` for `kind: run`, a `DeadlineAlert` for `kind: deadline`."""
    kind = body.get("kind")
    if kind == "deadline":
        return _deadline(body.get("notice"))
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


def _run_link(ui_base: str | None, run_id: str) -> str | None:
    return f"{ui_base.rstrip('/')}/runs/flow-run/{run_id}" if ui_base else None


def deadline_mail(alert: DeadlineAlert, subject: str, body: str, ui_base: str | None) -> Alert:
    """The watchdog's own escalation text (`notice_mail`, built by the caller from the plan
    row) with plan, region, session, stage and the watchdog run's link; the watchdog's key,
    so that the watchdog and the automation never both send it."""
    link = _run_link(ui_base, alert.flow_run_id) if alert.flow_run_id else None
    where = (
        f"План: {alert.plan}, регион {alert.region}, сеанс {alert.session}, этап {alert.stage}\n"
    )
    return Alert(
        key=alert.key,
        kind="escalation",
        subject=subject,
        body=f"{body}\n{where}" + (f"Запуск контроля сроков: {link}\n" if link else "") + "РЦОИ\n",
        plan_stage_id=alert.plan_stage_id,
    )


def alert_mail(alert: RunAlert, zone: str | None, ui_base: str | None) -> Alert:
    """A run's mail, once per run and state (key). `zone`: the plan's, for local times;
    `ui_base`: the Prefect UI's address when the server gave no link."""
    what = alert.labels.get("stage") or alert.flow or "?"
    happened = STATE_RU.get(alert.state, alert.state)
    link = alert.link or _run_link(ui_base, alert.run_id) or alert.run_id
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
