"""The application `rcoi web` serves: the operators' verification pages (`/verify/`, one exam
session), the coordinator's board of the plan-schedules (`/board/`, every plan; the same
login), the participants' results lookup (`/results/`, every session) and the МОУО's
acknowledgement links (`/ack/<token>`), over one regional database. Every response gets the
security headers (web/headers.py); uvicorn takes a client's address from X-Forwarded-For only
when the connection comes from a proxy RCOI_TRUSTED_PROXIES names (`server_options`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from config.settings import Settings
from tasks.adapters.database import bootstrap
from web.alerts import alert_routes
from web.board import PREFIX as BOARD_PREFIX
from web.board import board_routes, board_site
from web.headers import ERROR_HANDLERS, SecurityHeaders
from web.lookup import STATIC, ack_routes, lookup_routes, public_site
from web.verify import PREFIX, verify_routes, verify_site

__all__ = ["create_app", "server_options"]


async def _home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=303)


def create_app(settings: Settings, campaign: str, session: str) -> Starlette:
    """Every page, with the verification pages for `session` of `campaign`."""
    database = bootstrap(settings)
    try:
        verify = verify_site(database, settings, campaign, session)
        board = board_site(verify, settings)
        public = public_site(database, settings)
    except BaseException:
        database.dispose()
        raise

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = Starlette(
        routes=[
            *verify_routes(verify),
            *board_routes(board),
            *lookup_routes(public),
            *ack_routes(public),
            *alert_routes(settings, database),
            Route("/", _home, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(
                SecurityHeaders,
                static=(f"{STATIC}/", f"{PREFIX}/static/", f"{BOARD_PREFIX}/static/"),
            )
        ],
        exception_handlers=dict(ERROR_HANDLERS),
    )
    app.state.site, app.state.board, app.state.public = verify, board, public
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `rcoi web`: one process (the login throttle lives in it) and
    forwarded headers only from the trusted proxies. uvicorn's own default trusts any
    connection from 127.0.0.1, so a proxy on this host would pass a client's made-up
    X-Forwarded-For through and give every request a lookup limit of its own."""
    trusted = [address.strip() for address in settings.trusted_proxies if address.strip()]
    return {
        "workers": None,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "server_header": False,
        "log_level": "warning",
        "access_log": False,
    }
