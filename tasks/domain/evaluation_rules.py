"""The checks of an expert protocol's rows (contract `evaluations`) that Great Expectations has
no expectation for, computed into `ok__<rule>` / `why__<rule>` columns (see
tasks/domain/contracts.py), and the split of checked rows into accepted and rejected.

A protocol row names a work by its code and gives the expert's marks per group. It is rejected
(the school gets the reason) when the code was not issued to this school, the work is not to be
graded (absent, «Не закончил», «Удален»), the work appears twice, a mark is not «зачет» or
«незачет», a group is empty, or the expert is not the one the work is assigned to. A row whose
marks break the school year's rule is accepted and sent to verification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from tasks.domain.contracts import Contract, check_column, reason_column, value_column
from tasks.domain.copy import COPY_STATUS_RU
from tasks.domain.grading import GROUP_TITLES, GROUPS, GradingRules, check_marks, parse_mark

__all__ = [
    "PROTOCOL_COLUMNS",
    "EvaluationContext",
    "ProtocolRow",
    "WorkToGrade",
    "failures_in_frame",
    "prepare",
    "split_rows",
]

# Field → the protocol's Russian header (the reader maps headers to fields).
PROTOCOL_COLUMNS = {
    "work_code": "Код работы",
    "expert": "Эксперт",
    **{g: GROUP_TITLES[g] for g in GROUPS},
}


@dataclass(frozen=True, slots=True)
class WorkToGrade:
    """What the copy stage knows of a work: its school, form, copy status, assigned expert."""

    school_code: str
    form: str
    status: str  # a key of COPY_STATUS_RU
    expert: str | None


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    school_code: str
    works: Mapping[str, WorkToGrade]
    rules: GradingRules


@dataclass(frozen=True, slots=True)
class ProtocolRow:
    """An accepted row: the marks (True = «зачет»), the expert, warnings for verification."""

    row_number: int
    work_code: str
    expert: str | None
    marks: dict[str, bool | None]
    warnings: tuple[str, ...]


def _text(row: Mapping[str, Any], name: str) -> str:
    return str(row.get(name) or "").strip()


def _marks(row: Mapping[str, Any]) -> tuple[dict[str, bool | None], list[str]]:
    marks: dict[str, bool | None] = {}
    bad = []
    for group in GROUPS:
        try:
            marks[group] = parse_mark(_text(row, group))
        except ValueError as exc:
            marks[group] = None
            bad.append(f"{GROUP_TITLES[group]}: {exc}")
    return marks, bad


Check = Callable[[Mapping[str, Any], EvaluationContext, dict[str, int]], str | None]


def _issued(row: Mapping[str, Any], ctx: EvaluationContext, _: dict[str, int]) -> str | None:
    code = _text(row, "work_code")
    work = ctx.works.get(code)
    if not code:
        return None  # work_code_present says it
    if work is None:
        return f"код работы {code} не выдавался в этом сеансе"
    if work.school_code != ctx.school_code:
        return f"работа {code} выдана другой ОО ({work.school_code})"
    return None


def _to_grade(row: Mapping[str, Any], ctx: EvaluationContext, _: dict[str, int]) -> str | None:
    work = ctx.works.get(_text(row, "work_code"))
    if work is None or work.school_code != ctx.school_code or work.status == "copy":
        return None
    return COPY_STATUS_RU[work.status]


def _first(row: Mapping[str, Any], _: EvaluationContext, first: dict[str, int]) -> str | None:
    code = _text(row, "work_code")
    line = first.get(code)
    return str(line) if code and line is not None and line != row["row_number"] else None


def _valid(row: Mapping[str, Any], _: EvaluationContext, __: dict[str, int]) -> str | None:
    bad = _marks(row)[1]
    return "; ".join(bad) if bad else None


def _complete(row: Mapping[str, Any], _: EvaluationContext, __: dict[str, int]) -> str | None:
    marks, bad = _marks(row)
    if bad:
        return None  # marks_valid says it
    empty = [GROUP_TITLES[g] for g, v in marks.items() if v is None]
    return ", ".join(empty) if empty else None


def _expert(row: Mapping[str, Any], ctx: EvaluationContext, _: dict[str, int]) -> str | None:
    work = ctx.works.get(_text(row, "work_code"))
    given = _text(row, "expert")
    if work is None or not given or work.expert is None or given == work.expert:
        return None
    return f"работа назначена эксперту {work.expert}, а в протоколе — {given}"


def _consistent(row: Mapping[str, Any], ctx: EvaluationContext, _: dict[str, int]) -> str | None:
    work = ctx.works.get(_text(row, "work_code"))
    marks, bad = _marks(row)
    if work is None or bad or any(v is None for v in marks.values()):
        return None
    issues = check_marks(ctx.rules, work.form, marks)
    return "; ".join(i.text for i in issues) if issues else None


_CHECKS: dict[str, Check] = {
    "work_issued": _issued,
    "work_to_grade": _to_grade,
    "first_row": _first,
    "marks_valid": _valid,
    "marks_complete": _complete,
    "expert_assigned": _expert,
    "rule_consistent": _consistent,
}


def prepare(rows: pl.DataFrame, contract: Contract, ctx: EvaluationContext) -> pl.DataFrame:
    """The protocol's rows (fields of PROTOCOL_COLUMNS as text, plus `row_number`) with the
    normalised value of each native rule's column and each computed rule's outcome and reason:
    the frame the contract's GX suite validates."""
    records = rows.to_dicts()
    first: dict[str, int] = {}
    for row in records:
        first.setdefault(_text(row, "work_code"), int(row["row_number"]))
    columns: dict[str, list[Any]] = {}
    for rule in contract.rules:
        if rule.native:
            columns[value_column(rule.column)] = [
                _text(row, rule.column) or None for row in records
            ]
            continue
        check = _CHECKS[rule.kind]
        reasons = [check(row, ctx, first) for row in records]
        columns[check_column(rule.id)] = [r is None for r in reasons]
        columns[reason_column(rule.id)] = reasons
    schema = {name: (pl.Boolean if name.startswith("ok__") else pl.Utf8) for name in columns}
    return rows.with_columns(pl.DataFrame(columns, schema=schema))


