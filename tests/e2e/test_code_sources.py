"""Code from anywhere: an uploaded bundle and a git repository, run by a worker on "another host"
(its own HEADRACE_HOME and working folder, the deploying folder gone)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, pool, text

from headrace.bundles import (
    MAX_BUNDLE_ENTRIES,
    BundleError,
    BundleTooLarge,
    check_bundle,
    pack_folder,
    unpack_bundle,
)
from headrace.settings import client_settings

pytestmark = pytest.mark.slow

HEADRACE = [sys.executable, "-m", "headrace.cli.main"]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
MiB = 1024 * 1024

FLOW = """
from pathlib import Path

from headrace import flow


@flow
def hello(out: str, word: str = "{word}") -> str:
    # Written where the test says: the code folder itself is gone or a read-only cache.
    Path(out).write_text(word + " from " + str(Path(__file__).resolve().parent.parent))
    return word
"""


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    return {
        "max_bundle_bytes": 64 * 1024,
        "bundle_max_unpacked_bytes": 8 * MiB,
        "log_level": "warning",
    }


def make_project(folder: Path, word: str = "bundled") -> Path:
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "jobs.py").write_text(textwrap.dedent(FLOW).replace("{word}", word))
    (folder / ".gitignore").write_text("secret.txt\ndata/\n*.log\n")
    (folder / "secret.txt").write_text("not for workers")
    (folder / "data").mkdir()
    (folder / "data" / "big.bin").write_bytes(os.urandom(200_000))
    (folder / "worker.log").write_text("ignored")
    (folder / ".venv" / "lib").mkdir(parents=True)
    (folder / ".venv" / "lib" / "x.py").write_text("ignored")
    (folder / "flows" / "__pycache__").mkdir()
    (folder / "flows" / "__pycache__" / "jobs.pyc").write_bytes(b"ignored")
    return folder


def cli_env(api_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(
        HEADRACE_API_URL=api_url,
        HEADRACE_HOME=str(home),
        HEADRACE_WORKER_SHUTDOWN_GRACE_SECONDS="1",
        HEADRACE_WORKER_CLAIM_WAIT_SECONDS="1",
        **extra,
    )
    return env


def cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HEADRACE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def other_host_env() -> dict[str, str]:
    """Extra environment of the `other_host` worker (a test parametrizes it to change it)."""
    return {}


@pytest.fixture
def other_host(live_server: Any, tmp_path: Path, other_host_env: dict[str, str]) -> Iterator[Path]:
    """A worker of pool p with its own home, started in a folder that holds no code."""
    place = tmp_path / "other-host"
    (place / "cwd").mkdir(parents=True)
    log = (place / "worker.log").open("w")
    worker = subprocess.Popen(
        [*HEADRACE, "worker", "start", "--pool", "p", "--type", "process"],
        cwd=place / "cwd",
        env=cli_env(live_server.url, place / "home", **other_host_env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while "serving pool" not in (place / "worker.log").read_text():
            assert worker.poll() is None and time.monotonic() < deadline, (
                place / "worker.log"
            ).read_text()
            time.sleep(0.05)
        yield place
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            assert worker.wait(20) == 0, (place / "worker.log").read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
            log.close()


def run_and_wait(http: httpx.Client, deployment: str, **parameters: Any) -> dict[str, Any]:
    created = http.post(f"/deployments/name/{deployment}/runs", json={"parameters": parameters})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run: dict[str, Any] = http.get(f"/flow_runs/{run_id}").json()
        if run["state_type"] in TERMINAL:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def corrupt(database_url: str, sha256: str) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE code_bundle SET data = :junk WHERE sha256 = :sha"),
            {"junk": b"not the bundle", "sha": sha256},
        )
    engine.dispose()


def test_an_uploaded_bundle_runs_on_another_host(
    live_server: Any, http: httpx.Client, tmp_path: Path, other_host: Path
) -> None:
    project = make_project(tmp_path / "project")
    env = cli_env(live_server.url, tmp_path / "deploy-home")
    deployed = cli(project, env, "deploy", "flows/jobs.py:hello", "-n", "b", "-p", "p", "--upload")
    assert deployed.returncode == 0, deployed.stderr
    source = http.get("/deployments/name/hello/b").json()["source"]
    assert source["kind"] == "bundle"
    sha = source["sha256"]
    # Deterministic: packing the same files again names the same bundle.
    again = cli(project, env, "deploy", "flows/jobs.py:hello", "-n", "b", "-p", "p", "--upload")
    assert http.get("/deployments/name/hello/b").json()["source"]["sha256"] == sha, again.stderr
    stored = http.get(f"/code_bundles/{sha}")
    assert stored.status_code == 200 and hashlib.sha256(stored.content).hexdigest() == sha
    with tarfile.open(fileobj=io.BytesIO(stored.content)) as tar:
        # Not secret.txt, worker.log, data/ (.gitignore), .venv/ or __pycache__/ (always).
        assert sorted(tar.getnames()) == [".gitignore", "flows/jobs.py"]

    subprocess.run(["rm", "-rf", str(project)], check=True)
    out = tmp_path / "out.txt"
    run = run_and_wait(http, "hello/b", out=str(out))
    assert run["state_type"] == "COMPLETED", (other_host / "worker.log").read_text()
    cached = other_host / "home" / "bundles" / sha
    assert out.read_text() == f"bundled from {cached.resolve()}"

    # A corrupted bundle (its stored bytes no longer match the hash) fails its run clearly, and
    # the worker goes on serving.
    second = make_project(tmp_path / "project2", word="second")
    deployed = cli(second, env, "deploy", "flows/jobs.py:hello", "-n", "c", "-p", "p", "--upload")
    assert deployed.returncode == 0, deployed.stderr
    sha2 = http.get("/deployments/name/hello/c").json()["source"]["sha256"]
    assert sha2 != sha
    corrupt(live_server.database_url, sha2)
    failed = run_and_wait(http, "hello/c", out=str(out))
    assert failed["state_type"] == "FAILED"
    assert f"code bundle {sha2} is corrupted" in failed["state_message"]
    assert not (other_host / "home" / "bundles" / sha2).exists()
    assert run_and_wait(http, "hello/b", out=str(out))["state_type"] == "COMPLETED"


def test_a_missing_bundle_is_refused_at_deploy_time_and_fails_runs_later(
    live_server: Any, http: httpx.Client, tmp_path: Path, other_host: Path
) -> None:
    body = {
        "flow_name": "hello",
        "name": "gone",
        "entrypoint": "flows/jobs.py:hello",
        "path": str(tmp_path),
        "work_pool_name": "p",
        "source": {"kind": "bundle", "sha256": "0" * 64},
    }
    refused = http.post("/deployments", json=body)
    assert refused.status_code == 422 and "body.source.sha256" in refused.json()["detail"]
    data = pack_folder(make_project(tmp_path / "project"), 1024 * 1024)
    assert http.put(f"/code_bundles/{data.sha256}", content=data.data).status_code == 201
    body["source"] = {"kind": "bundle", "sha256": data.sha256}
    assert http.post("/deployments", json=body).status_code in (200, 201)
    # Removed from the server after deploying (a restored backup, say): the run fails clearly.
    engine = create_engine(live_server.database_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM code_bundle"))
    engine.dispose()
    run = run_and_wait(http, "hello/gone", out=str(tmp_path / "out.txt"))
    assert run["state_type"] == "FAILED"
    assert f"code bundle {data.sha256} is not stored" in run["state_message"]


def test_the_bundle_api_checks_hashes_and_sizes(
    live_server: Any, http: httpx.Client, tmp_path: Path
) -> None:
    data = pack_folder(make_project(tmp_path / "project"), MiB).data
    sha = hashlib.sha256(data).hexdigest()
    assert http.head(f"/code_bundles/{sha}").status_code == 404
    assert http.get(f"/code_bundles/{sha}").status_code == 404
    wrong = http.put(f"/code_bundles/{'a' * 64}", content=data)
    assert wrong.status_code == 422 and sha in wrong.json()["detail"]
    assert http.put("/code_bundles/not-a-hash", content=data).status_code == 422
    assert http.put(f"/code_bundles/{sha}", content=b"").status_code == 422
    junk = b"some bytes"
    not_a_bundle = http.put(f"/code_bundles/{hashlib.sha256(junk).hexdigest()}", content=junk)
    assert not_a_bundle.status_code == 422
    assert "cannot be unpacked" in not_a_bundle.json()["detail"]
    assert http.put(f"/code_bundles/{sha}", content=data).status_code == 201
    assert http.put(f"/code_bundles/{sha}", content=data).status_code == 200
    assert http.head(f"/code_bundles/{sha}").status_code == 200
    assert http.get(f"/code_bundles/{sha}").content == data
    big = os.urandom(100 * 1024)
    too_big = http.put(f"/code_bundles/{hashlib.sha256(big).hexdigest()}", content=big)
    assert too_big.status_code == 413 and "at most 65536 bytes" in too_big.json()["detail"]


def test_upload_over_the_size_limit_is_a_one_line_error(live_server: Any, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    env = cli_env(live_server.url, tmp_path / "home", HEADRACE_BUNDLE_MAX_BYTES="100")
    result = cli(project, env, "deploy", "flows/jobs.py:hello", "-n", "b", "-p", "p", "--upload")
    assert result.returncode == 2
    assert "over the limit of 100" in result.stderr and "Traceback" not in result.stderr


def test_unpacking_refuses_paths_outside_the_target(tmp_path: Path) -> None:
    for name in ("../escape.py", "/etc/evil.py", "a/../../escape.py"):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        with pytest.raises(BundleError, match="unsafe path"):
            unpack_bundle(raw.getvalue(), tmp_path / "target", MiB)
        assert not (tmp_path / "target").exists()
    with pytest.raises(BundleError, match="cannot be unpacked"):
        unpack_bundle(b"not a tar.gz", tmp_path / "target", MiB)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(BundleError, match="cannot be unpacked"):
        unpack_bundle(raw.getvalue(), tmp_path / "target", MiB)
    assert not (tmp_path / "target").exists()
    assert not list(tmp_path.iterdir())  # no staging folder left behind


def tar_member(name: str, size: int, content: bytes = b"") -> bytes:
    """One tar member: its header, then `content` padded to a block (empty: the data follows)."""
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf() + content + b"\0" * (-len(content) % 512)


def gzip_bomb(unpacked_bytes: int, *files: tuple[str, bytes]) -> bytes:
    """A real bundle bomb: a tar.gz of `files` and flows/zeros.bin, `unpacked_bytes` of zeros.
    The zeros are one compressed MiB repeated as gzip members (a gzip reader reads concatenated
    members as one stream), so a GiB unpacked is about a MiB here, made in milliseconds."""
    head = b"".join(tar_member(name, len(content), content) for name, content in files)
    head += tar_member("flows/zeros.bin", unpacked_bytes)
    zeros = -(-unpacked_bytes // 512) * 512 + 1024  # the data, then the end-of-archive blocks
    one_mib = gzip.compress(b"\0" * MiB, 9, mtime=0)
    return b"".join(
        [
            gzip.compress(head, 9, mtime=0),
            one_mib * (zeros // MiB),
            gzip.compress(b"\0" * (zeros % MiB), 9, mtime=0),
        ]
    )


def test_a_bundle_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """The attack: a 1 MiB upload that unpacked to 1 GiB on the worker."""
    bomb = gzip_bomb(1024 * MiB, ("flows/jobs.py", b"print('hi')\n"))
    assert len(bomb) < 1.1 * MiB
    started = time.monotonic()
    with pytest.raises(BundleTooLarge) as refused:
        unpack_bundle(bomb, tmp_path / "target", 16 * MiB)
    assert time.monotonic() - started < 2
    message = str(refused.value)
    assert "more than 16777216 bytes" in message
    assert "HEADRACE_BUNDLE_MAX_UNPACKED_BYTES" in message
    assert not list(tmp_path.iterdir())  # no target, no staging folder, no partial file
    with pytest.raises(BundleTooLarge, match="HEADRACE_BUNDLE_MAX_UNPACKED_BYTES"):
        check_bundle(bomb, 16 * MiB)
    # Under the cap, the same shape unpacks byte for byte.
    small = gzip_bomb(MiB, ("flows/jobs.py", b"print('hi')\n"))
    unpack_bundle(small, tmp_path / "target", 2 * MiB)
    assert (tmp_path / "target" / "flows" / "zeros.bin").stat().st_size == MiB


def test_unpacking_stops_at_the_cap_whatever_the_archive_declares(tmp_path: Path) -> None:
    """A tar member the extractor reads whole (a 64 MiB PAX header of zeros) is cut at the
    cap by counting the bytes as they are unpacked, not by trusting a declared size."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 64 * MiB
    bomb = gzip.compress(header.tobuf() + b"\0" * (64 * MiB + 1024), 9, mtime=0)
    with pytest.raises(BundleTooLarge, match="more than 4194304 bytes"):
        unpack_bundle(bomb, tmp_path / "target", 4 * MiB)
    assert not list(tmp_path.iterdir())


