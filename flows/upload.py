"""Upload flow (федеральная обработка, seed 000 row 18): the session's federal package —
results, page images, manifest (docs/federal-package.md) — built once verification is over,
checked by its contract, sent by SFTP (or into `<out>/federal/` without one) so that an
interrupted run resumes, then the federal receipt awaited until the plan's deadline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.plan import read_plan
from tasks.upload import (
    await_receipt,
    build_federal_package,
    check_upload_gate,
    demo_federal_receipt,
    send_package,
)

__all__ = ["upload"]


@stage_flow("upload")
def upload(
    out: str = "out",
    plan: str = "kemerovo-2017-essay",
    session: str | None = None,
    poll_seconds: float = 300.0,
    timeout_seconds: float | None = None,
    demo_federal_centre: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Build, send and await the receipt; with `demo_federal_centre` (the local drop only) a
    simulated federal centre answers at once."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_code = session or the_plan.sessions[0].id
    check_upload_gate(settings, the_plan.id, session_code)
    package = build_federal_package(settings, the_plan.id, session_code, workers)
    sent = send_package(settings, the_plan.id, session_code, package)
    if demo_federal_centre and not settings.federal_sftp_host:
        demo_federal_receipt(settings, package)
    receipt = await_receipt(
        settings, the_plan.id, session_code, package, poll_seconds, timeout_seconds
    )
    return {"package": package, "sent": sent, "receipt": receipt}
