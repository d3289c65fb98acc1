"""The `submission` data contract end to end: the YAML parses, compiles to one Great Expectations
expectation per rule, and on a generated region GX rejects exactly the injected errors, each by
its rule, with the same failures as the polars cross-check (tasks/domain/submission_rules.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
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
from tasks.adapters.region_files import load_regions
from tasks.domain.contracts import Contract, check_column, value_column
from tasks.domain.participants import SUBMISSION_COLUMNS
from tasks.domain.submission_rules import (
    SubmissionContext,
    failures_in_frame,
    prepare,
    split_rows,
)
from tasks.domain.synthetic_region import (
    GeneratorOptions,
    InjectedError,
    SyntheticRegion,
    generate_region,
)
from tasks.errors import ConfigError

pytestmark = pytest.mark.integration

EXAM_DATE = date(2017, 12, 6)
EXPECTED_RULE: dict[InjectedError, str] = {
    InjectedError.INVALID_SNILS: "snils_valid",
    InjectedError.LATIN_LOOKALIKE: "surname_cyrillic",
    InjectedError.FUTURE_BIRTH_DATE: "birth_date_plausible",
    InjectedError.ABSURD_BIRTH_DATE: "birth_date_plausible",
    InjectedError.MISSING_NAME: "name_present",
    InjectedError.BAD_PASSPORT: "document_valid",
    InjectedError.EXPOSITION_NOT_ELIGIBLE: "exposition_eligible",
    InjectedError.FOREIGN_SCHOOL_CODE: "school_of_this_mouo",
    InjectedError.UNKNOWN_CATEGORY: "category_known",
    InjectedError.DUPLICATE_ROW: "not_a_repeat",
}


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract("submission")


# --- the YAML and the suite ------------------------------------------------------------------


def test_the_contract_yaml_parses_with_every_rule_in_order(contract: Contract) -> None:
    raw = yaml.safe_load((CONTRACTS_DIR / "submission.yaml").read_text(encoding="utf-8"))
    assert (contract.contract, contract.version, contract.layer) == ("submission", 2, "02_staged")
    assert [rule.id for rule in contract.rules] == [rule["id"] for rule in raw["rules"]]
    assert load_contract("submission") is contract  # read once per process
    for rule in contract.rules:
        assert rule.column == "" or rule.column in SUBMISSION_COLUMNS, rule.id
        assert rule.message.strip(), rule.id


def test_every_injected_error_kind_has_a_rule_of_the_contract(contract: Contract) -> None:
    assert set(EXPECTED_RULE) == set(InjectedError)
    assert set(EXPECTED_RULE.values()) <= {rule.id for rule in contract.rules}


def test_every_rule_becomes_exactly_one_expectation(contract: Contract) -> None:
    suite = compile_suite(contract)
    assert suite.name == "submission-v2"
    expectations = suite.expectations
    assert len(expectations) == len(contract.rules)
    assert [e.meta["rule"] for e in expectations] == [rule.id for rule in contract.rules]
    for rule, expectation in zip(contract.rules, expectations, strict=True):
        assert expectation.meta == {"rule": rule.id, "severity": rule.severity}
        if rule.kind == "not_empty":
            assert expectation.expectation_type == "expect_column_values_to_not_be_null"
            assert expectation.column == value_column(rule.column)
        elif rule.kind == "in_set":
            assert expectation.expectation_type == "expect_column_values_to_be_in_set"
            assert expectation.column == value_column(rule.column)
            assert list(expectation.value_set) == rule.values
        else:
            assert expectation.expectation_type == "expect_column_values_to_be_in_set"
            assert expectation.column == check_column(rule.id)
            assert list(expectation.value_set) == [True]


def test_compiling_twice_gives_the_same_suite(contract: Contract) -> None:
    first = [e.configuration.to_json_dict() for e in compile_suite(contract).expectations]
    second = [e.configuration.to_json_dict() for e in compile_suite(contract).expectations]
    assert [{k: v for k, v in e.items() if k != "id"} for e in first] == [
        {k: v for k, v in e.items() if k != "id"} for e in second
    ]


# --- a broken contract -----------------------------------------------------------------------


def _broken(tmp_path: Path, change: Any) -> Path:
    data = yaml.safe_load((CONTRACTS_DIR / "submission.yaml").read_text(encoding="utf-8"))
    change(data)
    (tmp_path / "submission.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True), encoding="utf-8"
    )
    return tmp_path


def _rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(rule for rule in data["rules"] if rule["id"] == rule_id)


BROKEN_CONTRACTS = {
    "unknown-top-level-key": lambda d: d.update(owner="РЦОИ"),
    "unknown-rule-key": lambda d: _rule(d, "sex_known").update(mandatory=True),
    "duplicate-rule-id": lambda d: d["rules"].append(dict(_rule(d, "sex_known"))),
    "in-set-without-values": lambda d: _rule(d, "sex_known").pop("values"),
    "in-set-with-empty-values": lambda d: _rule(d, "form_known").update(values=[]),
    "ages-missing": lambda d: _rule(d, "birth_date_plausible").pop("ages"),
    "essay-only-without-categories": lambda d: _rule(d, "voluntary_essay_only").pop("categories"),
    "unknown-severity": lambda d: _rule(d, "sex_known").update(severity="fatal"),
    "rule-id-not-snake-case": lambda d: _rule(d, "sex_known").update(id="Sex-Known"),
    "rule-without-message": lambda d: _rule(d, "sex_known").pop("message"),
    "no-rules": lambda d: d.pop("rules"),
}


def test_the_unchanged_contract_loads_from_a_directory(tmp_path: Path) -> None:
    directory = _broken(tmp_path, lambda d: None)
    assert load_contract.__wrapped__("submission", directory) == load_contract("submission")


@pytest.mark.parametrize("change", list(BROKEN_CONTRACTS))
def test_a_broken_contract_is_a_config_error(tmp_path: Path, change: str) -> None:
    directory = _broken(tmp_path, BROKEN_CONTRACTS[change])
    with pytest.raises(ConfigError, match=r"submission\.yaml"):
        load_contract.__wrapped__("submission", directory)


def test_a_missing_or_unparsable_contract_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_contract.__wrapped__("submission", tmp_path)
    (tmp_path / "submission.yaml").write_text("rules: [{id: a, kind: in_set", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_contract.__wrapped__("submission", tmp_path)


# --- GX on hand-made rows: every expectation fails somewhere, as the polars check says ----------


def _valid_row(**changes: str) -> dict[str, str]:
    row = {
        "surname": "Иванов",
        "name": "Иван",
        "patronymic": "Иванович",
        "sex": "М",
        "birth_date": "15.03.2000",
        "document_type": "паспорт гражданина РФ",
        "document_series": "3214",
        "document_number": "123456",
        "snils": "112-233-445 95",
        "category": "Обучающийся 11 класса",
        "school_code": "4201001",
        "class_name": "11А",
        "form": "сочинение",
        "oral": "нет",
        "ovz": "нет",
        "ovz_document": "",
        "attempt": "1",
        "parse_error": "",
        "parse_warning": "",
    }
    return {**row, **changes}


EDGE_ROWS = [
    _valid_row(),
    _valid_row(parse_error="лишний столбец"),
    _valid_row(surname="", name="", patronymic="", sex="", birth_date="", category="", form=""),
    _valid_row(snils=" "),
    _valid_row(surname="Ивaнов", name="Иван2", patronymic="Иванович-", category="Экстерн"),
    _valid_row(birth_date="31.02.2000", snils="112-233-445 96", oral="", ovz=""),
    _valid_row(birth_date="01.06.1977", document_series="32145", sex="M"),
    _valid_row(form="изложение", oral="возможно", ovz="н/д", attempt="4", school_code="4202001"),
    _valid_row(category="Выпускник прошлых лет", class_name="", form="изложение", oral="да"),
    _valid_row(
        parse_warning="строка скрыта в Excel",
        category="Выпускник прошлых лет",
        class_name="",
        birth_date="01.06.1927",  # 90: possible, unusual
    ),
    _valid_row(
        document_type="Документ иностранного гражданина",
        document_series="-1",
        document_number="-12",
        class_name='=HYPERLINK("http://x","y")',
        ovz="да",
        ovz_document="=1+1",
    ),
    _valid_row(ovz="да", class_name="", form="эссе", snils="123-456-789 64"),
    _valid_row(snils="123-456-789 64", oral="", ovz="", attempt=""),  # repeats the row above
]


def test_gx_fails_every_rule_on_the_edge_rows_exactly_as_polars_does(contract: Contract) -> None:
    frame = pl.DataFrame(EDGE_ROWS).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row_number")
    )
    prepared = prepare(frame, contract, SubmissionContext("42-01", EXAM_DATE, None))
    expected = failures_in_frame(prepared, contract)
    assert set(expected["rule_id"]) == {rule.id for rule in contract.rules}, "a rule never fails"
    run = run_contract(prepared, contract)
    assert not run.success
    assert run.failures.equals(expected)
    assert run.rules == {
        rule.id: expected.filter(pl.col("rule_id") == rule.id).height for rule in contract.rules
    }


def test_gx_passes_valid_rows_with_empty_optional_columns(contract: Contract) -> None:
    rows = [_valid_row(oral="", ovz="", attempt="", patronymic="", class_name="")]
    frame = pl.DataFrame(rows).with_columns(pl.lit(1, dtype=pl.Int64).alias("row_number"))
    prepared = prepare(frame, contract, SubmissionContext("42-01", EXAM_DATE, None))
    run = run_contract(prepared, contract)
    assert run.failures.rows() == [(0, "class_for_students")]  # a warning, but GX reports it
    assert run.failures.equals(failures_in_frame(prepared, contract))


# --- a generated region ----------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """One МОУО's rows through the contract."""

    prepared: pl.DataFrame
    polars_failures: pl.DataFrame
    run: ContractRun
    statuses: pl.DataFrame
    problems: pl.DataFrame
    errors: pl.DataFrame  # the injected errors of this МОУО


