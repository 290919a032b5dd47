"""Hosts on one machine: network namespaces joined by a bridge, each with its own loopback and
address. Also used by bench/remote_hosts.py (loaded by path).

The API host is the root namespace, on the bridge's address (10.231.N.1): the server binds to
that non-loopback address, as in production, and reaches the test PostgreSQL as before. Every
other host is a namespace with one veth into the bridge (10.231.N.2, .3, ...); taking the
bridge's end of that veth down cuts that host off (a partition); taking it up heals it.

Names carry the pid of the process that made them (`hrh<pid>-<role>` namespaces, `hrb<pid>`
bridges, `hr<pid><role>` veths), so tests run by several people at once never collide, and a
sweep removes what a killed run left behind (its pid is gone) without touching a live run's.
Needs root and iproute2 (`ip`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

NETNS_PREFIX = "hrh"
BRIDGE_PREFIX = "hrb"
VETH_PREFIX = "hr"
SUBNET = "10.231.{}.0/24"
_OWNER = re.compile(rf"^(?:{NETNS_PREFIX}|{BRIDGE_PREFIX})(\d+)")


def ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def available() -> str | None:
    """Why hosts cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "no `ip` command (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> None:
    """Remove the namespaces and bridges of runs whose process is gone (killed mid-test)."""
    names = [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]
    bridges = [
        line.split(":")[1].strip().split("@")[0]
        for line in ip("-o", "link", "show", "type", "bridge").splitlines()
    ]
    for name in names + bridges:
        owner = _OWNER.match(name)
        if owner is None or _alive(int(owner.group(1))):
            continue
        if name.startswith(NETNS_PREFIX):
            ip("netns", "del", name, check=False)
        else:
            ip("link", "del", name, check=False)


def _free_subnet() -> int:
    """A third octet of 10.231.N.0/24 no interface of this machine uses yet."""
    used = set(re.findall(r"inet 10\.231\.(\d+)\.", ip("-o", "-4", "addr", "show")))
    start = os.getpid() % 250 + 1
    for offset in range(250):
        octet = (start + offset) % 250 + 1
        if str(octet) not in used:
            return octet
    raise RuntimeError("no free 10.231.N.0/24 subnet for test hosts")


@dataclass
class Host:
    """A host: the root namespace (the API host) or a namespace of its own."""

    role: str
    address: str
    folder: Path  # its own working folder and HEADRACE_HOME
    netns: str | None = None
    link: str | None = None  # the bridge's end of its veth

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run on this host."""
        return argv if self.netns is None else ["ip", "netns", "exec", self.netns, *argv]

    def cut(self) -> None:
        """Partition: nothing reaches this host or leaves it (established connections hang)."""
        assert self.link is not None, "the API host is not cut in these tests"
        ip("link", "set", self.link, "down")

    def heal(self) -> None:
        assert self.link is not None
        ip("link", "set", self.link, "up")


@dataclass
class Network:
    """A bridge with the API host on it and a namespace per other host."""

    folder: Path
    octet: int = field(default_factory=_free_subnet)
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return str(os.getpid())

    @property
    def bridge(self) -> str:
        return f"{BRIDGE_PREFIX}{self.tag}"

    def address(self, index: int) -> str:
        return f"10.231.{self.octet}.{index}"

    def open(self, roles: list[str]) -> dict[str, Host]:
        """The API host (`api`) and a namespace host for each role; at most 9 roles, of at
        most 3 characters (interface names are limited to 15)."""
        sweep_stale()
        self.close()  # a previous test of this process that could not clean up
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.address(1)}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        self.hosts["api"] = Host("api", self.address(1), self._folder("api"))
        for index, role in enumerate(roles, start=2):
            netns = f"{NETNS_PREFIX}{self.tag}-{role}"
            link = f"{VETH_PREFIX}{self.tag}{role}"
            ip("netns", "add", netns)
            ip("link", "add", link, "type", "veth", "peer", "name", f"{link}p")
            ip("link", "set", link, "master", self.bridge, "up")
            ip("link", "set", f"{link}p", "netns", netns)
            ip("-n", netns, "link", "set", f"{link}p", "name", "eth0")
            ip("-n", netns, "addr", "add", f"{self.address(index)}/24", "dev", "eth0")
            ip("-n", netns, "link", "set", "eth0", "up")
            ip("-n", netns, "link", "set", "lo", "up")
            self.hosts[role] = Host(role, self.address(index), self._folder(role), netns, link)
        return self.hosts

    def _folder(self, role: str) -> Path:
        path = self.folder / role
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        """Remove every namespace and link of this process (each veth goes with its namespace;
        deleted explicitly too, in case a process still holds the namespace open)."""
        for name in ip("netns", "list").splitlines():
            netns = name.split()[0] if name.strip() else ""
            if netns.startswith(f"{NETNS_PREFIX}{self.tag}-"):
                role = netns.rsplit("-", 1)[1]
                ip("link", "del", f"{VETH_PREFIX}{self.tag}{role}", check=False)
                ip("netns", "del", netns, check=False)
        ip("link", "del", self.bridge, check=False)
        self.hosts.clear()
