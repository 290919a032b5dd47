"""`headrace work-pool ls` answered by the quick command: the same characters as the typed
command, on a pipe and on a terminal, the same errors, and none of the typed command's imports.

`HEADRACE_CLIENT_RETRIES` is a setting the quick command does not read: with it set, the typed
command answers, which gives the output to compare with.
"""

from __future__ import annotations

import os
import subprocess

import httpx

from tests.cli_probe import imported_by, under
from tests.conftest import headrace_command
from tests.terminal import on_a_terminal

TYPED = {"HEADRACE_CLIENT_RETRIES": "1"}


def run(api_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*headrace_command(), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HEADRACE_API_URL": api_url, **env},
        timeout=60,
    )


def terminal_ls(api_url: str, **env: str) -> bytes:
    variables = {**os.environ, "HEADRACE_API_URL": api_url, **env}
    return on_a_terminal([*headrace_command(), "work-pool", "ls"], variables)


def test_work_pool_ls_prints_what_the_typed_command_prints(
    api_url: str, http: httpx.Client
) -> None:
    http.post("/work_pools", json={"name": "nightly", "concurrency_limit": 4})
    http.post("/work_pools", json={"name": "adhoc"})
    http.patch("/work_pools/adhoc", json={"paused": True})
    quick = run(api_url, "work-pool", "ls")
    assert quick.returncode == 0, quick.stderr
    assert quick.stdout == (
        "┏━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┓\n"
        "┃ Name    ┃ Type    ┃ Concurrency ┃ Paused ┃ Workers online ┃ Runs waiting ┃\n"
        "┡━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━┩\n"
        "│ adhoc   │ process │ unlimited   │ yes    │ 0              │ 0            │\n"
        "│ nightly │ process │ 4           │ no     │ 0              │ 0            │\n"
        "└─────────┴─────────┴─────────────┴────────┴────────────────┴──────────────┘\n"
    )
    assert quick.stdout == run(api_url, "work-pool", "ls", **TYPED).stdout
    terminal = terminal_ls(api_url)
    assert b"\x1b[1mName   \x1b[0m" in terminal  # the header in bold, as rich writes it
    assert terminal == terminal_ls(api_url, **TYPED)


def test_what_the_quick_command_cannot_draw_the_typed_one_does(
    api_url: str, http: httpx.Client
) -> None:
    http.post("/work_pools", json={"name": "[bold]odd"})  # rich markup: rich's to print
    listed = run(api_url, "work-pool", "ls")
    assert (
        listed.returncode == 0 and listed.stdout == run(api_url, "work-pool", "ls", **TYPED).stdout
    )
    assert "odd" in listed.stdout and "[bold]" not in listed.stdout


def test_errors_are_the_typed_commands(api_url: str) -> None:
    for url in ("http://127.0.0.1:9/api", api_url + "/nowhere"):
        quick = run(url, "work-pool", "ls")
        typed = run(url, "work-pool", "ls", **TYPED)
        assert quick.returncode == typed.returncode == 2
        assert quick.stderr == typed.stderr and quick.stderr.count("\n") == 1
    assert (
        "cannot reach the headrace API at http://127.0.0.1:9/api"
        in run("http://127.0.0.1:9/api", "work-pool", "ls").stderr
    )
    bad = run(api_url, "work-pool", "ls", HEADRACE_ALLOW_INSECURE_HTTP="maybe")
    assert bad.returncode == 2 and bad.stderr.startswith(
        "error: invalid HEADRACE_ALLOW_INSECURE_HTTP"
    )


def test_the_quick_command_imports_none_of_the_typed_commands_libraries(api_url: str) -> None:
    printed, modules = imported_by(["work-pool", "ls"], {**os.environ, "HEADRACE_API_URL": api_url})
    assert "Workers online" in printed  # the table itself was printed
    assert under(modules, "typer", "click", "rich", "httpx", "pydantic", "pydantic_settings") == []


def test_a_replica_that_is_down_is_failed_over_as_by_the_typed_command(
    api_url: str, http: httpx.Client
) -> None:
    http.post("/work_pools", json={"name": "nightly"})
    replicas = f"http://127.0.0.1:9/api,{api_url}"
    listed = run(replicas, "work-pool", "ls")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == run(api_url, "work-pool", "ls").stdout and "nightly" in listed.stdout