@pytest.fixture(scope="module")
def region() -> SyntheticRegion:
    return generate_region(
        GeneratorOptions(
            participants=3000,
            seed=20171206,
            region=load_regions()["42"],
            exam_date=EXAM_DATE,
            error_rate=0.05,
        )
    )


@pytest.fixture(scope="module")
def checked(region: SyntheticRegion, contract: Contract) -> dict[str, Checked]:
    result = {}
    for code in region.mouos["mouo_code"].to_list():
        rows = region.submissions.filter(pl.col("mouo_code") == code)
        schools = region.schools.filter(pl.col("mouo_code") == code)["school_code"]
        context = SubmissionContext(code, EXAM_DATE, frozenset(schools.to_list()))
        prepared = prepare(rows, contract, context)
        polars_failures = failures_in_frame(prepared, contract)
        run = run_contract(prepared, contract)
        statuses, problems = split_rows(prepared, run.failures, contract)
        errors = region.errors.filter(pl.col("mouo_code") == code)
        result[code] = Checked(prepared, polars_failures, run, statuses, problems, errors)
    return result


def test_the_region_has_several_mouos_and_every_kind_of_error(
    region: SyntheticRegion, checked: dict[str, Checked]
) -> None:
    assert len(checked) >= 3
    assert set(region.errors["error"]) == {kind.value for kind in InjectedError}
    assert sum(c.errors.height for c in checked.values()) == region.errors.height


