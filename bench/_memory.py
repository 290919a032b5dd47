"""Peak memory of a set of processes and all their descendants, sampled from /proc (Linux).

PSS (proportional set size) is summed, not RSS: forked flow processes share the pages of their
ready interpreter, and RSS would count those once per process.
"""

from __future__ import annotations

import threading
from pathlib import Path


def descendants(roots: set[int]) -> set[int]:
    """`roots` and every process whose parent chain leads to one of them."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces: the fields after it start after the last ')'.
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def pss_bytes(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue  # ended meanwhile
        for line in lines:
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


class PeakMemory:
    """Samples the PSS of `roots` and their descendants every `interval` s, in a thread."""

    def __init__(self, roots: set[int], interval: float = 0.5) -> None:
        self.peak_bytes = 0
        self.peak_processes = 0
        self._roots = roots
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            pids = descendants(self._roots)
            self.peak_bytes = max(self.peak_bytes, pss_bytes(pids))
            self.peak_processes = max(self.peak_processes, len(pids))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
