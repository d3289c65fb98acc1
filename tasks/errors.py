"""The project's error hierarchy: every error raised on purpose derives from `RcoiError`."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ContractError",
    "DataError",
    "HostKeyRefused",
    "InvalidIdentifier",
    "PlanError",
    "PrintBlocked",
    "PublishError",
    "RcoiError",
    "RegistryError",
    "TransientError",
    "UploadBlocked",
    "UploadError",
    "UploadInterrupted",
    "UploadRefused",
    "VaultError",
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


class TransientError(RcoiError):
    """A failure that may pass when tried again shortly (a busy share, a slow web server):
    `tasks.retries.transient_failure` retries it. Mixed into the stage's own error classes."""


class PublishError(RcoiError):
    """The topics could not be loaded or published (too early, no page, page not live)."""


class VaultError(PublishError):
    """The sealed topics cannot be read or written: no key, a wrong key, a damaged file."""


class PrintBlocked(DataError):
    """Printing is refused: reconciliation has open critical discrepancies."""


class UploadError(RcoiError):
    """The federal package could not be sent or its receipt read. `reason_ru` is the Russian
    sentence the coordinator's alert shows; the English message goes to the logs. Neither
    carries a secret (no key, no password) or personal data."""

    def __init__(self, message: str, reason_ru: str) -> None:
        super().__init__(message)
        self.reason_ru = reason_ru


class HostKeyRefused(UploadError):
    """The server's host key is unknown or differs from the pinned one: never accepted."""


class UploadRefused(UploadError):
    """The server refused for good (authentication, permission, disk full): retrying is
    pointless until a person acts."""


class UploadInterrupted(UploadError, TransientError):
    """The connection broke or timed out: the next attempt resumes where this one stopped."""


class UploadBlocked(DataError):
    """Nothing is packaged: the verification queue has open items (or results are missing)."""
