"""The `kits` data contract run by Great Expectations: what a print run issued passes, and each
rule fails on the row that breaks it and on no other. The frame is built the way the print task
builds it (tasks/print_kits.py `_check_kits`): registrations full-joined to their kits, reserve
kits and additional blanks appended, the computed checks from tasks/domain/print_kits.py."""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl
import pytest
import yaml

from tasks.adapters.contracts import (
    CONTRACTS_DIR,
    ContractRun,
    compile_suite,
    load_contract,
    run_contract,
)
from tasks.domain.contracts import Contract, check_column, value_column
from tasks.domain.identifiers import make_work_code
from tasks.domain.print_kits import kits_checks

pytestmark = pytest.mark.integration

PREFIX = "42171"
RULES = (
    "kit_issued",
    "work_code_unique",
    "one_kit_per_registration",
    "kind_known",
    "work_code_valid",
    "manifest_counts",
)
WORKS_SCHEMA: dict[str, Any] = {
    "work_code": pl.Utf8,
    "kind": pl.Utf8,
    "school_code": pl.Utf8,
    "room": pl.Utf8,
    "registration_id": pl.Int64,
}


def _code(serial: int, session: int = 1) -> str:
    return make_work_code("42", 2017, session, serial)


def _works(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=WORKS_SCHEMA, orient="row")


def _registrations(ids: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"registration_id": ids}, schema={"registration_id": pl.Int64})


def _listed(works: pl.DataFrame) -> dict[tuple[str, str, str], int]:
    """The manifest's counts per (school, room, kind), as tasks/print_kits.py `_manifest`."""
    counts = Counter(
        (s, r or "", k) for s, r, k in works.select("school_code", "room", "kind").iter_rows()
    )
    return dict(counts)


def _contract_frame(
    registrations: pl.DataFrame,
    works: pl.DataFrame,
    listed: dict[tuple[str, str, str], int],
) -> pl.DataFrame:
    """The frame `_check_kits` validates, plus a `label` column naming each row for the test
    (run_contract passes on the contract's columns only)."""
    columns = ["registration_id", "work_code", "kind", "school_code", "room"]
    kits = registrations.select("registration_id").join(
        works.filter(pl.col("kind") == "kit"), on="registration_id", how="full", coalesce=True
    )
    rows = pl.concat(
        [kits.select(columns), works.filter(pl.col("kind") != "kit").select(columns)]
    ).with_columns(pl.col("room").fill_null(""), pl.col("kind").fill_null("kit"))
    checked = kits_checks(rows, listed, PREFIX)
    return checked.select(
        pl.col("work_code").alias(value_column("work_code")),
        pl.col("registration_id").alias(value_column("registration_id")),
        pl.col("kind").alias(value_column("kind")),
        "ok__work_code_valid",
        "ok__manifest_counts",
        pl.concat_str(
            pl.col("kind"),
            pl.col("registration_id").cast(pl.Utf8).fill_null("-"),
            pl.col("work_code").fill_null("-"),
            separator=":",
        ).alias("label"),
    )


def _failures_by_label(frame: pl.DataFrame, run: ContractRun) -> dict[str, set[str]]:
    labels = frame["label"].to_list()
    out: dict[str, set[str]] = {}
    for index, rule_id in run.failures.iter_rows():
        out.setdefault(labels[index], set()).add(rule_id)
    return out


# A print run of two schools: kits in two rooms, additional blanks, reserve kits.
VALID_REGISTRATIONS = [1, 2, 3, 4, 5]
VALID_WORKS = [
    (_code(101), "kit", "4201001", "01", 1),
    (_code(102), "kit", "4201001", "01", 2),
    (_code(103), "kit", "4201001", "01", 3),
    (_code(104), "kit", "4201001", "02", 4),
    (_code(105), "kit", "4201002", "01", 5),
    (_code(901), "additional", "4201001", "01", None),
    (_code(902), "additional", "4201001", "01", None),
    (_code(903), "additional", "4201002", "01", None),
    (_code(201), "reserve", "4201001", None, None),
    (_code(202), "reserve", "4201001", None, None),
    (_code(203), "reserve", "4201002", None, None),
]


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract("kits")


