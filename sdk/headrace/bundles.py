"""Code bundles: a project folder packed into a deterministic tar.gz, named by its sha256.

`pack_folder` honours the folder's .gitignore (and always leaves out .git, .venv and
__pycache__). The archive is deterministic — sorted names, zeroed times and owners, a fixed gzip
header — so packing the same files twice gives the same hash and uploads nothing new.
`unpack_bundle` is the worker's side: it refuses members that would land outside the target
folder (absolute paths, `..`, links out of it), stops as soon as the bundle has unpacked to more
than HEADRACE_BUNDLE_MAX_UNPACKED_BYTES or MAX_BUNDLE_ENTRIES files (a small upload must not
fill a worker's disk), and unpacks into a temporary folder renamed into place, so a
half-unpacked bundle is never seen. `check_bundle` is the API's side: the same checks on an
upload, writing nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from headrace.errors import HeadraceError
from headrace.tar_filter import check_member, extract_member

if TYPE_CHECKING:
    from headrace.client import HeadraceClient
    from headrace.schemas.code_sources import BundleSource

ALWAYS_SKIPPED = frozenset({".git", ".venv", "__pycache__"})
# Caps on what one bundle may unpack to (the byte cap is a setting, see headrace.settings).
MAX_UNPACKED_SETTING = "HEADRACE_BUNDLE_MAX_UNPACKED_BYTES"
MAX_BUNDLE_ENTRIES = 50_000


class BundleError(HeadraceError):
    """A bundle cannot be made, stored or unpacked (the message says why)."""


class BundleTooLarge(BundleError):
    """A bundle unpacks to more bytes or more files than allowed."""


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


def unpack_bundle(data: bytes, target: Path, max_unpacked_bytes: int) -> None:
    """Unpack a bundle into `target` (which must not exist yet), all or nothing; BundleTooLarge
    as soon as it has unpacked more than `max_unpacked_bytes` or `MAX_BUNDLE_ENTRIES`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with _archive_errors():
            for tar, member in _walk(data, staging, max_unpacked_bytes):
                # A folder's own mode is left alone, as extractall does until the end: a
                # read-only folder would refuse the files that follow it.
                extract_member(tar, member, str(staging), set_attrs=not member.isdir())
            try:
                staging.rename(target)
            except OSError:
                # Another worker process unpacked the same bundle first: theirs is as good.
                if not target.is_dir():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_bundle(data: bytes, max_unpacked_bytes: int) -> None:
    """What `unpack_bundle` would refuse, found without writing anything (the API checks an
    upload with it): not a tar.gz, an unsafe member, or too large once unpacked."""
    with tempfile.TemporaryDirectory() as nowhere, _archive_errors():
        for _ in _walk(data, Path(nowhere), max_unpacked_bytes):
            pass


def _walk(
    data: bytes, target: Path, max_unpacked_bytes: int
) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """The members of the bundle, each checked, read as a stream that stops at the cap: what
    an archive says of its own size is only used to refuse it sooner (before a file that would
    cross the cap is written), never to let it through."""
    stream = _CappedStream(gzip.GzipFile(fileobj=io.BytesIO(data)), max_unpacked_bytes)
    declared = 0
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for count, member in enumerate(tar, start=1):
            if count > MAX_BUNDLE_ENTRIES:
                raise BundleTooLarge(
                    f"the code bundle holds more than {MAX_BUNDLE_ENTRIES} files and folders"
                )
            _check_member(member)
            check_member(member, str(target))
            declared += member.size
            if declared > max_unpacked_bytes:
                raise BundleTooLarge(_too_large(max_unpacked_bytes))
            yield tar, member


@contextmanager
def _archive_errors() -> Iterator[None]:
    try:
        yield
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise BundleError(f"the code bundle cannot be unpacked: {error}") from None


class _CappedStream(io.RawIOBase):
    """The unpacked bytes of an archive, refusing to give more than `limit` of them (and never
    reading much past it, however much the reader asks for)."""

    def __init__(self, stream: gzip.GzipFile, limit: int) -> None:
        super().__init__()
        self.stream = stream
        self.limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        allowed = self.limit - self.count + 1
        chunk = self.stream.read(allowed if size < 0 else min(size, allowed))
        self.count += len(chunk)
        if self.count > self.limit:
            raise BundleTooLarge(_too_large(self.limit))
        return chunk

    def readable(self) -> bool:
        return True


def _too_large(limit: int) -> str:
    return (
        f"the code bundle unpacks to more than {limit} bytes, the limit set by "
        f"{MAX_UNPACKED_SETTING}; leave large files out with .gitignore, or raise the limit"
    )


def _check_member(member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise BundleError(f"the code bundle holds an unsafe path {member.name!r}")
    # Links (a git repository may hold some) are left to the "data" filter (tar_filter),
    # which refuses the ones pointing outside the folder; devices and fifos have no place in
    # code, and a sparse file would unpack to far more than its bytes in the archive.
    if not (member.isfile() or member.isdir() or member.issym()) or member.issparse():
        raise BundleError(f"the code bundle holds {member.name!r}, which is not a plain file")


def upload_folder(client: HeadraceClient, folder: Path, max_bytes: int) -> BundleSource:
    """Pack `folder` and store it through the API: the source a deployment names it by."""
    from headrace.schemas.code_sources import BundleSource

    bundle = pack_folder(folder, max_bytes)
    upload_bundle(client, bundle)
    return BundleSource(kind="bundle", sha256=bundle.sha256)
