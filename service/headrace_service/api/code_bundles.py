"""Code bundles: `PUT /api/code_bundles/{sha256}` with the raw tar.gz bytes, `GET` to download.

Content-addressed: the server hashes what it receives and refuses a body whose sha256 is not the
one in the path, so a bundle can never change under a deployment that names it. It also reads
the archive through once, as a worker would unpack it, and refuses what a worker would refuse
(an unsafe path, more than HEADRACE_BUNDLE_MAX_UNPACKED_BYTES unpacked). Bundles are
larger than other request bodies, so this endpoint reads its body itself, under its own cap
(`HEADRACE_MAX_BUNDLE_BYTES`).
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from headrace.bundles import BundleError, BundleTooLarge, check_bundle
from headrace.schemas.code_sources import SHA256_PATTERN, BundleSource, GitSource
from headrace_service.api.deps import db, settings
from headrace_service.api.routing import Router, read_body
from headrace_service.errors import InvalidInput, NotFoundError, PayloadTooLarge
from headrace_service.store import code_bundles as store

router = Router("code_bundles")

_SHA256 = re.compile(SHA256_PATTERN)
MEDIA_TYPE = "application/gzip"


def _check_hash(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise InvalidInput("path.sha256: 64 lowercase hex digits (the sha256 of the bundle)")
    return sha256


@router.route("PUT", "/code_bundles/{sha256}", scope="worker", status=201)
async def put_code_bundle(request: Request, sha256: str) -> Response:
    """Upload a code bundle (body: the raw tar.gz); 201 when new, 200 when already stored."""
    _check_hash(sha256)
    data = await _read_body(request, settings(request).max_bundle_bytes)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise InvalidInput(f"body: its sha256 is {actual}, not the {sha256} in the path")
    await _check_contents(data, settings(request).bundle_max_unpacked_bytes)
    async with db(request).begin() as conn:
        created = await store.bundle_put(conn, sha256, data)
    return Response(status_code=201 if created else 200)


@router.route("GET", "/code_bundles/{sha256}", scope="read")
async def get_code_bundle(request: Request, sha256: str) -> Response:
    """Download a code bundle (the raw tar.gz); HEAD tells whether it is stored."""
    _check_hash(sha256)
    async with db(request).begin() as conn:
        data = await store.bundle_get(conn, sha256)
    if data is None:
        raise NotFoundError(f"no code bundle {sha256}; upload it with `headrace deploy --upload`")
    return Response(data, media_type=MEDIA_TYPE)


async def _check_contents(data: bytes, max_unpacked_bytes: int) -> None:
    """Refuse now what every worker would refuse at run time (not a tar.gz, an unsafe path,
    too large unpacked). Unpacking is CPU work: off the event loop."""
    try:
        await run_in_threadpool(check_bundle, data, max_unpacked_bytes)
    except BundleTooLarge as error:
        raise PayloadTooLarge(f"body: {error}") from None
    except BundleError as error:
        raise InvalidInput(f"body: {error}") from None


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = f"a code bundle is at most {limit} bytes (HEADRACE_MAX_BUNDLE_BYTES)"
    data = await read_body(request, limit, too_large)
    if not data:
        raise InvalidInput("body: the bundle's bytes are required")
    return data


async def check_code_source(conn: AsyncConnection, source: BundleSource | GitSource | None) -> None:
    """A deployment may only name a bundle that is stored (a typo fails now, not at run time)."""
    if isinstance(source, BundleSource) and not await store.bundle_exists(conn, source.sha256):
        raise InvalidInput(
            f"body.source.sha256: no code bundle {source.sha256} is stored; upload it first "
            "(PUT /api/code_bundles/{sha256}, which `headrace deploy --upload` does)"
        )
