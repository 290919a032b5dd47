"""The composed stack of the containers suite: docker-compose.yml, unchanged, run by
podman-compose with one override file (compose-podman.yml) for podman's limits."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
IMAGE = "localhost/headrace:latest"
PROJECT = "headrace-containers-suite"


def run(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    """Run a command; its stdout, or an AssertionError quoting its output."""
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} -> {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def podman_compose() -> str:
    found = shutil.which("podman-compose") or str(Path(sys.executable).parent / "podman-compose")
    assert os.access(found, os.X_OK), "podman-compose 1.6 is needed: pip install -e '.[dev]'"
    return found


@dataclass
class Stack:
    api_key: str = field(default_factory=lambda: "hr_" + secrets.token_urlsafe(32))
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        return {**environ, "HEADRACE_API_KEY": self.api_key}

    def compose(self, *args: str, timeout: float = 180) -> str:
        return run(
            podman_compose(),
            "--project-name",
            PROJECT,
            "-f",
            str(ROOT / "docker-compose.yml"),
            "-f",
            str(HERE / "compose-podman.yml"),
            *args,
            timeout=timeout,
            env=self.env,
        )

    def containers(self, service: str | None = None, running_only: bool = True) -> list[str]:
        """Names of the project's containers (of one service), sorted."""
        filters = ["--filter", f"label=io.podman.compose.project={PROJECT}"]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        listed = run(
            "podman", "ps", *([] if running_only else ["-a"]), *filters, "--format", "{{.Names}}"
        )
        return sorted(listed.split())

    def api_urls(self) -> list[str]:
        """The API of each running server replica, through its loopback-published port."""
        urls = []
        for name in self.containers("server"):
            published = run("podman", "port", name, "4200/tcp").split()[0]
            urls.append(f"http://{published}/api")
        return urls

    def client_env(self, api_url: str) -> dict[str, str]:
        return {**self.env, "HEADRACE_API_URL": api_url}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def wait_ready(self, url: str, timeout: float = 120) -> None:
        wait_for(lambda: _answers(url + "/ready"), timeout, f"{url}/ready never answered 200")

    def workers_online(self, api_url: str, pool: str = "default") -> int:
        response = httpx.get(f"{api_url}/work_pools/{pool}", headers=self.headers(), timeout=10)
        return int(response.json()["workers_online"]) if response.status_code == 200 else 0

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, volumes and networks of the project still present."""
        label = f"label=io.podman.compose.project={PROJECT}"
        found = {
            "containers": run("podman", "ps", "-a", "--filter", label, "--format", "{{.Names}}"),
            "volumes": run("podman", "volume", "ls", "--filter", label, "--format", "{{.Name}}"),
            "networks": run("podman", "network", "ls", "--format", "{{.Name}}"),
        }
        return {
            kind: [name for name in names.split() if kind != "networks" or PROJECT in name]
            for kind, names in found.items()
        }

    def remove_everything(self) -> None:
        """Whatever a failed test left (the suite starts from nothing and ends with nothing)."""
        label = f"label=io.podman.compose.project={PROJECT}"
        # A container another one depends on goes in a later round.
        for _ in range(3):
            names = run("podman", "ps", "-a", "--filter", label, "--format", "{{.Names}}").split()
            if names:
                subprocess.run(
                    ["podman", "rm", "-f", "-t", "0", *names], capture_output=True, timeout=120
                )
        left = self.leftovers()
        for name in left["volumes"]:
            subprocess.run(["podman", "volume", "rm", "-f", name], capture_output=True, timeout=60)
        for name in left["networks"]:
            subprocess.run(["podman", "network", "rm", "-f", name], capture_output=True, timeout=60)

    def logs(self) -> str:
        """The last lines of every container of the project, to explain a failure."""
        return "\n".join(
            f"--- {name}\n"
            + subprocess.run(
                ["podman", "logs", "--tail", "30", name], capture_output=True, text=True, timeout=30
            ).stdout
            for name in self.containers(running_only=False)
        )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check: object, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise AssertionError(message)


def build_images(timings: dict[str, float]) -> None:
    """The stand-in base images (cached), then the project's image from the unchanged
    Dockerfile; pip inside the build trusts the host's CA bundle (docs/containers.md)."""
    started = time.monotonic()
    run(str(HERE / "standins" / "build.sh"), timeout=900)
    timings["stand-ins"] = time.monotonic() - started
    started = time.monotonic()
    run(
        "podman",
        "build",
        "--quiet",
        "-v",
        f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
        "-t",
        IMAGE,
        str(ROOT),
        timeout=900,
    )
    timings["image build"] = time.monotonic() - started
    timings["image size (MB)"] = image_size_mb()


def image_size_mb() -> float:
    inspected = json.loads(run("podman", "image", "inspect", IMAGE))
    return float(inspected[0]["Size"]) / 1e6
