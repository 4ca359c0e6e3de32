"""goslim.interrupt with real signals sent to this process: where a signal stops the work, where it waits."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from goslim import interrupt
from goslim.errors import ExitStatus, ToolError
from goslim.pipeline import StageRecorder, _exit_status
from goslim.runner import SubprocessRunner


def _signal_self(signum: int = signal.SIGINT) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs at the next bytecode boundary of the main thread


def test_a_signal_stops_cancellable_work_once(handlers):
    with pytest.raises(interrupt.Interrupted) as caught:
        _signal_self()
    assert caught.value.signum == signal.SIGINT and caught.value.exit_status == ExitStatus.INTERRUPTED
    _signal_self()  # the second only says cleanup is running: the unwinding is never cut short
    interrupt.check()
    assert interrupt.requested() == signal.SIGINT


def test_shielded_cleanup_finishes_then_the_signal_is_raised(handlers):
    finished = False
    with pytest.raises(interrupt.Interrupted), interrupt.shielded():
        _signal_self(signal.SIGTERM)
        _signal_self(signal.SIGINT)
        finished = True
    assert finished
    assert interrupt.requested() == signal.SIGTERM
    assert interrupt.exit_status(signal.SIGTERM) == ExitStatus.TERMINATED == 143


def test_deferred_only_notes_the_signal(handlers):
    with interrupt.deferred():
        _signal_self()
        assert interrupt.requested() == signal.SIGINT
        with pytest.raises(interrupt.Interrupted), interrupt.cancellable():
            pass  # entering cancellable work after the signal stops it at once


def test_a_worker_thread_stops_at_its_next_tool_wait(handlers):
    """Signals reach the main thread only; a worker's subprocess is killed at the next poll."""
    seen: list[BaseException] = []
    started = threading.Event()

    def worker() -> None:
        started.set()
        try:
            SubprocessRunner().run(["sleep", "60"])
        except BaseException as exc:  # the test records what the worker saw
            seen.append(exc)

    with interrupt.deferred():
        thread = threading.Thread(target=worker)
        thread.start()
        started.wait()
        time.sleep(0.3)
        _signal_self()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(seen) == 1 and isinstance(seen[0], interrupt.Interrupted)


def test_stage_recorder_marks_the_running_stage_and_the_rest_cancelled(handlers):
    stages = StageRecorder()
    with interrupt.deferred():
        assert stages.run("build", lambda: "binary") == "binary"

        def stopped() -> None:
            _signal_self()
            raise AssertionError("not reached")

        assert stages.run("image", stopped) is None
        assert stages.run("verify", lambda: pytest.fail("a stage after the interrupt ran")) is None
        stages.skip("sign", "no key configured")
    assert [(o.stage, o.status) for o in stages.outcomes] == [
        ("build", "ok"),
        ("image", "cancelled"),
        ("verify", "cancelled"),
        ("sign", "cancelled"),
    ]
    assert "stopped after" in stages.outcomes[1].message and "SIGINT" in stages.outcomes[1].message
    assert _exit_status(stages, None) == ExitStatus.INTERRUPTED


def test_a_tool_failing_after_the_interrupt_is_cancelled_not_failed(handlers):
    stages = StageRecorder()

    def killed_tool() -> None:
        with interrupt.deferred():
            _signal_self()  # as a terminal's Ctrl-C also kills `go build`, which then fails
        raise ToolError("go exited with code 2", tool="go")

    with interrupt.deferred():
        stages.run("build", killed_tool)
    assert stages.outcomes[0].status == "cancelled" and stages.first_error is None
