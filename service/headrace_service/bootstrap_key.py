"""The operator's first admin key, given to the server as HEADRACE_BOOTSTRAP_API_KEY.

Where the server and its workers are started together by a tool (docker compose, a systemd
unit, a Kubernetes manifest), nobody is there to run `headrace server api-key create` and copy
its output; instead, one secret is put in the environment of the server (here) and of the
workers (HEADRACE_API_KEY). Only its hash is stored. Revoking it sticks: a revoked key is not
re-created on the next start, because the row (and its revocation) stay.
"""

from __future__ import annotations

from sqlalchemy import create_engine, pool, text

from headrace_service.auth import KEY_PREFIX, MAX_KEY_LENGTH, hash_key
from headrace_service.db import sqlalchemy_url
from headrace_service.errors import StartupError

BOOTSTRAP_KEY_NAME = "bootstrap"
# A key made by generate_key() is the prefix and 43 characters; anything short is guessable.
MIN_SECRET_LENGTH = 32
HOW_TO_MAKE_ONE = (
    "make one with: python3 -c 'import secrets; print(\"hr_\" + secrets.token_urlsafe(32))'"
)


def check_bootstrap_key(key: str) -> None:
    if not key.startswith(KEY_PREFIX):
        raise StartupError(
            f"HEADRACE_BOOTSTRAP_API_KEY must start with {KEY_PREFIX}; {HOW_TO_MAKE_ONE}"
        )
    if not MIN_SECRET_LENGTH <= len(key) - len(KEY_PREFIX) <= MAX_KEY_LENGTH - len(KEY_PREFIX):
        raise StartupError(
            f"HEADRACE_BOOTSTRAP_API_KEY must have {MIN_SECRET_LENGTH} to "
            f"{MAX_KEY_LENGTH - len(KEY_PREFIX)} characters after {KEY_PREFIX}; {HOW_TO_MAKE_ONE}"
        )


def register_bootstrap_key(database_url: str, key: str) -> None:
    """Store the key as an admin key unless it is stored already (in any state)."""
    check_bootstrap_key(key)
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO api_key (name, scope, key_hash) VALUES (:name, 'admin', :hash) "
                    "ON CONFLICT (key_hash) DO NOTHING"
                ),
                {"name": BOOTSTRAP_KEY_NAME, "hash": hash_key(key)},
            )
    finally:
        engine.dispose()
