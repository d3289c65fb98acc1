"""The coordinator's board of the plan-schedules (`/board/`, server-rendered, in Russian).

Every plan in the regional database, its rows in plan order × sessions: performers, the
window or deadline in local time with the zone, the state (tasks/domain/board.py), how late,
what a row waits for and on whom, how many performers are done, the last Prefect run of an
automated row and its stage's counts; filters by region, plan, session and state; a МОУО's
drill-down (its files, rejected rows by number and reason, acknowledgements, its schools'
states); manual rows marked done or reopened through the same functions as `rcoi plan
done|reopen` (tasks/adapters/board.py), so the audit rows are the same; the season's
timeline as a PNG rendered on the fly.

The coordinator signs in on the operators' login page (web/verify.py): the same sessions,
cookie, CSRF token and throttle. Only the role `coordinator` sees these pages; an operator or
senior verifier gets a Russian 403. The board's work (database and rendering) runs in worker
threads, a few at a time, so that a large plan never stalls the login or the verification
pages.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from config.settings import Settings
from tasks.adapters.board import BoardScope, board_cells, load_scope, mark_done, reopen
from tasks.adapters.board_counts import (
    MouoAcknowledgement,
    MouoFile,
    PlanListing,
    RejectedRow,
    last_runs,
    mouo_acknowledgements,
    mouo_files,
    plan_listing,
    region_mouos,
    rejected_rows,
    stage_counts,
)
from tasks.adapters.operators import SignedIn, signed_in
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.domain.board import STATE_RU, Cell, RowStatus
from tasks.domain.board_view import (
    PartyLine,
    Section,
    board_sections,
    format_lateness,
    format_moment,
    format_windows,
    only_state,
    party_lines,
    period_labels,
    state_totals,
    summarise,
)
from tasks.domain.summary import STAGE_TITLES_RU
from tasks.errors import RcoiError, RegistryError
from web.verify import COOKIE, CSP, VerifySite

__all__ = ["PREFIX", "ROLE", "BoardSite", "board_routes", "board_site", "prefect_ui_base"]

HERE = Path(__file__).resolve().parent
PREFIX = "/board"
ROLE = "coordinator"
LOGIN = "/verify/login"
WORKERS = 4  # board pages computed at once in worker threads
MAX_PARAM = 64  # a filter value longer than any code is refused
SUBMISSION_RU = {"accepted": "принят", "rejected": "отклонён", "superseded": "заменён новым"}
OUTCOME_RU = {
    "marked": "отмечена выполненной",
    "unchanged": "уже была отмечена выполненной: ничего не изменено",
    "reopened": "открыта снова",
    "not_marked": "не была отмечена выполненной: ничего не изменено",
}
_CODE = re.compile(r"^[0-9A-Za-z._:-]{1,64}$")
_MOUO = re.compile(r"^[0-9]{2}-[0-9]{2}$")


def _now() -> datetime:
    return datetime.now(UTC)


def prefect_ui_base(settings: Settings) -> str | None:
    """The Prefect UI the run links point into: Prefect's own setting PREFECT_UI_URL (which
    Prefect derives from PREFECT_API_URL when unset), else RCOI_PREFECT_API_URL without its
    `/api`; None when no server is known (an ephemeral one per run has no UI to link)."""
    try:
        from prefect.settings import get_current_settings

        ui = get_current_settings().ui_url
    except Exception:  # a broken Prefect profile must not take the board down
        ui = None
    if not ui and settings.prefect_api_url:
        api = settings.prefect_api_url.rstrip("/")
        ui = api[: -len("/api")] if api.endswith("/api") else api
    return ui.rstrip("/") if ui else None


class BoardSite:
    """What the board serves: the verification site's database and sessions, the Prefect UI
    the run links point into, and the board's clock (the states are computed as of it)."""

    def __init__(
        self,
        verify: VerifySite,
        ui_base: str | None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.verify, self.database = verify, verify.database
        self.ui_base, self.clock = ui_base, clock
        self.limiter = anyio.CapacityLimiter(WORKERS)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
        )
        self.templates.globals.update(
            prefix=PREFIX,
            state_ru=STATE_RU,
            submission_ru=SUBMISSION_RU,
            local=format_moment,
            lateness=format_lateness,
            run_url=self.run_url,
            stage_ru=STAGE_TITLES_RU,
            periods=period_labels,
        )

    def run_url(self, run_id: str) -> str | None:
        return f"{self.ui_base}/runs/flow-run/{run_id}" if self.ui_base else None

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(**context)
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def problem(self, who: SignedIn, status: int, title: str, message: str) -> HTMLResponse:
        return self.page("board/problem.html", status=status, who=who, title=title, message=message)


