"""`log_prints=True`: what the run prints still reaches the console, and each line also goes to
the run's logs.

While such a run is in progress, `sys.stdout` is a tee. A context variable says which run (if
any) the current code belongs to, so prints of other threads or runs are not misattributed;
partial lines are buffered per thread until their newline.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from headrace.logging import output_forwarded
from headrace.signal_deferral import handing_off

LineSink = Callable[[str], None]

_sink: ContextVar[LineSink | None] = ContextVar("headrace_print_sink", default=None)
_install_lock = threading.Lock()
_installed: list[_Tee] = []  # a stack: runs nest


class _Tee(io.TextIOBase):
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        sink = _sink.get()
        if sink is not None and output_forwarded():
            # A worker forwards stdout to the run's logs too: the captured line goes once.
            self._route(sink, text)
            return len(text)
        # Route first, then show: once the line is on the console (a reader may act on it at
        # once, e.g. send Ctrl-C), the main thread must be past headrace's logging path, where
        # a signal arriving was seen lost (issue 22, with an unbuffered stdout).
        if sink is not None and text:
            self._route(sink, text)
        written: int = self.stream.write(text)
        return written

    def _route(self, sink: LineSink, text: str) -> None:
        ident = threading.get_ident()
        # A Ctrl-C raised between taking the lines and handing them over would lose them.
        with handing_off():
            with self._lock:
                text = self._partial.pop(ident, "") + text
                *lines, rest = text.split("\n")
                if rest:
                    self._partial[ident] = rest
            for line in lines:
                sink(line)

    def flush_partial(self, sink: LineSink) -> None:
        with self._lock:
            rest = self._partial.pop(threading.get_ident(), "")
        if rest:
            sink(rest)

    def flush(self) -> None:
        self.stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return bool(self.stream.isatty())

    def fileno(self) -> int:
        return int(self.stream.fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.stream, "encoding", "utf-8"))


@contextmanager
def capture_prints(logger: logging.LoggerAdapter) -> Iterator[None]:  # type: ignore[type-arg]
    """Send this run's printed lines to `logger` (at INFO) as well as to stdout."""

    def sink(line: str) -> None:
        logger.info(line)

    tee = _install()
    token = _sink.set(sink)
    try:
        yield
    finally:
        tee.flush_partial(sink)
        _sink.reset(token)
        _uninstall(tee)


def capturing() -> bool:
    """Whether prints of the current code are captured (a run with log_prints is around it)."""
    return _sink.get() is not None


@contextmanager
def no_capture() -> Iterator[None]:
    """A run with `log_prints=False` inside one with `log_prints=True`: do not capture."""
    token = _sink.set(None)
    try:
        yield
    finally:
        _sink.reset(token)


def _install() -> _Tee:
    with _install_lock:
        current = sys.stdout
        tee = current if isinstance(current, _Tee) else _Tee(current)
        sys.stdout = tee
        _installed.append(tee)
        return tee


def _uninstall(tee: _Tee) -> None:
    with _install_lock:
        _installed.remove(tee)
        # Restore the original stream when the last capturing run ends, unless someone else
        # replaced sys.stdout meanwhile (then leave theirs alone).
        if tee not in _installed and sys.stdout is tee:
            sys.stdout = tee.stream
