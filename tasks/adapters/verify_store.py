"""The verification queue in the regional database: items for rejected pages, what an operator
may take next, decisions (audit-logged: who, when, old → new), groups of items sharing one
recognised value, the coordinator's closure, and the verified results of the session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tasks.adapters.grade_store import evaluations_of, works_to_grade
from tasks.adapters.models import (
    AuditLog,
    Page,
    QueueClosure,
    RecognitionResult,
    Result,
    VerificationItem,
    Work,
)
from tasks.domain.grading import GradingRules
from tasks.domain.verify import (
    OPEN_STATUSES,
    VerifyError,
    WorkState,
    answer_spec,
    decide,
    parse_answer,
    work_result,
)

__all__ = [
    "ItemView",
    "apply_decision",
    "apply_scan_answers",
    "close_queue",
    "group_of",
    "item_sources",
    "item_view",
    "may_decide",
    "next_items",
    "open_rejected_page_items",
    "queue_counts",
    "queue_state",
    "store_results",
]


@dataclass(frozen=True, slots=True)
class ItemView:
    """What the operator's page shows of an item: codes and values, never names."""

    id: int
    session_id: int
    kind: str
    field: str | None
    reason: str
    recognised: str | None
    expected: str | None
    status: str
    double: bool
    first_by: str | None
    work_code: str | None
    page_key: str | None


def open_rejected_page_items(session: Session, session_id: int, now: datetime) -> int:
    """One `page` item per rejected page of the session (its image is in quarantine)."""
    existing = set(
        session.scalars(
            select(VerificationItem.page_id).where(
                VerificationItem.session_id == session_id, VerificationItem.kind == "page"
            )
        )
    )
    opened = 0
    for page in session.scalars(
        select(Page).where(Page.session_id == session_id, Page.status == "rejected")
    ):
        if page.id in existing:
            continue
        session.add(
            VerificationItem(
                key=f"page:{page.content_hash}:{page.source_index}",
                session_id=session_id,
                page_id=page.id,
                work_id=page.work_id,
                kind="page",
                field=None,
                reason=f"страница отклонена при распознавании: {page.reason or ''}".strip(),
                status="open",
                opened_at=now,
            )
        )
        opened += 1
    return opened


def _available(login: str, role: str) -> Any:
    """Items this operator may decide: open ones, second checks of another's answer, and
    (senior verifiers only) disputed ones and whole rejected pages, which show the page."""
    allowed = (VerificationItem.status == "open") | (
        (VerificationItem.status == "second") & (VerificationItem.first_by != login)
    )
    if role == "senior":
        return allowed | (VerificationItem.status == "disputed")
    return allowed & (VerificationItem.kind != "page")


def _view(item: VerificationItem, work_code: str | None, key: str | None) -> ItemView:
    detail = item.detail or {}
    return ItemView(
        item.id,
        item.session_id,
        item.kind,
        item.field,
        item.reason,
        item.recognised_value,
        detail.get("expected"),
        item.status,
        item.double_check,
        item.first_by,
        work_code,
        key,
    )


def _views(session: Session, query: Any) -> list[ItemView]:
    rows = session.execute(
        query.add_columns(Work.work_code, Page.page_key)
        .outerjoin(Work, Work.id == VerificationItem.work_id)
        .outerjoin(Page, Page.id == VerificationItem.page_id)
    ).all()
    return [_view(item, code, key) for item, code, key in rows]


def next_items(
    session: Session, session_id: int, login: str, role: str, limit: int = 50, after: int = 0
) -> list[ItemView]:
    """The items this operator may decide, in queue order, from the one after `after` (then
    from the start again, so a skipped item comes back last)."""
    base = select(VerificationItem).where(
        VerificationItem.session_id == session_id, _available(login, role)
    )
    later = _views(
        session, base.where(VerificationItem.id > after).order_by(VerificationItem.id).limit(limit)
    )
    if len(later) >= limit or not after:
        return later
    earlier = _views(
        session,
        base.where(VerificationItem.id <= after).order_by(VerificationItem.id).limit(limit),
    )
    return (later + earlier)[:limit]


def may_decide(session: Session, item_id: int, login: str, role: str, session_id: int) -> bool:
    """The item belongs to this exam session and this operator may decide it now."""
    found = session.scalars(
        select(VerificationItem.id).where(
            VerificationItem.id == item_id,
            VerificationItem.session_id == session_id,
            _available(login, role),
        )
    ).first()
    return found is not None


