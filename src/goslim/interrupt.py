"""Ctrl-C and SIGTERM: the first one stops the work, cleanup can never be cut short.

The CLI installs one handler for SIGINT and SIGTERM (``install``). The first signal marks
goslim as interrupted; what happens next depends on the section the code is in:

- cancellable (the default): the work stops at once. In the main thread the handler raises
  ``Interrupted`` where the code is; other threads raise it at their next cancellation point
  (``check``, which the runner's subprocess wait and the verify container's waits call).
- ``deferred()``: the signal is only noted; the code looks at ``requested()`` when it suits it
  (`goslim slim` marks the remaining stages cancelled and writes its report once).
- ``shielded()``: cleanup that must finish (container removal, temp dirs); the signal waits
  until the section ends and is raised there, once.

A thread is interrupted at most once: after ``Interrupted`` has been raised in it, later signals
and cancellation points leave its unwinding (and the ``finally`` blocks on the way) alone.
Python runs signal handlers in the main thread only, so worker threads learn of an interrupt
through ``requested()`` and ``check()``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from types import FrameType

from goslim.errors import ExitStatus

HANDLED = (signal.SIGINT, signal.SIGTERM)
POLL_SECONDS = 0.2  # how often a subprocess wait looks for an interrupt
KILL_WAIT_SECONDS = 5.0  # a killed child is reaped within this
AGAIN = b"goslim: cleaning up after the interrupt, please wait\n"


class Interrupted(BaseException):
    """goslim was asked to stop (SIGINT or SIGTERM).

    A BaseException, like KeyboardInterrupt, so ``except GoslimError``/``except Exception`` in
    stages cannot swallow it; the CLI boundary turns it into one line and exit 130 (143 for SIGTERM).
    """

    def __init__(self, signum: int, *, hint: str | None = None) -> None:
        super().__init__(describe(signum))
        self.signum = signum
        self.hint = hint

    @property
    def exit_status(self) -> ExitStatus:
        return exit_status(self.signum)


class Mode(Enum):
    CANCELLABLE = "cancellable"
    DEFERRED = "deferred"
    SHIELDED = "shielded"


@dataclass
class _State:
    """One CLI invocation's interrupt: which signal came first, and where it was raised already."""

    signum: int | None = None
    raised_in: set[int] = field(default_factory=set)  # thread idents
    signals: int = 0
    # Re-entrant: the handler may run in the main thread while that thread holds it.
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        with self.lock:
            self.signum = None
            self.raised_in.clear()
            self.signals = 0


_state = _State()
_modes = threading.local()


def describe(signum: int) -> str:
    """'interrupted by SIGINT (Ctrl-C)' or 'stopped by SIGTERM'."""
    if signum == signal.SIGINT:
        return "interrupted by SIGINT (Ctrl-C)"
    return f"stopped by {signal.Signals(signum).name}"


def exit_status(signum: int) -> ExitStatus:
    """130 for SIGINT and 143 for SIGTERM: 128 + the signal, as shells report a killed program."""
    return ExitStatus.TERMINATED if signum == signal.SIGTERM else ExitStatus.INTERRUPTED


def requested() -> int | None:
    """The signal that asked goslim to stop, or None."""
    return _state.signum


def check() -> None:
    """A cancellation point: raise ``Interrupted`` if goslim was asked to stop and this section allows it."""
    signum = _state.signum
    if signum is not None and _mode() is Mode.CANCELLABLE and _claim_raise():
        raise Interrupted(signum)


def shielding() -> bool:
    """Whether this thread is in a shielded section, whose children must not get the terminal's Ctrl-C."""
    return _mode() is Mode.SHIELDED


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Cleanup that signals cannot cut short; a signal that came meanwhile is raised at the end, once."""
    _stack().append(Mode.SHIELDED)
    try:
        yield
    except BaseException:
        _stack().pop()
        raise
    _stack().pop()
    check()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Signals are only noted here; the code inside polls ``requested()`` and winds down itself."""
    _stack().append(Mode.DEFERRED)
    try:
        yield
    finally:
        _stack().pop()


@contextlib.contextmanager
def cancellable() -> Iterator[None]:
    """Work that a signal stops at once, also inside a deferred section."""
    _stack().append(Mode.CANCELLABLE)
    try:
        check()
        yield
    finally:
        _stack().pop()


def install() -> Callable[[], None]:
    """Handle SIGINT and SIGTERM for one CLI invocation; returns a function restoring the old handlers."""
    _state.reset()
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers can only be set from the main thread
    previous = {signum: signal.signal(signum, _handle) for signum in HANDLED}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def _handle(signum: int, _frame: FrameType | None) -> None:
    # Only this handler (main thread) writes these two fields.
    _state.signals += 1
    first = _state.signum is None
    if first:
        _state.signum = signum
        check()
    elif _state.signals == 2:
        # Not print(): the main thread may be inside a write to stderr.
        with contextlib.suppress(OSError):
            os.write(2, AGAIN)


def communicate(
    proc: subprocess.Popen, stdin: str | bytes | None, timeout: float | None
) -> tuple[str | bytes, str | bytes]:
    """``proc.communicate`` that stops the child when goslim is interrupted (SIGKILL, as subprocess.run does).

    Raises ``subprocess.TimeoutExpired`` (with the output so far) after ``timeout`` seconds, the child killed.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            check()
            left = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
            if left <= 0:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                return proc.communicate(stdin, timeout=left)
    except BaseException:
        with shielded():
            proc.kill()
            # Only the child: a grandchild (go's compilers) may hold the pipes open a while longer.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=KILL_WAIT_SECONDS)
        raise
    with shielded():
        proc.kill()
        out, err = proc.communicate()  # as subprocess.run does on a timeout: the output so far
    raise subprocess.TimeoutExpired(proc.args, timeout or 0, output=out, stderr=err)


def _stack() -> list[Mode]:
    stack = getattr(_modes, "stack", None)
    if stack is None:
        stack = _modes.stack = []
    return stack


def _mode() -> Mode:
    stack = _stack()
    return stack[-1] if stack else Mode.CANCELLABLE


def _claim_raise() -> bool:
    """True once per thread per invocation: the first Interrupted raised there."""
    ident = threading.get_ident()
    with _state.lock:
        if ident in _state.raised_in:
            return False
        _state.raised_in.add(ident)
        return True
