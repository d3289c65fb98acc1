"""`rcoi discrepancies list|accept|resolve`: the coordinator's view of reconciliation's
discrepancies and the decisions that open the print gate (audit-logged)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    DEFAULT_PLAN,
    OUT_HELP,
    PLAN_HELP,
    SESSION_HELP,
    refusal,
    require_session,
    settings_for,
    usage_error,
)

__all__ = ["register"]

discrepancy_app = typer.Typer(
    help="Расхождения выверки: просмотр и решения координатора.", no_args_is_help=True
)
STATUSES = ("open", "resolved", "accepted", "gone", "all")


@discrepancy_app.command("list")
def discrepancies_list(
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = DEFAULT_PLAN,
    session: Annotated[str | None, typer.Option(help=SESSION_HELP)] = None,
    status: Annotated[str, typer.Option(help="open, resolved, accepted, gone или all")] = "open",
) -> None:
    """Расхождения срока и можно ли начинать печать."""
    from sqlalchemy import select

    from tasks.adapters.models import Discrepancy
    from tasks.adapters.reconciliation import open_critical_count
    from tasks.adapters.unit_of_work import UnitOfWork

    if status not in STATUSES:
        raise usage_error(f"статус «{status}»: один из {', '.join(STATUSES)}")
    _, _, database, session_id = require_session(settings_for(out), plan, session)
    with UnitOfWork(database.session_factory) as uow:
        query = select(Discrepancy).where(Discrepancy.session_id == session_id)
        if status != "all":
            query = query.where(Discrepancy.status == status)
        for d in uow.session.scalars(query.order_by(Discrepancy.severity, Discrepancy.id)):
            typer.echo(f"{d.id}\t{d.severity}\t{d.kind}\t{d.status}\t{d.message}")
        blocking = open_critical_count(uow.session, session_id)
    database.dispose()
    typer.echo(
        f"Открытых критических: {blocking}; печать "
        + ("заблокирована." if blocking else "разрешена.")
    )


def _decide(
    decision: str,
    ids: list[int],
    actor: str,
    note: str,
    out: Path | None,
    plan: str,
    session: str | None,
) -> None:
    from tasks.adapters.models import Discrepancy
    from tasks.adapters.reconciliation import close_discrepancy, open_critical_count
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.errors import RegistryError

    if not note.strip():
        raise usage_error("укажите обоснование решения (--note).")
    _, _, database, session_id = require_session(settings_for(out), plan, session)
    try:
        with UnitOfWork(database.session_factory) as uow:
            for discrepancy_id in ids:
                found = uow.session.get(Discrepancy, discrepancy_id)
                if found is None or found.session_id != session_id:
                    raise usage_error(f"расхождение {discrepancy_id} не найдено в этом сроке.")
                if found.status != "open":
                    raise refusal(f"расхождение {discrepancy_id} уже закрыто ({found.status}).")
                try:
                    close_discrepancy(uow.session, discrepancy_id, decision, actor, note.strip())
                except RegistryError as exc:
                    raise refusal(
                        f"решение по расхождению {discrepancy_id} не записано: {exc}"
                    ) from None
            uow.commit()
            blocking = open_critical_count(uow.session, session_id)
    finally:
        database.dispose()
    done = "устранено" if decision == "resolved" else "принято"
    typer.echo(f"Расхождений: {len(ids)} — {done}. Открытых критических: {blocking}.")


@discrepancy_app.command("resolve")
def discrepancies_resolve(
    ids: Annotated[list[int], typer.Argument(help="номера расхождений")],
    actor: Annotated[str, typer.Option(help="кто принимает решение (логин координатора)")],
    note: Annotated[str, typer.Option(help="что сделано")],
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = DEFAULT_PLAN,
    session: Annotated[str | None, typer.Option(help=SESSION_HELP)] = None,
) -> None:
    """Отметить расхождения устранёнными (например, МОУО исправил данные); в журнал."""
    _decide("resolved", ids, actor, note, out, plan, session)


@discrepancy_app.command("accept")
def discrepancies_accept(
    ids: Annotated[list[int], typer.Argument(help="номера расхождений")],
    actor: Annotated[str, typer.Option(help="кто принимает решение (логин координатора)")],
    note: Annotated[str, typer.Option(help="почему расхождение допустимо")],
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    plan: Annotated[str, typer.Option(help=PLAN_HELP)] = DEFAULT_PLAN,
    session: Annotated[str | None, typer.Option(help=SESSION_HELP)] = None,
) -> None:
    """Принять расхождения как есть (известный, обоснованный случай); в журнал."""
    _decide("accepted", ids, actor, note, out, plan, session)


def register(app: typer.Typer) -> None:
    app.add_typer(discrepancy_app, name="discrepancies")