Handler = Callable[[Request, FormData | None, BoardSite, UnitOfWork, SignedIn], Response]


def _login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN}?{urlencode({'next': target})}"


def _serve(handler: Handler, site: BoardSite, request: Request, form: FormData | None) -> Response:
    with UnitOfWork(site.database.session_factory) as uow:
        # The session's expiry runs on the real clock, whatever the board's clock says.
        who = signed_in(uow.session, request.cookies.get(COOKIE), _now())
        uow.commit()
        if who is None:
            if request.url.path.startswith(f"{PREFIX}/timeline/"):
                return Response("требуется вход", status_code=401)
            if request.method == "POST":
                return RedirectResponse(LOGIN, status_code=303)
            return RedirectResponse(_login_url(request), status_code=303)
        if who.role != ROLE:
            return site.page("board/refused.html", status=403, who=who)
        if form is not None and not secrets.compare_digest(str(form.get("csrf", "")), who.csrf):
            return Response("запрос отклонён: неверный токен формы", status_code=403)
        response = handler(request, form, site, uow, who)
        uow.commit()
        return response


def _coordinator(handler: Handler, site: BoardSite) -> Callable[[Request], Awaitable[Response]]:
    """Run `handler` in a worker thread for a signed-in coordinator; a POST must carry the
    session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        form = await request.form() if request.method == "POST" else None
        call = functools.partial(_serve, handler, site, request, form)
        return await anyio.to_thread.run_sync(call, limiter=site.limiter)

    return endpoint


# --- the board ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    region: str = ""
    plan: str = ""
    session: str = ""
    state: RowStatus | None = None

    def query(self, **changes: str) -> str:
        values = {
            "region": self.region,
            "plan": self.plan,
            "session": self.session,
            "state": self.state.value if self.state else "",
            **changes,
        }
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class PlanBoard:
    plan: PlanListing
    scope: BoardScope
    sections: list[Section]
    totals: dict[RowStatus, int]
    shown: int  # (row, session) summaries shown
    timeline: str | None
    mouos: list[tuple[str, str]]
    now_local: str


def _filters(params: QueryParams, listing: Sequence[PlanListing]) -> Filters | str:
    """The filters asked for, or what is wrong with them (Russian)."""
    values = {name: params.get(name, "").strip() for name in ("region", "plan", "session", "state")}
    if any(len(value) > MAX_PARAM for value in values.values()):
        return "Слишком длинное значение фильтра."
    if values["region"] and values["region"] not in {p.region_code for p in listing}:
        return f"Нет региона «{values['region']}» среди планов в базе."
    if values["plan"] and values["plan"] not in {p.code for p in listing}:
        return f"Нет плана «{values['plan']}» в базе."
    if values["session"] and values["session"] not in {c for p in listing for c, _ in p.sessions}:
        return f"Нет срока «{values['session']}» ни в одном плане."
    state = None
    if values["state"]:
        try:
            state = RowStatus(values["state"])
        except ValueError:
            return "Неизвестное состояние в фильтре."
    return Filters(values["region"], values["plan"], values["session"], state)


def _plan_board(
    site: BoardSite, uow: UnitOfWork, plan: PlanListing, filters: Filters, now: datetime
) -> PlanBoard:
    scope = load_scope(uow.session, plan.code, [filters.session] if filters.session else None)
    cells = board_cells(uow.session, scope, now)
    everything = board_sections(
        scope.rows,
        cells,
        now,
        stage_counts(uow.session, scope),
        last_runs(uow.session, scope, now),
        list(scope.sessions.values()),
    )
    sections = only_state(everything, filters.state)
    timeline = f"{PREFIX}/timeline/{plan.code}/{filters.session}.png" if filters.session else None
    return PlanBoard(
        plan=plan,
        scope=scope,
        sections=sections,
        totals=state_totals(everything),
        shown=sum(len(line.sessions) for section in sections for line in section.lines),
        timeline=timeline,
        mouos=[(code, name) for code, name, _ in region_mouos(uow.session, [plan.region_code])],
        now_local=f"{format_moment(now, plan.zone)} ({plan.zone})",
    )


def board_page(
    request: Request, form: FormData | None, site: BoardSite, uow: UnitOfWork, who: SignedIn
) -> Response:
    listing = plan_listing(uow.session)
    filters = _filters(request.query_params, listing)
    if isinstance(filters, str):
        return site.problem(who, 400, "Неверный фильтр", filters)
    chosen = [
        plan
        for plan in listing
        if filters.region in ("", plan.region_code)
        and filters.plan in ("", plan.code)
        and (not filters.session or filters.session in {code for code, _ in plan.sessions})
    ]
    now = site.clock()
    boards = [_plan_board(site, uow, plan, filters, now) for plan in chosen]
    sessions: dict[str, str] = {}
    for plan in listing:
        if filters.plan in ("", plan.code) and filters.region in ("", plan.region_code):
            for code, label in plan.sessions:
                sessions.setdefault(code, label)
    return site.page(
        "board/board.html",
        who=who,
        filters=filters,
        listing=listing,
        regions=sorted({(p.region_code, p.region_name) for p in listing}),
        sessions=sessions,
        boards=boards,
        back=_here(request),
        notice=_notice(request, [b.scope for b in boards]),
    )


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _notice(request: Request, scopes: Sequence[BoardScope]) -> str:
    """The outcome of the last mark, from the redirect's query: «title»: what happened."""
    outcome = OUTCOME_RU.get(request.query_params.get("outcome", ""))
    if outcome is None:
        return ""
    stage = request.query_params.get("row", "")
    titles = {str(r.plan_stage_id): r.title for scope in scopes for r in scope.rows}
    title = titles.get(stage)
    return f"Строка «{title}» {outcome}." if title else f"Строка {outcome}."


