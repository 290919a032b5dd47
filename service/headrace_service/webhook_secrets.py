"""Secrets and slugs of inbound webhooks (webhooks.py checks them, api/webhooks.py makes them)."""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> str:
    return "whs_" + secrets.token_urlsafe(32)


def new_slug() -> str:
    return secrets.token_urlsafe(12)


def hash_secret(secret: str) -> str:
    # A random 256-bit secret: a fast hash is enough (no dictionary to try), as for API keys.
    return hashlib.sha256(secret.encode()).hexdigest()
