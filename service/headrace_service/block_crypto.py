"""The key that encrypts the secret fields of blocks at rest, and its rotation.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`). The keys come from
HEADRACE_BLOCK_ENCRYPTION_KEYS, or from a file in HEADRACE_HOME that the first start writes
(mode 0600). Several keys form a MultiFernet: the first encrypts, each decrypts; on start, a
server given more than one key re-encrypts every stored secret with the first, after which the
old key may be dropped.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from headrace_service.errors import ConflictError, StartupError
from headrace_service.settings import ServerSettings

KEY_FILE = "block-encryption.key"

log = logging.getLogger("headrace.server")


class BlockCipher:
    """Encrypts and decrypts the secret values of block documents."""

    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernets = [Fernet(key.encode()) for key in keys]
        except ValueError:
            raise StartupError(
                "a block encryption key is not a Fernet key (32 url-safe base64-encoded bytes; "
                'make one with `python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`)'
            ) from None
        self._multi = MultiFernet(self._fernets)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    @property
    def rotating(self) -> bool:
        """More than one key: stored secrets should be re-encrypted with the first."""
        return len(self._fernets) > 1

    def encrypt(self, data: dict[str, Any]) -> bytes:
        return self._multi.encrypt(json.dumps(data, separators=(",", ":")).encode())

    def decrypt(self, token: bytes) -> dict[str, Any]:
        try:
            clear: dict[str, Any] = json.loads(self._multi.decrypt(token))
        except InvalidToken:
            raise UnreadableSecret(
                "a block's secrets were encrypted with a key this server does not have "
                "(see HEADRACE_BLOCK_ENCRYPTION_KEYS in docs/blocks.md)"
            ) from None
        return clear

    def rotate(self, token: bytes) -> bytes:
        return self._multi.rotate(token)


class UnreadableSecret(ConflictError):
    """A stored secret that none of the server's keys decrypts."""


def load_cipher(settings: ServerSettings) -> BlockCipher:
    """The cipher of the configured keys, or of the key file (written on first start)."""
    if settings.block_encryption_keys is not None:
        keys = [k.strip() for k in settings.block_encryption_keys.get_secret_value().split(",")]
        return BlockCipher([k for k in keys if k])
    return BlockCipher([_key_from_file(settings.home_path() / KEY_FILE)])


def _key_from_file(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = BlockCipher.generate_key()
    # O_EXCL: two servers starting at once on one home do not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    # A warning, seen once at the first start even on a quiet console: without this file (or
    # HEADRACE_BLOCK_ENCRYPTION_KEYS), stored secrets cannot be read.
    log.warning("generated the block encryption key in %s: back it up with the database", path)
    return key
