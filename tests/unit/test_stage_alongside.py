"""A stage run alongside the next ones (the ablation) runs on its own thread, overlapping them, and is
recorded in the place it was started, with its notes, its failure or its cancellation."""

from __future__ import annotations

import os
import signal
import threading
import time

from goslim import interrupt
from goslim.errors import ToolError
from goslim.pipeline import StageRecorder
from goslim.report.models import StageOutcome


def test_it_overlaps_the_next_stages_and_keeps_its_place_and_notes() -> None:
    printed: list[StageOutcome] = []
    stages = StageRecorder(printed.append)
    stages.run("build", lambda: "binary")
    release = threading.Event()

    def ablation() -> str:
        stages.note("ablation", "measured 7 builds")  # from its own thread
        release.wait(10)
        return "table"

    finish = stages.alongside("ablation", ablation)
    # The next stage runs (and ends) while the ablation still waits: it was not run first.
    stages.run("image", release.set)
    assert finish() == "table"
    assert [o.stage for o in stages.outcomes] == ["build", "ablation", "image"]
    assert [o.stage for o in printed] == ["build", "image", "ablation"]  # printed when it ends
    assert stages.outcomes[1].status == "ok" and stages.outcomes[1].message == "measured 7 builds"


def test_its_failure_is_recorded_as_the_stage_that_failed() -> None:
    stages = StageRecorder()

    def fails() -> None:
        raise ToolError("go build failed", tool="go", returncode=1, stderr_tail="main.go:1: oops")

    stages.alongside("ablation", fails)()
    [outcome] = stages.outcomes
    assert outcome.status == "failed" and outcome.message.startswith("go build failed")
    assert outcome.evidence == ("main.go:1: oops",)
    assert isinstance(stages.first_error, ToolError)


def test_an_interrupt_cancels_it_and_the_caller_still_records_it(handlers) -> None:
    stages = StageRecorder()
    started, go_on = threading.Event(), threading.Event()

    def ablation() -> str:
        started.set()
        go_on.wait(10)
        interrupt.check()  # its next cancellation point (the runner's wait on `go build`)
        return "never"

    finish = stages.alongside("ablation", ablation)
    started.wait(10)
    with interrupt.deferred():  # as `goslim slim` runs its job: the signal is noted, not raised here
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs at the main thread's next bytecode boundary
    go_on.set()
    assert finish() is None
    [outcome] = stages.outcomes
    assert outcome.status == "cancelled" and "interrupted by SIGINT" in outcome.message
