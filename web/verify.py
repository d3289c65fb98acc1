"""The operators' verification pages (server-rendered, in Russian) under `/verify/`.

Every page but the login needs a signed-in operator; sessions expire (tasks/adapters/
operators.py); every form post carries the session's CSRF token (the login form a cookie's
double-submitted token); passwords are scrypt hashes. An operator sees the item's crop and its
codes, never the rest of the blank; whole pages (rejected ones) only a senior verifier sees.
Keyboard only: the answer field has the focus, Enter sends, Esc skips, «g» opens the group.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from config.settings import Settings
from tasks.adapters.database import Database, bootstrap
from tasks.adapters.models import AuditLog
from tasks.adapters.operators import (
    SignedIn,
    authenticate,
    sign_in,
    sign_out,
    signed_in,
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

__all__ = ["VerifySite", "create_app", "verify_routes", "verify_site"]

HERE = Path(__file__).resolve().parent
COOKIE = "rcoi_session"
LOGIN_COOKIE = "rcoi_login"
PREFIX = "/verify"
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

    def __init__(self, database: Database, session_id: int, session_code: str, crops: Path):
        self.database, self.session_id, self.session_code, self.crops = (
            database,
            session_id,
            session_code,
            crops,
        )
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
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'"
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


Handler = Callable[[Request, VerifySite, UnitOfWork, SignedIn], Awaitable[Response]]


def _now() -> datetime:
    return datetime.now(UTC)


def _login_redirect() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


def _protected(handler: Handler, site: VerifySite) -> Callable[[Request], Awaitable[Response]]:
    """Run `handler` for a signed-in operator; a POST must carry the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        with UnitOfWork(site.database.session_factory) as uow:
            who = signed_in(uow.session, request.cookies.get(COOKIE), _now())
            uow.commit()
            if who is None:
                if request.url.path.startswith(f"{PREFIX}/crop/"):
                    return Response("требуется вход", status_code=401)
                return _login_redirect()
            if request.method == "POST":
                form = await request.form()
                if not secrets.compare_digest(str(form.get("csrf", "")), who.csrf):
                    return Response("запрос отклонён: неверный токен формы", status_code=403)
            response = await handler(request, site, uow, who)
            uow.commit()
            return response

    return endpoint


async def login_form(request: Request, site: VerifySite) -> Response:
    token = secrets.token_urlsafe(24)
    response = site.page("verify/login.html", csrf=token, error=None)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path=PREFIX)
    return response


async def login(request: Request, site: VerifySite) -> Response:
    form = await request.form()
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not secrets.compare_digest(str(form.get("csrf", "")), cookie):
        return Response("запрос отклонён: неверный токен формы", status_code=403)
    with UnitOfWork(site.database.session_factory) as uow:
        login_name = str(form.get("login", ""))[:64]
        operator = authenticate(uow.session, login_name, str(form.get("password", "")))
        if operator is None:  # audit-logged (the login only, never what was typed as password)
            uow.session.add(
                AuditLog(
                    actor=login_name or "—",
                    action="login_failed",
                    entity="operator",
                    entity_id=login_name or None,
                )
            )
            uow.commit()
            token = secrets.token_urlsafe(24)
            response = site.page(
                "verify/login.html", status=401, csrf=token, error="Неверный логин или пароль"
            )
            response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path=PREFIX)
            return response
        token, _ = sign_in(uow.session, operator, _now())
        uow.commit()
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    # A browser-session cookie: the server ends the session (idle or at the shift's end).
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


async def logout(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    sign_out(uow.session, request.cookies.get(COOKIE))
    response = _login_redirect()
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


async def queue(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    counts = queue_counts(uow.session, site.session_id)
    items = next_items(uow.session, site.session_id, who.login, who.role, limit=100)
    open_total = sum(counts.get(s, 0) for s in OPEN_STATUSES)
    return site.page(
        "verify/queue.html", who=who, counts=counts, items=items, open_total=open_total
    )


async def next_item(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    after = int(request.query_params.get("after", "0") or 0)
    items = next_items(uow.session, site.session_id, who.login, who.role, limit=1, after=after)
    if not items:
        return RedirectResponse(f"{PREFIX}/", status_code=303)
    return RedirectResponse(f"{PREFIX}/item/{items[0].id}", status_code=303)


def _item_context(view: ItemView) -> dict[str, Any]:
    spec = answer_spec(view.kind, view.field)
    return {
        "item": view,
        "spec": spec,
        "field_title": FIELD_RU.get(view.field or "", view.field or "страница"),
    }


async def item_page(request: Request, site: VerifySite, uow: UnitOfWork, who: SignedIn) -> Response:
    item_id = int(request.path_params["item_id"])
    view = item_view(uow.session, item_id)
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
    view = item_view(uow.session, item_id)
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
    item_id = int(request.query_params.get("item", "0") or 0)
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
    chosen = [int(v) for v in form.getlist("item") if str(v).isdigit()]
    decided = 0
    for item_id in chosen:
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
    view = item_view(uow.session, item_id)
    if view is None or view.session_id != site.session_id:
        return Response("нет доступа", status_code=403)
    if view.kind == "page" and who.role != "senior":
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
    return VerifySite(database, info.id, session, settings.out_dir / "verify" / session / "crops")


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
        Route(f"{PREFIX}/logout", protected(logout), methods=["POST"]),
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

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.site = site
    return app