# --- the МОУО drill-down -----------------------------------------------------------------------


@dataclass(frozen=True)
class SchoolRow:
    """A school row of one session with the МОУО's schools' lines."""

    row_id: int
    title: str
    number: str
    session_code: str
    term: str
    manual: bool
    lines: list[PartyLine]


@dataclass(frozen=True)
class MouoBoard:
    plan: PlanListing
    scope: BoardScope
    own: list[PartyLine]
    schools: list[SchoolRow]
    files: list[MouoFile]
    rejected_total: int
    rejected: list[RejectedRow]
    acknowledgements: list[MouoAcknowledgement]
    now_local: str


def _school_rows(lines: Sequence[PartyLine]) -> list[SchoolRow]:
    grouped: dict[int, list[PartyLine]] = {}
    for line in lines:
        grouped.setdefault(line.row.plan_stage_id, []).append(line)
    out = []
    for same in grouped.values():
        row = same[0].row
        out.append(
            SchoolRow(
                row_id=row.plan_stage_id,
                title=row.title,
                number=row.row or str(row.position + 1),
                session_code=row.session_code,
                term=format_windows(row.windows, row.zone, row.external),
                manual=not row.tracked_by_stage,
                lines=same,
            )
        )
    return out


def _mouo_board(
    uow: UnitOfWork, plan: PlanListing, code: str, session: str, now: datetime
) -> MouoBoard:
    scope = load_scope(uow.session, plan.code, [session] if session else None)
    cells: list[Cell] = board_cells(uow.session, scope, now)
    schools = [s.party for s in scope.directory.schools if s.parent == code]
    total, rejected = rejected_rows(uow.session, code, scope.sessions)
    return MouoBoard(
        plan=plan,
        scope=scope,
        own=party_lines(cells, [code], now),
        schools=_school_rows(party_lines(cells, schools, now)),
        files=mouo_files(uow.session, code, scope.sessions),
        rejected_total=total,
        rejected=rejected,
        acknowledgements=mouo_acknowledgements(uow.session, code, scope.sessions),
        now_local=f"{format_moment(now, plan.zone)} ({plan.zone})",
    )