def item_view(session: Session, item_id: int) -> ItemView | None:
    views = _views(session, select(VerificationItem).where(VerificationItem.id == item_id))
    return views[0] if views else None


def group_of(
    session: Session, session_id: int, field: str, value: str | None, login: str, role: str
) -> list[ItemView]:
    """Items this operator may decide that share a field and a recognised value."""
    query = (
        select(VerificationItem)
        .where(
            VerificationItem.session_id == session_id,
            VerificationItem.field == field,
            VerificationItem.recognised_value == value
            if value is not None
            else VerificationItem.recognised_value.is_(None),
            _available(login, role),
        )
        .order_by(VerificationItem.id)
        .limit(200)
    )
    return _views(session, query)


def apply_decision(
    session: Session, item_id: int, login: str, role: str, answer: str, now: datetime
) -> str:
    """Decide an item with the operator's typed answer; returns the new status. The audit
    log gets who, when, the item and old → new (status and value)."""
    item = session.get(VerificationItem, item_id, with_for_update=True)
    if item is None:
        raise VerifyError("элемент не найден")
    value = parse_answer(answer_spec(item.kind, item.field), answer)
    decision = decide(
        status=item.status,
        double=item.double_check,
        first_value=item.first_value,
        first_by=item.first_by,
        operator=login,
        role=role,
        value=value,
    )
    if not may_decide(session, item_id, login, role, item.session_id):
        raise VerifyError("элемент недоступен этому оператору")  # a whole page: seniors only
    detail = dict(item.detail or {})
    if item.status == "disputed" and login in (item.first_by, detail.get("second_by")):
        raise VerifyError("спор решает старший верификатор, не участвовавший в проверке")
    old = {"status": item.status, "value": item.resolved_value or item.recognised_value}
    if item.status == "open" and item.double_check:
        item.first_value, item.first_by, item.first_at = value, login, now
    if item.status == "second":  # the second operator, kept so a dispute goes to a third
        item.detail = {**detail, "second_by": login, "second_value": value}
    item.status = decision.status
    if decision.status == "resolved":
        item.resolved_value, item.resolved_by, item.resolved_at = value, login, now
    session.add(
        AuditLog(
            at=now,
            actor=login,
            action="verify",
            entity="verification_item",
            entity_id=str(item.id),
            old=old,
            new={"status": decision.status, "value": value},
        )
    )
    return decision.status


def queue_counts(session: Session, session_id: int) -> dict[str, int]:
    rows = session.execute(
        select(VerificationItem.status, func.count())
        .where(VerificationItem.session_id == session_id)
        .group_by(VerificationItem.status)
    )
    return {status: int(n) for status, n in rows}


def queue_state(session: Session, session_id: int) -> tuple[int, bool]:
    """(items still open, whether the coordinator closed the queue)."""
    counts = queue_counts(session, session_id)
    closed = session.scalars(
        select(QueueClosure.id).where(QueueClosure.session_id == session_id)
    ).first()
    return sum(counts.get(s, 0) for s in OPEN_STATUSES), closed is not None


def close_queue(session: Session, session_id: int, actor: str, note: str, now: datetime) -> bool:
    """The coordinator closes the queue (once); returns False if it was closed already."""
    if session.scalars(select(QueueClosure).where(QueueClosure.session_id == session_id)).first():
        return False
    session.add(QueueClosure(session_id=session_id, closed_by=actor, closed_at=now, note=note))
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action="close_queue",
            entity="exam_session",
            entity_id=str(session_id),
            old=None,
            new={"note": note},
        )
    )
    return True


