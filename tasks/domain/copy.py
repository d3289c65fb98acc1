"""The copy stage's rules: exam-day room records (ИС-05) in, the copy register and the expert
assignment out (DOMAIN.md §5, seed 000 rows 12–14).

A room record row says, for one participant's kit, whether the participant came and which flags
the commission set. Works flagged «Не закончил» or «Удален» are neither copied nor graded (they
are still delivered and scanned). Every other written work is copied and given to exactly one
expert of the school's grading commission (at least `MIN_COMMISSION` members), load balanced;
an assignment once made is kept on a re-run, so re-running never moves a work between experts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "COPY_STATUS_RU",
    "MIN_COMMISSION",
    "IssuedKit",
    "RejectedRow",
    "RoomRecord",
    "assign_experts",
    "copy_status",
    "read_room_rows",
]

MIN_COMMISSION = 3

# The register's statuses and how the school reads them.
COPY_STATUS_RU = {
    "copy": "копировать и передать эксперту",
    "not_finished": "не копируется: «Не закончил» (ИС-08)",
    "removed": "не копируется: «Удален» (ИС-09)",
    "absent": "не явился",
    "no_record": "нет сведений в ведомости ИС-05",
}

_YES = {"1", "да", "+", "true", "yes", "x", "х"}
_NO = {"", "0", "нет", "-", "false", "no"}
_ATTENDANCE = {
    "present": "present",
    "явился": "present",
    "присутствовал": "present",
    "absent": "absent",
    "не явился": "absent",
    "отсутствовал": "absent",
}


@dataclass(frozen=True, slots=True)
class IssuedKit:
    """What the session issued for a participant's kit (the print stage's record)."""

    work_code: str
    school_code: str
    room: str | None
    form: str  # essay | exposition
    ovz: bool


@dataclass(frozen=True, slots=True)
class RoomRecord:
    work_code: str
    attendance: str  # present | absent
    not_finished: bool
    removed: bool
    oral: bool
    answer_blanks: int | None
    additional: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return self.not_finished or self.removed


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row kept with the reason (Russian, for the school): `line` counts from the header."""

    line: int
    row: Mapping[str, str]
    reason: str


def _flag(value: str | None, title: str) -> bool:
    text = (value or "").strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(f"«{title}»: «{value}» — ожидается 1 или 0")


def _count(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 20:
        raise ValueError(f"«Количество бланков записи»: «{value}» — ожидается число от 0 до 20")
    return int(text)


def _record(row: Mapping[str, str], kit: IssuedKit) -> RoomRecord:
    attendance = _ATTENDANCE.get((row.get("attendance") or "").strip().lower())
    if attendance is None:
        raise ValueError(
            f"«Явка»: «{row.get('attendance', '')}» — ожидается «явился» или «не явился»"
        )
    not_finished = _flag(row.get("not_finished"), "Не закончил")
    removed = _flag(row.get("removed"), "Удален")
    oral = _flag(row.get("oral"), "В устной форме")
    if not_finished and removed:
        raise ValueError("отметки «Не закончил» и «Удален» исключают друг друга")
    if attendance == "absent" and (not_finished or removed or oral):
        raise ValueError("у неявившегося участника не может быть отметок комиссии")
    warnings: tuple[str, ...] = ()
    if oral and not kit.ovz:
        warnings = ("устная форма допускается только для участников с ОВЗ",)
    blanks = _count(row.get("answer_blanks"))
    return RoomRecord(
        kit.work_code,
        attendance,
        not_finished,
        removed,
        oral,
        blanks,
        tuple((row.get("additional_blanks") or "").split()),
        warnings,
    )


def read_room_rows(
    rows: Sequence[Mapping[str, str]], school_code: str, kits: Mapping[str, IssuedKit]
) -> tuple[list[RoomRecord], list[RejectedRow]]:
    """One school's ИС-05 rows checked against what the session issued: rows with a code not
    issued, or issued to another school, a second row for the same work, or values that break
    the form's rules are rejected with the reason; the rest come back as records."""
    accepted: list[RoomRecord] = []
    rejected: list[RejectedRow] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        code = (row.get("work_code") or "").strip()
        kit = kits.get(code)
        reason = None
        if not code:
            reason = "не указан код работы"
        elif kit is None:
            reason = f"код работы {code} не выдавался в этом сеансе"
        elif kit.school_code != school_code:
            reason = f"работа {code} выдана другой ОО ({kit.school_code})"
        elif code in seen:
            reason = f"работа {code} уже указана в ведомости"
        if reason is None and kit is not None:
            try:
                accepted.append(_record(row, kit))
                seen.add(code)
                continue
            except ValueError as exc:
                reason = str(exc)
        rejected.append(RejectedRow(line, dict(row), reason or ""))
    return accepted, rejected


def copy_status(record: RoomRecord | None) -> str:
    """The copy register's status of a kit (a key of COPY_STATUS_RU)."""
    if record is None:
        return "no_record"
    if record.attendance != "present":
        return "absent"
    if record.not_finished:
        return "not_finished"
    if record.removed:
        return "removed"
    return "copy"


def assign_experts(
    works: Iterable[str], experts: Sequence[str], current: Mapping[str, str]
) -> dict[str, str]:
    """Each work to exactly one expert: a work keeps its current expert while that expert is
    still on the commission; the others go, in code order, to the least loaded expert (ties
    by the expert's code). Raises ValueError (Russian) when the commission is too small."""
    members = sorted(set(experts))
    if len(members) < MIN_COMMISSION:
        raise ValueError(
            f"в предметной комиссии {len(members)} экспертов, нужно не менее {MIN_COMMISSION}"
        )
    wanted = sorted(set(works))
    out = {w: current[w] for w in wanted if current.get(w) in members}
    load = Counter({m: 0 for m in members})
    load.update(out.values())
    for work in wanted:
        if work in out:
            continue
        expert = min(members, key=lambda m: (load[m], m))
        out[work] = expert
        load[expert] += 1
    return out
