"""Settings of a worker process: `HEADRACE_WORKER_*` environment variables.

The heartbeat interval and lease length are the server's (it answers them at registration), so
every worker of a deployment agrees with the reaper.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
