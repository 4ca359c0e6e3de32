"""What the final stage must carry for the binary: CA roots, zoneinfo, a passwd file.

When a built binary is at hand, ``goslim.binary.analyze`` decides; otherwise the
generator assumes the conservative set (all three) and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from goslim.binary import analyze


class RuntimeNeeds(BaseModel):
    """Files the final image must supply, and how that was decided."""

    model_config = ConfigDict(frozen=True)

    ca_roots: bool = True
    zoneinfo: bool = True
    passwd: bool = True
    dynamic: bool = False  # needs a dynamic loader: cannot run on scratch or distroless static
    source: Literal["binary", "conservative", "given"] = "conservative"
    note: str = ""


CONSERVATIVE = RuntimeNeeds(
    note="no binary analyzed: assuming it needs CA roots, zoneinfo and a passwd file (pass --binary to check)"
)


def needs_from_report(needs: Any, *, binary: str) -> RuntimeNeeds:
    """Translate ``BinaryReport.needs`` (each item a ``Need`` with ``.needed``) into RuntimeNeeds."""

    def needed(name: str) -> bool:
        item = getattr(needs, name, None)
        if item is None:
            return True  # unknown to the analyzer: keep the file rather than break the image
        return bool(getattr(item, "needed", item))

    return RuntimeNeeds(
        ca_roots=needed("ca_roots"),
        zoneinfo=needed("zoneinfo"),
        passwd=needed("passwd"),
        dynamic=bool(getattr(getattr(needs, "loader", None), "needed", False)),
        source="binary",
        note=f"needs measured on {binary}",
    )


def needs_for_binary(path: Path) -> RuntimeNeeds:
    """What ``path`` needs at run time, decided by ``goslim.binary.analyze``."""
    return needs_from_report(analyze(path).needs, binary=str(path))