def failures_in_frame(frame: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """(row index, rule id) of every failure, computed with polars alone (the GX suite's twin,
    used by tests to check that both agree)."""
    rows = []
    for rule in contract.rules:
        if rule.kind == "not_empty":
            failed = frame[value_column(rule.column)].is_null()
        else:
            failed = ~frame[check_column(rule.id)]
        rows += [(int(i), rule.id) for i in failed.arg_true()]
    return pl.DataFrame(rows, schema={"index": pl.Int64, "rule_id": pl.Utf8}, orient="row").sort(
        "index", "rule_id"
    )


def split_rows(
    frame: pl.DataFrame, failures: pl.DataFrame, contract: Contract
) -> tuple[list[ProtocolRow], list[tuple[int, dict[str, Any], list[str]]]]:
    """(accepted, rejected): accepted rows with their warnings; rejected rows as (row number,
    the row's fields, every critical message in Russian)."""
    messages: dict[int, list[tuple[str, str]]] = {}
    for index, rule_id in failures.iter_rows():
        rule = contract.rule(rule_id)
        reason_name = reason_column(rule_id)
        reason = frame[reason_name][index] if reason_name in frame.columns else None
        messages.setdefault(int(index), []).append(
            (rule.severity, rule.message.replace("{reason}", reason or ""))
        )
    accepted: list[ProtocolRow] = []
    rejected: list[tuple[int, dict[str, Any], list[str]]] = []
    for index, row in enumerate(frame.select(["row_number", *PROTOCOL_COLUMNS]).to_dicts()):
        found = messages.get(index, [])
        critical = [m for severity, m in found if severity == "critical"]
        fields = {k: _text(row, k) for k in PROTOCOL_COLUMNS}
        if critical:
            rejected.append((int(row["row_number"]), fields, critical))
            continue
        accepted.append(
            ProtocolRow(
                int(row["row_number"]),
                fields["work_code"],
                fields["expert"] or None,
                _marks(row)[0],
                tuple(m for severity, m in found if severity == "warning"),
            )
        )
    return accepted, rejected
