"""The public pages of `rcoi web` (in Russian): the participants' results lookup under
`/results/` and the МОУО's acknowledgement of the results lists under `/ack/<token>`.

The lookup answers only an exact match (tasks/adapters/lookup_store.py) of one participant;
queries go by POST so that nothing personal reaches a URL, a referrer or an access log, and
nothing submitted is logged or echoed back. Not found and malformed give one and the same
page; every query, found or not, counts against the client's limit (a keyed hash of its
address) and, for IPv6, its /64's; past a global ceiling every client's limit shrinks and an
IPv4 /24 gets a (generous) limit too, nobody is locked out (docs/inform.md says why). The
client is the connection's address: a proxy's X-Forwarded-For counts only from the proxies
RCOI_TRUSTED_PROXIES names (web/app.py). An acknowledgement link shows on GET (mail scanners
prefetch links) and records only on a POST from its own page (same origin, compared as
origin_of spells it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from config.settings import Settings
from tasks.adapters.acknowledgements import AckView, acknowledge, view
from tasks.adapters.database import Database
from tasks.adapters.lookup_store import allow, client_key, find_results, is_ipv6, lookup_key
from tasks.adapters.unit_of_work import UnitOfWork

__all__ = [
    "DOCUMENTS_RU",
    "FLOOD_SUBNET_FACTOR",
    "GLOBAL_FACTOR",
    "NOT_FOUND",
    "STATIC",
    "SUBNET_FACTOR",
    "PublicSite",
    "ack_routes",
    "lookup_routes",
    "origin_of",
    "public_site",
]

HERE = Path(__file__).resolve().parent
LOOKUP = "/results/"
STATIC = "/static"
NOT_FOUND = "Результат не найден. Проверьте фамилию и номер документа или код работы."
DOCUMENTS_RU = {"results": "Результаты итогового сочинения (изложения)"}
GLOBAL_FACTOR = 50  # the global ceiling: this many clients' limits per window
SUBNET_FACTOR = 5  # an IPv6 /64 (one subscriber's): this many clients' limits per window
# An IPv4 /24 only past the global ceiling: a carrier's NAT puts thousands of participants
# behind a few /24s, so in normal times none is limited as a whole; in a flood a /24 gets this
# many clients' limits (a hosting block's 254 addresses × 3 would get 762).
FLOOD_SUBNET_FACTOR = 20
MAX_BODY = 2048  # bytes of a lookup form: three short fields
FIELDS = ("surname", "document", "work_code")
MONTHS_RU = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class PublicSite:
    """What the public pages serve: the regional database, the lookup's key and limits."""

    database: Database
    secret: bytes = field(repr=False)
    limit: int
    window: timedelta
    global_limit: int
    subnet_limit: int  # an IPv6 /64's, always
    flood_subnet_limit: int  # an IPv4 /24's, past the global ceiling only
    origin: str | None = None  # RCOI_PUBLIC_BASE_URL's, where the mailed links point
    now: Callable[[], datetime] = _utc_now
    templates: Environment = field(
        default_factory=lambda: Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
        )
    )

    def page(
        self, name: str, status: int = 200, referrer: str = "no-referrer", **context: Any
    ) -> HTMLResponse:
        html = self.templates.get_template(name).render(
            lookup=LOOKUP,
            static=STATIC,
            referrer=referrer,
            long_date=long_date,
            local_time=local_time,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = referrer
        return response


def public_site(database: Database, settings: Settings) -> PublicSite:
    """The public pages' site; the lookup key is read (or generated) now, at start-up."""
    return PublicSite(
        database,
        lookup_key(settings),
        settings.lookup_limit,
        timedelta(seconds=settings.lookup_window_s),
        settings.lookup_limit * GLOBAL_FACTOR,
        settings.lookup_limit * SUBNET_FACTOR,
        settings.lookup_limit * FLOOD_SUBNET_FACTOR,
        origin_of(settings.public_base_url),
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL as a browser's Origin header spells it: in
    lower case, the host in ASCII (IDNA: `рцои42.рф` is `xn--42-vlcxj0b.xn--p1ai`), no user
    info, no default port (:443 of https, :80 of http); None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:  # an empty or overlong label
            return None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def long_date(day: date) -> str:
    """6 декабря 2017 г."""
    return f"{day.day} {MONTHS_RU[day.month - 1]} {day.year} г."


def local_time(instant: datetime, zone_name: str) -> str:
    """«08.12.2017 15:30 (Asia/Novokuznetsk, UTC+7)»; UTC named when the zone is unknown."""
    try:
        zone: ZoneInfo | None = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    local = instant.astimezone(zone or UTC)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    shift = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    where = f"{zone_name}, {shift}" if zone else "UTC"
    return f"{local:%d.%m.%Y %H:%M} ({where})"


# --- the results lookup ------------------------------------------------------------------------


async def _lookup_form(request: Request) -> dict[str, str] | None:
    """The three fields of a small URL-encoded form; None for anything else (too big, another
    encoding, a repeated or unknown field)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=len(FIELDS))
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key not in FIELDS or key in fields:
            return None
        fields[key] = value
    return fields


def lookup_routes(site: PublicSite) -> list[BaseRoute]:
    """`GET /results/` (the form; query parameters are ignored) and `POST /results/`."""

    async def form_page(request: Request) -> Response:
        return site.page("lookup/form.html", message=None)

    async def query(request: Request) -> Response:
        address = request.client.host if request.client else "unknown"
        with UnitOfWork(site.database.session_factory) as uow:
            allowed = allow(
                uow.session,
                client_key(site.secret, address),
                site.now(),
                site.limit,
                site.window,
                network_limit=site.subnet_limit if is_ipv6(address) else None,
                flood_network_limit=None if is_ipv6(address) else site.flood_subnet_limit,
                global_limit=site.global_limit,
            )
            uow.commit()
            if not allowed:
                minutes = max(1, round(site.window.total_seconds() / 60))
                response = site.page("lookup/limited.html", status=429, minutes=minutes)
                response.headers["Retry-After"] = str(int(site.window.total_seconds()))
                return response
            fields = await _lookup_form(request)
            answers = (
                find_results(
                    uow.session,
                    fields.get("surname", ""),
                    fields.get("document", ""),
                    fields.get("work_code", ""),
                )
                if fields is not None
                else []
            )
        if not answers:
            return site.page("lookup/form.html", message=NOT_FOUND)
        initials = answers[0].initials
        return site.page("lookup/results.html", answers=answers, initials=initials)

    return [
        Route(LOOKUP, form_page, methods=["GET"]),
        Route(LOOKUP, query, methods=["POST"]),
        Mount(STATIC, StaticFiles(directory=HERE / "static"), name="public-static"),
    ]


# --- acknowledgements --------------------------------------------------------------------------


def ack_routes(site: PublicSite) -> list[BaseRoute]:
    """`GET /ack/<token>` shows what is acknowledged; `POST /ack/<token>` records it."""

    def missing() -> Response:
        return site.page("ack/missing.html", status=404)

    def shown(ack: AckView, name: str, token: str) -> Response:
        return site.page(
            name,
            # The button's POST must carry the page's origin: «no-referrer» would make the
            # browser send «Origin: null». The page links nowhere else, so nothing leaks.
            referrer="same-origin",
            ack=ack,
            token=token,
            document_ru=DOCUMENTS_RU.get(ack.document, ack.document),
        )

    def same_origin(request: Request) -> bool:
        """The POST comes from a page of this site: its Origin (else its Referer's origin) is
        this request's own or the public base URL's, both as origin_of spells them. Neither
        header: refused (every browser sends Origin with a form's POST)."""
        given = request.headers.get("origin")
        if given is None or given.strip() == "null":
            given = request.headers.get("referer")
        origin = origin_of(given) if given else None
        if origin is None:
            return False
        own = origin_of(f"{request.url.scheme}://{request.url.netloc}")
        return origin in {own, site.origin}

    async def ack_page(request: Request) -> Response:
        token = str(request.path_params["token"])
        with UnitOfWork(site.database.session_factory) as uow:
            ack = view(uow.session, token)  # reads only: prefetching scanners change nothing
        return missing() if ack is None else shown(ack, "ack/page.html", token)

    async def ack_post(request: Request) -> Response:
        token = str(request.path_params["token"])
        if not same_origin(request):
            return site.page("ack/refused.html", status=403)
        with UnitOfWork(site.database.session_factory) as uow:
            ack = acknowledge(uow.session, token, site.now())
            uow.commit()
        return missing() if ack is None else shown(ack, "ack/done.html", token)

    return [
        Route("/ack/{token:path}", ack_page, methods=["GET"]),
        Route("/ack/{token:path}", ack_post, methods=["POST"]),
    ]
