"""The app's state comes from its lifespan: served without it, a request says so."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from headrace_service.app import create_app
from headrace_service.settings import ServerSettings


def test_a_request_without_the_lifespan_names_the_cause() -> None:
    # httpx's ASGI transport does not run the lifespan, so no state reaches the request.
    app = create_app(ServerSettings(), "postgresql://unused@localhost/unused")

    async def get_health() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            await client.get("/api/health")

    with pytest.raises(RuntimeError, match="lifespan did not run"):
        asyncio.run(get_health())
