"""`POST /prefect/alerts`: the webhook the Prefect server's automations call
(infra/automations.yaml) when a stage run fails, crashes or is late, or when the watchdog
escalates a missed deadline. It mails the coordinator once per run and state (or notice).
Only the server, holding the shared Bearer token (RCOI_ALERTS_TOKEN), is let in; without a
token set the endpoint does not exist (404). Nothing here depends on a worker being alive."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from config.settings import Settings
from tasks.adapters.database import Database
from tasks.adapters.mail import MailError, OutgoingMail, mailer_from_settings
from tasks.adapters.notifications import send_once
from tasks.adapters.plan_files import plan_zone
from tasks.domain.alerts import AlertError, RunAlert, alert_mail, parse_alert

__all__ = ["ALERTS_PATH", "alert_routes"]

ALERTS_PATH = "/prefect/alerts"
MAX_BODY = 64 * 1024
logger = logging.getLogger("rcoi.web.alerts")


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _ui_base(settings: Settings) -> str | None:
    api = settings.prefect_api_url
    return api[: -len("/api")] if api and api.endswith("/api") else api


def alert_routes(settings: Settings, database: Database) -> list[BaseRoute]:
    token = settings.alerts_token.get_secret_value() if settings.alerts_token else None

    async def receive(request: Request) -> Response:
        if token is None:
            return Response(status_code=404)
        if not _authorised(request, token):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return Response(status_code=413)
        try:
            body: Any = json.loads(raw)
            alert = parse_alert(body if isinstance(body, dict) else {})
        except (ValueError, AlertError) as exc:
            logger.warning("alert refused: %s", exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        labels = alert.labels if isinstance(alert, RunAlert) else alert
        zone = plan_zone(str(labels.get("plan") or ""))
        if zone is None and isinstance(alert, RunAlert):  # a plan file not shipped
            zone = plan_zone(alert.plan_ref)
        mail = alert_mail(alert, zone, _ui_base(settings))
        outgoing = OutgoingMail(
            key=mail.key,
            to=tuple(settings.coordinator_emails),
            subject=mail.subject,
            body=mail.body,
        )
        try:
            sent = bool(settings.coordinator_emails) and send_once(
                database.session_factory,
                mailer_from_settings(settings),
                outgoing,
                mail.kind,
                mail.plan_stage_id,
            )
        except (MailError, OSError) as exc:  # the action fails; Prefect shows it as failed
            logger.error("alert %s not mailed: %s", mail.key, type(exc).__name__)
            return JSONResponse({"error": "mail not sent"}, status_code=503)
        logger.info("alert %s: coordinator mailed: %s", mail.key, sent)
        return JSONResponse({"key": mail.key, "mailed": sent})

    return [Route(ALERTS_PATH, receive, methods=["POST"])]
