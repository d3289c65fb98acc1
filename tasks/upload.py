"""Prefect tasks of the upload stage: the federal package built and checked by its contract,
sent (SFTP, or the local drop of the demo), and the federal receipt awaited until the plan's
deadline; plus the demo's simulated federal centre, which answers with a receipt."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from sqlalchemy import select

from config.settings import Settings
from tasks import progress
from tasks.adapters.contracts import load_contract, run_contract
from tasks.adapters.database import bootstrap
from tasks.adapters.federal_files import verify_manifest, write_package
from tasks.adapters.models import FederalUpload, PlanStage
from tasks.adapters.notifications import alert_coordinator
from tasks.adapters.scan_files import file_digest
from tasks.adapters.sftp import PackageFile, transport_from_settings
from tasks.adapters.stage_locks import ensure_current_lease_held
from tasks.adapters.submissions import mark_stage_completed, session_info
from tasks.adapters.unit_of_work import UnitOfWork, open_unit_of_work
from tasks.adapters.upload_store import (
    mark_receipt,
    mark_uploaded,
    package_info,
    package_works,
    pages_without_work,
    upload_row,
)
from tasks.adapters.verify_store import queue_state
from tasks.artifacts import markdown_artifact, markdown_table, table_artifact
from tasks.domain.federal_package import MANIFEST, contract_frame
from tasks.domain.federal_receipt import parse_receipt, receipt_name, simulated_receipt
from tasks.domain.inform import OUTCOME_SHORT_RU
from tasks.domain.plan_schedules import UPLOAD_WITHOUT_ROW
from tasks.errors import ContractError, UploadBlocked
from tasks.retries import transient_failure

__all__ = [
    "await_receipt",
    "build_federal_package",
    "check_upload_gate",
    "demo_federal_receipt",
    "send_package",
]


def _queue_open(session: str, left: int) -> str:
    return (
        f"очередь верификации сеанса {session}: открыто {left}; пакет для ФЦТ не формируется, "
        "пока она не пуста"
    )


def check_upload_gate(settings: Settings, campaign: str, session: str) -> None:
    """The verification queue, checked by the flow before any task runs (UploadBlocked: the
    run ends waiting, no task fails); the build checks it again."""
    with open_unit_of_work(settings) as uow:
        left, closed = queue_state(uow.session, session_info(uow.session, campaign, session).id)
    if left and not closed:
        raise UploadBlocked(_queue_open(session, left))


@task(name="build-federal-package", cache_policy=NONE)
def build_federal_package(
    settings: Settings, campaign: str, session: str, workers: int | None = None
) -> dict[str, Any]:
    """The session's package under `<out>/upload/<session>/`, refused while the verification
    queue has open items and when the works break the `federal_package` contract."""
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        left, closed = queue_state(uow.session, info.id)
        if left and not closed:
            raise UploadBlocked(_queue_open(session, left))
        package = package_info(uow.session, info.id)
        works = package_works(uow.session, info.id)
        unattached = pages_without_work(uow.session, info.id)
    unresolved = sum(1 for w in works if w.outcome == "unresolved")
    if unresolved:  # the queue is empty, but verification has not written these results yet
        raise UploadBlocked(
            f"сеанс {session}: у {unresolved} работ нет верифицированного результата; пакет "
            "для ФЦТ не формируется"
        )
    built = write_package(
        settings.out_dir / "upload" / session,
        package,
        works,
        workers or os.cpu_count() or 1,
        lambda schools: progress.bar("Пакет для ФЦТ: изображения", schools, "ОО"),
    )
    # The contract on what was written: every work's row and the images the manifest lists.
    run = run_contract(contract_frame(works, built.files), load_contract("federal_package"))
    if not run.success:
        broken = {rule: n for rule, n in run.rules.items() if n}
        raise ContractError(f"federal_package contract violated: {broken}")
    pages = sum(len(w.pages) for w in works)
    outcomes = dict(sorted(Counter(w.outcome for w in works).items()))
    summary: dict[str, Any] = {
        "name": built.name,
        "directory": str(built.directory),
        "manifest_sha256": built.manifest_sha256,
        "works": len(works),
        "pages": pages,
        "files": len(built.files) + 1,
        "bytes": built.size,
        "outcomes": outcomes,
        # accepted by an operator but of no work (an additional blank whose work lost its
        # registration blank): kept in the region, not sent
        "pages_without_work": unattached,
    }
    get_run_logger().info(
        "federal package %s: %d works, %d pages, %d bytes",
        built.name,
        len(works),
        pages,
        built.size,
    )
    markdown_artifact(
        "federal-package",
        campaign,
        session,
        f"## Пакет для ФЦТ {built.name}, срок {session}\n\n"
        + markdown_table(
            ("показатель", "значение"),
            [
                ("работ", len(works)),
                ("страниц", pages),
                ("файлов", summary["files"]),
                ("объём, МБ", round(built.size / 1e6, 1)),
                ("страниц без работы (не отправляются)", unattached),
                ("SHA-256 манифеста", built.manifest_sha256),
            ],
        ),
        "Пакет результатов для ФЦТ",
    )
    table_artifact(
        "federal-package-outcomes",
        campaign,
        session,
        [{"итог": OUTCOME_SHORT_RU.get(k, k), "работ": v} for k, v in outcomes.items()],
        "Итоги работ в пакете",
    )
    return summary


@task(
    name="send-federal-package",
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=[30, 120],
    retry_condition_fn=transient_failure,
)
def send_package(
    settings: Settings, campaign: str, session: str, package: dict[str, Any]
) -> dict[str, Any]:
    """Send the package (files already complete at the target are not sent again) and record
    it in `federal_upload`. Under a stage key (`rcoi upload`, `plan-stage`) nothing is sent once
    the key is lost: checked here and before each file and the manifest (`StageKeyLost`)."""
    ensure_current_lease_held()
    directory = Path(package["directory"])
    listed = verify_manifest(directory)
    files = [PackageFile(path, size, digest) for path, (size, digest) in sorted(listed.items())]
    transport = transport_from_settings(settings)
    report = transport.send(directory, files, MANIFEST)
    now = datetime.now(UTC)
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        row = upload_row(
            uow.session, info.id, package["manifest_sha256"], package["name"], transport.target
        )
        mark_uploaded(row, len(files) + 1, int(package["bytes"]), now)
        uow.commit()
    get_run_logger().info(
        "package %s to %s: %d sent, %d already there, %d resumed, %d bytes",
        report.package,
        transport.target,
        len(report.sent),
        len(report.skipped),
        len(report.resumed),
        report.bytes_sent,
    )
    return {
        "target": transport.target,
        "sent": len(report.sent),
        "skipped": len(report.skipped),
        "resumed": len(report.resumed),
        "bytes_sent": report.bytes_sent,
    }


@task(name="demo-federal-centre", cache_policy=NONE)
def demo_federal_receipt(settings: Settings, package: dict[str, Any]) -> str:
    """The demo's simulated federal centre: checks what arrived in the local drop against the
    manifest and writes its receipt into the returns folder. Test equipment, not a stage."""
    root = settings.federal_drop_dir()
    arrived = root / "incoming" / package["name"]
    manifest = json.loads((arrived / MANIFEST).read_text(encoding="utf-8"))
    present = {
        f["path"]: ((arrived / f["path"]).stat().st_size, file_digest(arrived / f["path"]))
        for f in manifest["files"]
        if (arrived / f["path"]).is_file()
    }
    receipt = simulated_receipt(
        manifest, file_digest(arrived / MANIFEST), present, datetime.now(UTC)
    )
    target = root / "returns" / receipt_name(package["name"])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_text(json.dumps(receipt, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(target)
    return str(receipt["status"])


@task(name="await-federal-receipt", cache_policy=NONE)
def await_receipt(
    settings: Settings,
    campaign: str,
    session: str,
    package: dict[str, Any],
    poll_seconds: float = 300.0,
    timeout_seconds: float | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Poll the returns folder for this package's receipt until it comes, the plan's deadline
    passes (the coordinator is alerted once, and the run returns `late`) or `timeout_seconds`
    runs out (`waiting`). An accepted receipt completes the plan's upload stage."""
    logger = get_run_logger()
    transport = transport_from_settings(settings)
    started = time.monotonic()
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign, session)
            stage_id, due, zone = _deadline(uow.session, info.id)
        while True:
            ensure_current_lease_held()  # hours of polling: stop once another run has the key
            data = transport.fetch_return(receipt_name(package["name"]))
            receipt = (
                parse_receipt(data, package["name"], package["manifest_sha256"]) if data else None
            )
            at = now or datetime.now(UTC)
            if receipt is not None:
                with UnitOfWork(database.session_factory) as uow:
                    row = uow.session.scalars(
                        select(FederalUpload).where(
                            FederalUpload.session_id == info.id,
                            FederalUpload.package_sha256 == package["manifest_sha256"],
                        )
                    ).one()
                    mark_receipt(row, receipt, at)
                    if receipt["status"] == "accepted":
                        mark_stage_completed(
                            uow.session, stage_id, "rcoi", at, {"package": package["name"]}
                        )
                    uow.commit()
                logger.info("federal receipt for %s: %s", package["name"], receipt["status"])
                problems = len(receipt.get("problems") or [])
                alerted = 0
                if receipt["status"] != "accepted":
                    alerted = alert_coordinator(
                        settings,
                        database.session_factory,
                        f"upload-rejected:{session}:{package['manifest_sha256'][:16]}",
                        f"ФЦТ не принял пакет {package['name']}",
                        f"ФЦТ вернул квитанцию «отклонено» на пакет результатов сеанса {session} "
                        f"({package['name']}): замечаний {problems}. Квитанция: "
                        f"{settings.federal_drop_dir() / 'returns'} или каталог возвратов SFTP.\n"
                        "Исправьте замечания и отправьте пакет снова (rcoi upload).\n",
                        stage_id,
                    )
                return {"status": receipt["status"], "problems": problems, "alerted": alerted}
            if due is not None and at >= due:
                local = due.astimezone(ZoneInfo(zone))
                alerted = alert_coordinator(
                    settings,
                    database.session_factory,
                    f"upload-late:{session}:{package['name']}",
                    f"Нет квитанции ФЦТ на пакет {package['name']}",
                    f"Пакет результатов сеанса {session} ({package['name']}) отправлен в ФЦТ, "
                    f"но квитанция о приёме не получена к сроку {local:%d.%m.%Y %H:%M} "
                    f"({zone}).\nПроверьте отправку и свяжитесь с ФЦТ.\n",
                    stage_id,
                )
                logger.warning("no federal receipt for %s by %s", package["name"], due)
                return {"status": "late", "due": due.isoformat(), "alerted": alerted}
            if timeout_seconds is not None and time.monotonic() - started >= timeout_seconds:
                return {"status": "waiting", "due": due.isoformat() if due else None}
            logger.info("no federal receipt for %s yet, waiting", package["name"])
            time.sleep(poll_seconds)
    finally:
        database.dispose()


def _deadline(session: Any, session_id: int) -> tuple[int | None, datetime | None, str]:
    """The plan's upload stage, the receipt's deadline and the zone to show it in; a plan
    without an upload row (seed 001's) expects the receipt `UPLOAD_WITHOUT_ROW` after the
    scan window ends, as `rcoi serve` schedules the upload then."""
    stage = session.scalars(
        select(PlanStage).where(
            PlanStage.session_id == session_id, PlanStage.automated_stage == "upload"
        )
    ).first()
    if stage is not None:
        return stage.id, stage.due_at, stage.zone
    scan = session.scalars(
        select(PlanStage).where(
            PlanStage.session_id == session_id, PlanStage.automated_stage == "scan"
        )
    ).first()
    if scan is None or scan.due_at is None:
        return None, None, "UTC"
    return None, scan.due_at + UPLOAD_WITHOUT_ROW, scan.zone
