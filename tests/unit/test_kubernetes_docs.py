"""docs/kubernetes.md: every manifest a user copies is valid for the Kubernetes API (strict
schemas, offline), and holds what the server and workers need to start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.unit.test_compose_files import known_setting_variables

PAGE = Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md"
KUBERNETES_VERSION = "1.30.0"


def manifests() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)
    return [doc for block in blocks for doc in yaml.safe_load_all(block) if doc]


def test_the_page_shows_the_server_its_service_and_the_workers() -> None:
    kinds = [(doc["kind"], doc["metadata"]["name"]) for doc in manifests()]
    assert kinds == [
        ("Deployment", "headrace-server"),
        ("Service", "headrace-server"),
        ("Deployment", "headrace-worker"),
    ]


@pytest.mark.parametrize(
    "manifest", manifests(), ids=lambda doc: f"{doc['kind']}-{doc['metadata']['name']}"
)
def test_each_manifest_is_valid_for_the_kubernetes_api(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_a_broken_manifest_is_refused() -> None:
    """The check above can fail: an unknown field and a wrong type are caught."""
    server = manifests()[0]
    broken = {**server, "spec": {**server["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    wrong_type = {**server, "spec": {**server["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSION, strict=True)


def test_the_commands_are_the_images_and_the_probes_the_servers() -> None:
    server, service, worker = manifests()
    (server_container,) = server["spec"]["template"]["spec"]["containers"]
    (worker_container,) = worker["spec"]["template"]["spec"]["containers"]
    assert server_container["args"] == ["headrace", "server", "start", "--host", "0.0.0.0"]
    assert worker_container["args"][:3] == ["headrace", "worker", "start"]
    assert server_container["readinessProbe"]["httpGet"]["path"] == "/api/ready"
    assert server_container["livenessProbe"]["httpGet"]["path"] == "/api/health"
    # The image's user (Dockerfile: uid 10001), non-root.
    for deployment in (server, worker):
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001
    worker_env = {entry["name"]: entry.get("value") for entry in worker_container["env"]}
    assert worker_env["HEADRACE_API_URL"] == f"http://{service['metadata']['name']}:4200/api"


def test_every_headrace_variable_is_a_real_setting() -> None:
    known = known_setting_variables()
    for manifest in manifests():
        for container in manifest["spec"].get("template", {}).get("spec", {}).get("containers", []):
            for entry in container.get("env", []):
                assert entry["name"] in known, f"{manifest['metadata']['name']}: {entry['name']}"
