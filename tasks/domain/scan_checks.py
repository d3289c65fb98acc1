"""The batch's cross-checks: what single pages cannot tell, decided over all pages at once.

Given every page's record and its digit cells (tasks/domain/page_reading.py), `check_batch`:

1. adapts the digit classifier to the batch's hands: the work codes participants wrote on
   their answer blanks are known from the same blank's QR, so the cells of every such field
   that agrees with its QR are added to the classifier's examples;
2. decides every digit field again with the adapted classifier and the candidates the batch
   knows: the session's topics, the code of the blank (answer blank), the codes of the school's
   works (the work code written on an additional blank), the number of answer sheets received
   for the work («Количество бланков записи»);
3. checks the session's codes (a page of another session is rejected), duplicates (the second
   scan of a page is rejected, pointing at the first), sheet counts and orphan pages (a work's
   pages without its registration blank);
4. gives every record its final status and reasons.

Pure: records in, records out, plus the batch's summary (counts, missing and orphan pages).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from tasks.domain.blanks import BlankType
from tasks.domain.contracts import check_column, value_column
from tasks.domain.digit_fields import DigitModel, decide_field
from tasks.domain.identifiers import is_valid_work_code
from tasks.domain.page_reading import (
    ACCEPTED,
    REASONS,
    REJECTED,
    STATUSES,
    DigitCells,
    PageContext,
    field_candidates,
    field_reason,
    finish,
)

__all__ = ["BatchSummary", "SessionCodes", "check_batch", "contract_frame", "page_key"]

MAX_SHEETS = 20  # «Количество бланков записи» beyond this is not plausible
# Reasons a field decision gives; re-deciding a field first removes its old reason.
_FIELD_REASONS = frozenset(
    {
        "digits_uncertain",
        "work_code_mismatch",
        "work_code_incomplete",
        "topic_unknown",
        "field_damaged",
    }
)


@dataclass(frozen=True, slots=True)
class SessionCodes:
    """What the session issued (from the regional database or the print manifest): every
    printed code with its kind (kit, reserve, additional) and school, and the topics."""

    codes: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # code → (kind, school)
    topics: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return bool(self.codes)


@dataclass(slots=True)
class BatchSummary:
    pages: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    works: int = 0  # works with at least one accepted or verifiable page
    missing: list[str] = field(default_factory=list)  # expected page keys not received
    orphans: list[str] = field(default_factory=list)  # page keys without a registration blank
    adaptation_cells: int = 0  # cells the classifier learnt from this batch

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "statuses": {s: self.statuses.get(s, 0) for s in STATUSES},
            "reasons": dict(sorted(self.reasons.items())),
            "works": self.works,
            "missing_pages": len(self.missing),
            "orphan_pages": len(self.orphans),
            "adaptation_cells": self.adaptation_cells,
        }


def page_key(record: Mapping[str, Any]) -> str:
    return f"{record['blank_type']}-{record['page']}:{record['code']}"


def _adaptation(
    pages: Sequence[tuple[dict[str, Any], Mapping[str, DigitCells]]], model: DigitModel
) -> tuple[np.ndarray, np.ndarray]:
    """Cells of answer-blank work codes that agree with the blank's QR, labelled by it."""
    features, labels = [], []
    for record, cells in pages:
        if record.get("blank_type") != str(BlankType.ANSWER) or "work_code" not in cells:
            continue
        field_cells = cells["work_code"]
        if field_cells.damaged:
            continue
        reading = decide_field(field_cells.probabilities(model), (record["code"],))
        if not reading.accepted:
            continue
        for sample, digit in zip(field_cells.samples, record["code"], strict=True):
            if sample is not None:
                features.append(sample.features)
                labels.append(int(digit))
    if not labels:
        return np.zeros((0, 1), np.float32), np.zeros(0, np.int32)
    return np.array(features, np.float32), np.array(labels, np.int32)


def _unused(record: Mapping[str, Any], cells: Mapping[str, DigitCells]) -> bool:
    """An additional blank's front with no work code written and no text: never used."""
    work = cells.get("work_code")
    return (
        bool(record.get("blank"))
        and work is not None
        and all(sample is None for sample in work.samples)
    )


def _decide(
    record: dict[str, Any],
    cells: Mapping[str, DigitCells],
    name: str,
    model: DigitModel,
    candidates: Sequence[str] | None,
    reasons: list[str],
) -> None:
    reading = cells[name].decide(model, candidates)
    record["fields"][name] = reading.as_dict()
    reason = field_reason(name, reading, cells[name].damaged, candidates)
    if reason and reason not in reasons:
        reasons.append(reason)


