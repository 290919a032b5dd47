"""Settings of the API server process: `HEADRACE_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from headrace.schemas.limits import MAX_BODY_BYTES
from headrace.settings import DEFAULT_BUNDLE_MAX_UNPACKED_BYTES

# `HEADRACE_LOG_LEVEL=WARNING` is as good as `warning`: Python's own level names are upper case.
LogLevel = Annotated[
    Literal["debug", "info", "warning", "error", "critical"],
    BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value),
]


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEADRACE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host:5432/db). Unset: an embedded "
        "PostgreSQL is started in $HEADRACE_HOME/postgres.",
    )
    home: Path = Field(default=Path("~/.headrace"), description="Folder for the embedded database.")
    host: str = Field(default="127.0.0.1", description="Address the API binds to.")
    port: int = Field(default=4200, ge=0, le=65535, description="Port the API listens on.")
    tls_cert_file: Path | None = Field(
        default=None,
        description="Serve https with this certificate (PEM; the chain after the server's own "
        "certificate). Needs tls_key_file. Unset: plain http (put a TLS proxy in front).",
    )
    tls_key_file: Path | None = Field(
        default=None, description="The private key (PEM) of tls_cert_file."
    )
    database_wait_seconds: float = Field(
        default=0.0,
        description="On start, how long to keep retrying an unreachable HEADRACE_DATABASE_URL "
        "before giving up; 0 fails at once. Set it where the database may start after the "
        "server (docker compose, systemd).",
    )
    db_pool_size: int = Field(default=10, description="Connections in the API's database pool.")
    db_lease_pool_size: int = Field(
        default=2,
        ge=1,
        description="Connections kept apart for workers' heartbeats (lease renewals), so that "
        "requests exhausting the main pool never let a healthy run's lease expire.",
    )
    db_read_pool_size: int = Field(
        default=3,
        ge=1,
        description="Connections kept apart for single-statement reads (a flow run, the runs "
        "list), so that a read never waits behind writes, such as flows logging at full speed, "
        "for a connection.",
    )
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
        description="Wake waiting claims and live pages with LISTEN/NOTIFY. Off (or behind a "
        "transaction-mode pooler with no listen_database_url), they fall back to polling every "
        "claim_fallback_poll_seconds.",
    )
    database_pooler: Literal["none", "session", "transaction"] = Field(
        default="none",
        description="What HEADRACE_DATABASE_URL connects through: `none` (Postgres itself), or "
        "a PgBouncer in `session` or `transaction` pool mode. Behind either, the server sends "
        "no `options` startup parameter (PgBouncer refuses it); `transaction` also turns off "
        "prepared statements and, unless listen_database_url is set, LISTEN/NOTIFY.",
    )
    listen_database_url: str | None = Field(
        default=None,
        description="A separate PostgreSQL URL for the one LISTEN connection of each API "
        "process: Postgres itself or a session-mode pooler, when HEADRACE_DATABASE_URL goes "
        "through a transaction-mode pooler. Unset: HEADRACE_DATABASE_URL.",
    )
    auth_enabled: bool = Field(
        default=False,
        description="Require an API key (Authorization: Bearer) on every endpoint but health. "
        "Off, the server only starts on a loopback address unless insecure_no_auth is set.",
    )
    bootstrap_api_key: SecretStr | None = Field(
        default=None,
        description="An admin API key (hr_ + 32 or more characters) registered on start, for "
        "deployments that start the server and its workers together (docker compose): give "
        "the workers the same value as HEADRACE_API_KEY. Only its hash is stored; revoking "
        "it sticks.",
    )
    block_encryption_keys: SecretStr | None = Field(
        default=None,
        description="Fernet keys that encrypt the secret fields of blocks, comma-separated: the "
        "first encrypts, every one decrypts (rotation: put a new key first, restart, drop the "
        "old one; docs/blocks.md). Unset: $HEADRACE_HOME/block-encryption.key, generated on "
        "first start. Every replica of a server must use the same keys.",
    )
    global_concurrency_default_limit: int | None = Field(
        default=None,
        ge=0,
        description="When set, `concurrency(name)` and `rate_limit(name)` on a name that has no "
        "global concurrency limit create one with this many slots (per-key limits such as "
        "f'customer-{id}'). Unset: such names are not limited (strict=True fails instead).",
    )
    insecure_no_auth: bool = Field(
        default=False,
        description="Allow starting without auth on a non-loopback address (anyone who reaches "
        "the port controls the server).",
    )
    # --- Browsers and cross-site requests (request_guard.py; docs/security.md) ---
    allowed_hosts: str | None = Field(
        default=None,
        description="Comma-separated host names and addresses (no port) the server answers "
        "to, checked against each request's Host header (421 otherwise): this defeats DNS "
        "rebinding. `*` answers to any. Unset: localhost, 127.0.0.1, ::1 and HEADRACE_HOST "
        "when HEADRACE_HOST is a loopback address; any host otherwise (such a server needs an "
        "API key unless started with --insecure-no-auth).",
    )
    allowed_origins: str = Field(
        default="",
        description="Comma-separated origins (https://ops.example.com) whose pages may send "
        "requests that change something (POST, PUT, PATCH, DELETE), besides the server's own "
        "pages; a page of any other origin gets 403. Needed behind a proxy that rewrites the "
        "Host header: list the address people open the dashboard at.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Comma-separated addresses (or `*`) of the reverse proxies whose "
        "X-Forwarded-Proto and X-Forwarded-For headers are believed (uvicorn's "
        "forwarded_allow_ips): behind a TLS-terminating proxy on another host, list it so the "
        "login cookie is marked Secure.",
    )
    # --- end of browsers and cross-site requests ---
    scheduler_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often the scheduler materialises upcoming runs."
    )
    scheduler_min_runs: int = Field(
        default=3,
        ge=1,
        description="The scheduler keeps at least this many upcoming runs per schedule.",
    )
    scheduler_min_time_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="The scheduler keeps runs made at least this far ahead (seconds).",
    )
    scheduler_max_runs: int = Field(
        default=100,
        ge=1,
        description="The scheduler makes at most this many upcoming runs per schedule.",
    )
    scheduler_max_time_seconds: float = Field(
        default=100 * 86400.0,
        gt=0,
        description="The scheduler makes no run further ahead than this (seconds).",
    )
    scheduler_max_runs_per_pass: int = Field(
        default=5000,
        ge=1,
        description="Runs one scheduler pass creates at most, soonest first; the next pass "
        "continues (bounds a pass when thousands of schedules are added at once).",
    )
    late_after_seconds: float = Field(
        default=15.0, ge=0, description="A waiting run this long past its start time is Late."
    )
    late_runs_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often waiting runs are checked for lateness."
    )
    pause_expiry_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often paused runs are checked for a pause that timed out (a Suspended "
        "run not resumed in time ends Failed).",
    )
    retention_runs_days: int | None = Field(
        default=None,
        ge=1,
        description="Days a finished (terminal) flow run is kept after its end, with its task "
        "runs, states and logs; unset keeps runs forever. Waiting or running runs are never "
        "deleted.",
    )
    retention_logs_days: int | None = Field(
        default=30,
        ge=1,
        description="Days a log line is kept after its timestamp; unset keeps logs forever.",
    )
    retention_events_days: int | None = Field(
        default=7,
        ge=1,
        description="Days an event is kept after the server received it; unset keeps events "
        "forever.",
    )
    events_relay_interval_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How often flow run state changes waiting in the outbox become events.",
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the retention loop deletes expired rows."
    )
    retention_batch_size: int = Field(
        default=1000,
        ge=1,
        description="Rows one retention DELETE removes at most (short transactions, short "
        "locks); a pass repeats batches up to a bound and the next pass continues.",
    )
    max_body_bytes: int = Field(
        default=MAX_BODY_BYTES,
        description="Largest request body accepted. Clients size log batches under the "
        "default; with a smaller cap they split the batches the API refuses.",
    )
    max_bundle_bytes: int = Field(
        default=50 * 1024 * 1024, description="Largest uploaded code bundle (tar.gz) accepted."
    )
    bundle_max_unpacked_bytes: int = Field(
        default=DEFAULT_BUNDLE_MAX_UNPACKED_BYTES,
        ge=1,
        description="Most bytes an uploaded code bundle may unpack to; a larger one is refused "
        "(413). Workers read the same variable and stop unpacking there.",
    )
    log_level: LogLevel = Field(
        default="info",
        description="Log level of the server's own logs: `debug`, `info`, `warning`, `error` or "
        "`critical`. At `info` the console shows the start line, warnings, errors and one line "
        "per failed request; `debug` adds a line per request and per background-loop pass.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Format of the server's own logs (on stderr): `text`, or `json` for one "
        "JSON object per line (timestamp, level, logger, message, request_id).",
    )

    def home_path(self) -> Path:
        return self.home.expanduser()

    def listen_url(self, database_url: str) -> str | None:
        """The URL of the LISTEN connection; None when notifications are off, or would go
        through a transaction-mode pooler (a LISTEN there is lost with its transaction)."""
        if not self.listen_notify:
            return None
        if self.listen_database_url:
            return self.listen_database_url
        return None if self.database_pooler == "transaction" else database_url
