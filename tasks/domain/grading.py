"""Grading rules and the consistency checks of one work's marks (DOMAIN.md §6, §9).

A work's marks are one value per group (Требование 1, Требование 2, К1–К5, Результат): True
for «зачет», False for «незачет», None where nothing (or something unreadable) is marked. The
rule of a school year comes from config/grading/<year>.yaml as plain data; `overall` applies
it, `check_marks` lists what breaks it, `differences` compares the expert's record (the copy,
the protocol) with the marks transcribed onto the original.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tasks.errors import ConfigError

__all__ = [
    "CRITERIA",
    "FAIL",
    "GROUPS",
    "GROUP_TITLES",
    "PASS",
    "FormRule",
    "GradingRules",
    "MarkIssue",
    "Marks",
    "check_marks",
    "differences",
    "mark_text",
    "overall",
    "parse_mark",
    "rules_from_mapping",
]

PASS = "зачет"
FAIL = "незачет"
REQUIREMENTS = ("requirement_1", "requirement_2")
CRITERIA = ("k1", "k2", "k3", "k4", "k5")
GROUPS = (*REQUIREMENTS, *CRITERIA, "overall")
GROUP_TITLES = {
    "requirement_1": "Требование 1",
    "requirement_2": "Требование 2",
    "k1": "К1",
    "k2": "К2",
    "k3": "К3",
    "k4": "К4",
    "k5": "К5",
    "overall": "Результат",
}

Marks = Mapping[str, bool | None]

# What protocols and operators write for a mark, case and «ё» aside.
_MARK_WORDS = {
    "зачет": True,
    "зачёт": True,
    "1": True,
    "+": True,
    "незачет": False,
    "незачёт": False,
    "не зачет": False,
    "0": False,
    "-": False,
    "–": False,
    "−": False,
    "не зачёт": False,
}


def parse_mark(text: str | None) -> bool | None:
    """«зачет»/«незачет» (or 1/0, +/-) as True/False; empty as None; anything else raises
    ValueError with the Russian reason."""
    value = (text or "").strip().lower()
    if not value:
        return None
    try:
        return _MARK_WORDS[value]
    except KeyError:
        raise ValueError(f"«{text}» — ожидается «зачет» или «незачет»") from None


def mark_text(value: bool | None) -> str:
    return "" if value is None else (PASS if value else FAIL)


@dataclass(frozen=True, slots=True)
class FormRule:
    """The criteria rule of one form: every group in `all_of` and `at_least` of `any_of`."""

    min_words: int
    all_of: tuple[str, ...]
    any_of: tuple[str, ...]
    at_least: int


@dataclass(frozen=True, slots=True)
class GradingRules:
    school_year: str
    requirements: tuple[str, ...]
    forms: Mapping[str, FormRule]

    def form(self, form: str) -> FormRule:
        try:
            return self.forms[form]
        except KeyError:
            raise ConfigError(
                f"no grading rule for the form {form!r} in {self.school_year}"
            ) from None


def rules_from_mapping(data: Mapping[str, Any]) -> GradingRules:
    """Rules from config/grading/<year>.yaml; a group outside GROUPS is a configuration error."""
    try:
        requirements = tuple(data["requirements"])
        forms = {
            name: FormRule(
                int(rule["min_words"]),
                tuple(rule["all_of"]),
                tuple(rule.get("any_of", ())),
                int(rule.get("at_least", 0)),
            )
            for name, rule in data["forms"].items()
        }
        year = str(data["school_year"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"grading rules are malformed: {exc!r}") from exc
    named = set(requirements) | {g for r in forms.values() for g in (*r.all_of, *r.any_of)}
    unknown = named - set(GROUPS[:-1])
    if unknown:
        raise ConfigError(f"grading rules of {year} name unknown groups: {sorted(unknown)}")
    for name, rule in forms.items():
        if rule.at_least > len(rule.any_of):
            raise ConfigError(f"grading rules of {year}: {name} asks more than any_of holds")
    return GradingRules(year, requirements, forms)


def overall(rules: GradingRules, form: str, marks: Marks) -> bool | None:
    """The result the rule gives: False once a requirement or a needed criterion fails, True
    when the rule is met, None while a mark it needs is missing."""
    rule = rules.form(form)
    if any(marks.get(r) is False for r in rules.requirements):
        return False
    if any(marks.get(k) is False for k in rule.all_of):
        return False
    if any(marks.get(r) is None for r in rules.requirements):
        return None
    passed = sum(1 for k in rule.any_of if marks.get(k) is True)
    open_ = sum(1 for k in rule.any_of if marks.get(k) is None)
    if any(marks.get(k) is None for k in rule.all_of):
        return None if passed + open_ >= rule.at_least else False
    if passed >= rule.at_least:
        return True
    return None if passed + open_ >= rule.at_least else False


@dataclass(frozen=True, slots=True)
class MarkIssue:
    """One broken rule: `code` from ISSUES, `group` where one group is at fault, Russian text."""

    code: str
    group: str | None
    text: str


ISSUES = {
    "mark_missing": "нет отметки",
    "requirement_failed_criterion_passed": "требование не выполнено, а критерий зачтен",
    "overall_mismatch": "результат не соответствует правилу оценивания",
}


def check_marks(rules: GradingRules, form: str, marks: Marks) -> list[MarkIssue]:
    """What is wrong with an evaluation: a group without a mark (every group is marked, «незачет»
    too), criteria passed although a requirement failed (they must all be «незачет»), a result
    the rule does not give."""
    rule = rules.form(form)
    issues = [
        MarkIssue("mark_missing", g, f"{GROUP_TITLES[g]}: нет отметки")
        for g in GROUPS
        if marks.get(g) is None
    ]
    failed_requirement = any(marks.get(r) is False for r in rules.requirements)
    if failed_requirement:
        for k in (*rule.all_of, *rule.any_of):
            if marks.get(k) is True:
                issues.append(
                    MarkIssue(
                        "requirement_failed_criterion_passed",
                        k,
                        f"{GROUP_TITLES[k]}: требование не выполнено, критерий должен быть "
                        "«незачет»",
                    )
                )
    expected = overall(rules, form, marks)
    given = marks.get("overall")
    if expected is not None and given is not None and expected != given:
        issues.append(
            MarkIssue(
                "overall_mismatch",
                "overall",
                f"результат «{mark_text(given)}», по правилу {rules.school_year} — "
                f"«{mark_text(expected)}»",
            )
        )
    return issues


def differences(copy: Marks, original: Marks, groups: Sequence[str] = GROUPS) -> list[str]:
    """Groups where the original's readable mark differs from the expert's record."""
    return [
        g
        for g in groups
        if original.get(g) is not None and copy.get(g) is not None and copy[g] != original[g]
    ]
