"""`send_input` / `receive_input` between a real flow process and a sender, through a real
server; and what the API says about bad or repeated input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from headrace.errors import Conflict
from headrace.input import RunInput, keyset_from_base_key, send_input

pytestmark = pytest.mark.slow

SCRIPT = """
from headrace import flow
from headrace.input import RunInput, receive_input


class Order(RunInput):
    item: str
    qty: int


@flow(name="order-taker")
def order_taker() -> int:
    total = 0
    for order in Order.receive(timeout=30, poll_interval=0.1, with_metadata=True):
        print(f"{order.value.qty} x {order.value.item} from {order.sender}", flush=True)
        total += order.value.qty
        if order.value.qty == 0:
            break
    for word in receive_input(str, timeout=0.5, poll_interval=0.1):
        print(f"note: {word}", flush=True)
    return total


order_taker()
"""


SQUARER = """
import asyncio

from headrace import flow
from headrace.input import RunInput


class Number(RunInput):
    n: int


async def ticker(stop: asyncio.Event) -> int:
    ticks = 0
    while not stop.is_set():
        await asyncio.sleep(0.05)
        ticks += 1
    return ticks


@flow(name="squarer")
async def squarer() -> int:
    stop = asyncio.Event()
    ticks = asyncio.create_task(ticker(stop))
    answered = 0
    # Polls once a second: a wait that blocked the event loop would starve the ticker.
    async for number in Number.receive(timeout=60, poll_interval=1):
        if number.n == 0:
            break
        await number.respond(Number(n=number.n ** 2))
        answered += 1
    stop.set()
    print(f"answered {answered}; the loop ticked {'freely' if await ticks >= 10 else 'too little'}",
          flush=True)
    return answered
"""

ASKER = """
import sys

from headrace import flow
from headrace.input import RunInput


class Number(RunInput):
    n: int


@flow(name="asker")
def asker(squarer: str) -> int:
    Number(n=7).send_to(squarer)
    answer = Number.receive(timeout=60, poll_interval=0.1).next()
    Number(n=0).send_to(squarer)
    print(f"7 squared is {answer.n}", flush=True)
    return answer.n


