"""The application `rcoi web` serves: the operators' verification pages (`/verify/`, one exam
session), the participants' results lookup (`/results/`, every session) and the МОУО's
acknowledgement links (`/ack/<token>`), over one regional database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from config.settings import Settings
from tasks.adapters.database import bootstrap
from web.alerts import alert_routes
from web.lookup import ack_routes, lookup_routes, public_site
from web.verify import PREFIX, verify_routes, verify_site

__all__ = ["create_app"]


async def _home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=303)


def create_app(settings: Settings, campaign: str, session: str) -> Starlette:
    """Every page, with the verification pages for `session` of `campaign`."""
    database = bootstrap(settings)
    try:
        verify = verify_site(database, settings, campaign, session)
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
            *lookup_routes(public),
            *ack_routes(public),
            *alert_routes(settings, database),
            Route("/", _home, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.site, app.state.public = verify, public
    return app
