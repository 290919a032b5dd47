"""`/health`: whether an API replica answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headrace.errors import ApiError, ApiUnreachable

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

PATH = "/health"


def is_up(client: HeadraceClient) -> bool:
    """Each replica is asked once, quickly; the first to answer is used from then on."""
    try:
        client.request("GET", PATH, retries=len(client.api_urls) - 1, timeout=2.0)
    except (ApiUnreachable, ApiError):
        return False
    return True
