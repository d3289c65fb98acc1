"""Prefect tasks of the verify stage: the queue gathered (rejected pages added, crops drawn),
the wait until it is empty or closed, and the verified results written; plus the demo's
simulated operators, who answer from the exam-day simulator's ground truth."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from sqlalchemy import select

from config.settings import Settings
from tasks.adapters.copy_files import write_csv
from tasks.adapters.database import bootstrap
from tasks.adapters.grading_files import grading_rules
from tasks.adapters.models import Campaign, Page, VerificationItem
from tasks.adapters.submissions import mark_stage_completed, plan_stage_id, session_info
from tasks.adapters.unit_of_work import UnitOfWork, open_unit_of_work
from tasks.adapters.verify_crops import render_crop
from tasks.adapters.verify_store import (
    apply_decision,
    apply_scan_answers,
    item_sources,
    next_items,
    open_rejected_page_items,
    queue_counts,
    queue_state,
    store_results,
)
from tasks.artifacts import markdown_artifact, markdown_table, table_artifact
from tasks.domain.verify import OPEN_STATUSES, OUTCOMES_RU

__all__ = [
    "DEMO_OPERATORS",
    "demo_operators_resolve",
    "gather_queue",
    "wait_for_queue",
    "write_verified_results",
]

DEMO_OPERATORS = ("демо-оператор-1 (симуляция)", "демо-оператор-2 (симуляция)")


@task(name="gather-queue", cache_policy=NONE)
def gather_queue(settings: Settings, campaign: str, session: str, crops: Path) -> dict[str, Any]:
    """Items for rejected pages added; a crop drawn for every open item that has none."""
    now = datetime.now(UTC)
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        added = open_rejected_page_items(uow.session, info.id, now)
        uow.commit()
        open_items = list(
            uow.session.execute(
                select(VerificationItem.id, VerificationItem.detail).where(
                    VerificationItem.session_id == info.id,
                    VerificationItem.status.in_(OPEN_STATUSES),
                )
            )
        )
        todo = [i for i, _ in open_items if not (crops / f"{i}.png").is_file()]
        sources = item_sources(uow.session, todo)
        # A doubtful volume is judged on the answer page's text, not the result row.
        volume = [i for i, d in open_items if (d or {}).get("finding") == "volume_doubtful"]
        answer_pages = _answer_pages(uow.session, volume)
        counts = queue_counts(uow.session, info.id)
    crops.mkdir(parents=True, exist_ok=True)
    drawn = 0
    for item_id in todo:
        source = answer_pages.get(item_id) or sources.get(item_id)
        data = render_crop(source, text_area=item_id in answer_pages) if source else None
        if data:
            tmp = crops / f".{item_id}.png.tmp"
            tmp.write_bytes(data)
            tmp.replace(crops / f"{item_id}.png")
            drawn += 1
    get_run_logger().info(
        "queue: %d items open, %d crops drawn", sum(counts.get(s, 0) for s in OPEN_STATUSES), drawn
    )
    return {"rejected_pages_added": added, "crops_drawn": drawn, "by_status": counts}


def _answer_pages(session: Any, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for item_id in item_ids:
        item = session.get(VerificationItem, item_id)
        page = session.scalars(
            select(Page).where(
                Page.work_id == item.work_id,
                Page.blank_type == "answer",
                Page.page_number == 1,
                Page.status != "rejected",
            )
        ).first()
        if page is not None:
            out[item_id] = {
                "kind": "result",
                "field": None,
                "image": page.image_path,
                "frame": page.source_index,
                "blank_type": page.blank_type,
                "page": page.page_number,
            }
    return out


@task(name="wait-for-queue", cache_policy=NONE)
def wait_for_queue(
    settings: Settings,
    campaign: str,
    session: str,
    poll_seconds: float = 30.0,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """Poll until the queue is empty or the coordinator closed it (`rcoi verify close`);
    with a timeout, return what is left instead of waiting longer (the flow then stops
    before results and says so)."""
    logger = get_run_logger()
    started = time.monotonic()
    database = bootstrap(settings)  # once: the schema is migrated at start, not every poll
    try:
        while True:
            with UnitOfWork(database.session_factory) as uow:
                info = session_info(uow.session, campaign, session)
                left, closed = queue_state(uow.session, info.id)
            if left == 0 or closed:
                return {
                    "open": left,
                    "closed_by_coordinator": closed,
                    "waited_s": round(time.monotonic() - started, 1),
                }
            if timeout_seconds is not None and time.monotonic() - started >= timeout_seconds:
                logger.warning("verification queue still has %d open items", left)
                return {"open": left, "closed_by_coordinator": False, "timed_out": True}
            logger.info("verification queue: %d items open, waiting", left)
            time.sleep(poll_seconds)
    finally:
        database.dispose()


@task(name="write-verified-results", cache_policy=NONE)
def write_verified_results(
    settings: Settings, campaign: str, session: str, folder: Path
) -> dict[str, Any]:
    """The operators' answers to scan items written into the readings, every kit's verified
    result (or the status that explains its absence) into the regional database and
    `folder/results.csv`; counts per outcome as an artifact."""
    now = datetime.now(UTC)
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        year = uow.session.scalars(
            select(Campaign.school_year).where(Campaign.code == campaign)
        ).one()
        readings = apply_scan_answers(uow.session, info.id)
        rows = store_results(uow.session, info.id, grading_rules(str(year)), now)
        left, _ = queue_state(uow.session, info.id)
        if left == 0:
            mark_stage_completed(
                uow.session,
                plan_stage_id(uow.session, info.id, "verify"),
                "rcoi",
                now,
                {"works": len(rows)},
                None,
            )
        uow.commit()
    outcomes = Counter(outcome for _, _, outcome, _ in rows)
    write_csv(
        folder / "results.csv",
        ["Код работы", "Код ОО", "Результат", "Отметки"],
        [
            (
                code,
                school,
                OUTCOMES_RU[outcome],
                json.dumps(marks, ensure_ascii=False) if marks else "",
            )
            for code, school, outcome, marks in rows
        ],
    )
    table_artifact(
        "verified-results",
        campaign,
        session,
        [{"результат": OUTCOMES_RU[o], "работ": n} for o, n in sorted(outcomes.items())],
        "Проверенные результаты: итог по видам",
    )
    markdown_artifact(
        "verify-summary",
        campaign,
        session,
        f"## Верификация, срок {session}\n\n"
        + markdown_table(
            ("показатель", "значение"),
            [
                ("работ с результатом", len(rows)),
                ("полей верифицировано", readings),
                ("осталось открытых элементов очереди", left),
            ],
        ),
        "Верификация: итог",
    )
    return {
        "works": len(rows),
        "open_items": left,
        "readings_verified": readings,
        "outcomes": dict(sorted(outcomes.items())),
    }


# --- the demo's simulated operators ------------------------------------------------------------


def _truth_answer(
    item: VerificationItem, code: str | None, key: str | None, truth: dict[str, Any]
) -> str | None:
    """What a careful operator would answer, read off the simulator's ground truth."""
    works = truth["works"]
    pages = truth["pages"]
    if item.kind == "result" and code in works and item.field:
        marks = works[code].get("expert_marks") or {}
        value = marks.get(item.field)
        return {"зачет": "1", "незачет": "0"}.get(value or "")
    if item.kind == "record" and code in works and item.field:
        flag = item.field.removeprefix("flag_")
        return "1" if works[code]["flags"].get(flag) else "0"
    if item.kind == "page":
        return "1"
    page = pages.get(key or "")
    if item.field and page is not None:
        hand = page["handwritten"]
        if item.field in hand["digits"]:
            cells = hand["digits"][item.field]["cells"]
            value = "".join(c if c else "" for c in cells)
            return value or None
        stroke = hand["marks"].get(item.field)
        return "1" if stroke in ("cross", "tick") else "0"
    return "1" if page is not None else "0"