def test_a_bundle_of_too_many_files_is_refused(tmp_path: Path) -> None:
    entries = b"".join(tar_member(f"f{i}", 0) for i in range(MAX_BUNDLE_ENTRIES + 1))
    bomb = gzip.compress(entries + b"\0" * 1024, 6, mtime=0)
    with pytest.raises(BundleTooLarge, match=f"more than {MAX_BUNDLE_ENTRIES} files"):
        check_bundle(bomb, 256 * MiB)


def test_the_api_refuses_a_bomb_and_an_unsafe_path_at_upload(
    live_server: Any, http: httpx.Client
) -> None:
    # The server's cap is 8 MiB: 32 MiB of zeros (32 KiB compressed, under the 64 KiB upload
    # cap) is refused at upload, and nothing is stored.
    bomb = gzip_bomb(32 * MiB)
    sha = hashlib.sha256(bomb).hexdigest()
    refused = http.put(f"/code_bundles/{sha}", content=bomb)
    assert refused.status_code == 413, refused.text
    assert "HEADRACE_BUNDLE_MAX_UNPACKED_BYTES" in refused.json()["detail"]
    assert http.get(f"/code_bundles/{sha}").status_code == 404
    # A path outside the folder is refused at upload too, as a worker would.
    escape = io.BytesIO()
    with tarfile.open(fileobj=escape, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("../escape.py"), io.BytesIO(b""))
    unsafe = escape.getvalue()
    answer = http.put(f"/code_bundles/{hashlib.sha256(unsafe).hexdigest()}", content=unsafe)
    assert answer.status_code == 422 and "unsafe path" in answer.json()["detail"]


