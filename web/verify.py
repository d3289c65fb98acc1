"""The operators' verification pages (server-rendered, in Russian) under `/verify/`.

Every page but the login needs a signed-in operator; sessions expire (tasks/adapters/
operators.py); every form post carries the session's CSRF token (the login form a cookie's
double-submitted token); passwords are scrypt hashes, checked in a worker thread (a few at a
time, a bounded number waiting) so that a login never stalls the other pages, and failed logins
are throttled (web/throttle.py), the operator's own browser by its «known browser» tag. An
operator sees the crop and codes of an item offered to him, never the rest of the blank; whole
pages (rejected ones) only a senior verifier sees. Keyboard only: the answer field has the
focus, Enter sends, Esc skips, «g» opens the group.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from config.settings import Settings
from tasks.adapters.database import Database, bootstrap
from tasks.adapters.lookup_store import lookup_key
from tasks.adapters.models import AuditLog, Operator
from tasks.adapters.operators import (
    SignedIn,
    credentials,
    sign_in,
    sign_out,
    signed_in,
    verify_password,
)
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.adapters.verify_store import (
    ItemView,
    apply_decision,
    group_of,
    item_view,
    may_decide,
    next_items,
    queue_counts,
)
from tasks.domain.grading import GROUP_TITLES
from tasks.domain.verify import OPEN_STATUSES, VerifyError, answer_spec
from tasks.errors import DataError
from web.headers import ERROR_HANDLERS, SecurityHeaders
from web.throttle import LoginThrottle

__all__ = ["VerifySite", "create_app", "tag_issued", "verify_routes", "verify_site"]

HERE = Path(__file__).resolve().parent
COOKIE = "rcoi_session"
LOGIN_COOKIE = "rcoi_login"
KNOWN_COOKIE = "rcoi_known"  # tags of the logins that signed in in this browser
KNOWN_TAGS = 8  # an operators' room may share a computer
KNOWN_MAX_AGE = 180 * 24 * 3600  # seconds a tag stands for its browser after its login
PREFIX = "/verify"
BOARD = "/board/"  # the coordinator's pages (web/board.py): same login, same session cookie
HASHES_AT_ONCE = 2  # scrypt checks in worker threads at once (16 MiB and a core each)
HASHES_WAITING = 16  # logins waiting for a check beyond those; more are answered 503 at once
BUSY = "Сервер занят проверкой входов. Повторите попытку через несколько секунд."
MAX_ID = 2**63 - 1  # larger ids exist nowhere and overflow the database's integers
CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATUS_RU = {
    "open": "ожидает",
    "second": "ожидает второй проверки",
    "disputed": "спорный: решает старший верификатор",
    "resolved": "решён",
    "gone": "снят (причина устранена)",
}
KIND_RU = {
    "scan": "распознавание",
    "result": "оценки",
    "record": "отметки комиссии",
    "page": "отклонённая страница",
}
FIELD_RU = {
    **GROUP_TITLES,
    "work_code": "Код работы",
    "topic_number": "Номер темы",
    "answer_blanks": "Количество бланков записи",
    "sheet_number": "Лист №",
    "flag_not_finished": "«Не закончил»",
    "flag_removed": "«Удален»",
    "flag_oral": "«В устной форме»",
}


class VerifySite:
    """What the pages serve: the regional database, one exam session, the crops folder."""

    def __init__(
        self,
        database: Database,
        session_id: int,
        session_code: str,
        crops: Path,
        known_key: bytes | None = None,
    ):
        self.database, self.session_id, self.session_code, self.crops = (
            database,
            session_id,
            session_code,
            crops,
        )
        self.known_key = known_key or secrets.token_bytes(32)
        self.throttle = LoginThrottle()
        self.hashing = anyio.CapacityLimiter(HASHES_AT_ONCE)
        self.hashes_pending = 0  # checks running or waiting for a thread
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
        )

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(
            prefix=PREFIX,
            session_code=self.session_code,
            status_ru=STATUS_RU,
            kind_ru=KIND_RU,
            field_ru=FIELD_RU,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _tag(self, login: str, stored: str, issued: int, nonce: str) -> str:
        message = f"{issued}\0{nonce}\0{login}\0{stored}".encode()
        mac = hmac.new(self.known_key, message, hashlib.sha256).hexdigest()[:32]
        return f"{issued}-{nonce}-{mac}"

    def new_tag(self, login: str, stored: str, issued: int) -> str:
        """The «known browser» tag a browser gets when it signs in as `login`: the issue time
        (Unix seconds), a random nonce and a keyed hash of both, the login and the login's
        stored password hash. Nobody can make one up, each sign-in gets its own (the throttle
        counts its failures apart), and a new password (a new salt) or KNOWN_MAX_AGE voids
        it."""
        return self._tag(login, stored, issued, secrets.token_hex(8))

    def valid_tag(self, login: str, stored: str, tags: list[str], now: int) -> str | None:
        """The first of `tags` that is a live tag of `login` with this password hash."""
        for given in tags:
            issued = tag_issued(given)
            if issued is None or now - issued > KNOWN_MAX_AGE:
                continue
            nonce = given.split("-")[1]
            if hmac.compare_digest(self._tag(login, stored, issued, nonce), given):
                return given
        return None

    def bad_request(self, who: SignedIn, message: str) -> HTMLResponse:
        return self.page("verify/bad.html", status=400, who=who, message=message)


Handler = Callable[[Request, VerifySite, UnitOfWork, SignedIn], Awaitable[Response]]


def _now() -> datetime:
    return datetime.now(UTC)


def _login_redirect() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


def _item_id(text: str | None) -> int | None:
    """An item id as typed into a URL or a form: ASCII digits within the database's range."""
    if text is None or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def _protected(
    handler: Handler, site: VerifySite, operators_only: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Run `handler` for a signed-in operator; a POST must carry the session's CSRF token. A
    coordinator is sent to the board (signing out stays open to every role)."""

    async def endpoint(request: Request) -> Response:
        with UnitOfWork(site.database.session_factory) as uow:
            who = signed_in(uow.session, request.cookies.get(COOKIE), _now())
            uow.commit()
            if who is None:
                if request.url.path.startswith(f"{PREFIX}/crop/"):
                    return Response("требуется вход", status_code=401)
                return _login_redirect()
            if operators_only and who.role == "coordinator":
                return site.page("board/operators_only.html", status=403, who=who)
            if request.method == "POST":
                form = await request.form()
                if not secrets.compare_digest(str(form.get("csrf", "")), who.csrf):
                    return Response("запрос отклонён: неверный токен формы", status_code=403)
            response = await handler(request, site, uow, who)
            uow.commit()
            return response

    return endpoint


def _next_page(value: object) -> str:
    """Where to go after signing in: a page of the board (where a coordinator was sent from),
    never another site; "" for the default."""
    text = str(value or "")
    if not text.startswith(BOARD) or "//" in text or "\\" in text or len(text) > 2000:
        return ""
    return text if text.isprintable() else ""


def _login_page(
    site: VerifySite, status: int = 200, error: str | None = None, next_page: str = ""
) -> Response:
    token = secrets.token_urlsafe(24)
    response = site.page(
        "verify/login.html", status=status, csrf=token, error=error, next_page=next_page
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path=PREFIX)
    return response


async def login_form(request: Request, site: VerifySite) -> Response:
    return _login_page(site, next_page=_next_page(request.query_params.get("next")))


def tag_issued(tag: str) -> int | None:
    """The issue time of a well-formed tag (`issued-nonce-mac`), else None."""
    parts = tag.split("-")
    if len(parts) != 3 or [len(part) for part in parts[1:]] != [16, 32]:
        return None
    issued = parts[0]
    if not (issued.isascii() and issued.isdigit() and len(issued) <= 12):
        return None
    return int(issued)


def _known_tags(request: Request) -> list[str]:
    return [t for t in request.cookies.get(KNOWN_COOKIE, "").split(".") if t][:KNOWN_TAGS]


def _busy(site: VerifySite, next_page: str = "") -> Response:
    response = _login_page(site, status=503, error=BUSY, next_page=next_page)
    response.headers["Retry-After"] = "10"
    return response


def _locked(site: VerifySite, wait: float, next_page: str = "") -> Response:
    minutes = max(1, int(wait + 59) // 60)
    response = _login_page(
        site,
        status=429,
        error=f"Слишком много неудачных попыток входа. Повторите через {minutes} мин.",
        next_page=next_page,
    )
    response.headers["Retry-After"] = str(int(wait + 0.999))
    return response


def _audit_failed_login(site: VerifySite, login_name: str) -> None:
    """The login only, never what was typed as password."""
    with UnitOfWork(site.database.session_factory) as uow:
        uow.session.add(
            AuditLog(
                actor=login_name or "—",
                action="login_failed",
                entity="operator",
                entity_id=login_name or None,
            )
        )
        uow.commit()


async def login(request: Request, site: VerifySite) -> Response:
    form = await request.form()
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not secrets.compare_digest(str(form.get("csrf", "")), cookie):
        return Response("запрос отклонён: неверный токен формы", status_code=403)
    login_name = str(form.get("login", ""))[:64]
    next_page = _next_page(form.get("next"))
    address = request.client.host if request.client else "unknown"
    with UnitOfWork(site.database.session_factory) as uow:
        operator, stored = credentials(uow.session, login_name)
        operator_id = operator.id if operator is not None else None
    now = int(_now().timestamp())
    tags = _known_tags(request)
    tag = site.valid_tag(login_name, stored, tags, now) if operator_id is not None else None
    # A bounded queue: past it, an untagged login is answered at once rather than held in
    # memory behind a flood of others; a tagged browser's few attempts still wait their turn.
    if site.hashes_pending >= HASHES_AT_ONCE + HASHES_WAITING and not site.throttle.spares(tag):
        return _busy(site, next_page)
    attempt = site.throttle.admit(login_name, address, tag=tag)
    if attempt.wait > 0:  # refused before any check: a locked login learns nothing, costs nothing
        return _locked(site, attempt.wait, next_page)
    # scrypt takes a core for tens of milliseconds: in a worker thread, a few at a time, so
    # that logins (an attacker's too) never stall the pages of everyone else.
    site.hashes_pending += 1
    try:
        right = await anyio.to_thread.run_sync(
            verify_password, str(form.get("password", "")), stored, limiter=site.hashing
        )
    finally:
        site.hashes_pending -= 1
    if operator_id is None or not right:
        _audit_failed_login(site, login_name)
        return _login_page(site, status=401, error="Неверный логин или пароль", next_page=next_page)
    site.throttle.succeeded(attempt)
    with UnitOfWork(site.database.session_factory) as uow:
        found = uow.session.get(Operator, operator_id)
        if found is None or not found.active:  # deactivated meanwhile
            return _login_page(
                site, status=401, error="Неверный логин или пароль", next_page=next_page
            )
        token, _ = sign_in(uow.session, found, _now())
        role = found.role
        uow.commit()
    secure = request.url.scheme == "https"
    home = BOARD if role == "coordinator" else f"{PREFIX}/"
    response = RedirectResponse(next_page or home, status_code=303)
    # A browser-session cookie: the server ends the session (idle or at the shift's end). Its
    # path is the site's root: the coordinator's board (/board/) signs in here too.
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    # This browser is now known for the login (a fresh tag, its earlier ones dropped): the
    # throttle counts its failures by the tag alone, so nobody else can lock it out.
    others = [
        t
        for t in tags
        if site.valid_tag(login_name, stored, [t], now) is None
        and (issued := tag_issued(t)) is not None
        and now - issued <= KNOWN_MAX_AGE
    ]
    response.set_cookie(
        KNOWN_COOKIE,
        ".".join([site.new_tag(login_name, stored, now), *others][:KNOWN_TAGS]),
        max_age=KNOWN_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=secure,
        path=PREFIX,
    )
    return response


async def logout(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    sign_out(uow.session, request.cookies.get(COOKIE))
    response = _login_redirect()
    response.delete_cookie(COOKIE, path="/")
    return response


async def queue(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    counts = queue_counts(uow.session, site.session_id)
    items = next_items(uow.session, site.session_id, who.login, who.role, limit=100)
    open_total = sum(counts.get(s, 0) for s in OPEN_STATUSES)
    return site.page(
        "verify/queue.html", who=who, counts=counts, items=items, open_total=open_total
    )


async def next_item(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    after = _item_id(request.query_params.get("after") or "0")
    if after is None:
        return site.bad_request(who, "Неверный номер элемента в адресе.")
    items = next_items(uow.session, site.session_id, who.login, who.role, limit=1, after=after)
    if not items:
        return RedirectResponse(f"{PREFIX}/", status_code=303)
    return RedirectResponse(f"{PREFIX}/item/{items[0].id}", status_code=303)


def _item_context(view: ItemView) -> dict[str, Any]:
    spec = answer_spec(view.kind, view.field)
    if view.status == "second":  # blind: nothing of the first check, the protocol's value too
        view = dataclasses.replace(view, expected=None)
    return {
        "item": view,
        "spec": spec,
        "field_title": FIELD_RU.get(view.field or "", view.field or "страница"),
    }


async def item_page(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    item_id = int(request.path_params["item_id"])
    view = item_view(uow.session, item_id) if item_id <= MAX_ID else None
    if view is None or view.session_id != site.session_id:
        return site.page("verify/gone.html", status=404, who=who)
    if not may_decide(uow.session, item_id, who.login, who.role, site.session_id):
        return site.page("verify/gone.html", status=403, who=who)
    return site.page("verify/item.html", who=who, error=None, answer="", **_item_context(view))


async def decide_item(
    request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn
) -> Response:
    item_id = int(request.path_params["item_id"])
    form = await request.form()
    view = item_view(uow.session, item_id) if item_id <= MAX_ID else None
    if view is None or view.session_id != site.session_id:
        return site.page("verify/gone.html", status=404, who=who)
    if not may_decide(uow.session, item_id, who.login, who.role, site.session_id):
        return site.page("verify/gone.html", status=403, who=who)
    answer = str(form.get("answer", "")).strip()
    if not answer and view.recognised and answer_spec(view.kind, view.field).kind == "digits":
        answer = view.recognised  # Enter on an empty field confirms what was recognised
    try:
        apply_decision(uow.session, item_id, who.login, who.role, answer, _now())
    except (VerifyError, ValueError, DataError) as exc:
        uow.session.rollback()
        return site.page(
            "verify/item.html",
            status=422,
            who=who,
            error=str(exc),
            answer=answer,
            **_item_context(view),
        )
    return RedirectResponse(f"{PREFIX}/next?after={item_id}", status_code=303)


async def group_page(
    request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn
) -> Response:
    item_id = _item_id(request.query_params.get("item"))
    if item_id is None:
        return site.bad_request(who, "Неверный номер элемента в адресе.")
    view = item_view(uow.session, item_id)
    if view is None or view.field is None:
        return RedirectResponse(f"{PREFIX}/", status_code=303)
    if not may_decide(uow.session, item_id, who.login, who.role, site.session_id):
        return site.page("verify/gone.html", status=403, who=who)
    items = group_of(uow.session, site.session_id, view.field, view.recognised, who.login, who.role)
    spec = answer_spec(view.kind, view.field)
    return site.page(
        "verify/group.html",
        who=who,
        items=items,
        lead=view,
        spec=spec,
        field_title=FIELD_RU.get(view.field, view.field),
        error=None,
    )


async def decide_group(
    request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn
) -> Response:
    form = await request.form()
    answer = str(form.get("answer", "")).strip()
    chosen = [_item_id(str(v)) for v in form.getlist("item")]
    decided = 0
    for item_id in chosen:
        if item_id is None:
            continue
        if not may_decide(uow.session, item_id, who.login, who.role, site.session_id):
            continue
        try:
            apply_decision(uow.session, item_id, who.login, who.role, answer, _now())
            decided += 1
        except (VerifyError, ValueError, DataError):
            continue
    return RedirectResponse(f"{PREFIX}/?decided={decided}", status_code=303)


async def crop(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    item_id = int(request.path_params["item_id"])
    # Only the crop of an item offered to this operator now (a whole page: a senior's).
    if item_id > MAX_ID or not may_decide(
        uow.session, item_id, who.login, who.role, site.session_id
    ):
        return Response("нет доступа", status_code=403)
    path = site.crops / f"{item_id}.png"
    if not path.is_file():
        return Response("изображение не подготовлено", status_code=404)
    return Response(
        path.read_bytes(), media_type="image/png", headers={"Cache-Control": "no-store"}
    )


def verify_site(database: Database, settings: Settings, campaign: str, session: str) -> VerifySite:
    """The site of one exam session of a campaign (crops under `<out>/verify/<session>/`)."""
    with UnitOfWork(database.session_factory) as uow:
        info = session_info(uow.session, campaign, session)
    # The «known browser» tags outlive a restart: keyed by the installation's lookup key.
    known_key = hmac.new(lookup_key(settings), b"rcoi-known-browser", hashlib.sha256).digest()
    return VerifySite(
        database, info.id, session, settings.out_dir / "verify" / session / "crops", known_key
    )


def verify_routes(site: VerifySite) -> list[BaseRoute]:
    """Every route under `/verify/`, to mount in an application (web/app.py)."""

    def protected(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return _protected(handler, site)

    def public(
        handler: Callable[[Request, VerifySite], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(request, site)

        return endpoint

    return [
        Route(f"{PREFIX}/login", public(login_form), methods=["GET"]),
        Route(f"{PREFIX}/login", public(login), methods=["POST"]),
        Route(f"{PREFIX}/logout", _protected(logout, site, operators_only=False), methods=["POST"]),
        Route(f"{PREFIX}/", protected(queue), methods=["GET"]),
        Route(f"{PREFIX}/next", protected(next_item), methods=["GET"]),
        Route(f"{PREFIX}/item/{{item_id:int}}", protected(item_page), methods=["GET"]),
        Route(f"{PREFIX}/item/{{item_id:int}}", protected(decide_item), methods=["POST"]),
        Route(f"{PREFIX}/group", protected(group_page), methods=["GET"]),
        Route(f"{PREFIX}/group", protected(decide_group), methods=["POST"]),
        Route(f"{PREFIX}/crop/{{item_id:int}}", protected(crop), methods=["GET"]),
        Mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def create_app(settings: Settings, campaign: str, session: str) -> Starlette:
    """The verification pages alone; `rcoi web` serves web.app.create_app (these and the
    public pages)."""
    database = bootstrap(settings)
    site = verify_site(database, settings, campaign, session)
    routes = [
        *verify_routes(site),
        Route("/", lambda request: RedirectResponse(f"{PREFIX}/", status_code=303)),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders, static=(f"{PREFIX}/static/",))],
        exception_handlers=dict(ERROR_HANDLERS),
    )
    app.state.site = site
    return app
