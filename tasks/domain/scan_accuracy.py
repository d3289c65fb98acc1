"""How right the scan stage's final records are, measured against the exam-day simulator's truth.

`score(records, truth)` compares the records `check_batch` returns (tasks/domain/scan_checks.py)
with ground_truth.json (docs/exam-day-simulator.md) and returns a plain dict of numbers:

- pages: how many records, per status; records naming another blank (type, code, page) than the
  image holds; pages attributed to a wrong work (a record not rejected whose `work_code` is set
  and differs from the truth's work: the code of a kit blank, `used_by` of an additional one);
- mark boxes of accepted pages: the share read right (truth cross/tick → marked, fill →
  cancelled, no mark → empty) and the confusions;
- digit fields: the share right among accepted fields (sheet counts and numbers compared as
  integers), the share sent to verification;
- rejected pages by reason, and how many of them were truly unreadable, duplicate scans or
  additional blanks nobody used (the rest: readable pages of a work, rejected);
- images of the truth with no record;
- the operating curve: for confidence thresholds, the error among the field values that would
  be accepted and the share that would go to verification.

Pure: the records and the truth are plain data (as JSON holds them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DEFAULT_THRESHOLDS", "expected_mark", "field_correct", "score"]

DEFAULT_THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
_INTEGER_FIELDS = frozenset({"answer_blanks", "sheet_number"})
_MARK_STATES = {"cross": "marked", "tick": "marked", "fill": "cancelled"}
_SCANS_PREFIX = "scans/"

Truth = Mapping[str, Any]
Record = Mapping[str, Any]


def expected_mark(drawn: str | None) -> str:
    """The state a box should be read as, from what the simulator drew in it."""
    if drawn is None:
        return "empty"
    return _MARK_STATES.get(drawn, "marked")


def _as_integer(value: str) -> int | None:
    digits = value.strip()
    return int(digits) if digits.isdigit() else None


def field_correct(name: str, read: str, true: str) -> bool:
    """A field's value against the written one; counts compare as integers ("02" is 2)."""
    if name in _INTEGER_FIELDS:
        return _as_integer(read) == _as_integer(true)
    return read == true


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _where(record: Record) -> dict[str, Any]:
    return {"source_file": record["source_file"], "frame": record["frame"]}


def _true_work(image: Truth, used_by: Mapping[str, str | None]) -> str | None:
    if image["blank_type"] == "additional":
        return used_by.get(image["code"])
    return str(image["code"])


def _pages(
    records: Sequence[Record], images: Mapping[tuple[str, int], Truth], used_by: Mapping[str, Any]
) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    misattributed: list[dict[str, Any]] = []
    wrong_blank = unknown = 0
    for record in records:
        statuses[record["status"]] += 1
        image = images.get((record["source_file"], record["frame"]))
        if image is None:
            unknown += 1
            continue
        if record.get("blank_type") is not None and (
            record.get("blank_type") != image["blank_type"]
            or record.get("code") != image["code"]
            or record.get("page") != image["page"]
        ):
            wrong_blank += 1
        if record["status"] == "rejected" or not record.get("work_code"):
            continue
        truth_work = _true_work(image, used_by)
        if record["work_code"] != truth_work:
            misattributed.append(
                {
                    "source_file": record["source_file"],
                    "frame": record["frame"],
                    "status": record["status"],
                    "work_code": record["work_code"],
                    "true_work": truth_work,
                }
            )
    return {
        "total": len(records),
        "statuses": dict(sorted(statuses.items())),
        "misattributed": len(misattributed),
        "misattributed_by_status": dict(Counter(m["status"] for m in misattributed)),
        "misattributed_examples": misattributed[:10],
        "wrong_blank_identity": wrong_blank,
        "unknown_source": unknown,
    }


def _marks(
    records: Sequence[Record], images: Mapping[tuple[str, int], Truth], pages: Mapping[str, Truth]
) -> dict[str, Any]:
    total = right = 0
    confusions: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    for record in records:
        image = images.get((record["source_file"], record["frame"]))
        if record["status"] != "accepted" or image is None:
            continue
        drawn = pages.get(image["page_key"], {}).get("handwritten", {}).get("marks", {})
        for box, reading in record.get("marks", {}).items():
            expected = expected_mark(drawn.get(box))
            total += 1
            if reading["state"] == expected:
                right += 1
            else:
                confusions[f"{expected}->{reading['state']}"] += 1
                examples.append({**_where(record), "box": box, "expected": expected, **reading})
    return {
        "boxes": total,
        "right": right,
        "wrong": total - right,
        "right_share": _share(right, total),
        "confusions": dict(sorted(confusions.items())),
        "examples": examples[:10],
    }


def _fields(
    records: Sequence[Record], images: Mapping[tuple[str, int], Truth], pages: Mapping[str, Truth]
) -> list[dict[str, Any]]:
    """Every digit field of a record that is not rejected, with its truth."""
    out = []
    for record in records:
        image = images.get((record["source_file"], record["frame"]))
        if record["status"] == "rejected" or image is None:
            continue
        written = pages.get(image["page_key"], {}).get("handwritten", {}).get("digits", {})
        for name, reading in record.get("fields", {}).items():
            true = str(written.get(name, {}).get("value", ""))
            value = str(reading.get("value", ""))
            out.append(
                {
                    **_where(record),
                    "name": name,
                    "value": value,
                    "true": true,
                    "accepted": reading["status"] == "accepted",
                    "page_accepted": record["status"] == "accepted",
                    "confidence": float(reading.get("confidence", 0.0)),
                    "correct": field_correct(name, value, true),
                }
            )
    return out


