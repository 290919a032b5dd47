"""Scenario 7: the concurrency slot of a crashed run comes back; the waiting run starts; counts
never go negative nor past the limit; the crashed run's retry waits for the slot instead of
being cancelled. Real workers SIGKILLed (their flow processes die with them), 3 s leases.

Two kinds of limits: those the claim enforces (a pool's, a queue's, a deployment's: a run
counts while PENDING, RUNNING or CANCELLING), and tag limits on tasks (slots the flow process
holds with a lease of their own, renewed by the process)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.faults.conftest import LEASE, crashed, started, wait_for

pytestmark = pytest.mark.slow

ACTIVE = "PENDING,RUNNING,CANCELLING"
SLOT_LEASE = 2.0  # HEADRACE_CONCURRENCY_SLOT_LEASE_SECONDS of the flow processes

TAG = "faults-gpu"  # the module's server is its own: no other test uses the tag
SLOTTED_FLOW = f"""

from headrace import task


@task(tags=["{TAG}"])
def _in_slot(first: float, later: float) -> int:
    return _work(first, later)  # the ledger's start and end are written while the slot is held


@flow(retries=1)
def slotted(first: float, later: float = 0.0) -> int:
    return _in_slot(first, later)
"""


class Sampler:
    """Samples a count in a thread until stopped; keeps every value seen."""

    def __init__(self, count: Callable[[], int]) -> None:
        self.count = count
        self.seen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen.append(self.count())
            self._stop.wait(0.05)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(5)
        return self.seen


@pytest.fixture
def samplers() -> Iterator[Callable[[Callable[[], int]], Sampler]]:
    made: list[Sampler] = []

    def make(count: Callable[[], int]) -> Sampler:
        made.append(Sampler(count))
        return made[-1]

    yield make
    for sampler in made:
        sampler.stop()


def intervals(entries: list[dict[str, Any]], killed_wall: float) -> list[tuple[float, float]]:
    """(start, end) of every execution in the ledger; one that never ended ended at the kill."""
    starts = {(e["run"], e["attempt"]): e["t"] for e in entries if e["event"] == "start"}
    ends = {(e["run"], e["attempt"]): e["t"] for e in entries if e["event"] == "end"}
    return sorted((t, ends.get(key, killed_wall)) for key, t in starts.items())


def never_overlap(spans: list[tuple[float, float]]) -> bool:
    return all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def states(stack: Any, run_id: str) -> list[str]:
    return [s["name"] for s in stack.read(run_id)["states"]]


def limited_pool(stack: Any, kind: str) -> tuple[str, str]:
    """A pool of its own with a limit of 1 at the `kind` level; (pool, deployment)."""
    pool = f"{stack.pool}-{kind}"
    stack.cli(
        "work-pool",
        "create",
        pool,
        "--type",
        "process",
        *(["--concurrency-limit", "1"] if kind == "pool" else []),
    )
    if kind == "queue":
        stack.http.patch(
            f"/work_pools/{pool}/queues/default", json={"concurrency_limit": 1}
        ).raise_for_status()
    limit = ["--concurrency-limit", "1"] if kind == "deployment" else []
    stack.cli("deploy", "flows/jobs.py:twice", "--name", pool, "--pool", pool, *limit)
    return pool, f"twice/{pool}"


def test_07_a_crashed_runs_claim_slot_comes_back_and_its_retry_waits_for_it(
    fault_stack: Any, ledger: Any, samplers: Any
) -> None:
    """Pool, queue and deployment limits side by side (one pool each, in parallel)."""
    stack = fault_stack
    kinds = ["pool", "queue", "deployment"]
    pools = {kind: limited_pool(stack, kind) for kind in kinds}
    doomed = {
        kind: stack.start_worker("--pool", pool, "--name", f"doomed-{kind}")
        for kind, (pool, _) in pools.items()
    }
    first = {kind: stack.run(d, first=600, later=0.5) for kind, (_, d) in pools.items()}
    for run_id in first.values():
        wait_for(lambda r=run_id: started(ledger, stack, r, 1), 30, "the slot holder's start")
    waiting = {kind: stack.run(d, first=1.0) for kind, (_, d) in pools.items()}
    active = {
        kind: samplers(
            lambda p=pool: len(
                stack.http.get(
                    "/flow_runs", params={"work_pool_name": p, "state_type": ACTIVE}
                ).json()["items"]
            )
        )
        for kind, (pool, _) in pools.items()
    }
    for kind, (pool, _) in pools.items():
        stack.start_worker("--pool", pool, "--name", f"survivor-{kind}")
    time.sleep(1.0)  # on purpose: the survivors' claims look at the full slot for a while
    for kind in kinds:
        assert stack.read(waiting[kind])["state_type"] == "SCHEDULED", kind
    for worker in doomed.values():
        worker.kill()
    killed_wall = time.time()
    slot_back = {}
    for kind in kinds:
        entry = wait_for(
            lambda k=kind: started(ledger, stack, waiting[k], 1), LEASE + 10, "the waiting run"
        )
        slot_back[kind] = entry["t"] - killed_wall
    for kind in kinds:
        for run_id in (first[kind], waiting[kind]):
            assert stack.wait_state(run_id, timeout=30)["state_type"] == "COMPLETED", kind
        assert crashed(stack, first[kind])
        retried = states(stack, first[kind])
        # The retry waited its turn (Scheduled) and ran; it was never cancelled.
        assert retried[retried.index("Crashed") :] == [
            "Crashed",
            "AwaitingRetry",
            "Pending",
            "Running",
            "Completed",
        ], (kind, retried)
        assert stack.read(first[kind])["run_count"] == 2
        runs = {first[kind], waiting[kind]}
        spans = intervals([e for e in ledger(stack.folder) if e["run"] in runs], killed_wall)
        assert len(spans) == 3 and never_overlap(spans), (kind, spans)
        seen = active[kind].stop()
        assert seen and max(seen) <= 1 and min(seen) >= 0, (kind, seen)
    figures = ", ".join(f"{kind} {slot_back[kind]:.2f} s" for kind in kinds)
    print(
        f"\n7a: slot of the SIGKILLed run back, waiting run started after: {figures} "
        f"(lease {LEASE:g} s); active runs never above 1; the retry ran after the waiting run"
    )


def test_07_b_a_dead_holders_tag_slot_comes_back_and_the_retry_waits_for_it(
    fault_stack: Any, ledger: Any, samplers: Any
) -> None:
    stack = fault_stack
    with open(stack.folder / "flows" / "jobs.py", "a") as jobs:
        jobs.write(SLOTTED_FLOW)
    tag = TAG
    stack.http.post("/concurrency_limits", json={"tag": tag, "limit": 1}).raise_for_status()
    slots = samplers(lambda: stack.http.get(f"/concurrency_limits/{tag}").json()["active_slots"])
    deployment = stack.deploy("slotted")
    lease = {"HEADRACE_CONCURRENCY_SLOT_LEASE_SECONDS": str(SLOT_LEASE)}
    doomed = stack.start_worker("--pool", stack.pool, "--name", "doomed", "--limit", "1", **lease)
    holder = stack.run(deployment, first=600, later=0.5)
    wait_for(lambda: started(ledger, stack, holder, 1), 30, "the slot holder's task")
    stack.start_worker("--pool", stack.pool, "--name", "survivor", **lease)
    waiter = stack.run(deployment, first=3.0)
    stack.wait_state(waiter, {"RUNNING"})
    doomed.kill()
    killed, killed_wall = time.monotonic(), time.time()
    entry = wait_for(lambda: started(ledger, stack, waiter, 1), SLOT_LEASE + 10, "the waiter")
    slot_back = entry["t"] - killed_wall
    for run_id in (holder, waiter):
        assert stack.wait_state(run_id, timeout=30)["state_type"] == "COMPLETED", run_id
    assert stack.read(holder)["run_count"] == 2 and crashed(stack, holder)
    # The retry's task waited for the slot the waiter held (never cancelled, never run beside).
    task_runs = stack.http.get(f"/flow_runs/{holder}/task_runs").json()
    waited = [
        t
        for t in task_runs
        if "AwaitingConcurrencySlot"
        in [s["name"] for s in stack.http.get(f"/task_runs/{t['id']}").json()["states"]]
    ]
    assert waited, task_runs
    spans = intervals(ledger(stack.folder), killed_wall)
    assert len(spans) == 3 and never_overlap(spans), spans
    seen = slots.stop()
    assert seen and max(seen) <= 1 and min(seen) >= 0, seen
    assert stack.http.get(f"/concurrency_limits/{tag}").json()["active_slots"] == 0
    print(
        f"\n7b: tag slot of the SIGKILLed holder back, waiting task started {slot_back:.2f} s "
        f"after the kill (slot lease {SLOT_LEASE:g} s); active slots never above 1; "
        f"the retry's task waited for the slot ({time.monotonic() - killed:.1f} s in all)"
    )
