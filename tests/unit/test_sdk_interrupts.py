"""A signal flagged while the main thread is blocked still interrupts it (headrace.interrupts).

The lost case is made certain here: the main thread blocks SIGINT, so the kernel hands Ctrl-C to
another thread; CPython flags it there and, on its own, the main thread's sleep goes on.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from headrace import interrupts

SCRIPT = """
import signal, threading, time
from contextlib import nullcontext
from headrace.interrupts import signals_interrupt_main_thread

guarded = {guarded}
threading.Thread(target=time.sleep, args=(600,), daemon=True).start()  # receives the signal
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGINT}})
with signals_interrupt_main_thread() if guarded else nullcontext():
    try:
        print("ready", flush=True)
        time.sleep(600)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    time.sleep(0.3)  # a second KeyboardInterrupt would surface here
print("done", flush=True)
"""


def interrupt_when_ready(tmp_path: Path, guarded: bool) -> str:
    script = tmp_path / "blocked.py"
    script.write_text(SCRIPT.format(guarded=guarded))
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.2)  # the main thread is in its sleep by now
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return output + "(hung)"
    return output


def test_a_signal_flagged_elsewhere_interrupts_the_main_threads_sleep_once(
    tmp_path: Path,
) -> None:
    assert interrupt_when_ready(tmp_path, guarded=True).split() == ["interrupted", "done"]


def test_without_the_guard_the_same_signal_is_lost(tmp_path: Path) -> None:
    # Shows the test above can fail: the cause of issue 22, in plain CPython.
    assert interrupt_when_ready(tmp_path, guarded=False).endswith("(hung)")


def test_the_guard_is_shared_and_stays_until_its_last_user_leaves() -> None:
    # Async flows running side by side leave in any order (not nested): the second one to
    # leave must still be guarded after the first has left.
    nudge = interrupts._NUDGE
    assert nudge is not None
    first, second = (
        interrupts.signals_interrupt_main_thread(),
        interrupts.signals_interrupt_main_thread(),
    )
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert signal.getsignal(nudge) != signal.SIG_DFL
    assert interrupts._guard is not None and interrupts._guard.users == 1
    second.__exit__(None, None, None)
    assert signal.getsignal(nudge) == signal.SIG_DFL
    assert interrupts._guard is None
