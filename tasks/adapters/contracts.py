"""Data contracts from data_contracts/*.yaml, compiled to Great Expectations suites and run by GX.

Great Expectations is imported lazily (it costs seconds), once per process, with an ephemeral
context: suites live in memory, results come back as row indices per rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import yaml
from pydantic import ValidationError

from tasks.domain.contracts import Contract, Rule, check_column, value_column
from tasks.errors import ConfigError, ContractError

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite

__all__ = ["CONTRACTS_DIR", "ContractRun", "compile_suite", "load_contract", "run_contract"]

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "data_contracts"


@cache
def load_contract(name: str, directory: Path = CONTRACTS_DIR) -> Contract:
    path = directory / f"{name}.yaml"
    try:
        return Contract.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"data contract {path} is unreadable: {exc}") from exc


@cache
def _gx() -> Any:
    """The Great Expectations module and an ephemeral context, built once per process."""
    for name in ("great_expectations", "tqdm"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # No tqdm bars in flow logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("rcoi")
    return gx, context, source


def _expectation(gx: Any, rule: Rule) -> Any:
    meta = {"rule": rule.id, "severity": rule.severity}
    if rule.kind == "not_empty":
        return gx.expectations.ExpectColumnValuesToNotBeNull(
            column=value_column(rule.column), meta=meta
        )
    if rule.kind == "in_set":
        return gx.expectations.ExpectColumnValuesToBeInSet(
            column=value_column(rule.column), value_set=rule.values, meta=meta
        )
    if rule.kind == "unique":
        return gx.expectations.ExpectColumnValuesToBeUnique(
            column=value_column(rule.column), meta=meta
        )
    if rule.kind == "compound_unique":
        return gx.expectations.ExpectCompoundColumnsToBeUnique(
            column_list=[value_column(c) for c in rule.columns or []], meta=meta
        )
    return gx.expectations.ExpectColumnValuesToBeInSet(
        column=check_column(rule.id), value_set=[True], meta=meta
    )


_SUITES: dict[str, ExpectationSuite] = {}


def compile_suite(contract: Contract) -> ExpectationSuite:
    """The contract as a GX suite: one expectation per rule, tagged with its id and severity.

    Compiled once per process and contract content: once GX stores a suite of that name, every
    `add_expectation` re-serialises the stored suite, so recompiling per file cost ~1.8 s."""
    key = contract.model_dump_json()
    if key in _SUITES:
        return _SUITES[key]
    gx, context, _ = _gx()
    suite = gx.ExpectationSuite(name=f"{contract.contract}-v{contract.version}")
    for rule in contract.rules:
        suite.add_expectation(_expectation(gx, rule))
    stored: ExpectationSuite = context.suites.add_or_update(suite)
    _SUITES[key] = stored
    return stored


def _columns(contract: Contract) -> list[str]:
    names: list[str] = []
    for rule in contract.rules:
        if rule.kind == "compound_unique":
            names += [value_column(c) for c in rule.columns or []]
        else:
            names.append(value_column(rule.column) if rule.native else check_column(rule.id))
    return list(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class ContractRun:
    """GX's verdict: `failures` holds (index, rule_id) of every failing row; `rules` the
    unexpected count per rule (for the coordinator's artifact)."""

    success: bool
    failures: pl.DataFrame
    rules: dict[str, int]


def run_contract(frame: pl.DataFrame, contract: Contract) -> ContractRun:
    """Validate a prepared frame (domain `prepare`) with the contract's GX suite."""
    _, _, source = _gx()
    suite = compile_suite(contract)
    asset_name = f"{contract.contract}-rows"
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
    try:
        batch_definition = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    pandas_frame = frame.select(_columns(contract)).to_pandas()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": pandas_frame})
    result = batch.validate(
        suite, result_format={"result_format": "COMPLETE", "return_unexpected_index_query": False}
    )
    rows: list[tuple[int, str]] = []
    counts: dict[str, int] = {}
    for outcome in result.results:
        rule_id = outcome.expectation_config.meta["rule"]
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            # A check that could not run (a column missing, ...) is a defect, never a pass.
            raise ContractError(
                f"contract {contract.contract}: rule {rule_id} could not run: "
                f"{outcome.exception_info.get('exception_message')}"
            )
        indices = outcome.result.get("unexpected_index_list") or []
        counts[rule_id] = len(indices)
        rows.extend((int(index), rule_id) for index in indices)
    failures = pl.DataFrame(rows, schema={"index": pl.Int64, "rule_id": pl.Utf8}, orient="row")
    return ContractRun(bool(result.success), failures.sort("index", "rule_id"), counts)
