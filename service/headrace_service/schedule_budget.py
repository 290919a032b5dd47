"""Schedule math under a time limit.

A rule that fires rarely or never (`FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30`) makes dateutil walk
every calendar period up to the year 9999: seconds to minutes of pure Python that no argument
of the library bounds. Such a computation runs in a thread of its own; when its budget is spent,
an exception is raised inside that thread (CPython checks for it between bytecodes, and
dateutil is pure Python), so it stops instead of burning a core for minutes, and the caller
gets ScheduleTooSlow.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# How long the API waits for the next fire times of a schedule it is asked to store, and how
# long one schedule may take in a scheduler pass or on a dashboard page.
CHECK_SECONDS = 1.0
PASS_SECONDS = 2.0


class ScheduleTooSlow(Exception):
    """The schedule's fire times did not compute within the budget."""


def within_budget(compute: Callable[[], T], seconds: float) -> T:
    """`compute()`, or ScheduleTooSlow once it has run `seconds` without finishing."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(compute())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run, name="headrace-schedule-math", daemon=True)
    worker.start()
    if not done.wait(seconds):
        _raise_in(worker)
        raise ScheduleTooSlow(f"its fire times take more than {seconds:g} s to compute")
    if failure:
        raise failure[0]
    return outcome[0]


def _raise_in(worker: threading.Thread) -> None:
    if worker.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(worker.ident), ctypes.py_object(ScheduleTooSlow)
        )
