"""`python -m headrace_worker.docker_container SPEC`: one flow run in a container, as a process.

The docker pool type runs this small program where the process type runs the engine, so the
worker's supervision (output into the run's logs, SIGTERM then SIGKILL on cancellation, the exit
code into Crashed) is the same for both. It creates the container through the Docker Engine API
(the `docker` package; `DOCKER_HOST` may name podman's compatible socket), prints the
container's output, stops the container (grace, then kill) on SIGTERM, and exits with the
container's exit code, saying why when the container was OOM-killed or killed from outside.
Every container carries labels naming its run, pool and worker (for finding orphans: this
program SIGKILLed with its worker leaves its container behind).
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys
import tarfile
import threading
from typing import Any

# Where the run's code is copied in the container, and the working directory of its engine.
CODE_PARENT = "/tmp"
CODE_DIR = "headrace-flow"
CODE_PATH = f"{CODE_PARENT}/{CODE_DIR}"
LABEL_RUN = "io.headrace.flow-run-id"
# Exit codes of a container stopped by a signal this program did not send. An engine that does
# not flag OOM kills (podman on cgroups v1) shows one as a plain SIGKILL.
OUTSIDE_KILLS = {
    137: "the container was killed (SIGKILL, exit code 137) by something outside this worker: "
    "`docker kill`, or the out-of-memory killer",
    143: "the container was stopped (SIGTERM, exit code 143) by something outside this worker",
}
LABEL_POOL = "io.headrace.work-pool"
LABEL_WORKER = "io.headrace.worker-id"


def _pull(client: Any, image: str, policy: str) -> None:
    import docker.errors

    if policy == "never":
        return
    if policy == "if-not-present":
        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
    client.images.pull(image)


def code_archive(folder: str) -> bytes:
    """The run's code folder as a tar of `CODE_DIR`, readable by any user of the image."""

    def readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = (info.mode & 0o755) | (0o755 if info.isdir() else 0o444)
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=CODE_DIR, filter=readable)
    return buffer.getvalue()


def run(spec: dict[str, Any]) -> int:
    import docker
    import docker.errors

    client = docker.from_env()
    try:
        _pull(client, spec["image"], spec["pull_policy"])
        container = client.containers.create(
            spec["image"],
            spec["command"],
            environment=spec["env"],
            volumes=spec["volumes"],
            working_dir=spec["working_dir"],
            network_mode=spec.get("network"),
            labels=spec["labels"],
            mem_limit=spec.get("mem_limit"),
            nano_cpus=spec.get("nano_cpus"),
        )
        # Copied in rather than mounted: the engine may be on another host, and the image's
        # non-root user may not read the worker's folders.
        container.put_archive(CODE_PARENT, code_archive(spec["code_folder"]))
    except docker.errors.DockerException as error:
        print(f"cannot start the container: {error}", file=sys.stderr, flush=True)
        return 125
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        threading.Thread(
            target=lambda: container.stop(timeout=spec["stop_grace_seconds"]), daemon=True
        ).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        container.start()
        for chunk in container.logs(stream=True, follow=True):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        code = int(container.wait()["StatusCode"])
        state = client.api.inspect_container(container.id)["State"]
        if state.get("OOMKilled"):
            print("the container was killed: out of memory (OOMKilled)", file=sys.stderr)
        elif code in OUTSIDE_KILLS and not stopping.is_set():
            print(OUTSIDE_KILLS[code], file=sys.stderr)
        return code
    finally:
        if spec["auto_remove"]:
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)


def labelled_containers() -> list[tuple[str, str]]:
    """(run id, worker id) of every container a docker pool worker started."""
    import docker

    client = docker.from_env()
    return [
        (container.labels[LABEL_RUN], container.labels.get(LABEL_WORKER, ""))
        for container in client.containers.list(all=True, filters={"label": LABEL_RUN})
    ]


def remove_run_containers(run_id: str) -> list[str]:
    """Force-remove every container of the run (this program may have been killed before it
    removed its own); the names removed."""
    import docker

    client = docker.from_env()
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_id}"}):
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)
            removed.append(container.name)
    return removed


if __name__ == "__main__":
    sys.exit(run(json.loads(sys.argv[1])))
