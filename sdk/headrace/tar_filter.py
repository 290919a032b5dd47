"""Safe extraction of untrusted tar members on every Python 3.11.

Python's extraction filters (`tarfile.data_filter`, `extract(..., filter="data")`) arrived in
3.11.4; Debian 12's own Python is 3.11.2, which the project's `requires-python` admits. There
the worker used to crash on every bundle run. On such a Python, `legacy_data_filter` makes the
same decisions as the "data" filter (the test suite compares both): it refuses absolute names,
names and symlinks that resolve outside the destination, hard links out of it and special
files; it drops setuid/setgid/sticky bits and group/other write, and never hands a file to the
archive's owner. This module uses the standard library only, so the test suite can load it
into an old interpreter that has none of headrace's dependencies.
"""

from __future__ import annotations

import copy
import os
import stat
import tarfile

HAS_EXTRACTION_FILTERS = hasattr(tarfile, "data_filter")


class UnsafeMemberError(tarfile.TarError):
    """A member the "data" filter would refuse (the message names it and says why)."""


def _inside(path: str, dest: str) -> bool:
    return os.path.commonpath([path, dest]) == dest


def legacy_data_filter(member: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo:
    """A copy of `member` that is safe to extract into `dest_path`, or UnsafeMemberError."""
    dest = os.path.realpath(dest_path)
    name = member.name.lstrip("/" + os.sep)
    if os.path.isabs(name):
        raise UnsafeMemberError(f"{member.name!r} is an absolute path")
    # realpath follows the links already extracted: a name through one must stay inside too.
    target = os.path.realpath(os.path.join(dest, name))
    if not _inside(target, dest):
        raise UnsafeMemberError(f"{member.name!r} would be extracted outside the folder")
    if member.issym() or member.islnk():
        if os.path.isabs(member.linkname):
            raise UnsafeMemberError(f"{member.name!r} links to an absolute path")
        # A symlink is relative to its own folder; a hard link names a member of the archive.
        base = os.path.dirname(target) if member.issym() else dest
        if not _inside(os.path.realpath(os.path.join(base, member.linkname)), dest):
            raise UnsafeMemberError(f"{member.name!r} links outside the folder")
    if not (member.isreg() or member.islnk() or member.isdir() or member.issym()):
        raise UnsafeMemberError(f"{member.name!r} is a special file")
    safe = copy.copy(member)
    safe.name = name
    mode = member.mode & 0o7777 & ~(stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    mode &= ~(stat.S_IWGRP | stat.S_IWOTH)
    if member.isreg() or member.islnk():
        if not mode & stat.S_IXUSR:
            mode &= ~0o111
        mode |= stat.S_IRUSR | stat.S_IWUSR
    safe.mode = mode
    # Before 3.11.4 tarfile chowns (as root) to the archive's ids, and cannot be told "none":
    # the extracting user's own ids make that chown a no-op.
    safe.uid, safe.gid, safe.uname, safe.gname = os.getuid(), os.getgid(), "", ""
    return safe


def check_member(member: tarfile.TarInfo, dest_path: str) -> None:
    """Raise (a `tarfile.TarError`) when the "data" filter refuses `member` for `dest_path`."""
    if HAS_EXTRACTION_FILTERS:
        tarfile.data_filter(member, dest_path)
    else:
        legacy_data_filter(member, dest_path)


def extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, dest_path: str, *, set_attrs: bool
) -> None:
    """Extract one member with the "data" filter, or its stand-in before Python 3.11.4."""
    if HAS_EXTRACTION_FILTERS:
        tar.extract(member, dest_path, set_attrs=set_attrs, filter="data")
    else:
        tar.extract(legacy_data_filter(member, dest_path), dest_path, set_attrs=set_attrs)
