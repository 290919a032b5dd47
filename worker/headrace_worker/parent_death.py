"""A child process that dies with its parent: Linux's parent-death signal (PR_SET_PDEATHSIG).

The kernel sends the signal when the *thread* that forked the child ends, not the process: a
caller forks from a thread that lives as long as the child must (see the runners).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # Looked up once here: a preexec_fn runs between fork and exec and must stay minimal.
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_prctl = _load_prctl()


def die_with_parent(parent_pid: int) -> None:
    """In a freshly forked child: get SIGKILL when `parent_pid` dies (no-op off Linux)."""
    if _prctl is None:
        return
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died between fork and prctl: then nobody would send the signal.
    if os.getppid() != parent_pid:
        os._exit(1)


def die_with_this_process() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when this process dies (Linux only; None
    elsewhere)."""
    if _prctl is None:
        return None
    parent = os.getpid()

    def in_the_child() -> None:
        die_with_parent(parent)

    return in_the_child
