"""Recognition in the regional database: the session's codes in, pages, readings and
verification items out.

`session_codes` gives the batch checks what the session issued. `store_records` writes every
final record: one `page` row per page id (the file's content hash and frame), its field and
mark readings in `recognition_result` (replaced on a re-run), and for a page that needs
verification one open `verification_item` per reason (keyed, so a re-run adds none; an open
item whose reason is gone on a re-run is closed as `gone`). Rejected pages are stored too,
with the quarantined image's path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from tasks.adapters.models import Page, RecognitionResult, School, VerificationItem, Work
from tasks.domain.page_reading import NEEDS_VERIFICATION, REASONS
from tasks.domain.scan_checks import SessionCodes, page_key

__all__ = ["session_codes", "store_records"]


def session_codes(session: Session, session_id: int, topics: Sequence[str] = ()) -> SessionCodes:
    rows = session.execute(
        select(Work.work_code, Work.kind, School.code)
        .join(School, School.id == Work.school_id)
        .where(Work.session_id == session_id)
    )
    return SessionCodes({code: (kind, school) for code, kind, school in rows}, tuple(topics))


def _results(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, reading in (record.get("fields") or {}).items():
        out.append(
            {
                "field": name,
                "value": reading.get("value") or None,
                "confidence": reading.get("confidence"),
                "status": reading.get("status", "accepted"),
            }
        )
    for name, mark in (record.get("marks") or {}).items():
        out.append(
            {
                "field": name,
                "value": mark["state"],
                "confidence": mark.get("confidence"),
                "status": "needs_verification"
                if mark["state"] in ("uncertain", "damaged")
                else "accepted",
            }
        )
    if record.get("words") is not None:  # the estimated words of an answer page's text
        out.append(
            {
                "field": "text_words",
                "value": str(record["words"]),
                "confidence": None,
                "status": "accepted",
            }
        )
    return out


def store_records(
    session: Session,
    session_id: int,
    records: Sequence[Mapping[str, Any]],
    images: Mapping[str, str],
    now: datetime | None = None,
) -> dict[str, int]:
    """Write the batch's records (see the module doc); `images` maps a page id to where its
    image is kept (the scan file, or the quarantine copy of a rejected page)."""
    now = now or datetime.now(UTC)
    work_ids = {
        code: work_id
        for code, work_id in session.execute(
            select(Work.work_code, Work.id).where(Work.session_id == session_id)
        )
    }
    # Pages by content (the same file may have come with another session's batch before).
    ids = sorted({str(r["page_id"]) for r in records})
    existing: dict[str, Page] = {}
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        existing |= {
            p.content_hash: p
            for p in session.scalars(select(Page).where(Page.content_hash.in_(batch)))
        }
    stored = opened = closed = 0
    seen: set[str] = set()
    for record in records:
        page_id = record["page_id"]
        if page_id in seen:  # the same file twice: one page, kept as first recognised
            continue
        seen.add(page_id)
        page = existing.get(page_id)
        if page is None:
            page = Page(content_hash=page_id, session_id=session_id, received_at=now)
            session.add(page)
        page.session_id = session_id
        work_id = work_ids.get(record.get("work_code") or "")
        # An additional blank whose code an operator read keeps that work on a re-scan that
        # still cannot read the code (verify_store.apply_scan_answers attached it).
        if work_id is not None or record.get("blank_type") != "additional" or page.id is None:
            page.work_id = work_id
        page.source_file = record["source_file"]
        page.source_index = int(record["frame"])
        page.blank_type = record.get("blank_type")
        page.page_number = record.get("page")
        page.page_key = page_key(record) if record.get("code") else None
        page.image_path = images.get(page_id)
        page.status = record["status"]
        page.reason = ",".join(record["reasons"]) or None
        session.flush()
        session.execute(delete(RecognitionResult).where(RecognitionResult.page_id == page.id))
        rows = [{**r, "page_id": page.id} for r in _results(record)]
        if rows:
            session.execute(insert(RecognitionResult), rows)
        stored += 1
        wanted = {
            f"scan:{page_id}:{reason}": reason
            for reason in record["reasons"]
            if record["status"] == NEEDS_VERIFICATION
        }
        items = {
            item.key: item
            for item in session.scalars(
                select(VerificationItem).where(VerificationItem.page_id == page.id)
            )
        }
        for key, reason in wanted.items():
            if key in items:
                continue
            session.add(
                VerificationItem(
                    key=key,
                    session_id=session_id,
                    page_id=page.id,
                    work_id=page.work_id,
                    kind="scan",
                    field=_field_of(record, reason),
                    reason=REASONS[reason][1],
                    recognised_value=_value_of(record, reason),
                    status="open",
                    opened_at=now,
                )
            )
            opened += 1
        for key, item in items.items():
            if item.kind == "scan" and item.status == "open" and key not in wanted:
                item.status = "gone"
                item.resolved_at = now
                closed += 1
    return {"pages": stored, "verification_opened": opened, "verification_closed": closed}


_FIELD_OF_REASON = {
    "work_code_mismatch": "work_code",
    "work_code_unknown": "work_code",
    "work_code_incomplete": "work_code",
    "topic_unknown": "topic_number",
    "sheet_count_mismatch": "answer_blanks",
    "sheet_count_unattributed": "answer_blanks",
    "sheet_count_empty": "answer_blanks",
}


def _field_of(record: Mapping[str, Any], reason: str) -> str | None:
    if reason in _FIELD_OF_REASON:
        return _FIELD_OF_REASON[reason]
    if reason == "digits_uncertain":
        for name, reading in (record.get("fields") or {}).items():
            if reading.get("status") != "accepted":
                return str(name)
    if reason == "mark_uncertain":
        for name, mark in (record.get("marks") or {}).items():
            if mark["state"] == "uncertain":
                return str(name)
    return None


def _value_of(record: Mapping[str, Any], reason: str) -> str | None:
    name = _field_of(record, reason)
    if name and name in (record.get("fields") or {}):
        value = record["fields"][name].get("value")
        return str(value)[:64] if value else None
    return None