def _count(
    record: dict[str, Any],
    cells: Mapping[str, DigitCells],
    received: int,
    model: DigitModel,
    reasons: list[str],
    unattributed: Mapping[str | None, int],
    school: str | None,
) -> None:
    """«Количество бланков записи» against the answer sheets received for the work. A count
    read as another number is `sheet_count_mismatch`, unless the batch has an additional blank
    of the school whose work is unknown (then the count is not to blame:
    `sheet_count_unattributed`); a count read empty while the work has additional blanks is
    `sheet_count_empty` (an empty count is accepted only for a work of one sheet at most)."""
    plausible = [str(received)] if received else []
    _decide(record, cells, "answer_blanks", model, plausible or None, reasons)
    reading = record["fields"]["answer_blanks"]
    flagged: str | None = None
    if reading["status"] == ACCEPTED and reading["value"] == "" and received > 1:
        flagged = "sheet_count_empty"
    elif reading["status"] != ACCEPTED and received:
        free = decide_field(cells["answer_blanks"].probabilities(model))
        if free.accepted and free.value and int(free.value) != received:
            reading = free.as_dict()
            unread = sum(
                n for s, n in unattributed.items() if s is None or school is None or s == school
            )
            too_many = int(free.value) > received and unread > 0
            flagged = "sheet_count_unattributed" if too_many else "sheet_count_mismatch"
    if flagged:
        record["fields"]["answer_blanks"] = {
            **reading,
            "status": "needs_verification",
            "reason": flagged,
        }
        reasons[:] = [r for r in reasons if r != "digits_uncertain"]
        reasons.append(flagged)
    record["fields"]["answer_blanks"]["received"] = received


def check_batch(
    pages: Sequence[tuple[dict[str, Any], Mapping[str, DigitCells]]],
    model: DigitModel,
    session: SessionCodes,
) -> tuple[list[dict[str, Any]], BatchSummary]:
    """Final records (in input order) and the batch summary."""
    features, labels = _adaptation(pages, model)
    adapted = model.adapted(features, labels)
    context = PageContext(session.topics)
    records = [dict(r) for r, _ in pages]
    reasons: list[list[str]] = [
        [x for x in r.get("reasons", []) if x not in _FIELD_REASONS] for r in records
    ]
    cells = [c for _, c in pages]
    live = [i for i, r in enumerate(records) if r.get("status") != REJECTED]
    for i in live:  # a damaged mark box stays damaged whatever the digits now say
        marks = records[i].get("marks") or {}
        if any(m["state"] == "damaged" for m in marks.values()):
            reasons[i].append("field_damaged")

    # The session's codes; in a batch without them, the codes its own pages show.
    kit_codes: dict[str, str | None] = {}  # work code → school (None when unknown)
    if session.known:
        for code, (kind, owner) in session.codes.items():
            if kind in ("kit", "reserve"):
                kit_codes[code] = owner
        for i in list(live):
            if records[i]["code"] not in session.codes:
                reasons[i] = ["not_in_session"]
                live.remove(i)
    else:
        for i in live:
            if records[i]["blank_type"] != str(BlankType.ADDITIONAL):
                kit_codes.setdefault(records[i]["code"], None)

    # Duplicates: the first scan of a page (in batch order) is kept.
    first: dict[str, int] = {}
    for i in list(live):
        key = page_key(records[i])
        if key in first:
            reasons[i] = ["duplicate_page"]
            records[i]["duplicate_of"] = records[first[key]].get("page_id")
            live.remove(i)
        else:
            first[key] = i

    # Fields that only need the page and the session (with the adapted classifier).
    for i in live:
        record = records[i]
        for name in ("topic_number", "work_code"):
            if name in cells[i] and not (
                name == "work_code" and record["blank_type"] == str(BlankType.ADDITIONAL)
            ):
                _decide(
                    record,
                    cells[i],
                    name,
                    adapted,
                    field_candidates(record, name, context),
                    reasons[i],
                )

    # Additional blanks: the work is the one whose code is written on the first side.
    school_of: dict[str, str | None] = {c: s for c, (_, s) in session.codes.items()}
    for i in live:
        record = records[i]
        if record["blank_type"] != str(BlankType.ADDITIONAL) or record["page"] != 1:
            continue
        if _unused(record, cells[i]):
            reasons[i] = ["unused_blank"]
            continue
        school = school_of.get(record["code"])
        candidates = sorted(
            c for c, s in kit_codes.items() if school is None or s is None or s == school
        )
        _decide(record, cells[i], "work_code", adapted, candidates, reasons[i])
        reading = record["fields"]["work_code"]
        if reading["status"] == ACCEPTED and reading.get("matched"):
            record["work_code"] = reading["matched"]
        elif "work_code_mismatch" in reasons[i]:
            reasons[i] = [
                r if r != "work_code_mismatch" else "work_code_unknown" for r in reasons[i]
            ]
    # The back of an additional blank belongs where its front does; an unused blank's back
    # (nothing written on it either) is unused too.
    fronts = {
        records[i]["code"]: i
        for i in live
        if records[i]["blank_type"] == str(BlankType.ADDITIONAL) and records[i]["page"] == 1
    }
    for i in live:
        record = records[i]
        if record["blank_type"] == str(BlankType.ADDITIONAL) and record["page"] == 2:
            front = fronts.get(record["code"])
            if front is not None and reasons[front] == ["unused_blank"] and record.get("blank"):
                reasons[i] = ["unused_blank"]
                continue
            record["work_code"] = records[front].get("work_code") if front is not None else None
    live = [i for i in live if reasons[i] != ["unused_blank"]]

    # Sheets per work: the answer blank (either side seen) and the additional blanks attributed.
    sheets: dict[str, set[str]] = defaultdict(set)
    registration: dict[str, int] = {}
    for i in live:
        record = records[i]
        work = record.get("work_code")
        if not work:
            continue
        if record["blank_type"] == str(BlankType.REGISTRATION):
            registration[work] = i
        else:
            sheets[work].add(f"{record['blank_type']}:{record['code']}")
    # Additional blanks in the batch whose work is not known (their written code unread), by
    # school: a count that says more sheets than were attributed may count one of them.
    unattributed: Counter[str | None] = Counter(
        school_of.get(records[i]["code"])
        for i in live
        if records[i]["blank_type"] == str(BlankType.ADDITIONAL)
        and records[i]["page"] == 1
        and not records[i].get("work_code")
    )
    for work, i in registration.items():
        if "answer_blanks" not in cells[i]:
            continue
        received = len(sheets.get(work, ()))
        _count(
            records[i], cells[i], received, adapted, reasons[i], unattributed, kit_codes.get(work)
        )
    # Sheet numbers on additional blanks: «Лист №» counts from 2 (the answer blank is 1) to
    # the number of additional blanks the work has in the batch.
    for i in live:
        if "sheet_number" in cells[i]:
            work = str(records[i].get("work_code") or "")
            extra = sum(s.startswith(str(BlankType.ADDITIONAL)) for s in sheets.get(work, ()))
            last = extra + 1 if work and extra else MAX_SHEETS
            plausible = [f"{n:02d}" for n in range(2, last + 1)]
            _decide(records[i], cells[i], "sheet_number", adapted, plausible, reasons[i])

    summary = BatchSummary(pages=len(records), adaptation_cells=len(labels))
    # Orphans: pages of a work without its registration blank; expected pages not received.
    seen = {page_key(records[i]) for i in live}
    works = {str(records[i]["work_code"]) for i in live if records[i].get("work_code")}
    for i in live:
        record = records[i]
        work = record.get("work_code")
        if work is None or work not in registration:
            if "orphan_page" not in reasons[i]:
                reasons[i].append("orphan_page")
            summary.orphans.append(page_key(record))
    for work in sorted(works):
        expected = [f"registration-1:{work}", f"answer-1:{work}", f"answer-2:{work}"]
        for sheet in sorted(sheets.get(work, ())):
            kind, code = sheet.split(":")
            if kind == str(BlankType.ADDITIONAL):
                expected += [f"additional-1:{code}", f"additional-2:{code}"]
        summary.missing += [k for k in expected if k not in seen]
    summary.works = len(works)

    out = []
    for record, why in zip(records, reasons, strict=True):
        final = finish(record, why)
        out.append(final)
    summary.statuses = dict(Counter(r["status"] for r in out))
    summary.reasons = dict(Counter(x for r in out for x in r["reasons"]))
    return out, summary


