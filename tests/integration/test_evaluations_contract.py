"""The `evaluations` data contract end to end: the YAML parses, compiles to one Great Expectations
expectation per rule, and on a protocol with every kind of bad row GX finds exactly the failures
the polars cross-check finds (tasks/domain/evaluation_rules.py), and the same rows are rejected."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
import yaml

from tasks.adapters.contracts import CONTRACTS_DIR, compile_suite, load_contract, run_contract
from tasks.adapters.grading_files import grading_rules
from tasks.domain.contracts import Contract, check_column, value_column
from tasks.domain.evaluation_rules import (
    PROTOCOL_COLUMNS,
    EvaluationContext,
    WorkToGrade,
    failures_in_frame,
    prepare,
    split_rows,
)
from tasks.domain.grading import GROUPS
from tasks.domain.identifiers import make_work_code

pytestmark = pytest.mark.integration

SCHOOL = "4201001"
CODES = [make_work_code("42", 2017, 1, n) for n in range(1, 10)]
ESSAY, EXPOSITION, SECOND, NOT_FINISHED, REMOVED, ABSENT, FOREIGN, UNASSIGNED, _ = CODES
NOT_ISSUED = make_work_code("42", 2017, 1, 99)
WORKS = {
    ESSAY: WorkToGrade(SCHOOL, "essay", "copy", "Э-01"),
    EXPOSITION: WorkToGrade(SCHOOL, "exposition", "copy", "Э-02"),
    SECOND: WorkToGrade(SCHOOL, "essay", "copy", "Э-03"),
    NOT_FINISHED: WorkToGrade(SCHOOL, "essay", "not_finished", None),
    REMOVED: WorkToGrade(SCHOOL, "essay", "removed", None),
    ABSENT: WorkToGrade(SCHOOL, "essay", "absent", None),
    FOREIGN: WorkToGrade("4201002", "essay", "copy", "Э-09"),
    UNASSIGNED: WorkToGrade(SCHOOL, "essay", "copy", None),
}


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract("evaluations")


@pytest.fixture(scope="module")
def context() -> EvaluationContext:
    return EvaluationContext(SCHOOL, WORKS, grading_rules("2017/18"))


def _row(work_code: str = ESSAY, expert: str = "Э-01", **marks: str) -> dict[str, str]:
    return {"work_code": work_code, "expert": expert, **dict.fromkeys(GROUPS, "зачет"), **marks}


def _frame(rows: list[dict[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"row_number": n, **row} for n, row in enumerate(rows, start=2)],
        schema={"row_number": pl.Int64, **dict.fromkeys(PROTOCOL_COLUMNS, pl.Utf8)},
    )


# A protocol with a valid row and every kind of bad row, one or more per rule.
BAD_PROTOCOL = [
    _row(),  # valid
    _row(work_code=""),  # work_code_present
    _row(work_code=NOT_ISSUED),  # work_issued
    _row(work_code=FOREIGN, expert="Э-09"),  # work_issued: another school
    _row(work_code=NOT_FINISHED, expert=""),  # work_to_grade
    _row(work_code=REMOVED, expert=""),  # work_to_grade
    _row(work_code=ABSENT, expert=""),  # work_to_grade
    _row(),  # first_row: repeats line 2
    _row(EXPOSITION, "Э-02", k3="хорошо"),  # marks_valid
    _row(SECOND, "Э-03", k4="", overall=""),  # marks_complete
    _row(UNASSIGNED, "Э-77", k1="незачет"),  # rule_consistent (warning), expert not checked
    _row(SECOND, "Э-99", requirement_1="незачет"),  # first_row, expert_assigned, rule_consistent
    _row(work_code="", expert="", k1="?", k2=""),  # work_code_present, marks_valid
]


def test_the_contract_yaml_parses_with_every_rule_in_order(contract: Contract) -> None:
    raw = yaml.safe_load((CONTRACTS_DIR / "evaluations.yaml").read_text(encoding="utf-8"))
    assert (contract.contract, contract.version, contract.layer) == ("evaluations", 1, "05_graded")
    assert [rule.id for rule in contract.rules] == [rule["id"] for rule in raw["rules"]]
    assert load_contract("evaluations") is contract  # read once per process
    for rule in contract.rules:
        assert rule.message.strip(), rule.id
    assert {r.id for r in contract.rules if r.severity == "warning"} == {"rule_consistent"}


def test_every_rule_becomes_exactly_one_expectation(contract: Contract) -> None:
    suite = compile_suite(contract)
    assert suite.name == "evaluations-v1"
    expectations: list[Any] = list(suite.expectations)
    assert [e.meta["rule"] for e in expectations] == [rule.id for rule in contract.rules]
    for rule, expectation in zip(contract.rules, expectations, strict=True):
        assert expectation.meta == {"rule": rule.id, "severity": rule.severity}
        if rule.kind == "not_empty":
            assert expectation.expectation_type == "expect_column_values_to_not_be_null"
            assert expectation.column == value_column(rule.column)
        else:
            assert expectation.expectation_type == "expect_column_values_to_be_in_set"
            assert expectation.column == check_column(rule.id)
            assert list(expectation.value_set) == [True]


def test_gx_fails_every_rule_on_the_bad_protocol_exactly_as_polars_does(
    contract: Contract, context: EvaluationContext
) -> None:
    prepared = prepare(_frame(BAD_PROTOCOL), contract, context)
    expected = failures_in_frame(prepared, contract)
    assert set(expected["rule_id"]) == {rule.id for rule in contract.rules}, "a rule never fails"
    run = run_contract(prepared, contract)
    assert not run.success
    assert run.failures.equals(expected)
    assert run.rules == {
        rule.id: expected.filter(pl.col("rule_id") == rule.id).height for rule in contract.rules
    }


def test_gx_failures_reject_the_same_rows_with_the_same_messages_as_polars(
    contract: Contract, context: EvaluationContext
) -> None:
    prepared = prepare(_frame(BAD_PROTOCOL), contract, context)
    by_gx = split_rows(prepared, run_contract(prepared, contract).failures, contract)
    by_polars = split_rows(prepared, failures_in_frame(prepared, contract), contract)
    assert by_gx == by_polars
    accepted, rejected = by_gx
    assert [r.row_number for r in accepted] == [2, 12]
    assert accepted[1].warnings == ("результат «зачет», по правилу 2017/18 — «незачет»",)
    assert [number for number, _, _ in rejected] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14]


def test_gx_passes_a_clean_protocol_with_an_empty_expert_column(
    contract: Contract, context: EvaluationContext
) -> None:
    rows = [
        _row(),
        _row(EXPOSITION, "", k5="незачет"),
        _row(SECOND, "Э-03", k1="незачет", overall="незачет"),
    ]
    prepared = prepare(_frame(rows), contract, context)
    run = run_contract(prepared, contract)
    assert run.success
    assert run.failures.is_empty()
    assert failures_in_frame(prepared, contract).is_empty()
    assert run.rules == dict.fromkeys((rule.id for rule in contract.rules), 0)


def test_gx_reports_the_warning_rule_and_the_row_is_still_accepted(
    contract: Contract, context: EvaluationContext
) -> None:
    prepared = prepare(_frame([_row(k2="незачет")]), contract, context)
    run = run_contract(prepared, contract)
    assert run.failures.rows() == [(0, "rule_consistent")]
    accepted, rejected = split_rows(prepared, run.failures, contract)
    assert rejected == []
    assert [r.warnings for r in accepted] == [
        ("результат «зачет», по правилу 2017/18 — «незачет»",)
    ]
