"""The grade stage in the regional database: what each school must grade, the accepted protocol
rows and the marks read on the originals as evaluations, the evidence of each work for the
consistency checks, and their findings as verification items (keyed, so a re-run adds none;
an open item whose finding is gone is closed as `gone`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tasks.adapters.copy_store import register_rows
from tasks.adapters.models import (
    Evaluation,
    Page,
    RecognitionResult,
    RoomRecord,
    VerificationItem,
    Work,
)
from tasks.domain.evaluation_rules import ProtocolRow, WorkToGrade
from tasks.domain.grade_checks import Finding, WorkEvidence
from tasks.domain.grading import GROUPS

__all__ = [
    "evaluations_of",
    "store_evaluations",
    "store_findings",
    "work_evidence",
    "works_to_grade",
]


def works_to_grade(session: Session, session_id: int) -> dict[str, WorkToGrade]:
    return {
        r.work_code: WorkToGrade(r.school_code, r.form, r.status, r.expert)
        for r in register_rows(session, session_id)
    }


def _work_ids(session: Session, session_id: int) -> dict[str, int]:
    return dict(
        session.execute(select(Work.work_code, Work.id).where(Work.session_id == session_id))
        .tuples()
        .all()
    )


def store_evaluations(
    session: Session,
    session_id: int,
    rows: Sequence[ProtocolRow],
    experts: Mapping[str, str | None],
    source: str,
    now: datetime,
) -> int:
    """Upsert one evaluation per (work, source) with its marks; the expert is the assigned
    one (the protocol's column only confirms it)."""
    ids = _work_ids(session, session_id)
    existing = {
        e.work_id: e
        for e in session.scalars(
            select(Evaluation).where(
                Evaluation.source == source,
                Evaluation.work_id.in_([ids[r.work_code] for r in rows]),
            )
        )
    }
    for row in rows:
        evaluation = existing.get(ids[row.work_code])
        if evaluation is None:
            evaluation = Evaluation(work_id=ids[row.work_code], source=source)
            session.add(evaluation)
        evaluation.expert_code = experts.get(row.work_code) or row.expert
        for group in GROUPS:
            setattr(evaluation, group, row.marks.get(group))
        evaluation.recorded_at = now
    return len(rows)


def evaluations_of(
    session: Session, session_id: int, source: str
) -> dict[str, dict[str, bool | None]]:
    rows = session.execute(
        select(Work.work_code, Evaluation)
        .join(Evaluation, Evaluation.work_id == Work.id)
        .where(Work.session_id == session_id, Evaluation.source == source)
    )
    return {code: {g: getattr(e, g) for g in GROUPS} for code, e in rows}


def _group_value(states: Mapping[str, str], group: str) -> bool | None:
    """A result group on the original: the one crossed box, None when unreadable or open."""
    passed, failed = states.get(f"{group}_pass"), states.get(f"{group}_fail")
    if passed in ("uncertain", "damaged") or failed in ("uncertain", "damaged"):
        return None
    if passed == "marked" and failed != "marked":
        return True
    if failed == "marked" and passed != "marked":
        return False
    return None


def _blank(states: Mapping[str, str], group: str) -> bool:
    """Both boxes of a result group read empty for sure: nothing was transcribed there."""
    return states.get(f"{group}_pass") == "empty" and states.get(f"{group}_fail") == "empty"


def _flag_value(states: Mapping[str, str], name: str) -> bool | None:
    state = states.get(f"flag_{name}")
    return None if state in (None, "uncertain", "damaged") else state == "marked"


def work_evidence(
    session: Session, session_id: int, protocol: Mapping[str, Mapping[str, bool | None]]
) -> dict[str, WorkEvidence]:
    """Everything the consistency checks need, per kit of the session; the original's mark
    boxes as read, or as an operator answered where recognition was unsure."""
    works = works_to_grade(session, session_id)
    states: dict[str, dict[str, str]] = {}
    words: dict[str, int] = {}
    counted: dict[str, int] = {}  # answer pages whose words were estimated
    rows = session.execute(
        select(Work.work_code, Page.blank_type, RecognitionResult.field, RecognitionResult.value)
        .join(Page, Page.work_id == Work.id)
        .join(RecognitionResult, RecognitionResult.page_id == Page.id)
        .where(Page.session_id == session_id, Page.status != "rejected")
    )
    for code, blank_type, name, value in rows:
        if blank_type == "registration":
            states.setdefault(code, {})[name] = value or ""
        elif name == "text_words" and value:
            words[code] = words.get(code, 0) + int(value)
            counted[code] = counted.get(code, 0) + 1
    # An operator's answer about a mark box of the original replaces what recognition read.
    answered = session.execute(
        select(Work.work_code, VerificationItem.field, VerificationItem.resolved_value)
        .join(Work, Work.id == VerificationItem.work_id)
        .join(Page, Page.id == VerificationItem.page_id)
        .where(
            VerificationItem.session_id == session_id,
            VerificationItem.kind == "scan",
            VerificationItem.status == "resolved",
            Page.blank_type == "registration",
        )
    )
    for code, box, answer in answered:
        if code in states and box in states[code] and answer in ("1", "0"):
            states[code][box] = "marked" if answer == "1" else "empty"
    # Words are only an estimate of the whole work when every answer page was read: both
    # sides of the answer blank and of each additional blank used (a lost page is no proof
    # of a short essay).
    sides = {
        code: 2 + 2 * len(r.additional_blanks.split())
        for code, r in session.execute(
            select(Work.work_code, RoomRecord)
            .join(RoomRecord, RoomRecord.work_id == Work.id)
            .where(Work.session_id == session_id)
        )
    }
    complete = {code for code, n in counted.items() if n >= sides.get(code, 2)}
    records = {
        code: {"not_finished": r.not_finished, "removed": r.removed, "oral": r.oral}
        for code, r in session.execute(
            select(Work.work_code, RoomRecord)
            .join(RoomRecord, RoomRecord.work_id == Work.id)
            .where(Work.session_id == session_id)
        )
    }
    out = {}
    for code, work in works.items():
        read = states.get(code)
        out[code] = WorkEvidence(
            code,
            work.form,
            work.status,
            protocol.get(code),
            {g: _group_value(read, g) for g in GROUPS} if read else None,
            records.get(code),
            {f: _flag_value(read, f) for f in ("not_finished", "removed", "oral")}
            if read
            else None,
            words.get(code) if read and code in complete else None,
            tuple(g for g in GROUPS if read and _blank(read, g)),
        )
    return out


def store_findings(
    session: Session,
    session_id: int,
    findings: Mapping[str, Sequence[Finding]],
    now: datetime,
) -> dict[str, int]:
    """One verification item per finding, keyed `grade:<work>:<finding>:<group>`."""
    ids = _work_ids(session, session_id)
    pages = dict(
        session.execute(
            select(Page.work_id, Page.id).where(
                Page.session_id == session_id, Page.blank_type == "registration"
            )
        )
        .tuples()
        .all()
    )
    items = {
        i.key: i
        for i in session.scalars(
            select(VerificationItem).where(
                VerificationItem.session_id == session_id,
                VerificationItem.kind.in_(("result", "record")),
            )
        )
    }
    wanted: set[str] = set()
    opened = closed = 0
    for code, found in findings.items():
        for finding in found:
            key = f"grade:{code}:{finding.code}:{finding.group or '-'}"
            wanted.add(key)
            if key in items:
                item = items[key]
                if item.status == "gone":  # the finding is back: a person must see it again
                    item.status, item.resolved_at = "open", None
                    item.resolved_value = item.resolved_by = None
                    item.first_value = item.first_by = item.first_at = None
                    opened += 1
                if item.status != "resolved":  # the evidence may have changed: show today's
                    item.reason, item.recognised_value = finding.text, finding.recognised
                    item.detail = {"finding": finding.code, "expected": finding.expected}
                continue
            session.add(
                VerificationItem(
                    key=key,
                    session_id=session_id,
                    page_id=pages.get(ids[code]),
                    work_id=ids[code],
                    kind="result" if finding.double else "record",
                    field=finding.group,
                    reason=finding.text,
                    recognised_value=finding.recognised,
                    double_check=finding.double,
                    detail={"finding": finding.code, "expected": finding.expected},
                    status="open",
                    opened_at=now,
                )
            )
            opened += 1
    for key, item in items.items():
        # A finding that disappeared (a corrected protocol, say) closes its item whatever its
        # state: an answer to evidence that no longer holds must not decide the result.
        if key not in wanted and item.status != "gone":
            item.status, item.resolved_at = "gone", now
            closed += 1
    return {"opened": opened, "closed": closed, "findings": len(wanted)}
