"""Secret values this process has loaded (from blocks), kept out of the run logs it sends.

`Block.load` remembers the clear value of every secret field it returns; run log lines and
console lines pass through `redact`, which replaces each remembered value with the mask. Values
shorter than `MIN_SECRET_LENGTH` are not remembered: masking "1" or "yes" everywhere would
garble logs and hide nothing.
"""

from __future__ import annotations

import threading

SECRET_MASK = "**********"
MIN_SECRET_LENGTH = 4

_secrets: set[str] = set()
# Longest first, so a secret that contains another is masked whole.
_ordered: tuple[str, ...] = ()
_lock = threading.Lock()


def remember_secret(value: str) -> None:
    global _ordered
    if len(value) < MIN_SECRET_LENGTH or value in _secrets:
        return
    with _lock:
        _secrets.add(value)
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every remembered secret replaced by the mask."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, SECRET_MASK)
    return text