def store_results(
    session: Session, session_id: int, rules: GradingRules, now: datetime
) -> list[tuple[str, str, str, dict[str, str] | None]]:
    """Every kit's verified result into `result` (one row per registration, replaced on a
    re-run). Returns (work code, school code, outcome, marks) per kit."""
    works = works_to_grade(session, session_id)
    protocol = evaluations_of(session, session_id, "protocol")
    original = evaluations_of(session, session_id, "original")
    decisions: dict[str, dict[str, str]] = {}
    left: Counter[str] = Counter()
    rows = session.execute(
        select(Work.work_code, VerificationItem)
        .join(Work, Work.id == VerificationItem.work_id)
        .where(
            VerificationItem.session_id == session_id,
            VerificationItem.kind.in_(("result", "record")),
        )
    )
    answers: dict[tuple[str, str], set[str]] = {}
    for code, item in rows:
        if item.status in OPEN_STATUSES:
            left[code] += 1
        elif item.status == "resolved" and item.field and item.resolved_value is not None:
            answers.setdefault((code, item.field), set()).add(item.resolved_value)
    for (code, name), values in answers.items():
        if len(values) > 1:  # two items on one field answered differently: not settled
            left[code] += 1
        else:
            decisions.setdefault(code, {})[name] = values.pop()
    kit_rows = {
        w.work_code: w
        for w in session.scalars(
            select(Work).where(Work.session_id == session_id, Work.kind == "kit")
        )
    }
    results = {
        r.registration_id: r
        for r in session.scalars(
            select(Result).where(
                Result.registration_id.in_(
                    [w.registration_id for w in kit_rows.values() if w.registration_id]
                )
            )
        )
    }
    out = []
    for code, work in sorted(works.items()):
        state = WorkState(
            work.status,
            work.form,
            protocol.get(code) or original.get(code),
            decisions.get(code, {}),
            left[code],
        )
        outcome, marks = work_result(rules, state)
        out.append((code, work.school_code, outcome, marks))
        kit = kit_rows[code]
        if kit.registration_id is None:
            continue
        result = results.get(kit.registration_id)
        if result is None:
            result = Result(registration_id=kit.registration_id)
            session.add(result)
        result.work_id = kit.id
        result.outcome = outcome
        result.passed = {"passed": True, "failed": False}.get(outcome)
        result.marks = marks
        result.verified_at = now if outcome != "unresolved" else None
    return out


def item_sources(session: Session, item_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per item: its page's image file, frame, blank type and page number (for the crops)."""
    rows = session.execute(
        select(VerificationItem.id, VerificationItem.kind, VerificationItem.field, Page)
        .join(Page, Page.id == VerificationItem.page_id)
        .where(VerificationItem.id.in_(list(item_ids)))
    )
    return {
        item_id: {
            "kind": kind,
            "field": field,
            "image": page.image_path,
            "frame": page.source_index,
            "blank_type": page.blank_type,
            "page": page.page_number,
            "status": page.status,
        }
        for item_id, kind, field, page in rows
    }


_DIGIT_FIELDS = ("work_code", "topic_number", "answer_blanks", "sheet_number")


def apply_scan_answers(session: Session, session_id: int) -> int:
    """Operators' answers to scan items written into the page's readings (status `verified`):
    digits as typed (a cell typed «*» stays unread, so the reading is left as it was), a mark
    box as marked or empty; an additional blank moves to the work whose code the operator
    read. Safe to repeat; returns the readings and pages changed."""
    rows = session.execute(
        select(VerificationItem, RecognitionResult)
        .join(
            RecognitionResult,
            (RecognitionResult.page_id == VerificationItem.page_id)
            & (RecognitionResult.field == VerificationItem.field),
        )
        .where(
            VerificationItem.session_id == session_id,
            VerificationItem.kind == "scan",
            VerificationItem.status == "resolved",
            VerificationItem.resolved_value.is_not(None),
        )
    ).all()
    changed = 0
    kits = dict(
        session.execute(
            select(Work.work_code, Work.id).where(Work.session_id == session_id, Work.kind == "kit")
        )
        .tuples()
        .all()
    )
    for item, reading in rows:
        answer = str(item.resolved_value)
        if item.field == "work_code" and answer in kits:
            # An additional blank carries no printed work code: the one an operator read
            # decides which work the page belongs to (answer blanks keep their QR's work).
            page = session.get(Page, item.page_id)
            if (
                page is not None
                and page.blank_type == "additional"
                and page.work_id != kits[answer]
            ):
                page.work_id = kits[answer]
                changed += 1
        if item.field in _DIGIT_FIELDS:
            if "*" in answer:
                continue
            value = answer
        elif answer in ("1", "0"):
            value = "marked" if answer == "1" else "empty"
        else:
            continue
        if reading.value != value or reading.status != "verified":
            reading.value, reading.status, reading.confidence = value, "verified", 1.0
            changed += 1
    return changed
