"""Settings of a worker process: `HEADRACE_WORKER_*` environment variables.

The heartbeat interval and lease length are the server's (it answers them at registration), so
every worker of a deployment agrees with the reaper.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from headrace_worker.launchers import default_start_method


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEADRACE_WORKER_", extra="ignore")

    shutdown_grace_seconds: float = Field(
        default=30.0,
        description="On SIGINT/SIGTERM, how long running runs may finish before they are "
        "cancelled.",
    )
    cancel_grace_seconds: float = Field(
        default=10.0,
        description="After SIGTERM to a run's process group, how long before SIGKILL.",
    )
    claim_wait_seconds: float = Field(
        default=10.0, description="Long-poll time of one claim request when nothing is due."
    )
    connect_max_backoff_seconds: float = Field(
        default=5.0, description="Longest pause between attempts to reach an absent API."
    )
    start_method: Literal["fork", "spawn"] | None = Field(
        default=None,
        description="How a process pool's worker starts a run's flow process: `fork` from a "
        "ready interpreter with headrace already imported (milliseconds; the default on Linux) "
        "or `spawn` a new interpreter per run (the default elsewhere). See docs/workers.md.",
    )
    preload: str = Field(
        default="",
        max_length=4096,
        description="Modules the ready interpreter imports once, before it forks runs "
        "(comma-separated, e.g. `pandas,numpy`): every run then starts with them imported. "
        "Only with the fork start method; a change to them needs a worker restart.",
    )

    def resolved_start_method(self) -> str:
        """`start_method`, or this platform's default."""
        return self.start_method or default_start_method()

    def preload_modules(self) -> list[str]:
        return [name.strip() for name in self.preload.split(",") if name.strip()]
