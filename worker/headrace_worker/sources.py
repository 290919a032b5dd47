"""Where a claimed run's code is on this host: its source resolved into a folder.

- folder: the deployment's `path`, as deployed (it must exist on this host);
- bundle: downloaded once per sha256 into `$HEADRACE_HOME/bundles/<sha256>/`, its hash checked,
  unpacked safely (see headrace.bundles);
- git: fetched into `$HEADRACE_HOME/git/` and the ref's commit checked out once per commit.

A source that cannot be resolved raises SourceError with a message naming it; the process pool
type fails the run with it and the worker carries on.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from headrace.bundles import BundleError, unpack_bundle
from headrace.client import HeadraceClient, code_bundles
from headrace.errors import HeadraceError, NotFound
from headrace.git_source import GitSourceError, checkout
from headrace.schemas.code_sources import BundleSource, CodeSource, GitSource
from headrace.schemas.work_pools import ClaimedRun
from headrace.settings import client_settings

_SOURCE = TypeAdapter(CodeSource)
# Two runs of one new bundle in this worker download it once.
_bundle_lock = threading.Lock()


class SourceError(HeadraceError):
    """The run's code cannot be made available on this host."""


def resolve_code_folder(run: ClaimedRun, client: HeadraceClient, home: Path | None = None) -> Path:
    """The folder to start the run's process in, fetching its code first if needed."""
    kind = run.source.get("kind", "folder")
    if kind == "folder" or not run.source:
        return Path(run.path) if run.path else Path.cwd()
    try:
        source = _SOURCE.validate_python(run.source)
    except ValidationError:
        raise SourceError(f"the deployment's code source {run.source} is not valid") from None
    root = home if home is not None else client_settings().home_path()
    if isinstance(source, BundleSource):
        return bundle_folder(source.sha256, client, root / "bundles")
    assert isinstance(source, GitSource)
    try:
        return checkout(source.url, source.ref, root / "git")
    except GitSourceError as error:
        raise SourceError(f"git source: {error}") from None


def bundle_folder(sha256: str, client: HeadraceClient, cache: Path) -> Path:
    """The unpacked bundle, downloaded and verified the first time it is needed."""
    target = cache / sha256
    with _bundle_lock:
        if target.is_dir():
            return target
        where = f"code bundle {sha256}"
        try:
            data = code_bundles.download(client, sha256)
        except NotFound:
            raise SourceError(f"{where} is not stored on the server (upload it again)") from None
        except HeadraceError as error:
            raise SourceError(f"{where} cannot be downloaded: {error}") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise SourceError(f"{where} is corrupted: the downloaded bytes hash to {actual}")
        try:
            unpack_bundle(data, target, client_settings().bundle_max_unpacked_bytes)
        except BundleError as error:
            raise SourceError(f"{where}: {error}") from None
    return target
