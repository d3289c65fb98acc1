"""Every stage run says what it is: its name «этап · регион · сеанс», its tags `plan:`,
`region:`, `session:` and `stage:`, and — when it must wait for people (a gate, an open queue,
missing results) — a Completed state of its own named «Ожидание» with the reason as its
message, never a red Failed run for a closed gate. `stage_flow` puts all three on a flow."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

import httpx
from prefect import Flow, flow, get_client, get_run_logger
from prefect.exceptions import PrefectHTTPStatusError
from prefect.runtime import flow_run
from prefect.states import Completed, State

from tasks.errors import DataError, PlanError, RcoiError

__all__ = [
    "WAITING",
    "is_waiting",
    "run_labels",
    "run_tags",
    "stage_flow",
    "waiting",
]

WAITING = "Ожидание"
ALL_SESSIONS = "все сроки"
F = TypeVar("F", bound=Callable[..., Any])


def waiting(reason: str, **summary: Any) -> State[Any]:
    """The state a run ends in when it waits for people; its result is a small summary."""
    data = {**summary, "status": "waiting", "reason": reason}
    return Completed(name=WAITING, message=reason, data=data)


def is_waiting(summary: object) -> bool:
    return isinstance(summary, dict) and summary.get("status") == "waiting"


@lru_cache(maxsize=64)
def _plan_of(ref: str, mtime: float) -> tuple[str, str, str]:
    """(plan id, region code, first session) of a plan by id or path; mtime keys the cache."""
    from tasks.adapters.plan_files import load_plan, resolve_plan_path

    the_plan = load_plan(resolve_plan_path(ref))
    first = the_plan.sessions[0].id if the_plan.sessions else ""
    return the_plan.id, the_plan.region.code, first


def run_labels(plan: str, session: str | None) -> tuple[str, str, str]:
    """(plan id, region code, session) for a run of `plan` (an id or a file path)."""
    from tasks.adapters.plan_files import resolve_plan_path

    path = resolve_plan_path(plan)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    plan_id, region, first = _plan_of(str(path), mtime)
    return plan_id, region, session or first


def run_tags(stage: str, plan_id: str, region: str, session: str | None) -> list[str]:
    tags = [f"plan:{plan_id}", f"region:{region}", f"stage:{stage}"]
    if session:
        tags.append(f"session:{session}")
    return tags


def _bound(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def _labels(plan: str, session: str | None, all_sessions: bool) -> tuple[str, str, str | None]:
    """(plan id, region, session or None for «every session») of a run's parameters; a run
    without a plan (a scan of any folder) raises PlanError."""
    if not plan:
        raise PlanError("no plan")
    plan_id, region, session_id = run_labels(plan, session)
    return plan_id, region, session if all_sessions else session_id


def _name_of(stage: str | None, all_sessions: bool) -> Callable[[], str]:
    """Prefect calls this when a run starts, with the run's parameters in `flow_run`."""

    def name() -> str:
        parameters = flow_run.parameters or {}
        what = stage or str(parameters.get("stage") or "?")
        try:
            _, region, session = _labels(
                str(parameters.get("plan") or ""), parameters.get("session"), all_sessions
            )
        except RcoiError:
            return f"{what} · без плана"
        label = f"{what} · {region} · {session or ALL_SESSIONS}"
        return label + _at(parameters.get("now"))

    return name


def _at(now: object) -> str:
    """« · на 22.11.2017 01:00» for a run on a simulated clock (the demo's watchdog runs)."""
    if isinstance(now, str):
        try:
            now = datetime.fromisoformat(now)
        except ValueError:
            return ""
    return f" · на {now:%d.%m.%Y %H:%M}" if isinstance(now, datetime) else ""


def _tag_this_run(tags: list[str]) -> None:
    """Add the tags to the running flow run (runs started by hand or as subflows carry only
    what their caller gave them; a deployment's runs have them already)."""
    run_id = flow_run.get_id()
    if not run_id:
        return
    try:
        with get_client(sync_client=True) as client:
            current = client.read_flow_run(run_id).tags or []
            wanted = sorted(set(current) | set(tags))
            if wanted != sorted(current):
                client.update_flow_run(run_id, tags=wanted)
    except (httpx.HTTPError, PrefectHTTPStatusError) as exc:  # labels never stop a stage
        get_run_logger().warning("run %s not tagged: %s", run_id, type(exc).__name__)


def stage_flow(
    stage: str | None,
    *,
    name: str | None = None,
    all_sessions: bool = False,
    waits: bool = True,
    **options: Any,
) -> Callable[[F], Flow[..., Any]]:
    """`@flow` for a stage: named «stage · region · session», tagged, and ending «Ожидание»
    (with the Russian reason) instead of Failed when the stage raises a `DataError` — input or
    people to wait for. The flow takes `plan` and `session` parameters (`stage` None: and a
    `stage` parameter naming the stage); `all_sessions`: a run without a session covers every
    session (the watchdog) rather than the first one. `waits` off: a `DataError` fails the run
    as any error does (flows deployed on their own, which `plan-stage` does not guard and
    alert for: publish, the watchdog, the campaign)."""

    def decorate(fn: F) -> Flow[..., Any]:
        @functools.wraps(fn)
        def labelled(*args: Any, **kwargs: Any) -> Any:
            arguments = _bound(fn, args, kwargs)
            try:
                labels = _labels(
                    str(arguments.get("plan") or ""), arguments.get("session"), all_sessions
                )
            except RcoiError:
                labels = None  # the flow itself reports the unreadable plan
            if labels is not None:
                _tag_this_run(run_tags(stage or str(arguments.get("stage")), *labels))
            if not waits:
                return fn(*args, **kwargs)
            try:
                return fn(*args, **kwargs)
            except DataError as exc:
                return waiting(exc.reason)

        # Prefect reads the parameters' types from the signature: resolve them in the flow's
        # own module (its `from __future__ import annotations` leaves them as text).
        labelled.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
        return cast(
            Flow[..., Any],
            flow(
                name=name or stage or fn.__name__.replace("_", "-"),
                flow_run_name=_name_of(stage, all_sessions),
                **options,
            )(labelled),
        )

    return decorate
