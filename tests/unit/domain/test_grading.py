"""The grading rules of 2017/18, every combination of marks, and the consistency checks."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from tasks.domain.grading import (
    CRITERIA,
    GROUPS,
    check_marks,
    differences,
    overall,
    parse_mark,
    rules_from_mapping,
)
from tasks.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[3] / "config" / "grading"
RULES_2017 = rules_from_mapping(yaml.safe_load((CONFIG / "2017-18.yaml").read_text("utf-8")))
MARKED = ("requirement_1", "requirement_2", *CRITERIA)

# Every combination of «зачет»/«незачет» in the two requirements and five criteria, with the
# result the 2017/18 rule gives, written out as the regulation says it (not as the code does).
TABLE = [
    (
        dict(zip(MARKED, combo, strict=True)),
        combo[0] and combo[1] and combo[2] and combo[3] and (combo[4] or combo[5] or combo[6]),
    )
    for combo in itertools.product((True, False), repeat=len(MARKED))
]


@pytest.mark.parametrize("form", ["essay", "exposition"])
@pytest.mark.parametrize(("marks", "expected"), TABLE)
def test_the_2017_rule_gives_the_regulations_result_for_every_combination(form, marks, expected):
    assert overall(RULES_2017, form, marks) is expected


@pytest.mark.parametrize(("marks", "expected"), TABLE)
def test_a_result_that_follows_the_rule_passes_the_check_and_the_opposite_does_not(marks, expected):
    failed_requirement = not (marks["requirement_1"] and marks["requirement_2"])
    passed_criterion = any(marks[k] for k in CRITERIA)
    right = check_marks(RULES_2017, "essay", {**marks, "overall": expected})
    wrong = check_marks(RULES_2017, "essay", {**marks, "overall": not expected})
    assert ("requirement_failed_criterion_passed" in {i.code for i in right}) is (
        failed_requirement and passed_criterion
    )
    assert "overall_mismatch" not in {i.code for i in right}
    assert "overall_mismatch" in {i.code for i in wrong}


def test_a_failed_requirement_needs_every_criterion_marked_незачет():
    marks = dict.fromkeys(GROUPS, False) | {"requirement_2": True, "k1": True, "k4": True}
    issues = check_marks(RULES_2017, "essay", marks)
    assert [(i.code, i.group) for i in issues] == [
        ("requirement_failed_criterion_passed", "k1"),
        ("requirement_failed_criterion_passed", "k4"),
    ]


def test_a_group_without_a_mark_is_reported_and_leaves_the_result_open():
    marks = dict.fromkeys(GROUPS, True) | {"k1": None, "overall": None}
    issues = check_marks(RULES_2017, "essay", marks)
    assert {(i.code, i.group) for i in issues} == {
        ("mark_missing", "k1"),
        ("mark_missing", "overall"),
    }
    assert overall(RULES_2017, "essay", marks) is None


def test_a_missing_mark_that_cannot_change_the_result_does_not_leave_it_open():
    marks = dict.fromkeys(GROUPS, True) | {"k2": False, "k5": None}
    assert overall(RULES_2017, "essay", marks) is False
    assert (
        overall(RULES_2017, "essay", marks | {"k2": True, "k3": None, "k4": None, "k5": True})
        is True
    )


def test_the_expert_record_and_the_original_differ_only_where_both_are_readable():
    copy = dict.fromkeys(GROUPS, True)
    original = copy | {"k3": False, "k4": None}
    assert differences(copy, original) == ["k3"]


@pytest.mark.parametrize(
    ("text", "value"),
    [("зачет", True), ("Зачёт", True), ("1", True), ("незачет", False), ("0", False), ("", None)],
)
def test_protocol_words_for_marks_are_read(text, value):
    assert parse_mark(text) is value


def test_an_unknown_mark_word_is_refused_with_a_russian_reason():
    with pytest.raises(ValueError, match="ожидается «зачет» или «незачет»"):
        parse_mark("да")


def test_rules_naming_an_unknown_group_are_a_configuration_error():
    data = yaml.safe_load((CONFIG / "2017-18.yaml").read_text("utf-8"))
    data["forms"]["essay"]["all_of"] = ["k1", "k9"]
    with pytest.raises(ConfigError, match="unknown groups"):
        rules_from_mapping(data)


def test_every_school_year_in_config_loads():
    years = [
        rules_from_mapping(yaml.safe_load(p.read_text("utf-8"))) for p in CONFIG.glob("*.yaml")
    ]
    assert {r.school_year for r in years} >= {"2017/18", "2023/24"}