def test_the_kits_contract_has_its_six_rules_all_critical(contract: Contract) -> None:
    raw = yaml.safe_load((CONTRACTS_DIR / "kits.yaml").read_text(encoding="utf-8"))
    assert (contract.contract, contract.version, contract.layer) == ("kits", 1, "04_print")
    assert tuple(rule.id for rule in contract.rules) == RULES
    assert [rule["id"] for rule in raw["rules"]] == list(RULES)
    assert {rule.severity for rule in contract.rules} == {"critical"}
    assert contract.rule("kind_known").values == ["kit", "reserve", "additional"]
    for rule in contract.rules:
        assert rule.message.strip(), rule.id


def test_every_rule_is_one_expectation_on_a_column_the_print_frame_has(
    contract: Contract,
) -> None:
    frame = _contract_frame(
        _registrations(VALID_REGISTRATIONS), _works(VALID_WORKS), _listed(_works(VALID_WORKS))
    )
    suite = compile_suite(contract)
    assert [e.meta["rule"] for e in suite.expectations] == list(RULES)
    for rule, expectation in zip(contract.rules, suite.expectations, strict=True):
        column = value_column(rule.column) if rule.native else check_column(rule.id)
        assert expectation.column == column, rule.id
        assert column in frame.columns, rule.id


def test_what_a_print_run_issued_passes_every_rule(contract: Contract) -> None:
    works = _works(VALID_WORKS)
    frame = _contract_frame(_registrations(VALID_REGISTRATIONS), works, _listed(works))
    assert frame.height == len(VALID_WORKS)
    assert frame["ok__work_code_valid"].all()
    assert frame["ok__manifest_counts"].all()
    # several reserve kits and additional blanks share a null registration: not a repeat
    assert frame[value_column("registration_id")].null_count() == 6
    run = run_contract(frame, contract)
    assert run.success
    assert run.failures.is_empty()
    assert run.rules == dict.fromkeys(RULES, 0)


def test_each_broken_row_fails_exactly_its_rules(contract: Contract) -> None:
    works = _works(
        [
            *VALID_WORKS,
            # one_kit_per_registration: participant 2 got a second kit
            (_code(106), "kit", "4201001", "01", 2),
            # work_code_unique: a reserve kit printed with participant 1's code
            (_code(101), "reserve", "4201002", None, None),
            # kind_known: a kind the contract does not know
            (_code(301), "spare", "4201002", None, None),
            # work_code_valid: a wrong check digit, and a code of another session
            (_code(107)[:-1] + str((int(_code(107)[-1]) + 1) % 10), "kit", "4201002", "02", 7),
            (_code(108, session=2), "kit", "4201002", "03", 8),
            # manifest_counts: the only additional blank of a room the manifest lists twice
            (_code(904), "additional", "4201001", "02", None),
        ]
    )
    listed = _listed(works)
    listed[("4201001", "02", "additional")] = 2
    # kit_issued: participant 6 is registered but has no kit
    frame = _contract_frame(_registrations([*VALID_REGISTRATIONS, 6, 7, 8]), works, listed)
    run = run_contract(frame, contract)
    bad_check = _code(107)[:-1] + str((int(_code(107)[-1]) + 1) % 10)
    expected = {
        # a missing kit has no code (so none valid) and no group in the manifest either
        "kit:6:-": {"kit_issued", "work_code_valid", "manifest_counts"},
        f"kit:1:{_code(101)}": {"work_code_unique"},
        f"reserve:-:{_code(101)}": {"work_code_unique"},
        f"kit:2:{_code(102)}": {"one_kit_per_registration"},
        f"kit:2:{_code(106)}": {"one_kit_per_registration"},
        f"spare:-:{_code(301)}": {"kind_known"},
        f"kit:7:{bad_check}": {"work_code_valid"},
        f"kit:8:{_code(108, session=2)}": {"work_code_valid"},
        f"additional:-:{_code(904)}": {"manifest_counts"},
    }
    assert not run.success
    assert _failures_by_label(frame, run) == expected
    assert run.rules == {
        "kit_issued": 1,
        "work_code_unique": 2,
        "one_kit_per_registration": 2,
        "kind_known": 1,
        "work_code_valid": 3,
        "manifest_counts": 2,
    }
    assert {rule for rules in expected.values() for rule in rules} == set(RULES)
