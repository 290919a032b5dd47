"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

No Docker runs on the development machine, so these tests check what can be checked here: every
`headrace ...` command in the two files exists in the real CLI with every option it uses, every
HEADRACE_* variable they set is a real setting, the files the image is built from exist and are
not excluded from the build context, and the properties the issue asks for (named volume, health
checks, non-root user, slim base, services that scale).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        instruction, _, rest = stripped.partition(" ")
        pairs.append((instruction.upper(), rest.strip()))
    return pairs


def exec_form(arguments: str) -> list[str]:
    """CMD/ENTRYPOINT in exec form (a JSON array); shell form would swallow signals."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"not in exec form: {arguments}"
    return [str(a) for a in parsed]


def headrace_commands() -> list[tuple[str, list[str]]]:
    """Every `headrace ...` command line in the compose file and the Dockerfile."""
    found = []
    for name, service in services().items():
        if "command" in service:
            found.append((f"compose service {name}", as_argv(service["command"])))
    for instruction, arguments in dockerfile_instructions():
        if instruction in ("CMD", "ENTRYPOINT"):
            found.append((f"Dockerfile {instruction}", exec_form(arguments)))
    return [(where, argv) for where, argv in found if argv and argv[0] == "headrace"]


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """(sub-command path, option names): the leading words, then every --option used."""
    path: list[str] = []
    for word in argv[1:]:
        if word.startswith("-"):
            break
        path.append(word)
    options = [word.split("=", 1)[0] for word in argv[1:] if word.startswith("-")]
    return path, options


@cache
def cli_help(path: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    # Wide and plain, so that rich neither wraps nor truncates option names.
    env.update({"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"})
    return subprocess.run(
        [sys.executable, "-m", "headrace.cli.main", *path, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_files_name_headrace_commands() -> None:
    wheres = {where for where, _ in headrace_commands()}
    assert {"compose service server", "compose service worker", "Dockerfile CMD"} <= wheres


@pytest.mark.parametrize(
    ("where", "argv"), headrace_commands(), ids=[w for w, _ in headrace_commands()]
)
def test_every_headrace_command_exists_with_its_options(where: str, argv: list[str]) -> None:
    path, options = split_command(argv)
    result = cli_help(tuple(path))
    assert result.returncode == 0, f"{where}: `headrace {' '.join(path)} --help` failed:\n" + (
        result.stdout + result.stderr
    )
    for option in options:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout), (
            f"{where}: `headrace {' '.join(path)}` has no option {option}"
        )


def known_setting_variables() -> set[str]:
    """HEADRACE_* variables that some settings class of a process reads."""
    from headrace.settings import ClientSettings
    from headrace_service.settings import ServerSettings
    from headrace_worker.settings import WorkerSettings

    names = set()
    for settings_class in (ServerSettings, ClientSettings, WorkerSettings):
        prefix = str(settings_class.model_config.get("env_prefix", ""))
        names |= {(prefix + field).upper() for field in settings_class.model_fields}
    return names


def test_every_headrace_variable_in_compose_is_a_real_setting() -> None:
    known = known_setting_variables()
    for name, service in services().items():
        for variable in service.get("environment", {}):
            if variable.startswith("HEADRACE_"):
                assert variable in known, f"service {name} sets unknown setting {variable}"


def test_postgres_has_a_named_volume_and_a_health_check() -> None:
    postgres = services()["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose()["volumes"], "the data volume must be a named volume"
    assert "pg_isready" in " ".join(as_argv(postgres["healthcheck"]["test"]))


def test_the_api_waits_for_a_healthy_database_and_uses_it() -> None:
    server = services()["server"]
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = server["environment"]["HEADRACE_DATABASE_URL"]
    assert url.startswith("postgresql://") and "@postgres:5432/" in url
    assert float(server["environment"]["HEADRACE_DATABASE_WAIT_SECONDS"]) > 0
    assert "/api/ready" in " ".join(as_argv(server["healthcheck"]["test"]))


def test_the_api_has_auth_and_the_worker_its_key() -> None:
    server, worker = services()["server"], services()["worker"]
    assert server["environment"]["HEADRACE_AUTH_ENABLED"] == "true"
    # Both come from the same operator-given variable, which compose requires to be set.
    assert server["environment"]["HEADRACE_BOOTSTRAP_API_KEY"].startswith("${HEADRACE_API_KEY:?")
    assert worker["environment"]["HEADRACE_API_KEY"].startswith("${HEADRACE_API_KEY:?")
    assert worker["environment"]["HEADRACE_API_URL"] == "http://server:4200/api"
    # Plain http to a host that is not loopback: refused with a key unless said explicitly.
    assert worker["environment"]["HEADRACE_ALLOW_INSECURE_HTTP"] == "true"
    assert worker["depends_on"]["server"]["condition"] == "service_healthy"


def test_services_scale_out() -> None:
    for name, service in services().items():
        assert "container_name" not in service, f"{name}: a fixed container_name cannot scale"
    ports = services()["server"]["ports"]
    host_side = str(ports[0]).rsplit(":", 1)[0]
    assert re.fullmatch(r"\d+-\d+", host_side), "API replicas need a host port range"
    assert "ports" not in services()["worker"]


def test_the_image_is_multi_stage_slim_and_runs_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    bases = [args for instruction, args in instructions if instruction == "FROM"]
    assert len(bases) == 2 and all(b.startswith("python:3.11-slim") for b in bases)
    final_stage = instructions[
        [i for i, (ins, _) in enumerate(instructions) if ins == "FROM"][-1] :
    ]
    users = [args for instruction, args in final_stage if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    copied = [args for instruction, args in final_stage if instruction == "COPY"]
    assert copied == ["--from=builder /opt/headrace /opt/headrace"], "only the venv is copied"
    final_runs = " ".join(args for instruction, args in final_stage if instruction == "RUN")
    for build_tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert build_tool not in final_runs


def test_the_image_starts_the_readmes_server_command() -> None:
    cmd = next(exec_form(a) for i, a in dockerfile_instructions() if i == "CMD")
    assert cmd[:3] == ["headrace", "server", "start"]
    assert cmd == as_argv(services()["server"]["command"])


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def is_ignored(relative: str) -> bool:
    return any(
        fnmatch.fnmatch(relative, pattern) or relative.startswith(pattern.rstrip("/") + "/")
        for pattern in dockerignore_patterns()
    )


def test_the_builder_copies_what_the_wheel_needs_and_nothing_is_ignored() -> None:
    sources = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "COPY" and not arguments.startswith("--from"):
            sources.extend(arguments.split()[:-1])
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert not is_ignored(source), f"COPY {source}: excluded by .dockerignore"
    # The wheel packages these (pyproject's hatch settings), so the builder must have them.
    for needed in ("pyproject.toml", "README.md", "alembic", "alembic.ini", "sdk", "service"):
        assert needed in sources
    assert "worker" in sources
    assert is_ignored(".venv") and is_ignored(".git") and is_ignored("tests")


def test_the_image_leaves_out_the_embedded_postgres() -> None:
    """The image runs against HEADRACE_DATABASE_URL; pgserver's bundled postgres (34 MB) is
    removed from the venv after the [server] extra brought it in."""
    runs = [args for instruction, args in dockerfile_instructions() if instruction == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs and "[server]" in installs[-1]
    assert re.search(r"pip uninstall --yes pgserver\b", installs[-1]), installs[-1]
