"""The verification stage's rules (tasks/domain/verify.py): what an operator may answer for each
kind of item, how a typed answer is read, the double-verification state machine, and each
work's verified result or the status that explains why it has none."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.adapters.grading_files import grading_rules
from tasks.domain.grading import CRITERIA, GROUPS
from tasks.domain.verify import (
    OUTCOMES_RU,
    AnswerSpec,
    Decision,
    VerifyError,
    WorkState,
    answer_spec,
    decide,
    parse_answer,
    work_result,
)

RULES = grading_rules("2017/18")
PASSED: dict[str, bool | None] = dict.fromkeys(GROUPS, True)
ALL_PASS_TEXT = dict.fromkeys(GROUPS, "зачет")


def marks(**changes: bool | None) -> dict[str, bool | None]:
    return {**PASSED, **changes}


def work(
    status: str = "copy",
    base: dict[str, bool | None] | None = None,
    open_items: int = 0,
    form: str = "essay",
    **decisions: str,
) -> WorkState:
    return WorkState(status, form, base, decisions, open_items)


# --- answer_spec ------------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_a_result_group_is_answered_with_zachet_or_nezachet(group: str) -> None:
    spec = answer_spec("result", group)
    assert spec.kind == "choice"
    assert spec.choices == {"1": ("зачет", "зачет"), "0": ("незачет", "незачет")}
    assert spec.title == "Отметка эксперта"


@pytest.mark.parametrize("flag", ["flag_not_finished", "flag_removed", "flag_oral"])
def test_a_commissions_flag_is_answered_with_mark_present_or_absent(flag: str) -> None:
    spec = answer_spec("record", flag)
    assert spec.kind == "choice"
    assert spec.choices is not None
    assert {key: value for key, (value, _) in spec.choices.items()} == {"1": "1", "0": "0"}
    assert spec.title == "Отметка комиссии"


@pytest.mark.parametrize("field", [None, "k1", "work_code"])
def test_a_rejected_page_item_is_confirmed_as_rejected_or_sent_for_rescan(
    field: str | None,
) -> None:
    spec = answer_spec("page", field)
    assert spec.kind == "choice"
    assert spec.choices is not None
    assert {key: value for key, (value, _) in spec.choices.items()} == {
        "1": "rejected",
        "2": "rescan",
    }


@pytest.mark.parametrize(
    ("field", "length"),
    [("work_code", 12), ("topic_number", 3), ("answer_blanks", 2), ("sheet_number", 2)],
)
def test_a_digit_field_is_typed_as_digits_up_to_its_length(field: str, length: int) -> None:
    assert answer_spec("scan", field) == AnswerSpec("digits", length=length, title="Цифры поля")


@pytest.mark.parametrize("field", ["flag_oral_mark", "attendance", "not_finished"])
def test_a_scanned_mark_field_is_answered_with_mark_present_or_absent(field: str) -> None:
    spec = answer_spec("scan", field)
    assert spec.kind == "choice"
    assert spec.title == "Поле отметки"
    assert spec.choices is not None
    assert set(spec.choices) == {"1", "0"}


def test_a_page_level_scan_item_is_answered_with_accepted_or_rejected() -> None:
    spec = answer_spec("scan", None)
    assert spec.kind == "choice"
    assert spec.title == "Страница"
    assert spec.choices is not None
    assert {key: value for key, (value, _) in spec.choices.items()} == {
        "1": "accepted",
        "0": "rejected",
    }


def test_a_record_item_without_a_field_is_not_asked_whether_the_page_was_identified() -> None:
    assert answer_spec("record", None).title != "Страница"


# --- parse_answer -----------------------------------------------------------------------------

DIGITS = AnswerSpec("digits", length=3)
ZACHET = answer_spec("result", "k1")


@pytest.mark.parametrize("text", ["1", "123", "1*3", "***", " 42 "])
def test_digits_and_an_asterisk_within_the_length_are_accepted_stripped(text: str) -> None:
    assert parse_answer(DIGITS, text) == text.strip()


@pytest.mark.parametrize("text", ["", "   ", "1234", "12a", "1-2", "١٢", "1 2"])
def test_anything_but_digits_and_asterisks_within_the_length_is_refused_in_russian(
    text: str,
) -> None:
    with pytest.raises(ValueError, match=r"допустимы только цифры и «\*» \(не более 3 знаков\)"):
        parse_answer(DIGITS, text)


@pytest.mark.parametrize(("text", "value"), [("1", "зачет"), ("0", "незачет"), (" 1 ", "зачет")])
def test_a_choice_key_gives_its_value(text: str, value: str) -> None:
    assert parse_answer(ZACHET, text) == value


@pytest.mark.parametrize("text", ["зачет", "незачет"])
def test_a_choice_value_typed_in_full_is_taken_as_itself(text: str) -> None:
    assert parse_answer(ZACHET, text) == text


@pytest.mark.parametrize("text", ["2", "", "да", "Зачет"])
def test_an_answer_outside_the_choices_is_refused_naming_the_keys_in_russian(text: str) -> None:
    with pytest.raises(ValueError, match="выберите один из вариантов: 1, 0"):
        parse_answer(ZACHET, text)


# --- decide -----------------------------------------------------------------------------------


def _decide(
    status: str,
    double: bool,
    operator: str = "boris",
    role: str = "operator",
    value: str = "зачет",
    first_value: str | None = None,
    first_by: str | None = None,
) -> Decision:
    return decide(
        status=status,
        double=double,
        first_value=first_value,
        first_by=first_by,
        operator=operator,
        role=role,
        value=value,
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            {"status": "open", "double": False},
            Decision("resolved", "зачет", None, None),
            id="a single-check item is resolved at once",
        ),
        pytest.param(
            {"status": "open", "double": False, "role": "senior"},
            Decision("resolved", "зачет", None, None),
            id="a senior resolves a single-check item at once too",
        ),
        pytest.param(
            {"status": "open", "double": True, "operator": "anna"},
            Decision("second", None, "зачет", "anna"),
            id="the first answer to a double item waits for a second and is kept",
        ),
        pytest.param(
            {"status": "second", "double": True, "first_value": "зачет", "first_by": "anna"},
            Decision("resolved", "зачет", "зачет", "anna"),
            id="another operator agreeing resolves it",
        ),
        pytest.param(
            {
                "status": "second",
                "double": True,
                "value": "незачет",
                "first_value": "зачет",
                "first_by": "anna",
            },
            Decision("disputed", None, "зачет", "anna"),
            id="another operator disagreeing makes it disputed",
        ),
        pytest.param(
            {
                "status": "disputed",
                "double": True,
                "role": "senior",
                "operator": "vera",
                "value": "незачет",
                "first_value": "зачет",
                "first_by": "anna",
            },
            Decision("resolved", "незачет", "зачет", "anna"),
            id="a senior decides a disputed item",
        ),
        pytest.param(
            {
                "status": "disputed",
                "double": True,
                "role": "senior",
                "operator": "anna",
                "value": "зачет",
                "first_value": "зачет",
                "first_by": "anna",
            },
            Decision("resolved", "зачет", "зачет", "anna"),
            id="a senior who answered first may still decide the dispute",
        ),
    ],
)
def test_a_decision_moves_the_item_through_the_double_verification_states(
    case: dict[str, Any], expected: Decision
) -> None:
    assert _decide(**case) == expected


@pytest.mark.parametrize(
    ("case", "message"),
    [
        pytest.param(
            {"status": "second", "double": True, "operator": "anna", "first_by": "anna"},
            "повторную проверку выполняет другой оператор",
            id="the same operator may not check twice",
        ),
        pytest.param(
            {"status": "disputed", "double": True, "role": "operator"},
            "спорный элемент решает старший верификатор",
            id="only a senior decides a disputed item",
        ),
        pytest.param(
            {"status": "resolved", "double": False},
            "элемент уже закрыт",
            id="a resolved item is closed",
        ),
        pytest.param(
            {"status": "resolved", "double": True, "role": "senior"},
            "элемент уже закрыт",
            id="a resolved item is closed even for a senior",
        ),
        pytest.param(
            {"status": "cancelled", "double": False},
            "элемент уже закрыт",
            id="any status outside the open ones is closed",
        ),
        pytest.param(
            {"status": "open", "double": False, "role": "admin"},
            "неизвестная роль",
            id="an unknown role is refused",
        ),
        pytest.param(
            {"status": "disputed", "double": True, "role": "coordinator"},
            "неизвестная роль",
            id="an unknown role is refused before the status is looked at",
        ),
    ],
)
def test_a_decision_that_is_not_allowed_is_refused_in_russian(
    case: dict[str, Any], message: str
) -> None:
    with pytest.raises(VerifyError, match=message):
        _decide(**case)


# --- work_result ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["absent", "not_finished", "removed", "no_record"])
def test_a_work_that_was_not_copied_has_its_copy_status_as_outcome_and_no_marks(
    status: str,
) -> None:
    assert work_result(RULES, work(status, base=PASSED)) == (status, None)


def test_a_copied_work_without_marks_is_not_graded() -> None:
    assert work_result(RULES, work(base=None)) == ("not_graded", None)


def test_a_copied_work_whose_marks_leave_the_result_open_is_not_graded() -> None:
    base = marks(k1=None, overall=None)
    assert work_result(RULES, work(base=base)) == ("not_graded", None)


@pytest.mark.parametrize("status", ["copy", "absent", "removed"])
def test_a_work_with_open_items_is_unresolved_whatever_its_status(status: str) -> None:
    assert work_result(RULES, work(status, base=PASSED, open_items=2)) == ("unresolved", None)


@pytest.mark.parametrize("form", ["essay", "exposition"])
def test_a_work_meeting_the_rule_passes_with_zachet_in_every_group(form: str) -> None:
    assert work_result(RULES, work(base=PASSED, form=form)) == ("passed", ALL_PASS_TEXT)


def test_a_work_failing_a_needed_criterion_fails_with_its_marks() -> None:
    outcome, result = work_result(RULES, work(base=marks(k1=False, overall=True)))
    assert outcome == "failed"
    assert result == {**ALL_PASS_TEXT, "k1": "незачет", "overall": "незачет"}


def test_the_result_follows_the_rule_when_the_base_result_is_missing() -> None:
    assert work_result(RULES, work(base=marks(overall=None))) == ("passed", ALL_PASS_TEXT)


@pytest.mark.parametrize(
    ("status", "decisions", "outcome"),
    [
        ("copy", {"flag_removed": "1"}, "removed"),
        ("copy", {"flag_not_finished": "1"}, "not_finished"),
        ("not_finished", {"flag_removed": "1"}, "removed"),
        ("copy", {"flag_removed": "1", "flag_not_finished": "1"}, "removed"),
        ("removed", {"flag_removed": "0"}, "passed"),
        ("not_finished", {"flag_not_finished": "0"}, "passed"),
        ("removed", {"flag_not_finished": "0"}, "removed"),
        ("absent", {"flag_removed": "0"}, "absent"),
        ("copy", {"flag_oral": "1"}, "passed"),
    ],
)
def test_a_decided_commission_flag_sets_or_clears_the_status_of_the_work(
    status: str, decisions: dict[str, str], outcome: str
) -> None:
    state = WorkState(status, "essay", PASSED, decisions, 0)
    assert work_result(RULES, state)[0] == outcome


def test_an_operators_decision_overrides_the_base_mark_and_the_result_is_recomputed() -> None:
    base = marks(k1=False, overall=False)
    assert work_result(RULES, work(base=base, k1="зачет")) == ("passed", ALL_PASS_TEXT)


def test_an_operators_decision_on_a_criterion_can_fail_the_work() -> None:
    outcome, result = work_result(RULES, work(base=PASSED, k2="незачет"))
    assert outcome == "failed"
    assert result == {**ALL_PASS_TEXT, "k2": "незачет", "overall": "незачет"}


def test_a_decided_result_never_overrides_the_rule() -> None:
    assert work_result(RULES, work(base=PASSED, overall="незачет")) == ("passed", ALL_PASS_TEXT)


def test_fields_that_are_not_groups_do_not_change_the_marks() -> None:
    state = work(base=PASSED, topic_number="123", flag_oral="1")
    assert work_result(RULES, state) == ("passed", ALL_PASS_TEXT)


@pytest.mark.parametrize("requirement", ["requirement_1", "requirement_2"])
def test_a_failed_requirement_writes_nezachet_in_every_criterion_and_the_result(
    requirement: str,
) -> None:
    state = WorkState("copy", "essay", PASSED, {requirement: "незачет"}, 0)
    outcome, result = work_result(RULES, state)
    assert outcome == "failed"
    assert result is not None
    assert result[requirement] == "незачет"
    assert all(result[k] == "незачет" for k in (*CRITERIA, "overall"))


def test_a_failed_requirement_in_the_base_fails_the_work_although_criteria_were_passed() -> None:
    outcome, result = work_result(RULES, work(base=marks(requirement_1=False)))
    assert outcome == "failed"
    assert result is not None
    assert {result[k] for k in (*CRITERIA, "overall")} == {"незачет"}


def test_every_outcome_has_a_russian_text() -> None:
    assert set(OUTCOMES_RU) == {
        "passed",
        "failed",
        "absent",
        "not_finished",
        "removed",
        "no_record",
        "not_graded",
        "unresolved",
    }
    assert all(OUTCOMES_RU.values())
