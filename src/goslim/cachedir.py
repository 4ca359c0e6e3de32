"""Where goslim keeps what it may reuse between runs: pulled blobs, ablations, UPX measurements."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$GOSLIM_CACHE`` or ``$XDG_CACHE_HOME/goslim`` or ``~/.cache/goslim``."""
    if os.environ.get("GOSLIM_CACHE"):
        return Path(os.environ["GOSLIM_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "goslim"
