"""Prefect tasks of the campaign flow: its summary file and artifacts."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from config.settings import Settings
from tasks.adapters.topics import topic_file
from tasks.artifacts import EMPTY, markdown_artifact, status_ru, table_artifact
from tasks.domain.plan import Plan, StageKind
from tasks.domain.summary import (
    STAGE_TITLES_RU,
    StageSummary,
    stage_rows,
    summary_document,
    summary_markdown,
)

__all__ = [
    "DEMO_COORDINATOR",
    "demo_coordinator_accepts",
    "publish_skipped",
    "write_campaign_summary",
]


@task(name="write-summary", cache_policy=NONE)
def write_campaign_summary(
    out: Path, campaign: dict[str, Any], entries: list[StageSummary]
) -> dict[str, Any]:
    """Write summary.json and summary.md under `out` and show them as Prefect artifacts."""
    document = summary_document(campaign, entries)
    markdown = summary_markdown(document)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out / "summary.md").write_text(markdown, encoding="utf-8")
    plan_id, session = campaign["plan"], campaign["session"]
    markdown_artifact("campaign-summary", plan_id, session, markdown, "Состояние этапов кампании")
    table_artifact(
        "campaign-stages",
        plan_id,
        session,
        [
            {
                "этап": STAGE_TITLES_RU.get(stage["stage"], stage["stage"]),
                "состояние": status_ru(stage["status"]),
                "показатель": label,
                "значение": text,
            }
            for stage in document["stages"]
            for label, text in stage_rows(stage, campaign.get("zone")) or [(EMPTY, EMPTY)]
        ],
        "Этапы кампании и их показатели (все — в summary.json)",
    )
    return document


DEMO_COORDINATOR = "демо-координатор (симуляция)"


@task(name="demo-coordinator-decides", cache_policy=NONE)
def demo_coordinator_accepts(settings: Settings, campaign_code: str, session_code: str) -> int:
    """The demo's simulated coordinator accepts every open critical discrepancy so that the
    campaign can go on to print; each decision is audit-logged under its own clear name. A
    real coordinator decides one by one with `rcoi discrepancies`."""
    from sqlalchemy import select

    from tasks.adapters.database import bootstrap
    from tasks.adapters.models import Discrepancy
    from tasks.adapters.reconciliation import close_discrepancy
    from tasks.adapters.submissions import session_info
    from tasks.adapters.unit_of_work import UnitOfWork

    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            info = session_info(uow.session, campaign_code, session_code)
            ids = list(
                uow.session.scalars(
                    select(Discrepancy.id).where(
                        Discrepancy.session_id == info.id,
                        Discrepancy.status == "open",
                        Discrepancy.severity == "critical",
                    )
                )
            )
            for discrepancy_id in ids:
                close_discrepancy(
                    uow.session,
                    discrepancy_id,
                    "accepted",
                    DEMO_COORDINATOR,
                    "демонстрация: принято автоматически, чтобы продолжить печать",
                )
            uow.commit()
    finally:
        database.dispose()
    return len(ids)


DEMO_PERFORMERS = "демо-исполнители (симуляция)"


@task(name="demo-performers-mark-rows", cache_policy=NONE)
def demo_performers_mark_rows(
    settings: Settings, campaign_code: str, session_code: str, upto: datetime, at: datetime
) -> int:
    """The demo's simulated schools and МОУО do their people's work (applications, forming
    commissions, …) due by `upto`, and mark it done at `at` — each mark audit-logged under its
    own clear name — so that the demo's watchdog speaks of the stages the demo simulates. A
    real performer marks a row with `rcoi plan done` or on the board."""
    from tasks.adapters.board import load_scope, mark_done
    from tasks.adapters.database import bootstrap
    from tasks.adapters.unit_of_work import UnitOfWork
    from tasks.domain.board import performers_of

    marked = 0
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            scope = load_scope(uow.session, campaign_code, [session_code])
            for row in scope.rows:
                due = row.windows[-1][1]
                if row.tracked_by_stage or row.external or due is None or due > upto:
                    continue
                for performer in performers_of(row, scope.directory):
                    outcome = mark_done(
                        uow.session,
                        scope,
                        row.stage_key,
                        session_code,
                        performer.party,
                        DEMO_PERFORMERS,
                        "демонстрация: выполнено по сценарию",
                        at,
                    )
                    marked += outcome.changed
            uow.commit()
    finally:
        database.dispose()
    return marked


def publish_skipped(plan: Plan, session_id: str) -> StageSummary:
    """The publish entry of a demo that does not publish, with the reason it does not: the
    plan has no publish stage for the session, or the demo has no topics of it to seal."""
    publishes = any(
        stage.stage is StageKind.PUBLISH
        and (stage.sessions is None or session_id in stage.sessions)
        for stage in plan.stages
    )
    if not publishes:
        reason = f"в плане-графике {plan.id} нет этапа публикации тем для срока {session_id}"
    else:
        source = topic_file(session_id)
        reason = (
            f"темы срока {session_id} не загружены: в демонстрации нет файла {source.name} "
            f"в {source.parent.name}/ (загрузка тем: rcoi topics load --session {session_id} "
            "--file …)"
        )
    return StageSummary("publish", "skipped", {"reason": reason})
