"""Settings of the SDK, the CLI and the worker: `HEADRACE_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "http://127.0.0.1:4200/api"


class ClientSettings(BaseSettings):
    """How a client (a script, a worker, the CLI) reaches the API."""

    model_config = SettingsConfigDict(env_prefix="HEADRACE_", extra="ignore")

    api_url: str = Field(default=DEFAULT_API_URL, description="Base URL of the API.")
    api_key: str | None = Field(default=None, description="API key sent as a Bearer token.")
    home: Path = Field(
        default=Path("~/.headrace"), description="Folder for the embedded database and caches."
    )
    client_timeout_seconds: float = Field(default=30.0, description="Timeout of one API request.")
    client_retries: int = Field(
        default=3, description="Retries of an API request on connection errors and 5xx/429."
    )
    result_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        description="Largest serialised task result stored for caching (the API caps at 64 MiB).",
    )

    def home_path(self) -> Path:
        return self.home.expanduser()


@lru_cache(maxsize=1)
def client_settings() -> ClientSettings:
    return ClientSettings()
