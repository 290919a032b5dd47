"""Running a command in a real terminal (a pseudo-terminal), to see what a user sees there."""

from __future__ import annotations

import os
import pty
import subprocess


def on_a_terminal(command: list[str], env: dict[str, str], columns: int = 100) -> bytes:
    """What `command` writes to a terminal `columns` wide (line ends as the terminal has them)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**env, "COLUMNS": str(columns), "TERM": "xterm-256color"},
    )
    os.close(follower)
    written = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the command exited and closed the terminal
            break
        if not chunk:
            break
        written += chunk
    os.close(leader)
    assert process.wait(60) == 0, written
    return written
