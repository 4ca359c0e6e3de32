"""Compare's start checks kept between runs, keyed by the image digest and how it was run.

The same image bytes run with the same options on the same host start the same way, so a re-run
of `goslim slim` with nothing changed does not run every base again. A result is kept when it is
settled: the service became ready, or its process exited on its own; a timeout (often a slow
machine) is checked again next time.
"""

from __future__ import annotations

import os

from goslim.image.compare import StartChecker
from goslim.image.startcheck import StartCheck
from goslim.oci import Image
from goslim.resultcache import ResultCache, cache_key
from goslim.verify.models import VerifyOptions

CACHE_KIND = "startcheck"
SCHEMA = 1


class StartCheckCache:
    """Wraps a start checker; counts how many checks were reused."""

    def __init__(self, results: ResultCache | None = None) -> None:
        self.results = results or ResultCache(CACHE_KIND)
        self.reused = 0
        self.checked = 0

    def wrap(self, check: StartChecker, options: VerifyOptions) -> StartChecker:
        """``check``, answered from the cache for an image digest already seen started with ``options``."""

        def cached(image: Image) -> StartCheck:
            key = cache_key(
                {
                    "schema": SCHEMA,
                    "image": str(image.digest),
                    "options": options.model_dump(mode="json"),
                    "host": [os.uname().machine, os.uname().release],
                }
            )
            found = self.results.load(key, StartCheck)
            if found is not None and _settled(found):
                self.reused += 1
                return found
            result = check(image)
            self.checked += 1
            if _settled(result):
                self.results.store(key, result)
            return result

        return cached

    def describe(self) -> str:
        """'start checks reused for 2 of 2 images (same digests)', or '' when none was reused."""
        if not self.reused:
            return ""
        return f"start checks reused for {self.reused} of {self.reused + self.checked} images (same digests)"


def _settled(check: StartCheck) -> bool:
    """A result the same image gives every time: it started, or its process ran and exited on its own
    (a missing file, a crash); not a timeout or a runtime hiccup, which may pass next time."""
    return check.started or (check.verdicts.get("starts") == "fail" and check.exit_code is not None)
