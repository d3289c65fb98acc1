"""The rules of the `evaluations` contract computed with polars (tasks/domain/evaluation_rules.py):
every rule of data_contracts/evaluations.yaml passes a valid protocol row and fails a row broken
its way, the messages the school reads, and the split into accepted and rejected rows (a row
breaking the school year's rule is accepted with its warning, for verification)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from tasks.adapters.contracts import load_contract
from tasks.adapters.grading_files import grading_rules
from tasks.domain.contracts import Contract, check_column, reason_column, value_column
from tasks.domain.evaluation_rules import (
    PROTOCOL_COLUMNS,
    EvaluationContext,
    ProtocolRow,
    WorkToGrade,
    failures_in_frame,
    prepare,
    split_rows,
)
from tasks.domain.grading import GROUPS
from tasks.domain.identifiers import make_work_code

CONTRACT: Contract = load_contract("evaluations")
RULES = grading_rules("2017/18")
SCHOOL = "4201001"
EXPERT = "Э-01"

(
    ESSAY,
    EXPOSITION,
    NOT_FINISHED,
    REMOVED,
    ABSENT,
    NO_RECORD,
    FOREIGN,
    UNASSIGNED,
) = (make_work_code("42", 2017, 1, n) for n in range(1, 9))
NOT_ISSUED = make_work_code("42", 2017, 1, 99)
WORKS = {
    ESSAY: WorkToGrade(SCHOOL, "essay", "copy", EXPERT),
    EXPOSITION: WorkToGrade(SCHOOL, "exposition", "copy", "Э-02"),
    NOT_FINISHED: WorkToGrade(SCHOOL, "essay", "not_finished", None),
    REMOVED: WorkToGrade(SCHOOL, "essay", "removed", None),
    ABSENT: WorkToGrade(SCHOOL, "essay", "absent", None),
    NO_RECORD: WorkToGrade(SCHOOL, "essay", "no_record", None),
    FOREIGN: WorkToGrade("4201002", "essay", "copy", "Э-09"),
    UNASSIGNED: WorkToGrade(SCHOOL, "essay", "copy", None),
}
CONTEXT = EvaluationContext(SCHOOL, WORKS, RULES)


def valid_row(**changes: str) -> dict[str, str]:
    """A protocol row of the essay work as the reader gives it: every group «зачет»."""
    row = {"work_code": ESSAY, "expert": EXPERT, **dict.fromkeys(GROUPS, "зачет")}
    assert set(row) == set(PROTOCOL_COLUMNS)
    return {**row, **changes}


def rows_frame(rows: list[dict[str, str]]) -> pl.DataFrame:
    """Rows as grading_files.read_protocol gives them: text fields, `row_number` from 2."""
    return pl.DataFrame(
        [{"row_number": n, **row} for n, row in enumerate(rows, start=2)],
        schema={"row_number": pl.Int64, **dict.fromkeys(PROTOCOL_COLUMNS, pl.Utf8)},
    )


def run(rows: list[dict[str, str]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    prepared = prepare(rows_frame(rows), CONTRACT, CONTEXT)
    return prepared, failures_in_frame(prepared, CONTRACT)


def failed_rules(rows: list[dict[str, str]]) -> list[set[str]]:
    _, failures = run(rows)
    result: list[set[str]] = [set() for _ in rows]
    for index, rule_id in failures.iter_rows():
        result[index].add(rule_id)
    return result


def split(
    rows: list[dict[str, str]],
) -> tuple[list[ProtocolRow], list[tuple[int, dict[str, Any], list[str]]]]:
    prepared, failures = run(rows)
    return split_rows(prepared, failures, CONTRACT)


def messages_of(rows: list[dict[str, str]]) -> list[str]:
    """The messages of the last row, which must be rejected."""
    _, rejected = split(rows)
    assert rejected, "the row was accepted"
    number, _, messages = rejected[-1]
    assert number == len(rows) + 1
    return messages


# --- one passing and one failing case per rule -----------------------------------------------
# rule id → (passing rows, failing rows); the last row is the one the case is about, rows
# before it are valid context (the protocol's earlier rows).

V = valid_row
CASES: dict[str, tuple[list[dict[str, str]], list[dict[str, str]]]] = {
    "work_code_present": ([V(work_code=f" {ESSAY} ")], [V(work_code="  ")]),
    "work_issued": ([V()], [V(work_code=NOT_ISSUED)]),
    "work_to_grade": ([V(work_code=EXPOSITION, expert="Э-02")], [V(work_code=NOT_FINISHED)]),
    "first_row": (
        [V(), V(work_code=EXPOSITION, expert="Э-02")],
        [V(), V(work_code=EXPOSITION, expert="Э-02"), V()],
    ),
    "marks_valid": (
        [V(k3="незачёт", k4=" Зачёт ", k5="0", requirement_2="+", k1="1")],
        [V(k3="хорошо")],
    ),
    "marks_complete": ([V(expert="")], [V(k4="")]),
    "expert_assigned": ([V(expert=f" {EXPERT} ")], [V(expert="Э-99")]),
    "rule_consistent": (
        [V(k1="незачет", overall="незачет")],
        [V(k1="незачет")],  # К1 «незачет», yet the result «зачет»
    ),
}


def test_every_rule_of_the_contract_has_a_case() -> None:
    assert set(CASES) == {rule.id for rule in CONTRACT.rules}


def test_the_valid_row_breaks_no_rule_and_is_accepted() -> None:
    prepared, failures = run([V()])
    assert failures.is_empty()
    accepted, rejected = split_rows(prepared, failures, CONTRACT)
    assert rejected == []
    assert accepted == [ProtocolRow(2, ESSAY, EXPERT, dict.fromkeys(GROUPS, True), ())]


@pytest.mark.parametrize("rule_id", list(CASES))
def test_rule_passes_its_passing_case(rule_id: str) -> None:
    passing, _ = CASES[rule_id]
    assert failed_rules(passing) == [set()] * len(passing)


@pytest.mark.parametrize("rule_id", list(CASES))
def test_rule_fails_its_broken_row_and_nothing_else_fails(rule_id: str) -> None:
    _, failing = CASES[rule_id]
    assert failed_rules(failing) == [set()] * (len(failing) - 1) + [{rule_id}]


@pytest.mark.parametrize("rule_id", list(CASES))
def test_a_failure_gives_a_message_with_its_reason_and_no_placeholder(rule_id: str) -> None:
    _, failing = CASES[rule_id]
    prepared, failures = run(failing)
    rule = CONTRACT.rule(rule_id)
    if rule.native:
        assert prepared[value_column(rule.column)][-1] is None
    else:
        assert prepared[check_column(rule_id)].to_list()[-1] is False
        assert prepared[reason_column(rule_id)][-1], "the computed reason is missing"
    accepted, rejected = split_rows(prepared, failures, CONTRACT)
    found = [w for r in accepted for w in r.warnings] + [m for r in rejected for m in r[2]]
    assert len(found) == 1
    assert "{reason}" not in found[0]
    assert found[0].strip()


@pytest.mark.parametrize("rule_id", [r.id for r in CONTRACT.rules if r.severity == "critical"])
def test_a_critical_failure_rejects_the_row_and_keeps_its_fields(rule_id: str) -> None:
    _, failing = CASES[rule_id]
    accepted, rejected = split(failing)
    assert [r.row_number for r in accepted] == list(range(2, len(failing) + 1))
    assert len(rejected) == 1
    number, fields, _ = rejected[0]
    assert number == len(failing) + 1
    assert fields == {k: v.strip() for k, v in failing[-1].items()}


# --- the messages the school reads -----------------------------------------------------------


def test_a_row_without_a_work_code_says_so() -> None:
    assert messages_of([V(work_code="")]) == ["не указан код работы"]


def test_a_work_code_not_issued_in_the_session_says_so() -> None:
    assert messages_of([V(work_code=NOT_ISSUED)]) == [
        f"код работы {NOT_ISSUED} не выдавался в этом сеансе"
    ]


def test_a_work_of_another_school_names_that_school() -> None:
    assert messages_of([V(work_code=FOREIGN, expert="Э-09")]) == [
        f"работа {FOREIGN} выдана другой ОО (4201002)"
    ]


@pytest.mark.parametrize(
    ("work", "why"),
    [
        (NOT_FINISHED, "не копируется: «Не закончил» (ИС-08)"),
        (REMOVED, "не копируется: «Удален» (ИС-09)"),
        (ABSENT, "не явился"),
        (NO_RECORD, "нет сведений в ведомости ИС-05"),
    ],
)
def test_a_work_not_to_be_graded_is_rejected_with_its_copy_status(work: str, why: str) -> None:
    assert failed_rules([V(work_code=work)]) == [{"work_to_grade"}]
    assert messages_of([V(work_code=work)]) == [f"работа не подлежит проверке: {why}"]


def test_a_repeated_work_names_the_line_of_its_first_row() -> None:
    rows = [V(), V(work_code=EXPOSITION, expert="Э-02"), V(), V()]
    accepted, rejected = split(rows)
    assert [r.row_number for r in accepted] == [2, 3]
    assert [(n, m) for n, _, m in rejected] == [
        (4, ["работа уже указана в строке 2"]),
        (5, ["работа уже указана в строке 2"]),
    ]


def test_rows_without_a_work_code_are_not_repeats_of_each_other() -> None:
    assert failed_rules([V(work_code=""), V(work_code="")]) == [{"work_code_present"}] * 2


def test_an_unknown_mark_is_named_with_its_group() -> None:
    assert messages_of([V(k3="хорошо", overall="да")]) == [
        "К3: «хорошо» — ожидается «зачет» или «незачет»; "
        "Результат: «да» — ожидается «зачет» или «незачет»"
    ]


def test_empty_groups_are_listed_in_the_protocols_order() -> None:
    assert messages_of([V(requirement_2="", k4=" ", overall="")]) == [
        "не заполнены: Требование 2, К4, Результат"
    ]


def test_an_unknown_mark_and_an_empty_group_are_reported_once_as_invalid() -> None:
    assert failed_rules([V(k3="хорошо", k4="")]) == [{"marks_valid"}]


def test_a_row_of_another_expert_names_both_experts() -> None:
    assert messages_of([V(expert="Э-99")]) == [
        f"работа назначена эксперту {EXPERT}, а в протоколе — Э-99"
    ]


def test_the_expert_column_may_be_empty_or_name_anyone_for_a_work_not_yet_assigned() -> None:
    assert failed_rules([V(expert=""), V(work_code=UNASSIGNED, expert="Э-77")]) == [set(), set()]


def test_a_row_breaking_several_rules_lists_every_critical_message() -> None:
    messages = messages_of([V(work_code=NOT_FINISHED, expert="Э-99", k1="отлично", k2="")])
    assert sorted(messages) == [
        "К1: «отлично» — ожидается «зачет» или «незачет»",
        "работа не подлежит проверке: не копируется: «Не закончил» (ИС-08)",
    ]


# --- the warning rule: accepted, with its warning --------------------------------------------


def test_a_result_against_the_rule_is_accepted_with_a_warning_for_verification() -> None:
    accepted, rejected = split([V(k1="незачет")])
    assert rejected == []
    assert accepted == [
        ProtocolRow(
            2,
            ESSAY,
            EXPERT,
            {**dict.fromkeys(GROUPS, True), "k1": False},
            ("результат «зачет», по правилу 2017/18 — «незачет»",),
        )
    ]


def test_criteria_passed_after_a_failed_requirement_are_accepted_with_a_warning_each() -> None:
    accepted, rejected = split([V(requirement_1="незачет", overall="незачет")])
    assert rejected == []
    (warning,) = accepted[0].warnings
    for title in ("К1", "К2", "К3", "К4", "К5"):
        assert f"{title}: требование не выполнено, критерий должен быть «незачет»" in warning
    assert "результат" not in warning  # the result «незачет» is right


def test_a_failed_requirement_with_every_criterion_незачет_gives_no_warning() -> None:
    marks = dict.fromkeys(GROUPS, "незачет") | {"requirement_2": "зачет"}
    assert failed_rules([V(**marks)]) == [set()]


@pytest.mark.parametrize(
    ("marks", "warned"),
    [
        ({"k3": "незачет", "k4": "незачет"}, False),  # К1, К2 and К5
        ({"k3": "незачет", "k4": "незачет", "k5": "незачет"}, True),  # none of К3–К5
        ({"k2": "незачет", "overall": "незачет"}, False),
    ],
)
def test_the_rule_of_2017_18_holds_for_an_exposition_as_for_an_essay(
    marks: dict[str, str], warned: bool
) -> None:
    for work, expert in ((ESSAY, EXPERT), (EXPOSITION, "Э-02")):
        expected = {"rule_consistent"} if warned else set()
        assert failed_rules([V(work_code=work, expert=expert, **marks)]) == [expected]


def test_a_rejected_row_carries_no_warnings_only_its_critical_messages() -> None:
    messages = messages_of([V(expert="Э-99", k1="незачет")])
    assert messages == [f"работа назначена эксперту {EXPERT}, а в протоколе — Э-99"]


def test_marks_are_read_as_booleans_and_the_expert_as_written() -> None:
    accepted, _ = split([V(k3="НЕЗАЧЁТ", k4="-", k5="+", expert="")])
    assert accepted[0].expert is None
    assert accepted[0].marks == {**dict.fromkeys(GROUPS, True), "k3": False, "k4": False}
    assert accepted[0].warnings == ()


# --- the prepared frame ----------------------------------------------------------------------


def test_prepare_keeps_the_rows_and_adds_a_column_per_native_rule_and_two_per_computed() -> None:
    frame = rows_frame([V(), V(work_code="")])
    prepared = prepare(frame, CONTRACT, CONTEXT)
    assert prepared.select(frame.columns).equals(frame)
    added = set(prepared.columns) - set(frame.columns)
    expected = set()
    for rule in CONTRACT.rules:
        if rule.native:
            expected.add(value_column(rule.column))
        else:
            expected |= {check_column(rule.id), reason_column(rule.id)}
    assert added == expected
    assert prepared[value_column("work_code")].to_list() == [ESSAY, None]
    assert frame.width == len(PROTOCOL_COLUMNS) + 1, "the given frame was changed"


def test_an_empty_protocol_has_no_failures_and_no_rows() -> None:
    prepared, failures = run([])
    assert failures.is_empty()
    assert split_rows(prepared, failures, CONTRACT) == ([], [])


def test_failures_are_sorted_by_row_then_rule() -> None:
    _, failures = run([V(work_code=NOT_ISSUED, k1="x"), V(), V(work_code=EXPOSITION, k2="")])
    assert failures.rows() == [
        (0, "marks_valid"),
        (0, "work_issued"),
        (2, "expert_assigned"),
        (2, "marks_complete"),
    ]