@pytest.mark.parametrize("other_host_env", [{"HEADRACE_BUNDLE_MAX_UNPACKED_BYTES": str(MiB)}])
def test_a_bundle_over_the_workers_cap_fails_its_run_naming_the_setting(
    live_server: Any, http: httpx.Client, tmp_path: Path, other_host: Path
) -> None:
    # 4 MiB unpacked: within the server's 8 MiB, over this worker's 1 MiB.
    flow = textwrap.dedent(FLOW).replace("{word}", "big").encode()
    bundle = gzip_bomb(4 * MiB, ("flows/jobs.py", flow))
    sha = hashlib.sha256(bundle).hexdigest()
    assert http.put(f"/code_bundles/{sha}", content=bundle).status_code == 201
    body = {
        "flow_name": "hello",
        "name": "big",
        "entrypoint": "flows/jobs.py:hello",
        "path": str(tmp_path),
        "work_pool_name": "p",
        "source": {"kind": "bundle", "sha256": sha},
    }
    assert http.post("/deployments", json=body).status_code in (200, 201)
    run = run_and_wait(http, "hello/big", out=str(tmp_path / "out.txt"))
    assert run["state_type"] == "FAILED", run
    assert "more than 1048576 bytes" in run["state_message"]
    assert "HEADRACE_BUNDLE_MAX_UNPACKED_BYTES" in run["state_message"]
    assert not (tmp_path / "out.txt").exists()
    cache = other_host / "home" / "bundles"
    assert not cache.exists() or not list(cache.iterdir())  # nothing left half-unpacked


