"""Settings of the API server process: `HEADRACE_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEADRACE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host:5432/db). Unset: an embedded "
        "PostgreSQL is started in $HEADRACE_HOME/postgres.",
    )
    home: Path = Field(default=Path("~/.headrace"), description="Folder for the embedded database.")
    host: str = Field(default="127.0.0.1", description="Address the API binds to.")
    port: int = Field(default=4200, description="Port the API listens on.")
    db_pool_size: int = Field(default=10, description="Connections in the API's database pool.")
    db_pool_timeout_seconds: float = Field(
        default=10.0, description="How long a request waits for a pool connection before a 503."
    )
    lease_seconds: float = Field(default=30.0, description="Lease of a claimed or running run.")
    heartbeat_seconds: float = Field(default=10.0, description="Worker heartbeat interval.")
    reaper_interval_seconds: float = Field(
        default=5.0, description="How often expired leases are swept."
    )
    claim_max_wait_seconds: float = Field(
        default=30.0, description="Upper bound of a claim request's long poll."
    )
    claim_fallback_poll_seconds: float = Field(
        default=2.0, description="Re-poll interval of waiting claims when no NOTIFY arrives."
    )
    listen_notify: bool = Field(
        default=True,
        description="Wake waiting claims and live pages with LISTEN/NOTIFY. Turn off behind a "
        "transaction-mode pooler: they then fall back to polling every "
        "claim_fallback_poll_seconds.",
    )
    max_body_bytes: int = Field(default=1024 * 1024, description="Largest request body accepted.")
    log_level: str = Field(default="info", description="Log level of the server's own logs.")

    def home_path(self) -> Path:
        return self.home.expanduser()
