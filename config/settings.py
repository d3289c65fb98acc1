"""The one typed settings object. Values come from RCOI_* environment variables or `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.out_dir / 'rcoi.sqlite').resolve()}"
