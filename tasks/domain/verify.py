"""The verification stage's rules: what an operator may answer for an item, what a decision
does (result fields need two operators who agree; a disagreement goes to a senior verifier),
and each work's verified result or the status that explains why it has none.

Items come from the scan (uncertain marks and digits, code mismatches, orphan pages), from the
grade stage (rule inconsistencies, transcription mismatches, doubtful volume: kind `result`;
flags that contradict ИС-05: kind `record`) and from rejected pages (kind `page`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tasks.domain.grade_checks import final_marks
from tasks.domain.grading import GROUPS, GradingRules, mark_text
from tasks.errors import DataError

__all__ = [
    "OPEN_STATUSES",
    "OUTCOMES_RU",
    "AnswerSpec",
    "Decision",
    "VerifyError",
    "WorkState",
    "answer_spec",
    "decide",
    "parse_answer",
    "work_result",
]

OPEN_STATUSES = ("open", "second", "disputed")
ROLES = ("operator", "senior")

_DIGIT_FIELDS = {"work_code": 12, "topic_number": 3, "answer_blanks": 2, "sheet_number": 2}
_YES_NO = {"1": ("1", "отметка есть"), "0": ("0", "отметки нет")}


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    """What the operator may type: `digits` (up to `length`, the allowed characters are
    0-9 and «*» for an unreadable cell) or one key of `choices` (key → (value, label))."""

    kind: str
    length: int = 0
    choices: Mapping[str, tuple[str, str]] | None = None
    title: str = ""


def answer_spec(kind: str, field: str | None) -> AnswerSpec:
    if kind == "result" and field in GROUPS:
        return AnswerSpec(
            "choice",
            choices={"1": ("зачет", "зачет"), "0": ("незачет", "незачет")},
            title="Отметка эксперта",
        )
    if kind == "record" and field and field.startswith("flag_"):
        return AnswerSpec("choice", choices=_YES_NO, title="Отметка комиссии")
    if kind == "record":  # results marked on a flagged work: nothing to choose but to confirm
        return AnswerSpec(
            "choice",
            choices={
                "1": ("confirmed", "подтверждаю: работа не проверяется, отметки недействительны")
            },
            title="Отметки на работе, которая не проверяется",
        )
    if kind == "page":
        return AnswerSpec(
            "choice",
            choices={
                "1": ("rejected", "подтвердить: страница не обрабатывается (брак)"),
                "2": ("rescan", "страницу нужно пересканировать"),
            },
            title="Отклонённая страница",
        )
    if field in _DIGIT_FIELDS:
        return AnswerSpec("digits", length=_DIGIT_FIELDS[field], title="Цифры поля")
    if field:
        return AnswerSpec("choice", choices=_YES_NO, title="Поле отметки")
    return AnswerSpec(
        "choice",
        choices={
            "1": ("accepted", "страница опознана верно"),
            "0": ("rejected", "страница не относится к работе (брак)"),
        },
        title="Страница",
    )


def parse_answer(spec: AnswerSpec, text: str) -> str:
    """The operator's answer as the stored value; ValueError (Russian) for anything outside
    the allowed characters or choices."""
    value = text.strip()
    if spec.kind == "digits":
        if not value or len(value) > spec.length or any(c not in "0123456789*" for c in value):
            raise ValueError(f"допустимы только цифры и «*» (не более {spec.length} знаков)")
        return value
    choices = spec.choices or {}
    if value in choices:
        return choices[value][0]
    by_value = {v: v for v, _ in choices.values()}
    if value in by_value:
        return value
    raise ValueError("выберите один из вариантов: " + ", ".join(choices))


@dataclass(frozen=True, slots=True)
class Decision:
    """What a decision changes: the new status and, when final, the resolved value."""

    status: str  # second | disputed | resolved
    resolved_value: str | None
    first_value: str | None
    first_by: str | None


class VerifyError(DataError):
    """A decision that is not allowed (Russian message for the operator)."""


def decide(
    *,
    status: str,
    double: bool,
    first_value: str | None,
    first_by: str | None,
    operator: str,
    role: str,
    value: str,
) -> Decision:
    """One operator's answer to an item in `status`. A single-check item is resolved at
    once. A result field: the first answer waits for a second operator; the same answer
    from another operator resolves it, a different one makes it `disputed`, and only a
    senior verifier decides a disputed item."""
    if role not in ROLES:
        raise VerifyError("неизвестная роль")
    if status not in OPEN_STATUSES:
        raise VerifyError("элемент уже закрыт")
    if status == "disputed":
        if role != "senior":
            raise VerifyError("спорный элемент решает старший верификатор")
        return Decision("resolved", value, first_value, first_by)
    if not double:
        return Decision("resolved", value, first_value, first_by)
    if status == "open":
        return Decision("second", None, value, operator)
    if operator == first_by:
        raise VerifyError("повторную проверку выполняет другой оператор")
    if value == first_value:
        return Decision("resolved", value, first_value, first_by)
    return Decision("disputed", None, first_value, first_by)


# --- a work's verified result ------------------------------------------------------------------

OUTCOMES_RU = {
    "passed": "зачет",
    "failed": "незачет",
    "absent": "не явился",
    "not_finished": "не закончил (ИС-08): не проверяется",
    "removed": "удален (ИС-09): не проверяется",
    "no_record": "нет сведений ведомости ИС-05",
    "not_graded": "нет оценок эксперта",
    "unresolved": "верификация не завершена",
}


@dataclass(frozen=True, slots=True)
class WorkState:
    """A work at the end of verification: copy status, form, the base marks (the protocol,
    else the original), the operators' decisions by field, open items left."""

    status: str
    form: str
    base: Mapping[str, bool | None] | None
    decisions: Mapping[str, str]
    open_items: int


def work_result(rules: GradingRules, work: WorkState) -> tuple[str, dict[str, str] | None]:
    """(outcome, marks as «зачет»/«незачет» per group) — a key of OUTCOMES_RU."""
    if work.open_items:
        return "unresolved", None
    status = work.status
    if work.decisions.get("flag_removed") == "1":
        status = "removed"
    elif work.decisions.get("flag_not_finished") == "1":
        status = "not_finished"
    elif status in ("removed", "not_finished") and (work.decisions.get(f"flag_{status}") == "0"):
        status = "copy"
    if status != "copy":
        return status, None
    if work.base is None:
        return "not_graded", None
    decided = {g: v == "зачет" for g, v in work.decisions.items() if g in GROUPS}
    marks = final_marks(rules, work.form, work.base, decided)
    if any(v is None for v in marks.values()):
        return "not_graded", None
    return ("passed" if marks["overall"] else "failed"), {g: mark_text(v) for g, v in marks.items()}
