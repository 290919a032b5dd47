"""Persisted results against a real server: `persist_result`, `result_storage` (a folder, a
`file://` or `memory://` URL), `result_serializer` (a name or an object), `result_storage_key`
templates; read back later from the API with `State.result()` and `headrace flow-run inspect`."""

from __future__ import annotations

import asyncio
import json
import pickle
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from headrace import flow, task
from headrace.client import HeadraceClient
from headrace.client import flow_runs as flow_runs_api
from headrace.schemas.task_runs import TaskRunDetail
from tests.conftest import headrace_command


def task_run(client: HeadraceClient, flow_name: str, name: str) -> TaskRunDetail:
    run = client.get_json("/flow_runs", params={"flow_name": flow_name})["items"][0]
    found = next(
        t for t in client.get_json(f"/flow_runs/{run['id']}/task_runs") if t["name"] == name
    )
    return TaskRunDetail.model_validate(client.get_json(f"/task_runs/{found['id']}"))


def test_a_result_in_a_folder_under_a_templated_key_is_cached_and_readable_later(
    client: HeadraceClient, tmp_path: Path
) -> None:
    calls: list[int] = []

    @task(result_storage=str(tmp_path), result_storage_key="squares/{parameters[x]}.json")
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    @flow
    def stored_squares() -> list[int]:
        return [square(3), square(3), square(4)]

    assert stored_squares() == [9, 9, 16]
    assert calls == [3, 4]  # the templated key is the cache key, as in Prefect 3
    envelope = json.loads((tmp_path / "squares" / "3.json").read_text())
    assert envelope["metadata"]["serializer"] == {"type": "json"}  # Prefect 3's layout
    cached = task_run(client, "stored-squares", "square-1")
    assert cached.state_name == "Cached"
    assert cached.states[-1].data == {
        "result_key": "squares/3.json",
        "serializer": "json",
        "result_storage": tmp_path.resolve().as_posix(),
    }
    # Later, from the API alone: the state points to the file.
    assert task_run(client, "stored-squares", "square-2").states[-1].result() == 16


class Reversed:
    """A serializer of a user's: any object with dumps and loads."""

    type = "reversed-json"

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value).encode()[::-1]

    def loads(self, data: bytes) -> Any:
        return json.loads(data[::-1])


def test_memory_url_pickle_and_a_serializer_object_in_an_async_flow(
    client: HeadraceClient,
) -> None:
    bucket = f"memory://results-{uuid.uuid4().hex}"

    @task(result_storage=bucket, result_serializer="pickle", result_storage_key="{flow_run.id}")
    async def as_set(values: list[int]) -> set[int]:
        await asyncio.sleep(0)
        return set(values)

    @task(persist_result=True, result_serializer=Reversed())
    async def as_text(value: int) -> str:
        return f"n={value}"

    @flow
    async def async_results() -> tuple[set[int], str]:
        return await as_set([1, 2, 2]), await as_text(5)

    assert asyncio.run(async_results()) == ({1, 2}, "n=5")
    pickled = task_run(client, "async-results", "as_set-0")
    flow_run_id = str(pickled.flow_run_id)
    assert pickled.states[-1].data == {
        "result_key": flow_run_id,
        "serializer": "pickle",
        "result_storage": bucket,
    }
    assert pickled.states[-1].result() == {1, 2}
    custom = task_run(client, "async-results", "as_text-0").states[-1]
    assert custom.data is not None and custom.data["serializer"] == "reversed-json"
    assert custom.result(client=client, serializer=Reversed()) == "n=5"
    with pytest.raises(ValueError, match="reversed-json"):
        custom.result(client=client)


def test_a_flow_result_persisted_in_the_api_or_a_file_url_is_read_back(
    client: HeadraceClient, api_url: str, tmp_path: Path
) -> None:
    @flow(persist_result=True)
    def total(values: list[int]) -> dict[str, int]:
        return {"total": sum(values)}

    @flow(result_storage=f"file://{tmp_path}", result_serializer="pickle")
    def pair() -> tuple[int, int]:
        return (1, 2)

    state = total([1, 2, 3], return_state=True)  # type: ignore[call-arg]
    assert state.is_completed()
    run = client.get_json("/flow_runs", params={"flow_name": "total"})["items"][0]
    detail = flow_runs_api.read(client, run["id"])
    final = detail.states[-1]
    assert final.result(client=client) == {"total": 6}
    with pytest.raises(LookupError, match="pass client="):
        final.result()

    assert pair() == (1, 2)
    pair_run = client.get_json("/flow_runs", params={"flow_name": "pair"})["items"][0]
    stored = flow_runs_api.read(client, pair_run["id"]).states[-1]
    assert stored.result() == (1, 2)  # pickled: a tuple stays a tuple
    key = stored.data["result_key"] if stored.data else ""
    assert pickle.loads(_file_data(tmp_path / key)) == (1, 2)

    shown = subprocess.run(
        [*headrace_command(), "flow-run", "inspect", run["id"]],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HEADRACE_API_URL": api_url, "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert shown.returncode == 0, shown.stderr
    assert "result: {'total': 6}" in shown.stdout


def test_a_bad_template_fails_the_task_naming_what_to_fix(client: HeadraceClient) -> None:
    @task(result_storage_key="{parameters[missing]}")
    def keyed(x: int) -> int:
        return x

    @flow
    def bad_key() -> None:
        keyed(1)

    state = bad_key(return_state=True)  # type: ignore[call-arg]
    assert state.is_failed()
    run = task_run(client, "bad-key", "keyed-0")
    assert run.state_type.value == "FAILED"
    assert "result_storage_key='{parameters[missing]}'" in (run.state_message or "")

    with pytest.raises(ValueError, match="result_serializer must be"):
        task(result_serializer="yaml")(lambda: 1)  # type: ignore[call-overload]


def _file_data(path: Path) -> bytes:
    import base64

    return base64.b64decode(json.loads(path.read_text())["result"])


def test_a_storage_headrace_does_not_offer_is_refused_at_decoration() -> None:
    class LocalFileSystem:  # what a Prefect script passes: a storage block
        basepath = "/tmp"

    with pytest.raises(ValueError, match="storage blocks are not offered"):
        task(result_storage=LocalFileSystem())(lambda: 1)  # type: ignore[call-overload]
    with pytest.raises(ImportError, match="nosuchproto"):
        flow(result_storage="nosuchproto://bucket")(lambda: 1)
    with pytest.raises(ValueError, match="result_storage_key must be a string"):
        task(result_storage_key=3)(lambda: 1)  # type: ignore[call-overload]


def test_the_results_api_takes_a_serializer_name_and_refuses_a_bad_one(
    client: HeadraceClient,
) -> None:
    from headrace.errors import ApiError

    stored = client.request(
        "PUT", "/results/named", json={"serializer": "reversed-json", "data": "e30="}
    )
    assert stored.json()["serializer"] == "reversed-json"
    for bad in ("", "two words", "x" * 201):
        with pytest.raises(ApiError) as refused:
            client.request("PUT", "/results/named", json={"serializer": bad, "data": "e30="})
        assert refused.value.status_code == 422
        assert "serializer" in str(refused.value)
