"""Does the image start? Run it once through verify's runner (same spec, probes and discovery as
`goslim verify`) with a short alive window, and sum the runtime checks up for `goslim compare`.

One container runner for the whole of goslim: compare's verdict and detail are verify's checks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from goslim.oci import Image
from goslim.verify.image import verify_image
from goslim.verify.models import Checklist, CheckStatus, VerifyOptions
from goslim.verify.runtime import OciRuntime

# The runtime checks that say whether a base can run the service; the rest is verify's job.
START_CHECKS = ("starts", "logs", "startup", "readiness", "shutdown")
ALIVE_SECONDS = 1.0  # long enough to see an early exit, short enough to compare several bases


class StartCheck(BaseModel):
    """The outcome on one base, taken from verify's checks: started (ready), and how it stopped."""

    model_config = ConfigDict(frozen=True)

    started: bool  # ran, and answered its probe when it has a port
    detail: str  # the summary of the check that decided it
    exit_code: int | None = None  # after SIGTERM (or on its own)
    seconds_to_ready: float | None = None
    log_tail: str = ""
    verdicts: dict[str, str] = Field(default_factory=dict)  # check id -> pass/warn/fail/skip
    discovered: str = ""  # what verify's discovery found, when nothing was pinned


def check_starts(image: Image, options: VerifyOptions, *, runtime: OciRuntime | None = None) -> StartCheck:
    """Run ``image`` once under verify's runner; never leaves a container or a bundle behind."""
    run_options = options.model_copy(
        update={
            "checks": START_CHECKS,
            "skip": (),
            "alive_seconds": min(options.alive_seconds, ALIVE_SECONDS),
        }
    )
    return start_from_checklist(verify_image(image, run_options, runtime=runtime))


def start_from_checklist(checklist: Checklist) -> StartCheck:
    """Compare's one-line view of a verify run: the first failed start-up check decides the detail."""
    by_id = {r.id: r for r in checklist.results}
    deciding = ("starts", "startup", "readiness")
    failed = next((by_id[c] for c in deciding if c in by_id and by_id[c].status is CheckStatus.FAIL), None)
    observed = checklist.observed
    shutdown = by_id.get("shutdown")
    if failed is not None:
        detail = failed.summary
    else:
        ready = by_id.get("readiness")
        detail = (
            ready.summary
            if ready is not None and ready.status is CheckStatus.PASS
            else by_id["starts"].summary
        )
        if shutdown is not None and shutdown.status is CheckStatus.FAIL:
            detail = f"{detail}; {shutdown.summary}"
    starts = by_id.get("starts")
    logs = [e.removeprefix("log: ") for e in (starts.evidence if starts else ()) if e.startswith("log: ")]
    return StartCheck(
        started=failed is None,
        detail=detail,
        exit_code=observed.exit_code if observed else None,
        seconds_to_ready=observed.startup_seconds if observed else None,
        log_tail="\n".join(logs[-5:]),
        verdicts={r.id: r.status.value for r in checklist.results},
        discovered=next(
            (e for r in checklist.results for e in r.evidence if e.startswith("discovered: ")), ""
        ),
    )
