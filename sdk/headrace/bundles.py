"""Code bundles: a project folder packed into a deterministic tar.gz, named by its sha256.

`pack_folder` honours the folder's .gitignore (and always leaves out .git, .venv and
__pycache__). The archive is deterministic — sorted names, zeroed times and owners, a fixed gzip
header — so packing the same files twice gives the same hash and uploads nothing new.
`unpack_bundle` is the worker's side: it refuses members that would land outside the target
folder (absolute paths, `..`, links out of it) and unpacks into a temporary folder renamed into
place, so a half-unpacked bundle is never seen.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from headrace.errors import HeadraceError

if TYPE_CHECKING:
    from headrace.client import HeadraceClient
    from headrace.schemas.code_sources import BundleSource

ALWAYS_SKIPPED = frozenset({".git", ".venv", "__pycache__"})


class BundleError(HeadraceError):
    """A bundle cannot be made, stored or unpacked (the message says why)."""


@dataclass(frozen=True)
class Bundle:
    sha256: str
    data: bytes
    files: int


def bundle_files(folder: Path) -> list[str]:
    """The files to pack, relative POSIX paths in sorted order."""
    import pathspec

    ignore_file = folder / ".gitignore"
    patterns = ignore_file.read_text().splitlines() if ignore_file.is_file() else []
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    found: list[str] = []
    for root, dirs, files in os.walk(folder):
        relative_root = Path(root).relative_to(folder)
        # Pruned here so an ignored folder (node_modules, .venv) is never walked.
        dirs[:] = [
            d
            for d in dirs
            if d not in ALWAYS_SKIPPED and not spec.match_file((relative_root / d).as_posix() + "/")
        ]
        for name in files:
            path = (relative_root / name).as_posix()
            if not spec.match_file(path) and (Path(root) / name).is_file():
                found.append(path)
    return sorted(found)


def pack_folder(folder: Path, max_bytes: int) -> Bundle:
    """The folder as a deterministic tar.gz; BundleError when it is over `max_bytes`."""
    folder = folder.resolve()
    names = bundle_files(folder)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            try:
                content = (folder / name).read_bytes()
            except OSError as error:
                raise BundleError(f"cannot pack {folder / name}: {error.strerror}") from None
            info = tarfile.TarInfo(name)
            info.size = len(content)
            # Executable bits matter (scripts); times and owners would only break the hash.
            info.mode = 0o755 if os.access(folder / name, os.X_OK) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    data = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    if len(data) > max_bytes:
        raise BundleError(
            f"the code bundle of {folder} is {len(data)} bytes, over the limit of {max_bytes} "
            "(HEADRACE_BUNDLE_MAX_BYTES); list large files in .gitignore"
        )
    return Bundle(hashlib.sha256(data).hexdigest(), data, len(names))


def upload_bundle(client: HeadraceClient, bundle: Bundle) -> None:
    """Store the bundle through the API (a no-op when it is stored already)."""
    from headrace.client import code_bundles

    code_bundles.upload(client, bundle.sha256, bundle.data)


def unpack_bundle(data: bytes, target: Path) -> None:
    """Unpack a bundle into `target` (which must not exist yet), all or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member)
            tar.extractall(staging, members=members, filter="data")
        try:
            staging.rename(target)
        except OSError:
            # Another worker process unpacked the same bundle first: theirs is as good.
            if not target.is_dir():
                raise
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as error:
        raise BundleError(f"the code bundle cannot be unpacked: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_member(member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise BundleError(f"the code bundle holds an unsafe path {member.name!r}")
    # Links (a git repository may hold some) are left to the "data" filter, which refuses the
    # ones pointing outside the folder; devices and fifos have no place in code.
    if not (member.isfile() or member.isdir() or member.issym()):
        raise BundleError(f"the code bundle holds {member.name!r}, which is not a plain file")


def upload_folder(client: HeadraceClient, folder: Path, max_bytes: int) -> BundleSource:
    """Pack `folder` and store it through the API: the source a deployment names it by."""
    from headrace.schemas.code_sources import BundleSource

    bundle = pack_folder(folder, max_bytes)
    upload_bundle(client, bundle)
    return BundleSource(kind="bundle", sha256=bundle.sha256)