@task(name="demo-operators-resolve", cache_policy=NONE)
def demo_operators_resolve(
    settings: Settings, campaign: str, session: str, ground_truth: Path
) -> dict[str, Any]:
    """The demo's two simulated operators (clearly named, audit-logged) answer every item
    from the simulator's ground truth: the first takes every item, the second does the
    second check of result fields; a senior role settles what they could not."""
    document = json.loads(ground_truth.read_text(encoding="utf-8"))
    truth = {
        "works": {w["work_code"]: w for w in document["works"]},
        "pages": {p["page_key"]: p for p in document["pages"]},
    }
    decided: Counter[str] = Counter()
    now = datetime.now(UTC)
    with open_unit_of_work(settings) as uow:
        info = session_info(uow.session, campaign, session)
        for login in DEMO_OPERATORS:
            while True:
                views = next_items(uow.session, info.id, login, "senior", limit=500)
                views = [v for v in views if decided[f"{login}:{v.id}"] == 0]
                if not views:
                    break
                for view in views:
                    decided[f"{login}:{view.id}"] = 1
                    item = uow.session.get(VerificationItem, view.id)
                    if item is None:
                        continue
                    answer = _truth_answer(item, view.work_code, view.page_key, truth)
                    if answer is None:  # an empty field: «*», nothing legible written
                        answer = "*"
                    apply_decision(uow.session, view.id, login, "senior", answer, now)
                    decided[login] += 1
        uow.commit()
        counts = queue_counts(uow.session, info.id)
    get_run_logger().info(
        "demo operators decided %s", {k: v for k, v in decided.items() if ":" not in k}
    )
    return {
        "operators": list(DEMO_OPERATORS),
        "decisions": {login: decided[login] for login in DEMO_OPERATORS},
        "by_status": counts,
    }
