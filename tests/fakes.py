"""Test doubles for goslim's runner seam, shared by the unit tests of every tool wrapper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from goslim.runner import ProcessResult


class ScriptedRunner:
    """Stands in for ``SubprocessRunner``: records each argv and answers from ``answer``.

    Subclasses override ``answer`` to script a tool's output; ``installed=False`` makes every
    program missing, as on a machine without it.
    """

    def __init__(self, *, installed: bool = True) -> None:
        self.installed = installed
        self.calls: list[tuple[str, ...]] = []

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if self.installed else None

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdin: str | None = None,
    ) -> ProcessResult:
        self.calls.append(tuple(argv))
        return self.answer(tuple(argv))

    def answer(self, argv: tuple[str, ...]) -> ProcessResult:
        return ProcessResult(argv, 0, "", "", 0.0)
