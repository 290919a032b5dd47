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

from headrace.input import RunInput, send_input

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


class Order(RunInput):
    item: str
    qty: int


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
