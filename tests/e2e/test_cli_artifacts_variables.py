"""`headrace variable` and `headrace artifact` as real processes against a live server."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.test_cli_bad_input import assert_one_line_error, run_cli


def test_variable_commands_round_trip(api_url: str) -> None:
    assert (
        run_cli(
            "variable", "set", "limits", '{"max": 3}', "--tag", "ops", api_url=api_url
        ).returncode
        == 0
    )
    assert run_cli("variable", "set", "greeting", "hello world", api_url=api_url).returncode == 0
    got = run_cli("variable", "get", "greeting", api_url=api_url)
    assert got.stdout.strip() == "hello world"
    got = run_cli("variable", "get", "limits", "--json", api_url=api_url)
    assert json.loads(got.stdout) == {"max": 3}
    listed = json.loads(run_cli("variable", "ls", "--json", api_url=api_url).stdout)
    assert [(v["name"], v["tags"]) for v in listed] == [("greeting", []), ("limits", ["ops"])]
    shown = run_cli("variable", "ls", api_url=api_url)
    assert "greeting" in shown.stdout and "hello world" in shown.stdout, shown.stderr
    shown = run_cli("variable", "inspect", "limits", api_url=api_url)
    assert '"max": 3' in shown.stdout and "ops" in shown.stdout, shown.stderr
    inspected = json.loads(
        run_cli("variable", "inspect", "limits", "--json", api_url=api_url).stdout
    )
    assert inspected["value"] == {"max": 3}
    assert_one_line_error(
        run_cli("variable", "set", "limits", "4", api_url=api_url), "already exists", "--overwrite"
    )
    assert run_cli("variable", "set", "limits", "4", "--overwrite", api_url=api_url).returncode == 0
    assert run_cli("variable", "get", "limits", api_url=api_url).stdout.strip() == "4"
    assert run_cli("variable", "unset", "limits", api_url=api_url).returncode == 0
    assert_one_line_error(
        run_cli("variable", "get", "limits", api_url=api_url), "no variable named 'limits'"
    )
    assert_one_line_error(
        run_cli("variable", "unset", "limits", api_url=api_url), "no variable named"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["variable", "set", "a/b", "1"], "cannot contain '/'"),
        (["variable", "get", ""], "cannot be empty"),
        (["variable", "set", "big", "x" * 6000], "over the limit of 5000"),
        (["artifact", "inspect", "Not A Key"], "lowercase letters, digits and dashes"),
        (["artifact", "delete"], "give either a KEY or --id"),
        (["artifact", "delete", "--id", "nope"], "--id"),
    ],
)
def test_bad_input_is_one_line_exit_2(api_url: str, args: list[str], message: str) -> None:
    assert_one_line_error(run_cli(*args, api_url=api_url), message)


def test_artifact_commands(api_url: str, http: httpx.Client) -> None:
    for text in ("old", "new"):
        http.post("/artifacts", json={"type": "markdown", "data": text, "key": "report"})
    http.post("/artifacts", json={"type": "progress", "data": 40, "key": "load"})
    latest = json.loads(run_cli("artifact", "ls", "--json", api_url=api_url).stdout)
    assert [(a["key"], a["data"]) for a in latest] == [("load", 40), ("report", "new")]
    shown = run_cli("artifact", "ls", api_url=api_url)
    assert "report" in shown.stdout and "progress" in shown.stdout, shown.stderr
    every = json.loads(run_cli("artifact", "ls", "--all", "--json", api_url=api_url).stdout)
    assert len(every) == 3
    history = json.loads(run_cli("artifact", "inspect", "report", "--json", api_url=api_url).stdout)
    assert [a["data"] for a in history] == ["new", "old"]
    shown = run_cli("artifact", "inspect", "report", api_url=api_url)
    assert "new" in shown.stdout and shown.returncode == 0
    assert run_cli("artifact", "delete", "report", api_url=api_url).returncode == 0
    assert_one_line_error(
        run_cli("artifact", "inspect", "report", api_url=api_url), "no artifact with key"
    )
    one = every[-1]["id"] if every[-1]["key"] == "load" else every[0]["id"]
    assert run_cli("artifact", "delete", "--id", one, api_url=api_url).returncode == 0
    assert http.get(f"/artifacts/{one}").status_code == 404