def contract_frame(
    records: Sequence[Mapping[str, Any]],
    frames_per_file: Mapping[str, int],
    session: SessionCodes,
    quarantined: set[str],
) -> pl.DataFrame:
    """The rows the `recognition` contract validates, with its computed checks:
    every file has as many records as it has pages (`frames_per_file`, counted apart from
    recognition); reasons from the vocabulary and the status the worst of them; an accepted
    page names a valid work code (of the session, when its codes are known); a rejected page's
    image is in quarantine."""
    per_file = Counter(str(r["source_file"]) for r in records)
    kits = {c for c, (kind, _) in session.codes.items() if kind in ("kit", "reserve")}
    rows = []
    for r in records:
        reasons = list(r.get("reasons") or [])
        statuses = {REASONS[x][0] for x in reasons if x in REASONS}
        worst = REJECTED if REJECTED in statuses else "needs_verification" if statuses else ACCEPTED
        work = r.get("work_code")
        accepted_ok = r["status"] != ACCEPTED or (
            bool(work) and is_valid_work_code(str(work)) and (not kits or work in kits)
        )
        rows.append(
            {
                value_column("source_file"): str(r["source_file"]),
                value_column("frame"): int(r["frame"]),
                value_column("status"): r["status"],
                check_column("every_page_recorded"): per_file[str(r["source_file"])]
                == frames_per_file.get(str(r["source_file"]), -1),
                check_column("reasons_known"): all(x in REASONS for x in reasons)
                and worst == r["status"],
                check_column("accepted_work_code"): accepted_ok,
                check_column("rejected_quarantined"): r["status"] != REJECTED
                or str(r.get("page_id")) in quarantined,
            }
        )
    missing = set(frames_per_file) - set(per_file)
    for name in sorted(missing):  # a file without any record fails the count rule
        rows.append(
            {
                value_column("source_file"): name,
                value_column("frame"): -1,
                value_column("status"): REJECTED,
                check_column("every_page_recorded"): False,
                check_column("reasons_known"): True,
                check_column("accepted_work_code"): True,
                check_column("rejected_quarantined"): True,
            }
        )
    return pl.DataFrame(rows)
