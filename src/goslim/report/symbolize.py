"""Prove (or refute) on the user's own binary that a stripped Go binary still symbolises.

Go keeps its function table (pclntab) for the runtime, so a goroutine dump from a
binary built with -s -w still names functions and files. We start the binary in a
private network namespace, send SIGQUIT (the runtime's "dump all goroutines"), and
keep the trace it prints.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from pathlib import Path

from goslim.launch import LaunchError, Sandbox, can_use_private_network, run_then_signal

# The runtime's dump starts each goroutine with "goroutine 1 [running]:" (or [select], ...).
_DUMP = re.compile(r"^goroutine \d+ \[", re.MULTILINE)
# A symbolised frame: "main.run(...)" followed by "\t/path/file.go:123 +0x1f".
_FRAME = re.compile(r"^(?P<func>[\w./*()\[\]-]+)\(.*\)\n\s+(?P<file>\S+\.go):(?P<line>\d+)", re.MULTILINE)


@dataclass(frozen=True)
class StackEvidence:
    ran: bool
    symbolised: bool
    frames: list[str]  # "func at file:line", first few
    detail: str
    dumped: bool = False  # the runtime printed a goroutine dump at all (else nothing can be judged)


def goroutine_dump(binary: Path, env: dict[str, str] | None = None, wait_s: float = 1.0) -> StackEvidence:
    """SIGQUIT the running binary and parse the goroutine dump it writes to stderr."""
    try:
        run = run_then_signal(
            [str(binary)],
            env={"PATH": "/usr/bin:/bin", "GOTRACEBACK": "all", **(env or {})},
            cwd=binary.parent,
            after_s=wait_s,
            signum=signal.SIGQUIT,
            sandbox=Sandbox(private_network=can_use_private_network()),
        )
    except LaunchError as exc:
        return StackEvidence(False, False, [], exc.one_line())
    return parse_dump(run.stderr)


def parse_dump(text: str) -> StackEvidence:
    """What a SIGQUIT dump on stderr shows: symbolised frames, an unsymbolised dump, or no dump."""
    last = text.strip().splitlines()[-1] if text.strip() else "nothing on stderr"
    if not _DUMP.search(text):
        # Exited before the signal, or printed something else: no evidence either way.
        return StackEvidence(True, False, [], f"no goroutine dump was printed (last line: {last})")
    frames = [f"{m['func']} at {Path(m['file']).name}:{m['line']}" for m in _FRAME.finditer(text)]
    # The user's own frames first: they are the ones a reader of the report recognises.
    frames.sort(key=lambda f: not f.startswith("main."))
    if not frames:
        return StackEvidence(True, False, [], "the goroutine dump has no function names or files",
                             dumped=True)
    return StackEvidence(True, True, frames[:6], f"{len(frames)} symbolised frames in the SIGQUIT dump",
                         dumped=True)