def test_packing_is_deterministic(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    first = pack_folder(project, 1024 * 1024)
    os.utime(project / "flows" / "jobs.py", (0, 12345))
    assert pack_folder(project, 1024 * 1024).sha256 == first.sha256
    (project / "flows" / "jobs.py").write_text("changed = 1\n")
    assert pack_folder(project, 1024 * 1024).sha256 != first.sha256


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=30,
    )


@pytest.fixture
def bare_repo(tmp_path: Path) -> Path:
    """A bare repository whose tag v1 says "first" and whose main branch says "second"."""
    bare = tmp_path / "repo.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    work = tmp_path / "clone"
    make_project(work, word="first")
    git(work, "init", "--quiet", "--initial-branch=main")
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "first")
    git(work, "tag", "v1")
    (work / "flows" / "jobs.py").write_text(textwrap.dedent(FLOW).replace("{word}", "second"))
    git(work, "commit", "--quiet", "-am", "second")
    git(work, "push", "--quiet", str(bare), "main", "v1")
    subprocess.run(["rm", "-rf", str(work)], check=True)
    return bare


def test_git_sources_run_from_the_workers_checkout(
    live_server: Any,
    http: httpx.Client,
    api_url: str,
    tmp_path: Path,
    other_host: Path,
    bare_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from headrace import flow

    empty = tmp_path / "empty"
    empty.mkdir()
    env = cli_env(live_server.url, tmp_path / "deploy-home")
    url = f"file://{bare_repo}"
    tagged = cli(
        empty,
        env,
        "deploy",
        "flows/jobs.py:hello",
        "-n",
        "v1",
        "-p",
        "p",
        "--source",
        f"git+{url}@v1",
    )
    assert tagged.returncode == 0, tagged.stderr
    assert http.get("/deployments/name/hello/v1").json()["source"] == {
        "kind": "git",
        "url": url,
        "ref": "v1",
    }
    # The SDK's way, on the default branch.
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "sdk-home"))
    client_settings.cache_clear()
    flow.from_source(url, entrypoint="flows/jobs.py:hello").deploy("main", "p")  # type: ignore[attr-defined]

    out = tmp_path / "out.txt"
    git_cache = other_host / "home" / "git"
    assert run_and_wait(http, "hello/v1", out=str(out))["state_type"] == "COMPLETED"
    assert out.read_text().startswith(f"first from {git_cache.resolve()}")
    assert run_and_wait(http, "hello/main", out=str(out))["state_type"] == "COMPLETED"
    assert out.read_text().startswith("second from")

    created = http.post(
        "/deployments",
        json={
            "flow_name": "hello",
            "name": "bad-ref",
            "entrypoint": "flows/jobs.py:hello",
            "path": str(empty),
            "work_pool_name": "p",
            "source": {"kind": "git", "url": url, "ref": "no-such-branch"},
        },
    )
    assert created.status_code in (200, 201), created.text
    failed = run_and_wait(http, "hello/bad-ref", out=str(out))
    assert failed["state_type"] == "FAILED"
    assert f"repository {url} at no-such-branch" in failed["state_message"]
    # The worker still serves.
    assert run_and_wait(http, "hello/v1", out=str(out))["state_type"] == "COMPLETED"