def test_gx_finds_exactly_the_failures_polars_finds(checked: dict[str, Checked]) -> None:
    for code, result in checked.items():
        assert not result.polars_failures.is_empty(), code
        assert result.run.failures.equals(result.polars_failures), code
        assert not result.run.success, code


def test_gx_counts_failures_per_rule(checked: dict[str, Checked], contract: Contract) -> None:
    for code, result in checked.items():
        counts = result.run.failures.group_by("rule_id").len()
        expected = dict.fromkeys((rule.id for rule in contract.rules), 0)
        expected.update(dict(counts.iter_rows()))
        assert result.run.rules == expected, code


def test_rejected_rows_are_exactly_the_injected_errors(checked: dict[str, Checked]) -> None:
    for code, result in checked.items():
        rejected = set(
            result.statuses.filter(pl.col("status") == "rejected")["row_number"].to_list()
        )
        injected = set(result.errors["row_number"].to_list())
        assert injected, code
        assert injected - rejected == set(), f"{code}: missed"
        assert rejected - injected == set(), f"{code}: extra"
        accepted = result.statuses.filter(pl.col("status") == "accepted").height
        assert accepted + len(rejected) == result.prepared.height, code


def test_each_injected_error_is_caught_by_its_rule(checked: dict[str, Checked]) -> None:
    seen: set[str] = set()
    for code, result in checked.items():
        critical = (
            result.problems.filter(pl.col("severity") == "critical")
            .group_by("row_number")
            .agg(pl.col("rule"))
        )
        rules = dict(critical.iter_rows())
        for row_number, error in result.errors.select("row_number", "error").iter_rows():
            expected = EXPECTED_RULE[InjectedError(error)]
            assert expected in rules[row_number], f"{code} row {row_number}: {error}"
            seen.add(error)
    assert seen == {kind.value for kind in InjectedError}


def test_a_duplicate_names_the_row_it_repeats(checked: dict[str, Checked]) -> None:
    found = 0
    for result in checked.values():
        duplicates = result.errors.filter(pl.col("error") == InjectedError.DUPLICATE_ROW.value)
        for row_number in duplicates["row_number"].to_list():
            message = result.problems.filter(
                (pl.col("row_number") == row_number) & (pl.col("rule") == "not_a_repeat")
            )["message"].to_list()
            assert message == [
                f"строка повторяет строку {row_number - 1} этого файла (тот же СНИЛС)"
            ]
            found += 1
    assert found


def test_a_clean_region_of_an_additional_date_is_accepted_whole(contract: Contract) -> None:
    # the third session: retakers on attempts 2 and 3 among the rest
    options = GeneratorOptions(
        participants=700,
        seed=7,
        region=load_regions()["42"],
        exam_date=EXAM_DATE,
        session_ordinal=3,
    )
    region = generate_region(options)
    code = region.mouos["mouo_code"][0]
    rows = region.submissions.filter(pl.col("mouo_code") == code)
    assert set(rows["attempt"]) == {"1", "2", "3"}
    schools = frozenset(region.schools.filter(pl.col("mouo_code") == code)["school_code"])
    prepared = prepare(rows, contract, SubmissionContext(code, EXAM_DATE, schools))
    run = run_contract(prepared, contract)
    assert run.success
    assert run.failures.is_empty()
    assert failures_in_frame(prepared, contract).is_empty()
