"""`POST /prefect/alerts`: the webhook the Prefect server's automations call
(infra/automations.yaml) when a stage run fails, crashes or is late, or when the watchdog
escalates a missed deadline. It mails the coordinator once per run and state (or notice).
Only the server, holding the shared Bearer token (RCOI_ALERTS_TOKEN), is let in; without a
token set the endpoint does not exist (404). A deadline's mail is written here from the plan
row in the regional database — the event brings codes only, and they are checked. Nothing
here depends on a worker being alive."""

from __future__ import annotations

import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from config.settings import Settings
from tasks.adapters.database import Database
from tasks.adapters.mail import MailError, OutgoingMail, mailer_from_settings
from tasks.adapters.models import Campaign, ExamSession, PlanStage
from tasks.adapters.notifications import send_once
from tasks.adapters.plan_files import plan_zone
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.alerts import (
    Alert,
    AlertError,
    DeadlineAlert,
    RunAlert,
    alert_mail,
    deadline_mail,
    parse_alert,
)
from tasks.domain.watchdog import Notice, NoticeKind, notice_mail

__all__ = ["ALERTS_PATH", "alert_routes"]

ALERTS_PATH = "/prefect/alerts"
MAX_BODY = 64 * 1024
CLOCK_SKEW = timedelta(minutes=5)  # a deadline a little ahead of this host's clock is accepted
logger = logging.getLogger("rcoi.web.alerts")


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _ui_base(settings: Settings) -> str | None:
    api = settings.prefect_api_url
    return api[: -len("/api")] if api and api.endswith("/api") else api


def _deadline_alert(database: Database, alert: DeadlineAlert, ui: str | None) -> Alert:
    """The watchdog's escalation rebuilt from the plan row the event names, if it is one: the
    row of that session and stage of that plan, its deadline passed."""
    with UnitOfWork(database.session_factory) as uow:
        found = uow.session.execute(
            select(PlanStage.title, PlanStage.zone, PlanStage.stage_key, ExamSession.code)
            .join(ExamSession, PlanStage.session_id == ExamSession.id)
            .join(Campaign, ExamSession.campaign_id == Campaign.id)
            .where(PlanStage.id == alert.plan_stage_id, Campaign.code == alert.plan)
        ).first()
    if found is None or (found.stage_key, found.code) != (alert.stage, alert.session):
        raise AlertError("deadline alert: no such plan row")
    now = datetime.now(UTC)
    if alert.due > now + CLOCK_SKEW:
        raise AlertError("deadline alert: the deadline has not passed")
    notice = Notice(
        kind=NoticeKind.ESCALATION,
        key=alert.key,
        plan_stage_id=alert.plan_stage_id,
        session_code=alert.session,
        stage_key=alert.stage,
        title=found.title,
        due=alert.due,
        zone=found.zone,
        recipient="coordinator",
        parties=alert.parties,
    )
    subject, body = notice_mail(notice, now)
    return deadline_mail(alert, subject, body, ui)


def _deliver(settings: Settings, database: Database, body: Any) -> dict[str, Any]:
    """Parse, write and send once (blocking: database, SMTP). AlertError: refused."""
    alert = parse_alert(body if isinstance(body, dict) else {})
    ui = _ui_base(settings)
    if isinstance(alert, RunAlert):
        zone = plan_zone(alert.labels.get("plan", "")) or plan_zone(alert.plan_ref)
        mail = alert_mail(alert, zone, ui)
    else:
        mail = _deadline_alert(database, alert, ui)
    outgoing = OutgoingMail(
        key=mail.key, to=tuple(settings.coordinator_emails), subject=mail.subject, body=mail.body
    )
    sent = send_once(
        database.session_factory,
        mailer_from_settings(settings),
        outgoing,
        mail.kind,
        mail.plan_stage_id,
    )
    return {"key": mail.key, "mailed": sent}


def alert_routes(settings: Settings, database: Database) -> list[BaseRoute]:
    token = settings.alerts_token.get_secret_value() if settings.alerts_token else None

    async def receive(request: Request) -> Response:
        if token is None:
            return Response(status_code=404)
        if not _authorised(request, token):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return Response(status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return Response(status_code=413)
        if not settings.coordinator_emails:  # nobody to tell: the action must show as failed
            logger.error("alert not mailed: RCOI_COORDINATOR_EMAILS is empty")
            return JSONResponse({"error": "no coordinator address"}, status_code=503)
        try:
            done = await run_in_threadpool(_deliver, settings, database, json.loads(raw))
        except (ValueError, AlertError) as exc:
            logger.warning("alert refused: %s", exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        except (MailError, OSError) as exc:  # the action fails; Prefect shows it as failed
            logger.error("alert not mailed: %s", type(exc).__name__)
            return JSONResponse({"error": "mail not sent"}, status_code=503)
        logger.info("alert %s: coordinator mailed: %s", done["key"], done["mailed"])
        return JSONResponse(done)

    return [Route(ALERTS_PATH, receive, methods=["POST"])]
