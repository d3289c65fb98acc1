"""Data contracts: one YAML per dataset in data_contracts/, a list of rules with a severity and
a Russian message. This module holds the schema; adapters/contracts.py compiles it to Great
Expectations, domain/*_rules.py compute the checks GX has no expectation for."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["NATIVE_KINDS", "Contract", "Rule", "check_column", "value_column"]

# Rule kinds Great Expectations checks itself on the normalised value column; every other kind
# is computed into a boolean column `ok__<rule id>` that the suite expects to be true.
NATIVE_KINDS = frozenset({"not_empty", "in_set", "unique", "compound_unique"})


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: str
    column: str
    severity: Literal["critical", "warning"]
    message: str
    optional: bool = False
    values: list[str] | None = None
    ages: dict[str, tuple[int, int]] | None = None
    categories: list[str] | None = None
    columns: list[str] | None = None  # compound_unique: the fields that together are unique

    @model_validator(mode="after")
    def _parameters(self) -> Rule:
        if self.kind == "in_set" and not self.values:
            raise ValueError(f"rule {self.id}: in_set needs values")
        if self.kind == "age_for_category" and not self.ages:
            raise ValueError(f"rule {self.id}: age_for_category needs ages")
        if self.kind == "compound_unique" and not self.columns:
            raise ValueError(f"rule {self.id}: compound_unique needs columns")
        if self.kind == "essay_only" and not self.categories:
            raise ValueError(f"rule {self.id}: essay_only needs categories")
        return self

    @property
    def native(self) -> bool:
        return self.kind in NATIVE_KINDS


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract: str
    version: int
    layer: str
    description: str = ""
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> Contract:
        ids = [rule.id for rule in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        return self

    def rule(self, rule_id: str) -> Rule:
        return next(rule for rule in self.rules if rule.id == rule_id)


def value_column(field: str) -> str:
    """The normalised value a native rule checks: empty text is null there."""
    return f"v__{field}"


def check_column(rule_id: str) -> str:
    """The boolean outcome of a computed rule."""
    return f"ok__{rule_id}"


def reason_column(rule_id: str) -> str:
    """The detail of a failed computed rule (Russian), null where it passed."""
    return f"why__{rule_id}"
