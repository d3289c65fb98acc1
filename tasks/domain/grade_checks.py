"""The grade stage's consistency checks of one work (DOMAIN.md §9) and its final marks.

Inputs per work: its copy status, form, the expert's record (the protocol row, if any), the
marks read on the scanned original (None per group where unreadable), the commission's flags
from ИС-05 and those read on the original, and the estimated number of words on its answer
pages. Each finding becomes one verification item; result fields are verified twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tasks.domain.grading import (
    CRITERIA,
    GROUP_TITLES,
    GROUPS,
    GradingRules,
    Marks,
    check_marks,
    differences,
    mark_text,
    overall,
)

__all__ = [
    "FINDINGS",
    "VOLUME_SHARE",
    "Finding",
    "WorkEvidence",
    "final_marks",
    "work_findings",
]

# A work marked as meeting Требование 1 is flagged when its pages hold fewer words than this
# share of the threshold by the image estimate: the estimate is rough, so only a work that
# looks far below the threshold (nearly empty) is flagged, never one that is borderline.
VOLUME_SHARE = 0.6

FINDINGS = {
    "rule": "оценки противоречат правилу оценивания",
    "transcription_mismatch": "отметка в оригинале бланка не совпадает с протоколом эксперта",
    "volume_doubtful": "«Требование 1» зачтено, а текста на бланках записи почти нет",
    "graded_flagged": "на работе с отметкой «Не закончил»/«Удален» выставлены результаты",
    "flag_mismatch": "отметка комиссии на бланке не совпадает с ведомостью ИС-05",
}


@dataclass(frozen=True, slots=True)
class WorkEvidence:
    work_code: str
    form: str
    status: str  # copy status: copy | not_finished | removed | absent | no_record
    protocol: Marks | None
    original: Marks | None  # None: no readable registration blank
    record_flags: Mapping[str, bool] | None  # ИС-05: not_finished, removed, oral
    blank_flags: Mapping[str, bool | None] | None  # read on the registration blank
    words: int | None  # estimated on the answer pages; None: not estimated
    original_blank: tuple[str, ...] = ()  # groups whose two boxes were read empty for sure


@dataclass(frozen=True, slots=True)
class Finding:
    """One item for the queue: `group` is the field it decides (a result group, or
    `flag_<name>` for a commission's flag; None: nothing to decide but to confirm)."""

    code: str
    group: str | None
    text: str
    recognised: str | None  # what the original shows (or the estimate)
    expected: str | None  # what the expert's record says
    double: bool  # a result field: verified by two operators


def work_findings(rules: GradingRules, evidence: WorkEvidence) -> list[Finding]:
    """Every inconsistency of the work, in a stable order."""
    e = evidence
    out: list[Finding] = []
    graded = e.original is not None and any(v is not None for v in e.original.values())
    if e.status in ("not_finished", "removed") and graded:
        out.append(Finding("graded_flagged", None, FINDINGS["graded_flagged"], None, None, False))
    if e.record_flags is not None and e.blank_flags is not None:
        for flag in ("not_finished", "removed", "oral"):
            read = e.blank_flags.get(flag)
            if read is not None and read != e.record_flags.get(flag, False):
                out.append(
                    Finding(
                        "flag_mismatch",
                        f"flag_{flag}",
                        f"{FINDINGS['flag_mismatch']}: {_FLAG_RU[flag]}",
                        _yes(read),
                        _yes(e.record_flags.get(flag, False)),
                        False,
                    )
                )
    if e.status != "copy":
        return out
    marks = e.protocol if e.protocol is not None else e.original
    if marks is None:
        return out
    for issue in check_marks(rules, e.form, marks):
        if issue.code == "mark_missing":
            # The contract refuses incomplete protocol rows; a mark missing on the original
            # is no question for an operator (nobody can invent it): the work stays «нет
            # оценок эксперта» until its protocol comes.
            continue
        out.append(
            Finding(
                "rule",
                issue.group,
                issue.text,
                mark_text(marks.get(issue.group or "")),
                mark_text(overall(rules, e.form, marks)) if issue.group == "overall" else None,
                True,
            )
        )
    if e.protocol is not None and e.original is not None:
        for group in differences(e.protocol, e.original):
            out.append(
                Finding(
                    "transcription_mismatch",
                    group,
                    f"{GROUP_TITLES[group]}: {FINDINGS['transcription_mismatch']}",
                    mark_text(e.original[group]),
                    mark_text(e.protocol[group]),
                    True,
                )
            )
    if e.protocol is not None:
        for group in e.original_blank:
            if e.protocol.get(group) is not None:
                out.append(
                    Finding(
                        "transcription_mismatch",
                        group,
                        f"{GROUP_TITLES[group]}: отметка эксперта не перенесена в оригинал бланка",
                        "",
                        mark_text(e.protocol[group]),
                        True,
                    )
                )
    threshold = rules.form(e.form).min_words
    words = e.words
    if (
        marks.get("requirement_1") is True
        and words is not None
        and words < VOLUME_SHARE * threshold
    ):
        out.append(
            Finding(
                "volume_doubtful",
                "requirement_1",
                f"{FINDINGS['volume_doubtful']}: около {words} слов при минимуме {threshold}",
                str(words),
                mark_text(True),
                True,
            )
        )
    return out


_FLAG_RU = {"not_finished": "«Не закончил»", "removed": "«Удален»", "oral": "«В устной форме»"}


def _yes(value: bool) -> str:
    return "да" if value else "нет"


def final_marks(
    rules: GradingRules, form: str, base: Marks, decided: Mapping[str, bool]
) -> dict[str, bool | None]:
    """The verified marks: the base record with the operators' decisions per group; a failed
    requirement makes every criterion and the result «незачет» (the rule writes it so); the
    result is always the rule's once it follows from the marks, so a verified result never
    contradicts the regulation (an operator's answer on «Результат» only fills a gap)."""
    marks: dict[str, bool | None] = {g: base.get(g) for g in GROUPS}
    marks.update(decided)
    if any(marks.get(r) is False for r in rules.requirements):
        marks.update(dict.fromkeys((*CRITERIA, "overall"), False))
        return marks
    computed = overall(rules, form, marks)
    if computed is not None:  # the regulation's result; an operator's answer only fills a gap
        marks["overall"] = computed
    return marks
