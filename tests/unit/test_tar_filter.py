"""Bundles unpack safely on Pythons without tarfile's extraction filters (before 3.11.4).

The stand-in filter must decide as the standard "data" filter does (compared here on this
Python, which has both), and must really unpack on an old interpreter: Debian 12's own Python
3.11.2, where every bundle run used to crash on `extractall(filter=...)`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

import headrace.tar_filter
from headrace.tar_filter import UnsafeMemberError, legacy_data_filter

MODULE = Path(headrace.tar_filter.__file__)


def member(
    name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


CASES = [
    member("flows/etl.py"),
    member("run.sh", mode=0o777),
    member("setuid", mode=0o4755),
    member("odd-mode", mode=0o070),
    member("/etc/passwd"),
    member("../outside.py"),
    member("a/../../outside.py"),
    member("inner-link", tarfile.SYMTYPE, link="flows/etl.py"),
    member("up-link", tarfile.SYMTYPE, link="../../etc/passwd"),
    member("absolute-link", tarfile.SYMTYPE, link="/etc/passwd"),
    member("hard-out", tarfile.LNKTYPE, link="../x"),
    member("fifo", tarfile.FIFOTYPE),
    member("device", tarfile.CHRTYPE),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_stand_in_decides_as_the_data_filter(case: tarfile.TarInfo, tmp_path: Path) -> None:
    try:
        expected: tarfile.TarInfo | None = tarfile.data_filter(case, str(tmp_path))
    except tarfile.FilterError:
        expected = None
    try:
        got: tarfile.TarInfo | None = legacy_data_filter(case, str(tmp_path))
    except UnsafeMemberError:
        got = None
    assert (got is None) == (expected is None), (got, expected)
    if got is not None and expected is not None:
        assert got.name == expected.name
        if case.isreg():
            assert got.mode == expected.mode
        assert (got.uid, got.gid) == (os.getuid(), os.getgid())


# Runs in the old interpreter: only the standard library and the module file are there.
OLD_PYTHON_SCRIPT = textwrap.dedent(
    """
    import importlib.util, io, json, os, sys, tarfile

    spec = importlib.util.spec_from_file_location("tar_filter", sys.argv[1])
    tar_filter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tar_filter)
    dest = sys.argv[2]

    def unpack(data):
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
            for member in tar:
                tar_filter.check_member(member, dest)
                tar_filter.extract_member(tar, member, dest, set_attrs=not member.isdir())

    refused = []
    for name in sys.argv[4:]:
        with open(name, "rb") as bad:
            try:
                unpack(bad.read())
            except tarfile.TarError as error:
                refused.append(str(error))
    with open(sys.argv[3], "rb") as good:
        unpack(good.read())
    print(json.dumps({
        "filters": tar_filter.HAS_EXTRACTION_FILTERS,
        "version": list(sys.version_info[:3]),
        "refused": refused,
        "flow": open(os.path.join(dest, "flows", "etl.py")).read(),
        "script_mode": oct(os.stat(os.path.join(dest, "run.sh")).st_mode & 0o7777),
        "setuid_mode": oct(os.stat(os.path.join(dest, "setuid")).st_mode & 0o7777),
        "link": os.readlink(os.path.join(dest, "inner-link")),
    }))
    """
)


def old_python() -> str | None:
    """An interpreter older than 3.11.4 (Debian 12's /usr/bin/python3.11 is 3.11.2)."""
    for candidate in ("/usr/bin/python3.11", "/usr/bin/python3"):
        if not os.access(candidate, os.X_OK):
            continue
        version = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:3] < (3, 11, 4))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if version.stdout.strip() == "True":
            return candidate
    return None


def archive(path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, content in members:
            info.size = len(content) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return path


def test_bundles_unpack_safely_on_python_3_11_2(tmp_path: Path) -> None:
    python = old_python()
    if python is None:
        reason = "needs a Python older than 3.11.4: apt-get install -y python3.11 (Debian 12)"
        if os.environ.get("HEADRACE_REQUIRE_TOOLS") == "1":
            raise RuntimeError(reason)
        pytest.skip(reason)
    good = archive(
        tmp_path / "good.tar.gz",
        (member("flows", tarfile.DIRTYPE, mode=0o755), b""),
        (member("flows/etl.py"), b"print('hello')\n"),
        (member("run.sh", mode=0o777), b"#!/bin/sh\n"),
        (member("setuid", mode=0o4755), b"x"),
        (member("inner-link", tarfile.SYMTYPE, link="flows/etl.py"), b""),
    )
    escaping = archive(tmp_path / "up.tar.gz", (member("up", tarfile.SYMTYPE, link="../x"), b""))
    # An absolute name lands inside the folder, its leading "/" stripped, as with the filter.
    evil = tmp_path / "evil"
    absolute = archive(tmp_path / "abs.tar.gz", (member(str(evil)), b"x"))
    dest = tmp_path / "dest"
    dest.mkdir()

    result = subprocess.run(
        [
            python,
            "-c",
            OLD_PYTHON_SCRIPT,
            str(MODULE),
            str(dest),
            str(good),
            str(escaping),
            str(absolute),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["filters"] is False and seen["version"] < [3, 11, 4]
    assert seen["flow"] == "print('hello')\n"
    assert seen["script_mode"] == "0o755" and seen["setuid_mode"] == "0o755"
    assert seen["link"] == "flows/etl.py"
    assert len(seen["refused"]) == 1 and "links outside the folder" in seen["refused"][0]
    assert not (tmp_path / "x").exists() and not (dest / "up").exists()
    assert not evil.exists() and (dest / str(evil).lstrip("/")).read_bytes() == b"x"
