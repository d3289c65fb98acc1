"""One scanned page read end to end: located, identified by its QR, its boxes and cells read.

`read_page` takes the grey image and the engines (QR decoder, digit reader: adapters, passed
in) and returns the page's recognition record without the batch's cross-checks
(tasks/domain/scan_checks.py adds those). Candidates known before the batch is seen (the
session's topic numbers) come in `PageContext`; the work code written on an answer blank is
decided against the code in its own QR. Every outcome is a record: an image that cannot be
read is `rejected` with a reason code from `REASONS`, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from tasks.domain import recognition as rec
from tasks.domain.blanks import BlankType, FieldKind, QrPayload, layout_for, parse_qr
from tasks.domain.digit_fields import DigitModel, FieldReading, decide_field
from tasks.domain.identifiers import is_valid_work_code
from tasks.errors import DataError

__all__ = [
    "ACCEPTED",
    "NEEDS_VERIFICATION",
    "REASONS",
    "REJECTED",
    "STATUSES",
    "Engines",
    "PageContext",
    "field_cells",
    "read_page",
]

ACCEPTED, NEEDS_VERIFICATION, REJECTED = "accepted", "needs_verification", "rejected"
STATUSES = (ACCEPTED, NEEDS_VERIFICATION, REJECTED)
RECORD_VERSION = 1

# Every reason a page is not accepted, with the text an operator reads.
REASONS: dict[str, tuple[str, str]] = {
    # rejected: the page cannot be attributed or read at all; the image goes to quarantine
    "unreadable_file": (REJECTED, "файл или страница файла не читается"),
    "no_contrast": (REJECTED, "изображение без контраста (чёрное или пустое)"),
    "markers_not_found": (REJECTED, "не найдены угловые метки бланка"),
    "qr_unreadable": (REJECTED, "QR-код бланка не прочитан"),
    "qr_foreign": (REJECTED, "QR-код не относится к бланкам итогового сочинения"),
    "geometry_error": (REJECTED, "изображение искажено: метки и QR-код не согласуются"),
    "not_in_session": (REJECTED, "код бланка не выдавался в этом сеансе"),
    "duplicate_page": (REJECTED, "страница уже получена (повторное сканирование)"),
    "unused_blank": (REJECTED, "неиспользованный дополнительный бланк: код работы не вписан"),
    # needs verification: attributed, but something must be looked at by an operator
    "mark_uncertain": (NEEDS_VERIFICATION, "отметка в поле не распознана уверенно"),
    "field_damaged": (NEEDS_VERIFICATION, "поле бланка повреждено или не видно"),
    "marks_conflict": (NEEDS_VERIFICATION, "отмечены оба варианта «зачет» и «незачет»"),
    "digits_uncertain": (NEEDS_VERIFICATION, "цифры в поле не распознаны уверенно"),
    "work_code_mismatch": (
        NEEDS_VERIFICATION,
        "код работы, вписанный в бланк записи, не совпадает с кодом бланка",
    ),
    "work_code_unknown": (
        NEEDS_VERIFICATION,
        "код работы на дополнительном бланке не найден среди работ этой ОО",
    ),
    "work_code_incomplete": (
        NEEDS_VERIFICATION,
        "код работы прочитан не полностью: цифра пропущена или не распознана "
        "(прочитанные цифры совпадают с кодом работы)",
    ),
    "topic_unknown": (NEEDS_VERIFICATION, "номер темы не из комплекта тем этого сеанса"),
    "sheet_count_mismatch": (
        NEEDS_VERIFICATION,
        "число полученных бланков записи не равно «Количеству бланков записи»",
    ),
    "sheet_count_empty": (
        NEEDS_VERIFICATION,
        "«Количество бланков записи» не заполнено или не прочитано, "
        "а у работы есть дополнительные бланки",
    ),
    "sheet_count_unattributed": (
        NEEDS_VERIFICATION,
        "число бланков записи не проверено: код работы на дополнительном бланке этой ОО "
        "не прочитан",
    ),
    "orphan_page": (NEEDS_VERIFICATION, "нет бланка регистрации этой работы"),
    "identified_by_print": (
        NEEDS_VERIFICATION,
        "QR-код не прочитан: бланк опознан по напечатанному коду, проверьте",
    ),
}

_READ_DIGIT_FIELDS = {
    BlankType.REGISTRATION: ("topic_number", "answer_blanks"),
    BlankType.ANSWER: ("work_code",),
    BlankType.ADDITIONAL: ("work_code", "sheet_number"),
}


class Engines(Protocol):
    def qr(self, grey: np.ndarray, rect: tuple[int, int, int, int] | None) -> list[Any]: ...

    def describe(self, cells: Sequence[np.ndarray]) -> list[Any]: ...

    def printed_digits(self, image: np.ndarray) -> str: ...


@dataclass(frozen=True, slots=True)
class DigitCells:
    """A digit field's cells as recognition keeps them, for deciding (again) later: per cell
    a sample (features, Tesseract's digit) or None when the cell holds no ink; and the cells
    without ink that are not surely empty either (`faint`: a broken thin stroke)."""

    samples: tuple[Any, ...]
    damaged: bool
    faint: tuple[int, ...] = ()

    def probabilities(self, model: DigitModel) -> list[np.ndarray | None]:
        inked = [s for s in self.samples if s is not None]
        probs = iter(model.probabilities([s.features for s in inked], [s.tesseract for s in inked]))
        return [next(probs) if s is not None else None for s in self.samples]

    def decide(self, model: DigitModel, candidates: Sequence[str] | None = None) -> FieldReading:
        """The field's reading (`decide_field`), a faint cell undecided («?»): a field with
        one is never accepted, so a light «1» the scan broke into specks is looked at, not
        taken as an empty cell."""
        reading = decide_field(self.probabilities(model), candidates)
        if not self.faint:
            return reading
        cells = tuple("?" if i in self.faint else c for i, c in enumerate(reading.cells))
        return replace(
            reading, cells=cells, accepted=False, reason=reading.reason or "digits_uncertain"
        )


@dataclass(frozen=True, slots=True)
class PageContext:
    topics: tuple[str, ...] = ()  # the session's topic numbers, when known


@dataclass(slots=True)
class _Record:
    out: dict[str, Any]
    reasons: list[str] = field(default_factory=list)

    def reason(self, code: str) -> None:
        if code not in self.reasons:
            self.reasons.append(code)


def rejected(source: dict[str, Any], reason: str, **extra: Any) -> dict[str, Any]:
    return finish({**source, **extra}, [reason])


def finish(record: dict[str, Any], reasons: Sequence[str]) -> dict[str, Any]:
    """The record's status from its reasons: the worst of them (no reason: accepted)."""
    statuses = {REASONS[r][0] for r in reasons}
    status = REJECTED if REJECTED in statuses else NEEDS_VERIFICATION if statuses else ACCEPTED
    record["status"] = status
    record["reasons"] = list(reasons)
    record["reasons_ru"] = [REASONS[r][1] for r in reasons]
    return record


def _identify(grey: np.ndarray, located: rec.Located, engines: Engines) -> tuple[Any, str | None]:
    """The QR hit of this blank: in its box first, then anywhere on the page."""
    hits = engines.qr(grey, rec.qr_region(located))
    if not hits:
        # Resampled upright and cleaned through the markers' map, both ways up.
        for way in (located, located.turned_over()):
            for patch in rec.qr_patches(grey, way):
                found = engines.qr(patch, None)
                if found:
                    hits = [
                        replace(h, corners=rec.qr_patch_to_image(way, h.corners)) for h in found
                    ]
                    break
            if hits:
                break
    if not hits:
        hits = engines.qr(grey, None)
    if not hits:
        return None, "qr_unreadable"
    for hit in hits:
        try:
            parse_qr(hit.text)
        except DataError:
            continue
        return hit, None
    return hits[0], "qr_foreign"


ADDITIONAL_SERIALS = 900_000  # print: kit serials below, additional blanks' from here


def _identify_by_print(
    grey: np.ndarray, located: rec.Located, engines: Engines
) -> QrPayload | None:
    """The blank from its printed code when the QR cannot be read: 12 digits with a valid
    check digit, the blank type from the serial range, the side from which printed frames are
    where that layout puts them. Only on a page whose four markers and orientation bar were
    seen (nothing else checks the map)."""
    if not located.orientation_sure or located.markers < 4:
        return None
    digits = "".join(
        ch for ch in engines.printed_digits(rec.printed_code_patch(grey, located)) if ch.isdigit()
    )
    if len(digits) != 12 or not is_valid_work_code(digits):
        return None
    additional = int(digits[5:11]) >= ADDITIONAL_SERIALS
    if additional:
        cells = layout_for(BlankType.ADDITIONAL, 1).field("work_code").cells[:3]
        page = 1 if rec.frames_found(grey, located, cells) >= 0.6 else 2
        return QrPayload(BlankType.ADDITIONAL, digits, page)
    registration = layout_for(BlankType.REGISTRATION, 1)
    probe = [registration.field("flag_not_finished").box, *registration.field("topic_number").cells]
    if rec.frames_found(grey, located, probe) >= 0.6:
        return QrPayload(BlankType.REGISTRATION, digits, 1)
    cells = layout_for(BlankType.ANSWER, 1).field("work_code").cells[:3]
    page = 1 if rec.frames_found(grey, located, cells) >= 0.6 else 2
    return QrPayload(BlankType.ANSWER, digits, page)


def _orient(located: rec.Located, corners: np.ndarray) -> tuple[rec.Located, float]:
    """The map that puts the QR where it was found (upright or turned), and its error."""
    error = rec.check_geometry(located, corners)
    other = located.turned_over()
    other_error = rec.check_geometry(other, corners)
    if other_error < error:
        return other, other_error
    return located, error


def _marks(record: _Record, readings: dict[str, rec.MarkReading], layout: Any) -> None:
    out: dict[str, Any] = {}
    for name, reading in readings.items():
        out[name] = {"state": reading.state, "ink": reading.ink, "confidence": reading.confidence}
        if reading.state == "uncertain":
            record.reason("mark_uncertain")
        elif reading.state == "damaged":
            record.reason("field_damaged")
    record.out["marks"] = out
    # Per result group: the value crossed (a filled box is a cancelled one and does not count).
    groups: dict[str, str | None] = {}
    for item in layout.of_kind(FieldKind.MARK_BOX):
        if item.group is None:
            continue
        if readings[item.name].state == "marked":
            if item.group in groups and groups[item.group] is not None:
                groups[item.group] = None
                record.reason("marks_conflict")
                continue
            groups[item.group] = item.value
        else:
            groups.setdefault(item.group, None)
    if groups:
        record.out["results"] = groups
    flags = {
        name.removeprefix("flag_"): readings[name].state == "marked"
        for name in readings
        if name.startswith("flag_")
    }
    if flags:
        record.out["flags"] = flags


def field_cells(grey: np.ndarray, located: rec.Located, item: Any, engines: Engines) -> DigitCells:
    """A digit field's cells as the page keeps them: the inked ones described by the digit
    reader, the damaged and the faint ones noted."""
    cells = rec.digit_cells(grey, located, item)
    inked = [c.image for c in cells if c.inked and c.image is not None]
    described = iter(engines.describe(inked) if inked else [])
    samples = tuple(next(described) if c.inked and c.image is not None else None for c in cells)
    faint = tuple(c.index for c in cells if c.faint)
    return DigitCells(samples, any(c.damaged for c in cells), faint)


def field_candidates(
    record: dict[str, Any], name: str, context: PageContext
) -> Sequence[str] | None:
    """What a field may hold as far as the page itself tells: the session's topics, the
    answer blank's own code."""
    if name == "topic_number" and context.topics:
        return context.topics
    if name == "work_code" and record.get("blank_type") == str(BlankType.ANSWER):
        return (record["code"],)
    return None


# A written work code whose inked cells are all read as a candidate's digits may miss this
# many cells (empty or undecided) and still be told «incomplete» rather than «another code».
_MISSING_CELLS = 2


def incomplete_of(reading: FieldReading, candidates: Sequence[str] | None) -> bool:
    """The field is one of the candidates with a digit or two missing (a cell read empty or
    undecided), every digit read being the candidate's own: a faint or unread digit, not a
    different value written."""
    cells = reading.cells
    gaps = sum(c in ("", "?") for c in cells)
    if not candidates or not 0 < gaps <= _MISSING_CELLS:
        return False
    return any(
        len(c) == len(cells)
        and all(x in ("", "?") or x == d for x, d in zip(cells, c, strict=True))
        for c in candidates
    )


def field_reason(
    name: str,
    reading: FieldReading,
    damaged: bool,
    candidates: Sequence[str] | None = None,
) -> str | None:
    if damaged:
        return "field_damaged"
    if reading.accepted:
        return None
    if reading.reason == "not_a_candidate":
        if name == "work_code" and incomplete_of(reading, candidates):
            return "work_code_incomplete"
        return {"work_code": "work_code_mismatch", "topic_number": "topic_unknown"}.get(
            name, "digits_uncertain"
        )
    return "digits_uncertain"


def read_page(
    grey: np.ndarray | None,
    engines: Engines,
    model: DigitModel,
    context: PageContext,
    source: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, DigitCells]]:
    """The recognition record of one image (`source`: file, frame, content key, copied into
    it) and its digit fields' cells, which the batch checks decide again with what the whole
    batch knows."""
    base = {"record_version": RECORD_VERSION, **source}
    if grey is None:
        return rejected(base, "unreadable_file"), {}
    located = rec.locate(grey)
    if isinstance(located, str):
        hits = engines.qr(grey, None)
        extra: dict[str, Any] = {}
        for hit in hits:
            try:
                extra = _identity(parse_qr(hit.text))
                break
            except DataError:
                continue
        return rejected(base, located, **extra), {}
    hit, problem = _identify(grey, located, engines)
    printed = None
    if problem == "qr_unreadable":
        printed = _identify_by_print(grey, located, engines)
    if printed is None and (problem or hit is None):
        return rejected(base, problem or "qr_unreadable"), {}
    if printed is not None:
        payload, error = printed, 0.0
    else:
        assert hit is not None
        payload = parse_qr(hit.text)
        located, error = _orient(located, hit.corners)
    if located.inferred is not None and hit is not None and printed is None:
        # One marker inferred: fit the map to the three found and the QR's four corners, and
        # take the fit's worst residual as the map's error.
        located = located.refined(rec.qr_corners_mm(), hit.corners)
        error = rec.check_geometry(located, hit.corners)
    record = _Record({**base, **_identity(payload)})
    if printed is not None:
        record.reason("identified_by_print")
    record.out["turned_180"] = located.turned
    record.out["alignment"] = {
        "markers": located.markers,
        "error_mm": round(error, 3) if printed is None else None,
        "shape_error": round(located.shape_error, 4),
        "dpi": round(located.px_per_mm * 25.4),
    }
    if error > rec.MAX_ERROR_MM:
        return finish(record.out, ["geometry_error"]), {}
    layout = layout_for(payload.blank_type, payload.page)
    _marks(record, rec.read_marks(grey, located, layout), layout)
    fields: dict[str, Any] = {}
    kept: dict[str, DigitCells] = {}
    for name in _READ_DIGIT_FIELDS[payload.blank_type]:
        try:
            item = layout.field(name)
        except KeyError:  # not on this side (the back of an answer blank)
            continue
        cells = field_cells(grey, located, item, engines)
        candidates = field_candidates(record.out, name, context)
        reading = cells.decide(model, candidates)
        fields[name] = reading.as_dict()
        kept[name] = cells
        reason = field_reason(name, reading, cells.damaged, candidates)
        if reason:
            record.reason(reason)
    record.out["fields"] = fields
    if layout.of_kind(FieldKind.TEXT_AREA):
        text = rec.text_area(grey, located, layout)
        record.out["text_ink"] = text.ink
        record.out["words"] = text.words
        record.out["blank"] = text.ink < 0.002 and not fields.get("work_code", {}).get("value")
    return finish(record.out, record.reasons), kept


def _identity(payload: QrPayload) -> dict[str, Any]:
    return {
        "blank_type": str(payload.blank_type),
        "code": payload.code,
        "page": payload.page,
        # The work the page belongs to: the QR's code on kit blanks; on an additional blank the
        # code written on its first side, decided by the batch checks.
        "work_code": payload.code if payload.blank_type is not BlankType.ADDITIONAL else None,
    }
