"""Prefect 3's module paths and the names scripts import from them, under `headrace`: a script
whose imports are rewritten from `prefect` to `headrace` finds every one of them."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from typing import Any

import pytest

from headrace import flow
from headrace.exceptions import NotOffered

CLI = [sys.executable, "-m", "headrace.cli.main"]

# module -> names a Prefect script imports from it (each checked once against Prefect 3.9).
PATHS = {
    "headrace": [
        "flow", "task", "Flow", "Task", "State", "get_run_logger", "tags", "unmapped",
        "allow_failure", "serve", "runtime", "PrefectFuture", "pause_flow_run",
        "resume_flow_run", "suspend_flow_run",
    ],
    "headrace.flows": ["flow", "Flow"],
    "headrace.tasks": ["task", "Task", "exponential_backoff", "task_input_hash"],
    "headrace.futures": [
        "PrefectFuture", "PrefectFutureList", "PrefectDistributedFuture", "wait",
        "as_completed", "HeadraceFuture",
    ],
    "headrace.states": [
        "State", "StateType", "Completed", "Failed", "Cancelled", "Crashed", "Pending",
        "Running", "Scheduled", "Paused", "Late", "AwaitingRetry", "Retrying", "Suspended",
    ],
    "headrace.context": ["get_run_context", "FlowRunContext", "TaskRunContext"],
    "headrace.runtime": ["flow_run", "task_run", "deployment"],
    "headrace.logging": ["get_run_logger", "get_logger", "disable_run_logger"],
    "headrace.task_runners": [
        "ThreadPoolTaskRunner", "ProcessPoolTaskRunner", "ConcurrentTaskRunner", "TaskRunner",
    ],
    "headrace.exceptions": [
        "PrefectException", "FailedRun", "CrashedRun", "CancelledRun", "UnfinishedRun",
        "MissingResult", "MissingContextError", "UpstreamTaskError", "ParameterTypeError",
        "ObjectNotFound", "FlowRunWaitTimeout", "Abort",
    ],
    "headrace.deployments": ["run_deployment", "arun_deployment"],
    "headrace.flow_runs": [
        "wait_for_flow_run", "pause_flow_run", "suspend_flow_run", "resume_flow_run",
    ],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PATHS))
def test_every_prefect_name_is_importable_from_the_same_path(module: str) -> None:
    loaded = importlib.import_module(module)
    missing = [name for name in PATHS[module] if not hasattr(loaded, name)]
    assert missing == []


def test_prefect_named_aliases_are_headrace_own_classes() -> None:
    from headrace.exceptions import ObjectNotFound, PrefectException, UpstreamTaskError
    from headrace.futures import HeadraceFuture, PrefectFuture

    assert PrefectFuture is HeadraceFuture
    assert issubclass(UpstreamTaskError, PrefectException)
    assert issubclass(ObjectNotFound, PrefectException)


def test_import_headrace_stays_lazy() -> None:
    script = (
        "import sys, headrace\n"
        "from headrace import runtime\n"
        "print(sorted(m for m in ('httpx', 'pydantic') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_distributed_runners_import_from_both_paths_and_load_no_engine_before_use() -> None:
    script = (
        "import sys, headrace.task_runners as r\n"
        "print(sorted(m for m in ('dask', 'distributed', 'ray') if m in sys.modules))\n"
        "from headrace.task_runners.dask import DaskTaskRunner\n"
        "from headrace.task_runners.ray import RayTaskRunner\n"
        "print(r.DaskTaskRunner is DaskTaskRunner, r.RayTaskRunner is RayTaskRunner)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True True"]


def test_outside_a_run_get_run_logger_says_so_unless_disabled() -> None:
    from headrace.exceptions import MissingContextError
    from headrace.logging import disable_run_logger, get_run_logger

    with pytest.raises(MissingContextError, match="only inside a flow or task run"):
        get_run_logger()
    with disable_run_logger():
        get_run_logger().info("goes nowhere")


def test_deploy_options_that_build_images_fail_in_one_line_before_any_request() -> None:
    @flow
    def shipped() -> None: ...

    with pytest.raises(NotOffered) as caught:
        shipped.deploy("daily", "pool", image="registry/etl:1", push=False)  # type: ignore[call-arg]
    assert str(caught.value) == (
        "shipped.deploy(image=...) is a Prefect feature headrace does not offer: "
        "see docs/migrating-from-prefect.md#docker-and-kubernetes"
    )
    with pytest.raises(TypeError, match="unknown options: colour"):
        shipped.deploy("daily", "pool", colour="red")  # type: ignore[call-arg]


def test_a_push_work_pool_fails_in_one_line_naming_the_docs(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_API_URL="http://127.0.0.1:9", HEADRACE_HOME=str(tmp_path))
    done = subprocess.run(
        [*CLI, "work-pool", "create", "cloudy", "--type", "ecs:push"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: work pool type 'ecs:push' is a Prefect Cloud feature headrace does not offer: "
        "see docs/migrating-from-prefect.md#not-supported"
    ]


def test_prefect_get_client_fails_in_one_line() -> None:
    from headrace import get_client

    with pytest.raises(NotOffered, match=r"migrating-from-prefect.md#the-api-client$"):
        get_client()


def test_every_docs_section_an_error_names_exists() -> None:
    import re
    from pathlib import Path

    from headrace import not_offered

    page = Path(__file__).resolve().parents[2] / not_offered.DOCS
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in page.read_text().splitlines()
        if line.startswith("#")
    }
    named = {
        *not_offered.FLOW_KEYWORDS.values(),
        *not_offered.TASK_KEYWORDS.values(),
        *not_offered.DEPLOY_KEYWORDS.values(),
        "pause-and-resume",
        "the-api-client",
        "deployments-from-code",
    }
    assert named - anchors == set()


def test_a_prefect_notification_block_fails_at_import_in_one_line() -> None:
    import subprocess
    import sys

    script = "from headrace.blocks.notifications import SlackWebhook\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "headrace.exceptions.NotOffered: headrace.blocks.notifications.SlackWebhook is a Prefect "
        "feature headrace does not offer: see docs/migrating-from-prefect.md#not-supported"
    )
