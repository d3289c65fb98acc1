"""The one typed settings object. Values come from RCOI_* environment variables or `.env`."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Settings of one installation. Per-run values (participants, seed, session) are flow
    parameters, not settings. Secrets are SecretStr and never printed."""

    model_config = SettingsConfigDict(
        env_prefix="RCOI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    out_dir: Path = Field(Path("out"), description="Where runs write files (outbox, print, ...)")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the regional database; default: SQLite in out_dir"
    )
    prefect_api_url: str | None = Field(
        None, description="A running Prefect server's API; unset: an ephemeral server per run"
    )
    prefect_server_database_url: SecretStr | None = Field(
        None, description="Database of `rcoi server` (PostgreSQL in production); unset: SQLite"
    )
    prefect_server_host: str = "127.0.0.1"
    prefect_server_port: int = 4200

    smtp_host: str | None = Field(
        None, description="SMTP server for mail; unset: every message goes to out_dir/outbox"
    )
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout_s: float = 30.0
    mail_sender: str = Field("rcoi@rcoi.example", description="From: address of every message")
    coordinator_emails: list[str] = Field(
        default_factory=lambda: ["coordinator@rcoi.example"],
        description="The RCOI coordinator: escalations and run reports",
    )
    authority_emails: list[str] = Field(
        default_factory=lambda: ["authority@edu.example"],
        description="The regional education authority: the last escalation level",
    )

    topics_key: SecretStr | None = Field(
        None,
        description="Key of the topics vault: 32 bytes, URL-safe base64 (44 characters); unset: "
        "a key generated into out_dir/secrets/topics.key (demo only)",
    )
    topics_public_url: str | None = Field(
        None,
        description="Public URL of out_dir/web/topics/ (e.g. https://rcoi.example/topics/): "
        "checked by HTTP GET after publishing; unset: the files are read back instead",
    )

    federal_sftp_host: str | None = Field(
        None,
        description="The federal centre's SFTP server; unset: packages go to out_dir/federal "
        "(the local drop of the demo)",
    )
    federal_sftp_port: int = 22
    federal_sftp_username: str | None = None
    federal_sftp_key_path: Path | None = Field(
        None, description="The private key the RCOI authenticates with (no passwords)"
    )
    federal_sftp_key_passphrase: SecretStr | None = None
    federal_sftp_known_hosts: Path | None = Field(
        None,
        description="known_hosts file pinning the server's host key: an unknown or changed "
        "key is refused, never accepted",
    )
    federal_sftp_remote_dir: str = Field("incoming", description="Where packages are put")
    federal_sftp_returns_dir: str = Field(
        "returns", description="Where the federal centre leaves its receipts"
    )
    federal_sftp_concurrency: int = Field(2, ge=1, le=16, description="Files sent at once")
    federal_sftp_timeout_s: float = 30.0

    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL of `rcoi web` as mail recipients reach it (acknowledgement links)",
    )
    alerts_url: str = Field(
        "http://127.0.0.1:8080/prefect/alerts",
        description="Where the Prefect server reaches `rcoi web`'s alert endpoint (the webhook "
        "of the automations, `rcoi automations apply`)",
    )
    alerts_token: SecretStr | None = Field(
        None,
        description="Shared secret of that webhook (a Bearer token, 32+ random characters); "
        "unset: the endpoint answers 404 and `rcoi automations apply` refuses",
    )
    stage_lease_s: float = Field(
        300.0,
        gt=0,
        description="How long a stage's key (one run per stage and session) outlives the last "
        "renewal: a live run renews it every third of this; a killed run's key is free again "
        "within it",
    )
    lookup_limit: int = Field(
        10, ge=1, description="Results lookups one client may make per lookup window"
    )
    lookup_window_s: int = Field(600, ge=1)
    lookup_secret: SecretStr | None = Field(
        None,
        description="Key of the lookup's client hashes; unset: generated into "
        "out_dir/secrets/lookup.key",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies in front of `rcoi web` whose "
        "X-Forwarded-For (and -Proto) is believed, as a JSON list; empty: none, the client is "
        "the connection's address",
    )

    @field_validator("topics_key")
    @classmethod
    def _topics_key_format(cls, value: SecretStr | None) -> SecretStr | None:
        """A malformed key fails at start-up, not at 09:45; the message never echoes it."""
        if value is None:
            return value
        try:
            raw = base64.urlsafe_b64decode(value.get_secret_value().strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("RCOI_TOPICS_KEY must be 32 bytes in URL-safe base64 (44 characters)")
        return value

    @field_validator("alerts_token", mode="before")
    @classmethod
    def _alerts_token_strong(cls, value: object) -> object:
        """Empty means unset (the endpoint stays off); a short or placeholder token fails at
        start-up rather than letting anyone who guesses it mail the coordinator."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is None or (isinstance(text, str) and not text.strip()):
            return None
        if not isinstance(text, str) or len(text.strip()) < 32 or "CHANGE-ME" in text:
            raise ValueError("RCOI_ALERTS_TOKEN must be a random secret of 32 characters or more")
        return text.strip()

    @model_validator(mode="after")
    def _smtp_secret_present(self) -> Settings:
        """A missing secret fails at start-up, not at the first message."""
        if self.smtp_host and self.smtp_username and self.smtp_password is None:
            raise ValueError("RCOI_SMTP_USERNAME is set but RCOI_SMTP_PASSWORD is missing")
        return self

    @model_validator(mode="after")
    def _sftp_complete(self) -> Settings:
        """An SFTP target without a user, a key or a pinned host key fails at start-up."""
        if self.federal_sftp_host:
            missing = [
                name
                for name, value in (
                    ("RCOI_FEDERAL_SFTP_USERNAME", self.federal_sftp_username),
                    ("RCOI_FEDERAL_SFTP_KEY_PATH", self.federal_sftp_key_path),
                    ("RCOI_FEDERAL_SFTP_KNOWN_HOSTS", self.federal_sftp_known_hosts),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"RCOI_FEDERAL_SFTP_HOST is set but {', '.join(missing)} not")
        return self

    def federal_drop_dir(self) -> Path:
        return self.out_dir / "federal"

    def outbox_dir(self) -> Path:
        return self.out_dir / "outbox"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.out_dir / 'rcoi.sqlite').resolve()}"