asker(sys.argv[1])
"""


class Order(RunInput):
    item: str
    qty: int


def test_an_async_flow_receives_with_async_for_and_responds_to_the_sender(
    api_url: str, http: httpx.Client, tmp_path: Path
) -> None:
    squarer, asker = tmp_path / "squarer.py", tmp_path / "asker.py"
    squarer.write_text(SQUARER + "\nasyncio.run(squarer())\n")
    asker.write_text(ASKER)
    receiving = subprocess.Popen(
        [sys.executable, str(squarer)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        run_id = _running(http, "squarer")
        time.sleep(1.5)  # the squarer waits a while with nothing sent yet
        asking = subprocess.run(
            [sys.executable, str(asker), run_id], capture_output=True, text=True, timeout=60
        )
        out, err = receiving.communicate(timeout=60)
    finally:
        if receiving.poll() is None:
            receiving.kill()
    assert asking.returncode == 0, asking.stderr
    assert "7 squared is 49" in asking.stdout
    assert receiving.returncode == 0, err
    assert "answered 1; the loop ticked freely" in out
    # The answer went to the asker's run, signed by the squarer's.
    asker_run = http.get("/flow_runs", params={"flow_name": "asker"}).json()["items"][0]
    answers = http.get(f"/flow_runs/{asker_run['id']}/input").json()
    assert [(a["value"], a["sender"]) for a in answers] == [
        ({"n": 49}, f"headrace.flow-run.{run_id}")
    ]


def test_a_run_input_model_is_saved_and_loaded_by_keyset(api_url: str, http: httpx.Client) -> None:
    run = http.post("/flow_runs", json={"flow_name": "keysets", "state": {"type": "RUNNING"}})
    run_id = run.json()["id"]
    keyset = keyset_from_base_key("ops/approval")  # a key may hold a slash
    Described = Order.with_initial_data(description="What to order", qty=1)
    Described.save(keyset, flow_run_id=run_id)
    schema = http.get(f"/flow_runs/{run_id}/input/ops/approval-schema").json()["value"]
    assert schema["properties"]["qty"]["default"] == 1
    description = http.get(f"/flow_runs/{run_id}/input/ops/approval-description").json()
    assert description["value"] == {"value": "What to order"}
    with pytest.raises(Conflict, match="ops/approval-schema"):
        Described.save(keyset, flow_run_id=run_id)
    # No response yet: the model's defaults, which here lack the required item.
    with pytest.raises(ValueError, match="item"):
        Order.load(keyset, flow_run_id=run_id)
    http.post(
        f"/flow_runs/{run_id}/input",
        json={"key": "ops/approval-response", "value": {"item": "figs", "qty": 4}},
    )
    loaded = Order.load(keyset, flow_run_id=run_id)
    assert (loaded.item, loaded.qty) == ("figs", 4)
    assert loaded.metadata is not None and loaded.metadata.key == "ops/approval-response"
    with pytest.raises(RuntimeError, match="not sent by a flow run"):
        loaded.respond(Order(item="x", qty=1))


def test_a_flow_receives_typed_inputs_in_the_order_they_were_sent(
    api_url: str, http: httpx.Client, tmp_path: Path
) -> None:
    script = tmp_path / "orders.py"
    script.write_text(textwrap.dedent(SCRIPT))
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        run_id = _running(http, "order-taker")
        send_input(Order(item="apples", qty=3), run_id, sender="shop")
        send_input(Order(item="pears", qty=2), run_id)
        send_input("leave at the door", run_id)
        Order(item="stop", qty=0).send_to(run_id, sender="shop")
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    lines = out.strip().splitlines()
    assert lines == [
        "3 x apples from shop",
        "2 x pears from None",
        "0 x stop from shop",
        "note: leave at the door",
    ]
    run = http.get(f"/flow_runs/{run_id}").json()
    assert run["state_type"] == "COMPLETED"
    assert run["states"][-1]["data"]["result"] == 5


def test_bad_and_repeated_inputs_are_refused_naming_the_field(
    api_url: str, http: httpx.Client
) -> None:
    run = http.post("/flow_runs", json={"flow_name": "inbox", "state": {"type": "RUNNING"}})
    run_id = run.json()["id"]
    first = http.post(f"/flow_runs/{run_id}/input", json={"key": "a", "value": {"x": 1}})
    assert first.status_code == 201, first.text
    again = http.post(f"/flow_runs/{run_id}/input", json={"key": "a", "value": {"x": 2}})
    assert again.status_code == 409 and "body.key" in again.text
    bad = http.post(f"/flow_runs/{run_id}/input", json={"key": "", "value": {}})
    assert bad.status_code == 422 and "key" in bad.text
    second = http.post(f"/flow_runs/{run_id}/input", json={"key": "b", "value": {"x": 3}})
    listed = http.get(f"/flow_runs/{run_id}/input", params={"after": first.json()["id"]}).json()
    assert [i["key"] for i in listed] == ["b"] and listed[0]["id"] == second.json()["id"]
    prefixed = http.get(f"/flow_runs/{run_id}/input", params={"key_prefix": "a"}).json()
    assert [i["value"] for i in prefixed] == [{"x": 1}]
    missing = http.get("/flow_runs/00000000-0000-0000-0000-000000000000/input")
    assert missing.status_code == 404


def _running(http: httpx.Client, flow_name: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = http.get("/flow_runs", params={"flow_name": flow_name}).json()["items"]
        if items and items[0]["state_type"] == "RUNNING":
            run_id: str = items[0]["id"]
            return run_id
        time.sleep(0.1)
    raise AssertionError(f"no run of {flow_name} started")