def mouo_page(
    request: Request, form: FormData | None, site: BoardSite, uow: UnitOfWork, who: SignedIn
) -> Response:
    code = request.path_params["code"]
    listing = plan_listing(uow.session)
    found = region_mouos(uow.session, sorted({p.region_code for p in listing}))
    mouo = next((m for m in found if m[0] == code), None) if _MOUO.match(code) else None
    if mouo is None:
        return site.problem(who, 404, "МОУО не найдено", f"В базе нет МОУО «{code[:16]}».")
    plan_code = request.query_params.get("plan", "").strip()
    session = request.query_params.get("session", "").strip()
    plans = [p for p in listing if p.region_code == mouo[2] and plan_code in ("", p.code)]
    if plan_code and not plans:
        return site.problem(
            who, 404, "План не найден", f"У региона МОУО нет плана «{plan_code[:64]}»."
        )
    if session:
        plans = [p for p in plans if session in {c for c, _ in p.sessions}]
        if not plans:
            return site.problem(who, 404, "Срок не найден", f"В плане нет срока «{session[:64]}».")
    now = site.clock()
    boards = [_mouo_board(uow, plan, code, session, now) for plan in plans]
    return site.page(
        "board/mouo.html",
        who=who,
        mouo=mouo,
        boards=boards,
        plan_code=plan_code,
        session=session,
        back=_here(request),
        notice=_notice(request, [b.scope for b in boards]),
    )


# --- a row's card: its performers, the marks ----------------------------------------------------


def _safe_back(value: object, default: str) -> str:
    """A page of the board to go back to, never another site."""
    back = str(value or "")
    if not back.startswith(f"{PREFIX}/") or "//" in back or "\\" in back or len(back) > 2000:
        return default
    return back if back.isprintable() else default


def row_page(
    request: Request, form: FormData | None, site: BoardSite, uow: UnitOfWork, who: SignedIn
) -> Response:
    plan, session, stage = (request.path_params[k] for k in ("plan", "session", "stage"))
    listing = {p.code: p for p in plan_listing(uow.session)}
    if not all(_CODE.match(v) for v in (plan, session, stage)) or plan not in listing:
        return site.problem(who, 404, "Строка не найдена", "Нет такого плана.")
    try:
        scope = load_scope(uow.session, plan, [session])
    except RcoiError as exc:
        return site.problem(who, 404, "Строка не найдена", str(exc))
    row = next((r for r in scope.rows if r.stage_key == stage), None)
    if row is None:
        return site.problem(
            who, 404, "Строка не найдена", f"В сроке {session} нет строки «{stage}»."
        )
    now = site.clock()
    cells = [c for c in board_cells(uow.session, scope, now) if c.row is row]
    party = request.query_params.get("party", "").strip()
    parties = [party] if party else list(dict.fromkeys(c.performer.party for c in cells))
    lines = party_lines(cells, parties, now)
    if party and not lines:
        return site.problem(who, 404, "Исполнитель не найден", f"«{party}» не исполнитель строки.")
    default = f"{PREFIX}/?{urlencode({'plan': plan, 'session': session})}"
    back = _safe_back(request.query_params.get("back"), default)
    summary = summarise(
        row,
        cells,
        now,
        stage_counts(uow.session, scope).get(session),
        last_runs(uow.session, scope, now).get(row.plan_stage_id),
    )
    return site.page(
        "board/row.html",
        who=who,
        plan=listing[plan],
        s=summary,
        label=scope.labels.get(session, ""),
        number=row.row or str(row.position + 1),
        lines=lines,
        party=party,
        back=back,
        all_url=f"{request.url.path}?{urlencode({'back': back})}",
        now_local=f"{format_moment(now, listing[plan].zone)} ({listing[plan].zone})",
    )


# --- marks -------------------------------------------------------------------------------------


def _back(form: FormData) -> str:
    return _safe_back(form.get("back"), f"{PREFIX}/")


def _with_outcome(back: str, outcome: str, stage_id: int) -> str:
    path, _, query = back.partition("?")
    kept = [(k, v) for k, v in QueryParams(query).multi_items() if k not in ("outcome", "row")]
    kept += [("outcome", outcome), ("row", str(stage_id))]
    return f"{path}?{urlencode(kept)}#s{stage_id}"