def _field_summary(fields: Sequence[dict[str, Any]]) -> dict[str, Any]:
    accepted = [f for f in fields if f["accepted"]]
    right = sum(f["correct"] for f in accepted)
    verify = len(fields) - len(accepted)
    by_name: dict[str, dict[str, int]] = {}
    for f in fields:
        row = by_name.setdefault(
            f["name"], {"fields": 0, "accepted": 0, "accepted_wrong": 0, "verification": 0}
        )
        row["fields"] += 1
        if f["accepted"]:
            row["accepted"] += 1
            row["accepted_wrong"] += not f["correct"]
        else:
            row["verification"] += 1
    return {
        "fields": len(fields),
        "accepted": len(accepted),
        "accepted_right": right,
        "accepted_wrong": len(accepted) - right,
        "right_share": _share(right, len(accepted)),
        # what nobody looks at: a wrong field accepted on a page that is accepted as a whole
        "accepted_wrong_on_accepted_pages": sum(
            not f["correct"] for f in accepted if f["page_accepted"]
        ),
        "verification": verify,
        "verification_share": _share(verify, len(fields)),
        "verification_right": sum(f["correct"] for f in fields if not f["accepted"]),
        "by_field": dict(sorted(by_name.items())),
        "accepted_wrong_examples": [f for f in accepted if not f["correct"]][:10],
    }


def _point(fields: Sequence[dict[str, Any]], accept: Sequence[bool], label: Any) -> dict[str, Any]:
    taken = [f for f, ok in zip(fields, accept, strict=True) if ok]
    wrong = sum(not f["correct"] for f in taken)
    return {
        "threshold": label,
        "accepted": len(taken),
        "accepted_wrong": wrong,
        "error": _share(wrong, len(taken)),
        "verification_share": _share(len(fields) - len(taken), len(fields)),
    }


def _curve(fields: Sequence[dict[str, Any]], thresholds: Sequence[float]) -> dict[str, Any]:
    """Two families of points: a confidence threshold alone, and the current decision with a
    confidence threshold on top of it; "current" is the decision as recognition made it."""
    return {
        "current": _point(fields, [f["accepted"] for f in fields], "current"),
        "confidence_only": [
            _point(fields, [f["confidence"] >= t for f in fields], t) for t in thresholds
        ],
        "current_and_confidence": [
            _point(fields, [f["accepted"] and f["confidence"] >= t for f in fields], t)
            for t in thresholds
        ],
    }


def _rejected(
    records: Sequence[Record], images: Mapping[tuple[str, int], Truth], used_by: Mapping[str, Any]
) -> dict[str, Any]:
    """Rejected pages told apart by what the truth says of them: unreadable images, second
    scans, additional blanks no participant used, and readable pages of a work."""
    reasons: Counter[str] = Counter()
    unreadable = duplicates = unused = readable = 0
    unreadable_status: Counter[str] = Counter()
    for record in records:
        image = images.get((record["source_file"], record["frame"]))
        if image is not None and image["effects"].get("unreadable"):
            unreadable_status[f"{image['effects']['unreadable']}:{record['status']}"] += 1
    readable_examples = []
    for record in records:
        if record["status"] != "rejected":
            continue
        reasons.update(record.get("reasons", []))
        image = images.get((record["source_file"], record["frame"]))
        if image is None:
            continue
        if image["effects"].get("unreadable"):
            unreadable += 1
        elif image.get("duplicate") or "duplicate_page" in record.get("reasons", []):
            duplicates += 1
        elif image["blank_type"] == "additional" and not used_by.get(image["code"]):
            unused += 1
        else:
            readable += 1
            readable_examples.append(
                {
                    "source_file": record["source_file"],
                    "frame": record["frame"],
                    "reasons": list(record.get("reasons", [])),
                    "blank_type": image["blank_type"],
                }
            )
    return {
        "pages": sum(1 for r in records if r["status"] == "rejected"),
        "by_reason": dict(sorted(reasons.items())),
        "truly_unreadable": unreadable,
        "unreadable_images_by_status": dict(sorted(unreadable_status.items())),
        "duplicates": duplicates,
        "unused_additional": unused,
        "readable_rejected": readable,
        "readable_rejected_examples": readable_examples[:10],
    }


def score(
    records: Sequence[Record], truth: Truth, thresholds: Sequence[float] | None = None
) -> dict[str, Any]:
    """The records' accuracy against the simulator's ground truth (see the module's docstring);
    `thresholds` are the operating curve's confidence thresholds."""
    images = {
        (str(i["file"]).removeprefix(_SCANS_PREFIX), int(i["frame"])): i for i in truth["images"]
    }
    pages = {p["page_key"]: p for p in truth["pages"]}
    used_by = {a["code"]: a.get("used_by") for a in truth.get("additional", [])}
    seen = {(r["source_file"], r["frame"]) for r in records}
    fields = _fields(records, images, pages)
    truly_unreadable = sum(1 for i in truth["images"] if i["effects"].get("unreadable"))
    return {
        "images": len(images),
        "images_unreadable": truly_unreadable,
        "images_duplicate": sum(1 for i in truth["images"] if i.get("duplicate")),
        "pages": _pages(records, images, used_by),
        "missing_records": len(set(images) - seen),
        "marks": _marks(records, images, pages),
        "digit_fields": _field_summary(fields),
        "operating_curve": _curve(fields, thresholds or DEFAULT_THRESHOLDS),
        "rejected": _rejected(records, images, used_by),
    }
