"""Cached task results, stored in Postgres so a cache hit works across processes and hosts."""

from __future__ import annotations

import base64
import re

from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.results import MAX_KEY, MAX_RESULT_BYTES, Result, ResultStored, ResultWrite
from headrace_service.api.deps import db, to_model
from headrace_service.api.routing import Router, read_json, validate
from headrace_service.errors import InvalidInput, NotFoundError, PayloadTooLarge
from headrace_service.store import results as store

router = Router("results")

_KEY = re.compile(rf"^[A-Za-z0-9_.:-]{{1,{MAX_KEY}}}$")
# base64 grows data by 4/3; the JSON around it is small.
_MAX_BODY = MAX_RESULT_BYTES * 4 // 3 + 64 * 1024


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise InvalidInput(
            f"path.key: a result key is 1-{MAX_KEY} characters of A-Z a-z 0-9 _ . : -"
        )
    return key


@router.route("PUT", "/results/{key}", scope="worker", response=ResultStored)
async def put_result(request: Request, key: str) -> ResultStored:
    """Store a result (body: ResultWrite, base64 data), replacing the one under the same key."""
    _check_key(key)
    # Results may be larger than other request bodies, so this endpoint reads its own body.
    body = validate(ResultWrite, await read_json(request, _MAX_BODY), "body")
    if len(body.data) > MAX_RESULT_BYTES:
        raise PayloadTooLarge(f"a result is at most {MAX_RESULT_BYTES} bytes")
    async with db(request).begin() as conn:
        row = await store.result_put(conn, key, body.serializer, body.data, body.expires_at)
    return to_model(ResultStored, row)


@router.route("GET", "/results/{key}", response=Result)
async def read_result(request: Request, key: str) -> Result:
    """Read an unexpired result; 404 if there is none."""
    _check_key(key)
    async with db(request).begin() as conn:
        row = await store.result_get_unexpired(conn, key)
    if row is None:
        raise NotFoundError(f"no result stored under {key!r} (or it expired)")
    # Base64Bytes validates base64 text: hand it the stored bytes encoded.
    return Result.model_validate({**row, "data": base64.b64encode(row["data"])})


@router.route("DELETE", "/results/{key}", scope="worker", status=204)
async def delete_result(request: Request, key: str) -> Response:
    """Forget a result."""
    _check_key(key)
    async with db(request).begin() as conn:
        if not await store.result_delete(conn, key):
            raise NotFoundError(f"no result stored under {key!r}")
    return Response(status_code=204)