def _mark(action: str) -> Handler:
    def handler(
        request: Request, form: FormData | None, site: BoardSite, uow: UnitOfWork, who: SignedIn
    ) -> Response:
        assert form is not None
        values = {
            name: str(form.get(name, "")).strip()
            for name in ("plan", "session", "stage", "party", "occurrence", "note", "reason")
        }
        if not all(_CODE.match(values[name]) for name in ("plan", "session", "stage", "party")):
            return site.problem(who, 400, "Неверная отметка", "В форме не хватает строки плана.")
        occurrence = values["occurrence"]
        if occurrence and not (occurrence.isascii() and occurrence.isdigit()):
            return site.problem(who, 400, "Неверная отметка", "Неверный номер периода.")
        text = values["note"] if action == "done" else values["reason"]
        if action == "reopen" and not text:
            return site.problem(
                who, 422, "Нужна причина", "Строка открывается снова только с причиной."
            )
        now = site.clock()
        try:
            scope = load_scope(uow.session, values["plan"], [values["session"]])
            row = next((r for r in scope.rows if r.stage_key == values["stage"]), None)
            if row is None:
                raise RegistryError(f"в сроке {values['session']} нет строки «{values['stage']}»")
            act = mark_done if action == "done" else reopen
            outcome = act(
                uow.session,
                scope,
                values["stage"],
                values["session"],
                values["party"],
                who.login,
                (text or "отмечено на доске")[:1000],
                now,
                int(occurrence) if occurrence else None,
            )
        except RcoiError as exc:
            uow.session.rollback()
            return site.problem(who, 400, "Отметка не принята", str(exc))
        code = {
            ("done", True): "marked",
            ("done", False): "unchanged",
            ("reopen", True): "reopened",
            ("reopen", False): "not_marked",
        }[(action, outcome.changed)]
        return RedirectResponse(
            _with_outcome(_back(form), code, row.plan_stage_id), status_code=303
        )

    return handler


# --- the timeline ------------------------------------------------------------------------------


def timeline(
    request: Request, form: FormData | None, site: BoardSite, uow: UnitOfWork, who: SignedIn
) -> Response:
    plan, session = request.path_params["plan"], request.path_params["session"]
    if not (_CODE.match(plan) and _CODE.match(session)):
        return Response("нет такой картинки", status_code=404)
    try:  # written by another piece of issue 17; imported on first use
        from tasks.domain.board_timeline import render_timeline
    except ImportError:
        return Response("картинка сроков пока недоступна", status_code=503)
    listing = {p.code: p for p in plan_listing(uow.session)}
    try:
        scope = load_scope(uow.session, plan, [session])
    except RcoiError:
        return Response("нет такого плана или срока", status_code=404)
    now = site.clock()
    cells = board_cells(uow.session, scope, now)
    zone = scope.rows[0].zone if scope.rows else listing[plan].zone
    png = render_timeline(
        scope.rows, cells, now, scope.title, zone, session_label=scope.labels.get(session)
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def board_site(
    verify: VerifySite, settings: Settings, clock: Callable[[], datetime] = _now
) -> BoardSite:
    return BoardSite(verify, prefect_ui_base(settings), clock)


def board_routes(site: BoardSite) -> list[BaseRoute]:
    """Every route under `/board/`, to mount in an application (web/app.py)."""

    def coordinator(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return _coordinator(handler, site)

    return [
        Route(f"{PREFIX}/", coordinator(board_page), methods=["GET"]),
        Route(f"{PREFIX}/mouo/{{code}}", coordinator(mouo_page), methods=["GET"]),
        Route(
            f"{PREFIX}/row/{{plan}}/{{session}}/{{stage}}", coordinator(row_page), methods=["GET"]
        ),
        Route(f"{PREFIX}/mark", coordinator(_mark("done")), methods=["POST"]),
        Route(f"{PREFIX}/reopen", coordinator(_mark("reopen")), methods=["POST"]),
        Route(
            f"{PREFIX}/timeline/{{plan}}/{{session}}.png", coordinator(timeline), methods=["GET"]
        ),
        Mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="board-static"),
    ]
