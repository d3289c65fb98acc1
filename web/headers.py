"""The security headers of every response of `rcoi web` (pages, crops, static files,
redirects, error pages, the alert endpoint) and its Russian error pages.

A request that came over https (as uvicorn sees it: its own TLS, or X-Forwarded-Proto from a
proxy RCOI_TRUSTED_PROXIES names) also gets Strict-Transport-Security, so the proxy needs to
add nothing; over plain http it would mean nothing (browsers ignore it there) and is not sent.

A page sets its own Content-Security-Policy (and the like); the middleware adds whatever a
response lacks, so a crop or a stylesheet gets the strictest defaults. Only the static files
(stylesheets, the pages' script: nothing personal) may be cached, briefly: a script fetched
anew on every page would come after the page and miss the operator's first key. Errors the
routes do not answer themselves (an unknown address, a wrong method, a crash) get a short
Russian page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ERROR_HANDLERS",
    "HSTS",
    "SECURITY_HEADERS",
    "STATIC_CACHE",
    "SecurityHeaders",
    "error_page",
]

SECURITY_HEADERS: Mapping[str, str] = {
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "cross-origin-resource-policy": "same-origin",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
STATIC_CACHE = "public, max-age=600"
HSTS = "max-age=31536000"  # a year; not includeSubDomains: the region's other sites are not ours
_ERRORS_RU = {
    400: "Неверный запрос",
    403: "Доступ запрещён",
    404: "Страница не найдена",
    405: "Метод не поддерживается",
    413: "Слишком большой запрос",
    500: "Внутренняя ошибка сервера. Повторите попытку позже.",
}


class SecurityHeaders:
    """ASGI middleware: every HTTP response gets SECURITY_HEADERS it does not set itself;
    under the `static` path prefixes, STATIC_CACHE instead of no-store; over https, HSTS."""

    def __init__(self, app: ASGIApp, static: tuple[str, ...] = ()) -> None:
        self.app, self.static = app, static

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        static = str(scope.get("path", "")).startswith(self.static) if self.static else False
        https = scope.get("scheme") == "https"

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if static:
                    headers.setdefault("cache-control", STATIC_CACHE)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if https:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, send_secured)


def error_page(status: int, text: str | None = None) -> HTMLResponse:
    """A bare Russian page for an error status, with the security headers set here too (a
    crash's page is written outside every middleware)."""
    message = text or _ERRORS_RU.get(status, "Ошибка")
    html = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{status} · РЦОИ</title></head><body><h1>{message}</h1></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=dict(SECURITY_HEADERS))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    response = error_page(status)
    if isinstance(exc, HTTPException) and exc.headers:  # e.g. Allow on a 405
        response.headers.update(exc.headers)
    return response


async def _crash(request: Request, exc: Exception) -> Response:
    return error_page(500)  # the server logs the exception itself


ERROR_HANDLERS: Mapping[int | type[Exception], Callable[[Request, Exception], Awaitable[Response]]]
ERROR_HANDLERS = {HTTPException: _http_error, Exception: _crash}
