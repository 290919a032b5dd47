"""`headrace profile ...` and `headrace config ...` as real CLI processes on a temporary home."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "headrace.cli.main"]
KEY = "hr_" + "k" * 40


def headrace(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    environ |= {"HEADRACE_HOME": str(home), **env}
    return subprocess.run(
        [*CLI, *args], env=environ, capture_output=True, text=True, timeout=60, check=False
    )


def ok(home: Path, *args: str, **env: str) -> str:
    done = headrace(home, *args, **env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def settings_view(home: Path, **env: str) -> dict[str, Any]:
    view = json.loads(ok(home, "config", "view", "--json", **env))
    return {s["name"]: (s["value"], s["source"]) for s in view["settings"]} | {
        "profile": view["profile"]
    }


def test_a_profile_value_applies_until_an_environment_variable_overrides_it(
    tmp_path: Path,
) -> None:
    before = settings_view(tmp_path)
    assert before["HEADRACE_API_URL"] == ("http://127.0.0.1:4200/api", "default")
    ok(tmp_path, "profile", "create", "prod")
    ok(tmp_path, "profile", "use", "prod")
    ok(tmp_path, "config", "set", "api_url=http://prod.example:4200/api", f"HEADRACE_API_KEY={KEY}")

    view = settings_view(tmp_path)
    assert view["profile"] == "prod"
    assert view["HEADRACE_API_URL"] == ("http://prod.example:4200/api", "profile")
    value, source = view["HEADRACE_API_KEY"]
    assert source == "profile" and KEY not in value and value.endswith(KEY[-4:])
    assert view["HEADRACE_CLIENT_RETRIES"] == ("3", "default")
    table = ok(tmp_path, "config", "view")
    assert "http://prod.example:4200/api" in table and KEY not in table

    env = settings_view(tmp_path, HEADRACE_API_URL="http://env.example/api")
    assert env["HEADRACE_API_URL"] == ("http://env.example/api", "env")

    # The file holds an API key: owner-only.
    mode = stat.S_IMODE((tmp_path / "profiles.toml").stat().st_mode)
    assert mode == 0o600

    ok(tmp_path, "config", "unset", "api_url")
    assert settings_view(tmp_path)["HEADRACE_API_URL"][1] == "default"
    ok(tmp_path, "profile", "use", "default")
    assert settings_view(tmp_path)["HEADRACE_API_KEY"] == ("", "default")
    assert "prod" in ok(tmp_path, "profile", "ls")
    ok(tmp_path, "profile", "delete", "prod")
    assert "prod" not in ok(tmp_path, "profile", "ls")


def test_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path: Path) -> None:
    for args, message in [
        (("config", "set", "colour=blue"), "unknown setting 'colour'"),
        (("config", "set", "client_retries=many"), "invalid value 'many'"),
        (("config", "set", "api_url"), "expected KEY=VALUE"),
        (("config", "unset", "nope"), "unknown setting 'nope'"),
        (("profile", "use", "missing"), "no profile named 'missing'"),
        (("profile", "create", "bad name"), "invalid profile name"),
        (("profile", "delete", "default"), "is the active one"),
    ]:
        done = headrace(tmp_path, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    ok(tmp_path, "profile", "create", "dup")
    assert headrace(tmp_path, "profile", "create", "dup").returncode == 2

    (tmp_path / "profiles.toml").write_text("active = [broken")
    broken = headrace(tmp_path, "config", "view")
    assert broken.returncode == 2 and "cannot read" in broken.stderr


def test_headrace_profile_selects_the_profile_of_one_command(tmp_path: Path) -> None:
    for name, url in (
        ("prod", "http://prod.example/api"),
        ("staging", "http://staging.example/api"),
    ):
        ok(tmp_path, "profile", "create", name)
        ok(tmp_path, "profile", "use", name)
        ok(tmp_path, "config", "set", f"api_url={url}")
    # `staging` is the active profile; HEADRACE_PROFILE picks another for one command.
    view = settings_view(tmp_path, HEADRACE_PROFILE="prod")
    assert view["profile"] == "prod"
    assert view["HEADRACE_API_URL"] == ("http://prod.example/api", "profile")
    assert view["HEADRACE_PROFILE"] == ("prod", "env")
    assert settings_view(tmp_path)["HEADRACE_API_URL"][0] == "http://staging.example/api"
    listed = ok(tmp_path, "profile", "ls", HEADRACE_PROFILE="prod")
    # Table rows: │ * │ prod │ api_url │
    marked = [line.split()[3] for line in listed.splitlines() if " * " in line]
    assert marked == ["prod"]

    # A command that talks to the API goes where the selected profile says.
    unreachable = headrace(tmp_path, "flow-run", "ls", HEADRACE_PROFILE="prod")
    assert unreachable.returncode == 2 and "prod.example" in unreachable.stderr

    # `config set` writes to the profile in effect; the active one stays as it was.
    ok(tmp_path, "config", "set", "client_retries=7", HEADRACE_PROFILE="prod")
    assert settings_view(tmp_path, HEADRACE_PROFILE="prod")["HEADRACE_CLIENT_RETRIES"][0] == "7"
    assert settings_view(tmp_path)["HEADRACE_CLIENT_RETRIES"] == ("3", "default")
    assert settings_view(tmp_path)["profile"] == "staging"

    # A name that is no profile: one line that says so, exit code 2, for every command.
    for args in (("config", "view"), ("flow-run", "ls"), ("profile", "ls")):
        done = headrace(tmp_path, *args, HEADRACE_PROFILE="prdo")
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("error: HEADRACE_PROFILE names no profile 'prdo'")
        assert len(done.stderr.strip().splitlines()) == 1
    stored = headrace(tmp_path, "config", "set", "profile=prod")
    assert stored.returncode == 2 and "set it in the environment" in stored.stderr


def test_an_empty_headrace_profile_selects_none_and_scripts_follow_the_profile(
    tmp_path: Path,
) -> None:
    ok(tmp_path, "profile", "create", "staging")
    ok(tmp_path, "config", "set", "api_url=http://127.0.0.1:4999/api", HEADRACE_PROFILE="staging")
    # `HEADRACE_PROFILE=${HEADRACE_PROFILE}` of an unset variable in a unit or compose file.
    view = settings_view(tmp_path, HEADRACE_PROFILE="")
    assert view["HEADRACE_API_URL"] == ("http://127.0.0.1:4200/api", "default"), view
    # A flow script run under a profile records to that profile's server (with its key).
    script = "from headrace.ports.backend import current_api_url; print(current_api_url())"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    environ |= {"HEADRACE_HOME": str(tmp_path), "HEADRACE_PROFILE": "staging"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "http://127.0.0.1:4999/api"
