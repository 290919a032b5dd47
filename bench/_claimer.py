"""A worker reduced to its HTTP calls: claim runs of a pool, move each to RUNNING then COMPLETED.

What `headrace worker start` sends for a run, without starting a flow process, so the
benchmarks that use it measure the queue (API + database), not Python process start-up.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx


@dataclass
class HttpClaimer:
    client: httpx.AsyncClient
    pool: str
    worker_id: str
    limit: int = 1

    @classmethod
    async def register(
        cls, client: httpx.AsyncClient, pool: str, name: str, limit: int = 1
    ) -> HttpClaimer:
        """A worker registered in `pool` by its first heartbeat, as a real worker does."""
        response = await client.post(f"/work_pools/{pool}/workers/heartbeat", json={"name": name})
        response.raise_for_status()
        return cls(client, pool, response.json()["worker_id"], limit)

    async def heartbeat(self, name: str) -> None:
        response = await self.client.post(
            f"/work_pools/{self.pool}/workers/heartbeat", json={"name": name}
        )
        response.raise_for_status()

    async def claim(self) -> tuple[float, list[str]]:
        """One claim that answers at once (wait_seconds=0): its latency and the run ids."""
        started = time.perf_counter()
        response = await self.client.post(
            f"/work_pools/{self.pool}/claim",
            json={"worker_id": self.worker_id, "limit": self.limit, "wait_seconds": 0},
        )
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed, [claimed["flow_run"]["id"] for claimed in response.json()]

    async def complete(self, run_id: str) -> None:
        """PENDING -> RUNNING -> COMPLETED, as the lease holder (what a no-op flow sends)."""
        for state in ("RUNNING", "COMPLETED"):
            response = await self.client.post(
                f"/flow_runs/{run_id}/set_state",
                json={"state": {"type": state}, "worker_id": self.worker_id},
            )
            response.raise_for_status()

    async def complete_all(self, run_ids: list[str]) -> None:
        await asyncio.gather(*(self.complete(run_id) for run_id in run_ids))
