"""The project's error hierarchy: every error raised on purpose derives from `RcoiError`."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ContractError",
    "DataError",
    "InvalidIdentifier",
    "PlanError",
    "RcoiError",
    "RegistryError",
]


class RcoiError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(RcoiError):
    """Settings or configuration files are missing or wrong."""


class DataError(RcoiError):
    """Input data breaks a rule; `reason` is a Russian sentence a municipality or operator reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidIdentifier(DataError):
    """An identifier (СНИЛС, document, work code, ...) is malformed or fails its check digit."""


class ContractError(RcoiError):
    """A data contract could not be evaluated, or a dataset that must hold it does not."""


class PlanError(RcoiError):
    """A plan-schedule cannot be read or resolved."""


class RegistryError(RcoiError):
    """The regional database refused an operation (constraint, connection, migration)."""
