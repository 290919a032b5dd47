"""Prefect's notification blocks (`SlackWebhook`, `MicrosoftTeamsWebhook`, ...) are not offered:
importing any name from here fails at once with one line that points to the migration guide."""

from __future__ import annotations

from typing import NoReturn

from headrace.not_offered import not_offered


def __getattr__(name: str) -> NoReturn:
    if name.startswith("__"):  # the import system's own questions (`__path__`, ...)
        raise AttributeError(name)
    raise not_offered(f"headrace.blocks.notifications.{name}", "not-supported")