def test_deploying_a_bad_git_source_is_a_one_line_error(
    live_server: Any, tmp_path: Path, bare_repo: Path
) -> None:
    env = cli_env(live_server.url, tmp_path / "home")
    for source, message in [
        (f"git+file://{bare_repo}@nope", f"repository file://{bare_repo} at nope"),
        ("https://example.com/repo.git", "--source: expected git+https://"),
    ]:
        result = cli(
            tmp_path, env, "deploy", "flows/jobs.py:hello", "-n", "x", "-p", "p", "--source", source
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_a_commit_is_checked_out_once_and_then_served_offline(
    tmp_path: Path, bare_repo: Path
) -> None:
    from headrace.git_source import GitSourceError, checkout

    commit = subprocess.run(
        ["git", "--git-dir", str(bare_repo), "rev-parse", "v1^{commit}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    url = f"file://{bare_repo}"
    tree = checkout(url, commit, tmp_path / "cache")
    assert tree.name == commit and 'word: str = "first"' in (tree / "flows/jobs.py").read_text()
    assert not (tree / "secret.txt").exists()  # .gitignore'd, so never committed
    subprocess.run(["rm", "-rf", str(bare_repo)], check=True)
    assert checkout(url, commit, tmp_path / "cache") == tree
    with pytest.raises(GitSourceError, match=f"repository {url} at main"):
        checkout(url, "main", tmp_path / "cache")
