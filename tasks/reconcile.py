"""Prefect tasks of the reconcile stage: consolidate, find discrepancies, report, gate printing."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from config.settings import Settings
from tasks.adapters.contracts import load_contract, run_contract
from tasks.adapters.database import bootstrap
from tasks.adapters.mail import Attachment, OutgoingMail, mailer_from_settings
from tasks.adapters.models import Discrepancy
from tasks.adapters.notifications import send_once
from tasks.adapters.reconciliation import (
    accepted_rows,
    history_of,
    open_critical_count,
    school_table,
    settle_document_owners,
    store_discrepancies,
    store_participants,
)
from tasks.adapters.registry import LoadCounts
from tasks.adapters.submissions import (
    mark_stage_completed,
    mouo_directory,
    plan_stage_id,
    session_info,
)
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.artifacts import markdown_artifact, status_ru, table_artifact
from tasks.domain.contracts import value_column
from tasks.domain.reconcile import ReconcileInput, reconcile, registry_conflicts
from tasks.domain.reconcile_report import (
    KIND_RU,
    discrepancy_workbook,
    mouo_mail,
    regional_markdown,
)
from tasks.errors import ContractError

__all__ = ["reconcile_session"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MOUO = re.compile(r"МОУО (\d{2}-\d{2})")


def _check_registry(participants: pl.DataFrame) -> None:
    """The consolidated registry must hold its contract; a violation is our defect: fail fast."""
    contract = load_contract("registry")
    frame = participants.select(
        (pl.col(c).replace("", None) if dtype == pl.Utf8 else pl.col(c)).alias(value_column(c))
        for c, dtype in participants.schema.items()
    )
    run = run_contract(frame, contract)
    if not run.success:
        broken = {rule: count for rule, count in run.rules.items() if count}
        raise ContractError(f"registry contract violated after consolidation: {broken}")


def _involved(row: dict[str, Any]) -> set[str]:
    found = set(_MOUO.findall(row["message"] + " " + (row["rows"] or "")))
    return found | ({row["mouo_code"]} if row["mouo_code"] else set())


@task(
    name="reconcile-session",
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=lambda t, r, s: "database is locked" in str(s.message or ""),
)
def reconcile_session(
    settings: Settings, campaign_code: str, session_code: str, school_year: str, procedure: str
) -> dict[str, Any]:
    """Consolidate the accepted rows into the registry, store the discrepancies, mail each
    МОУО its own, and tell whether printing may start (no open critical discrepancy)."""
    logger = get_run_logger()
    database = bootstrap(settings)
    now = datetime.now(UTC)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign_code, session_code)
            mouos = mouo_directory(uow.session)
            rows = accepted_rows(uow.session, info.id)
            data = ReconcileInput(
                rows=rows,
                history=history_of(uow.session, rows["snils"].to_list()),
                schools=school_table(uow.session),
                mouos=tuple(sorted(mouos)),
                school_year=school_year,
                session_code=session_code,
            )
        result = reconcile(data)
        _check_registry(result.participants)
        with UnitOfWork(database.session_factory) as uow:
            corrected, taken = settle_document_owners(
                uow.session, result.participants, "reconcile", now
            )
            loaded = store_participants(
                uow.session,
                info.id,
                result.participants.join(taken.select("snils"), on="snils", how="anti"),
            )
            loaded["snils_corrected"] = LoadCounts(corrected, corrected)
            found = pl.concat([result.discrepancies, registry_conflicts(taken)])
            changes = store_discrepancies(uow.session, info.id, found, now)
            uow.commit()
        with UnitOfWork(database.session_factory) as uow:
            current = [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "severity": d.severity,
                    "mouo_code": d.mouo_code,
                    "school_code": d.school_code,
                    "message": d.message,
                    "rows": d.rows,
                    "status": d.status,
                }
                for d in uow.session.query(Discrepancy)
                .filter(Discrepancy.session_id == info.id, Discrepancy.status != "gone")
                .order_by(Discrepancy.severity, Discrepancy.kind, Discrepancy.id)
            ]
            blocking = open_critical_count(uow.session, info.id)
            if not blocking:  # the plan row's completion: no open critical discrepancy
                mark_stage_completed(
                    uow.session,
                    plan_stage_id(uow.session, info.id, "reconcile"),
                    "rcoi",
                    now,
                    {"participants": result.participants.height},
                    str(flow_run.get_id() or "") or None,
                )
                uow.commit()
        mailer = mailer_from_settings(settings)
        folder = settings.out_dir / "reconcile" / session_code
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Расхождения_регион.xlsx").write_bytes(discrepancy_workbook("регион", current))
        mailed = 0
        for code, mouo in sorted(mouos.items()):
            own = [d for d in current if code in _involved(d)]
            workbook = discrepancy_workbook(code, own)
            (folder / f"Расхождения_{code}.xlsx").write_bytes(workbook)
            digest = hashlib.sha256(
                repr([(d["id"], d["status"], d["message"]) for d in own]).encode()
            ).hexdigest()[:16]
            subject, body = mouo_mail(code, own, procedure)
            mail = OutgoingMail(
                key=f"reconcile-report:{session_code}:{code}:{digest}",
                to=mouo.emails,
                subject=subject,
                body=body,
                attachments=(Attachment(f"Расхождения_{code}.xlsx", workbook, XLSX),),
            )
            mailed += send_once(database.session_factory, mailer, mail, "reconcile-report")
    finally:
        database.dispose()
    summary = {
        "rows": rows.height,
        "participants": result.participants.height,
        "loaded": {k: {"offered": v.offered, "inserted": v.inserted} for k, v in loaded.items()},
        "discrepancies": changes,
        "open": {
            severity: sum(d["severity"] == severity and d["status"] == "open" for d in current)
            for severity in ("critical", "warning")
        },
        "by_kind": dict(sorted(found.group_by("kind").len().iter_rows())),
        "print_gate": "blocked" if blocking else "open",
        "mails_sent": mailed,
    }
    markdown_artifact(
        "reconcile-summary",
        campaign_code,
        session_code,
        regional_markdown(session_code, summary, current),
        "Выверка РБД: итог",
    )
    table_artifact(
        "reconcile-discrepancies",
        campaign_code,
        session_code,
        [
            {
                "№": d["id"],
                "вид": KIND_RU.get(str(d["kind"]), str(d["kind"])),
                "важность": status_ru(str(d["severity"])),
                "МОУО": d["mouo_code"] or "",
                "ОО": d["school_code"] or "",
                "состояние": status_ru(str(d["status"])),
                "описание": d["message"],
            }
            for d in current
        ],
        "Расхождения выверки (без персональных данных)",
    )
    logger.info(
        "reconciled %s: %d rows → %d participants; open critical %d; print gate %s",
        session_code,
        rows.height,
        result.participants.height,
        blocking,
        summary["print_gate"],
    )
    return summary
