"""The grade stage's consistency checks of one work (tasks/domain/grade_checks.py): each finding
code, no finding for a clean work, the original's marks used when there is no protocol row, and
the final marks after the operators' decisions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasks.adapters.grading_files import grading_rules
from tasks.domain.grade_checks import (
    FINDINGS,
    VOLUME_SHARE,
    Finding,
    WorkEvidence,
    final_marks,
    work_findings,
)
from tasks.domain.grading import CRITERIA, GROUPS, Marks

RULES = grading_rules("2017/18")
CODE = "421710000017"
PASSED: dict[str, bool | None] = dict.fromkeys(GROUPS, True)
NO_FLAGS = {"not_finished": False, "removed": False, "oral": False}


def marks(**changes: bool | None) -> dict[str, bool | None]:
    return {**PASSED, **changes}


def evidence(**changes: object) -> WorkEvidence:
    """A clean essay: copied, «зачет» everywhere in the protocol and on the original, no flags
    in ИС-05 nor on the blank, 300 words."""
    clean = WorkEvidence(
        work_code=CODE,
        form="essay",
        status="copy",
        protocol=dict(PASSED),
        original=dict(PASSED),
        record_flags=dict(NO_FLAGS),
        blank_flags=dict(NO_FLAGS),
        words=300,
    )
    return replace(clean, **changes)  # type: ignore[arg-type]


def findings(e: WorkEvidence) -> list[Finding]:
    return work_findings(RULES, e)


def codes(e: WorkEvidence) -> list[tuple[str, str | None]]:
    return [(f.code, f.group) for f in findings(e)]


def test_every_finding_code_has_a_russian_text() -> None:
    assert set(FINDINGS) == {
        "rule",
        "transcription_mismatch",
        "volume_doubtful",
        "graded_flagged",
        "flag_mismatch",
    }
    assert all(text.strip() for text in FINDINGS.values())


@pytest.mark.parametrize("form", ["essay", "exposition"])
def test_a_clean_work_has_no_findings(form: str) -> None:
    assert findings(evidence(form=form)) == []


def test_a_clean_failed_work_has_no_findings() -> None:
    failed = dict.fromkeys(GROUPS, False) | {"requirement_2": True}
    assert findings(evidence(protocol=failed, original=dict(failed))) == []


# --- rule ------------------------------------------------------------------------------------


def test_a_result_against_the_rule_is_a_double_checked_rule_finding_on_the_result() -> None:
    wrong = marks(k2=False)  # К2 «незачет», result «зачет»
    assert findings(evidence(protocol=wrong, original=dict(wrong))) == [
        Finding(
            "rule",
            "overall",
            "результат «зачет», по правилу 2017/18 — «незачет»",
            "зачет",
            "незачет",
            True,
        )
    ]


def test_criteria_passed_after_a_failed_requirement_are_a_rule_finding_each() -> None:
    wrong = marks(requirement_2=False, overall=False)
    found = findings(evidence(protocol=wrong, original=dict(wrong)))
    assert [(f.code, f.group) for f in found] == [("rule", k) for k in CRITERIA]
    assert all(f.double and f.recognised == "зачет" and f.expected is None for f in found)
    assert found[0].text == "К1: требование не выполнено, критерий должен быть «незачет»"


def test_a_group_missing_in_the_protocol_is_left_to_the_protocol_contract() -> None:
    assert findings(evidence(protocol=marks(k4=None), original=marks(k4=None))) == []


# --- the original when there is no protocol ---------------------------------------------------


def test_without_a_protocol_the_original_is_checked_against_the_rule() -> None:
    wrong = marks(k1=False)
    assert codes(evidence(protocol=None, original=wrong)) == [("rule", "overall")]
    assert findings(evidence(protocol=None, original=wrong))[0].recognised == "зачет"


def test_a_mark_missing_on_the_original_is_no_question_for_an_operator() -> None:
    # nobody can invent the expert's mark: the work waits for its protocol instead
    assert findings(evidence(protocol=None, original=marks(k3=None))) == []


def test_without_a_protocol_there_is_nothing_to_compare_the_original_with() -> None:
    assert "transcription_mismatch" not in {f.code for f in findings(evidence(protocol=None))}


def test_without_a_protocol_or_a_readable_original_there_are_no_findings() -> None:
    assert findings(evidence(protocol=None, original=None, blank_flags=None)) == []


def test_without_a_protocol_the_volume_is_checked_on_the_originals_requirement_1() -> None:
    assert codes(evidence(protocol=None, words=10)) == [("volume_doubtful", "requirement_1")]
    original = marks(requirement_1=False, **dict.fromkeys((*CRITERIA, "overall"), False))
    assert codes(evidence(protocol=None, original=original, words=10)) == []


# --- transcription_mismatch ------------------------------------------------------------------


def test_a_mark_on_the_original_unlike_the_protocol_is_a_transcription_mismatch() -> None:
    found = findings(evidence(original=marks(k3=False)))
    assert found == [
        Finding(
            "transcription_mismatch",
            "k3",
            "К3: отметка в оригинале бланка не совпадает с протоколом эксперта",
            "незачет",
            "зачет",
            True,
        )
    ]


def test_each_differing_group_is_its_own_mismatch_in_the_protocols_order() -> None:
    original = marks(overall=False, requirement_1=False)
    assert codes(evidence(original=original)) == [
        ("transcription_mismatch", "requirement_1"),
        ("transcription_mismatch", "overall"),
    ]


def test_an_unreadable_mark_on_the_original_is_no_mismatch() -> None:
    assert findings(evidence(original=marks(k3=None, overall=None))) == []


# --- volume_doubtful -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "threshold"), [("essay", 250), ("exposition", 150)], ids=["essay", "exposition"]
)
def test_a_work_far_below_the_minimum_volume_is_doubtful_and_one_at_the_share_is_not(
    form: str, threshold: int
) -> None:
    limit = round(VOLUME_SHARE * threshold)
    assert (VOLUME_SHARE, limit) == (0.6, 150 if form == "essay" else 90)
    assert codes(evidence(form=form, words=limit - 1)) == [("volume_doubtful", "requirement_1")]
    assert findings(evidence(form=form, words=limit)) == []
    assert findings(evidence(form=form, words=limit + 1)) == []


def test_a_doubtful_volume_names_the_estimate_and_the_minimum() -> None:
    assert findings(evidence(form="exposition", words=12)) == [
        Finding(
            "volume_doubtful",
            "requirement_1",
            "«Требование 1» зачтено, а текста на бланках записи почти нет: около 12 слов "
            "при минимуме 150",
            "12",
            "зачет",
            True,
        )
    ]


def test_a_nearly_empty_work_is_not_doubtful_when_requirement_1_is_not_passed() -> None:
    failed = dict.fromkeys(GROUPS, False) | {"requirement_2": True}
    assert findings(evidence(protocol=failed, original=dict(failed), words=0)) == []


def test_a_work_whose_words_were_not_estimated_is_not_doubtful() -> None:
    assert findings(evidence(words=None)) == []


def test_an_empty_work_with_requirement_1_passed_is_doubtful() -> None:
    assert codes(evidence(words=0)) == [("volume_doubtful", "requirement_1")]


# --- graded_flagged --------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["not_finished", "removed"])
def test_marks_on_a_flagged_work_are_a_graded_flagged_finding(status: str) -> None:
    flags = {**NO_FLAGS, status: True}
    found = findings(evidence(status=status, record_flags=flags, blank_flags=dict(flags)))
    assert found == [Finding("graded_flagged", None, FINDINGS["graded_flagged"], None, None, False)]


@pytest.mark.parametrize("status", ["not_finished", "removed"])
def test_a_flagged_work_with_a_single_mark_on_the_original_is_graded_flagged(status: str) -> None:
    original = dict.fromkeys(GROUPS, None) | {"k5": False}
    assert codes(evidence(status=status, protocol=None, original=original, blank_flags=None)) == [
        ("graded_flagged", None)
    ]


@pytest.mark.parametrize("status", ["not_finished", "removed"])
def test_a_flagged_work_without_marks_has_no_findings_and_is_not_checked_further(
    status: str,
) -> None:
    empty = dict.fromkeys(GROUPS, None)
    assert findings(evidence(status=status, protocol=None, original=empty, words=0)) == []
    assert findings(evidence(status=status, protocol=None, original=None, words=0)) == []


def test_a_flagged_work_is_not_checked_against_the_rule_or_the_protocol() -> None:
    found = codes(evidence(status="removed", protocol=marks(k1=False), original=marks(k2=False)))
    assert found == [("graded_flagged", None)]


@pytest.mark.parametrize("status", ["absent", "no_record"])
def test_a_work_not_copied_for_another_reason_is_not_checked(status: str) -> None:
    assert findings(evidence(status=status, protocol=marks(k1=False), words=0)) == []


# --- flag_mismatch ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "title"),
    [("not_finished", "«Не закончил»"), ("removed", "«Удален»"), ("oral", "«В устной форме»")],
)
def test_a_flag_on_the_blank_unlike_the_room_record_is_a_flag_mismatch(
    flag: str, title: str
) -> None:
    found = findings(evidence(blank_flags={**NO_FLAGS, flag: True}))
    assert found == [
        Finding(
            "flag_mismatch",
            f"flag_{flag}",
            f"отметка комиссии на бланке не совпадает с ведомостью ИС-05: {title}",
            "да",
            "нет",
            False,
        )
    ]


def test_a_flag_in_the_room_record_missing_on_the_blank_is_a_mismatch_too() -> None:
    found = findings(evidence(record_flags={**NO_FLAGS, "oral": True}))
    assert [(f.code, f.group, f.recognised, f.expected) for f in found] == [
        ("flag_mismatch", "flag_oral", "нет", "да")
    ]


def test_an_unreadable_flag_on_the_blank_is_no_mismatch() -> None:
    assert findings(evidence(blank_flags={**NO_FLAGS, "removed": None})) == []
    assert findings(evidence(blank_flags={"oral": False})) == []


def test_without_a_room_record_or_a_read_blank_flags_are_not_compared() -> None:
    assert findings(evidence(record_flags=None, blank_flags={**NO_FLAGS, "oral": True})) == []
    assert findings(evidence(record_flags={**NO_FLAGS, "oral": True}, blank_flags=None)) == []


def test_flags_are_compared_on_a_work_not_copied_as_well() -> None:
    flags = {**NO_FLAGS, "removed": True}
    found = codes(evidence(status="removed", record_flags=flags, blank_flags=dict(NO_FLAGS)))
    assert found == [("graded_flagged", None), ("flag_mismatch", "flag_removed")]


# --- order -----------------------------------------------------------------------------------


def test_findings_come_in_a_stable_order_flags_rule_transcription_volume() -> None:
    e = evidence(
        protocol=marks(k2=False),
        original=marks(k3=False),
        blank_flags={**NO_FLAGS, "oral": True},
        words=5,
    )
    assert codes(e) == [
        ("flag_mismatch", "flag_oral"),
        ("rule", "overall"),
        ("transcription_mismatch", "k2"),
        ("transcription_mismatch", "k3"),
        ("volume_doubtful", "requirement_1"),
    ]
    assert findings(e) == findings(e)


# --- final marks -----------------------------------------------------------------------------


def final(
    base: Marks, decided: dict[str, bool] | None = None, form: str = "essay"
) -> dict[str, bool | None]:
    return final_marks(RULES, form, base, decided or {})


def test_without_decisions_the_final_marks_are_the_base_record() -> None:
    assert final(PASSED) == PASSED
    assert set(final({})) == set(GROUPS)


def test_an_operators_decision_overrides_the_base_mark() -> None:
    result = final(marks(k3=False), {"k3": True})
    assert result == PASSED


def test_a_failed_requirement_forces_every_criterion_and_the_result_to_незачет() -> None:
    result = final(marks(requirement_1=False))
    assert result == {**dict.fromkeys(GROUPS, False), "requirement_2": True}


def test_a_requirement_failed_by_decision_forces_even_decided_criteria_to_незачет() -> None:
    result = final(PASSED, {"requirement_2": False, "k1": True, "overall": True})
    assert result == {**dict.fromkeys(GROUPS, False), "requirement_1": True}


def test_a_decision_that_a_requirement_is_met_lets_the_criteria_stand() -> None:
    base = dict.fromkeys(GROUPS, False) | {"requirement_2": True, "k1": True, "k2": True}
    result = final(base | {"k3": True}, {"requirement_1": True})
    assert result == {**PASSED, "k4": False, "k5": False}


def test_the_result_follows_the_rule_rather_than_the_base_record() -> None:
    assert final(marks(k2=False))["overall"] is False
    assert final(marks(k3=False, k4=False, overall=False))["overall"] is True


def test_the_result_follows_the_rule_after_a_decision_on_a_criterion() -> None:
    assert final(PASSED, {"k1": False})["overall"] is False


def test_a_decided_result_never_overrides_the_rule() -> None:
    assert final(marks(k2=False), {"overall": True})["overall"] is False


def test_a_result_the_rule_cannot_give_yet_stays_as_recorded() -> None:
    base = marks(k1=None, overall=True)
    result = final(base)
    assert result["overall"] is True
    assert result["k1"] is None


def test_the_exposition_follows_its_own_rule() -> None:
    assert final(marks(k1=False), form="exposition")["overall"] is False
    assert final(marks(k3=False, k4=False), form="exposition")["overall"] is True


def test_the_base_record_and_decisions_are_not_changed() -> None:
    base, decided = marks(requirement_1=False), {"k1": True}
    final(base, decided)
    assert base == marks(requirement_1=False)
    assert decided == {"k1": True}
