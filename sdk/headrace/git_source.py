"""Git sources: a repository's commit checked out into a local cache, once per commit.

Layout under `cache_root` (the worker's `$HEADRACE_HOME/git`): one folder per repository, named
by a hash of its URL, holding a bare clone (`repo.git`, fetched on each use) and one read-only
checkout per commit (`<commit>/`), written through a temporary folder and renamed into place
like a bundle, so a run never sees a half-written tree and two runs of different refs never
disturb each other. Uses the `git` command; nothing ever prompts for credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from headrace.bundles import BundleError, unpack_bundle
from headrace.errors import HeadraceError

if TYPE_CHECKING:
    from headrace.schemas.code_sources import GitSource

GIT_TIMEOUT_SECONDS = 300.0
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


class GitSourceError(HeadraceError):
    """A repository or ref cannot be fetched (the message names both)."""


def is_git_url(text: str) -> bool:
    """A repository URL (`git+…`, `https://…`, `file://…`, `git@host:org/repo`), not a folder."""
    return text.startswith("git+") or bool(_URL.match(text))


def parse_git_source(text: str) -> tuple[str, str | None]:
    """`git+https://host/repo.git@v1` -> (`https://host/repo.git`, `v1`); ref None when absent."""
    url = text.removeprefix("git+")
    scheme, sep, rest = url.partition("://")
    # An @ after the last / is a ref; one before it (user@host) is part of the URL.
    head, _, last = rest.rpartition("/")
    if "@" in last:
        last, _, ref = last.partition("@")
        return f"{scheme}{sep}{head}/{last}" if head else f"{scheme}{sep}{last}", ref or None
    return url, None


def checkout(
    url: str, ref: str | None, cache_root: Path, timeout: float = GIT_TIMEOUT_SECONDS
) -> Path:
    """The folder holding `ref` (None: the default branch) of the repository at `url`."""
    where = f"repository {url} at {ref or 'its default branch'}"
    folder = cache_root / hashlib.sha256(url.encode()).hexdigest()[:24]
    if ref is not None and _COMMIT.match(ref) and (folder / ref).is_dir():
        # A commit never changes: its checkout serves without asking the remote again.
        return folder / ref
    folder.mkdir(parents=True, exist_ok=True)
    bare = folder / "repo.git"
    with _locked(folder / "lock"):
        if not (bare / "HEAD").is_file():
            _git(["init", "--quiet", "--bare", str(bare)], where, timeout)
        _git(
            ["--git-dir", str(bare), "fetch", "--quiet", "--force", "--", url, ref or "HEAD"],
            where,
            timeout,
        )
        commit = _git(["--git-dir", str(bare), "rev-parse", "FETCH_HEAD^{commit}"], where, timeout)
        tree = folder / commit
        if not tree.is_dir():
            archive = _run_git(
                ["--git-dir", str(bare), "archive", "--format=tar.gz", commit], where, timeout
            )
            from headrace.settings import client_settings

            try:
                unpack_bundle(archive, tree, client_settings().bundle_max_unpacked_bytes)
            except BundleError as error:
                raise GitSourceError(f"{where}: {error}") from None
    return tree


def _git(args: list[str], where: str, timeout: float) -> str:
    return _run_git(args, where, timeout).decode().strip()


def _run_git(args: list[str], where: str, timeout: float) -> bytes:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, timeout=timeout, env=env, check=False
        )
    except FileNotFoundError:
        raise GitSourceError(f"{where}: the git command is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitSourceError(f"{where}: git took longer than {timeout:g} s") from None
    if done.returncode != 0:
        command = args[2] if args[0] == "--git-dir" else args[0]
        raise GitSourceError(f"{where}: git {command} failed: {_reason(done)}")
    return done.stdout


def _reason(done: subprocess.CompletedProcess[bytes]) -> str:
    """git's own explanation: its first `fatal:` line (the lines after it are advice)."""
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (fatal or lines or [f"exit code {done.returncode}"])[0]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Between worker processes on one host (and threads: each opens its own descriptor).
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def local_checkout(url: str, ref: str | None = None) -> tuple[GitSource, Path]:
    """The source naming the repository, and its checkout in this host's cache (to load the
    flow from when deploying)."""
    from pydantic import ValidationError

    from headrace.schemas.code_sources import GitSource
    from headrace.settings import client_settings

    try:
        source = GitSource(kind="git", url=url, ref=ref)
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]) for e in error.errors())
        raise GitSourceError(f"repository {url} at {ref}: {problems}") from None
    return source, checkout(url, ref, client_settings().home_path() / "git")
