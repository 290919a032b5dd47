"""`/code_bundles`: deployments' code as tar.gz, stored by sha256 (raw bytes, not JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headrace.client.transport import segment

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

MEDIA_TYPE = "application/gzip"


def path(sha256: str) -> str:
    return f"/code_bundles/{segment(sha256)}"


def upload(client: HeadraceClient, sha256: str, data: bytes) -> None:
    """Store a bundle (harmless when it is already stored)."""
    client.request("PUT", path(sha256), content=data, headers={"content-type": MEDIA_TYPE})


def download(client: HeadraceClient, sha256: str) -> bytes:
    """The bundle's bytes; `NotFound` when it is not stored."""
    return client.request("GET", path(sha256)).content
