"""Reading what the container wrote: line counts, structured JSON, and telling error lines."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

MAX_LOG_BYTES = 1 << 20  # read at most the last MiB of each stream
LAST_LINES = 8

# Go: "open /var/x: read-only file system"; C/Python: "Read-only file system: '/var/x'".
_RO_BEFORE = re.compile(r"(/[\w.@+\-/]*)[\"']?:?\s+read-only file system", re.IGNORECASE)
_RO_AFTER = re.compile(r"read-only file system:?\s*[\"']?(/[\w.@+\-/]*)", re.IGNORECASE)
_ZONE_ERRORS = re.compile(r"unknown time zone|zoneinfo", re.IGNORECASE)
_ROOTS_ERRORS = re.compile(
    r"certificate signed by unknown authority|no CA roots|failed to load system roots|x509: .*system root",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LogFacts:
    stdout_lines: int
    stderr_lines: int
    json_lines: int  # lines that are JSON objects (structured logs)
    lines: tuple[str, ...]  # all lines, stdout first then stderr (bounded)
    last_lines: tuple[str, ...]
    read_only_paths: tuple[str, ...]  # paths the process failed to write because / is read-only
    read_only_lines: tuple[str, ...]
    zone_lines: tuple[str, ...]
    roots_lines: tuple[str, ...]

    @property
    def total(self) -> int:
        return self.stdout_lines + self.stderr_lines


def read_stream(path: Path) -> str:
    """The last MiB of a log file, as text."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - MAX_LOG_BYTES))
            return fh.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def analyze_logs(stdout: str, stderr: str) -> LogFacts:
    """Facts about the two streams a container wrote."""
    out = [line for line in stdout.splitlines() if line.strip()]
    err = [line for line in stderr.splitlines() if line.strip()]
    lines = out + err
    ro_lines = [line for line in lines if "read-only file system" in line.lower()]
    paths: list[str] = []
    for line in ro_lines:
        for m in (*_RO_BEFORE.finditer(line), *_RO_AFTER.finditer(line)):
            if m.group(1) not in paths and m.group(1) != "/":
                paths.append(m.group(1))
        if not paths and "/" in line:
            paths.append("/")
    last = (out + err)[-LAST_LINES:] if not err else (out[-LAST_LINES // 2 :] + err[-LAST_LINES // 2 :])
    return LogFacts(
        stdout_lines=len(out),
        stderr_lines=len(err),
        json_lines=sum(1 for line in lines if _is_json_object(line)),
        lines=tuple(lines[-500:]),
        last_lines=tuple(last),
        read_only_paths=tuple(paths),
        read_only_lines=tuple(ro_lines[:5]),
        zone_lines=tuple(line for line in lines if _ZONE_ERRORS.search(line) and _looks_error(line))[:3],
        roots_lines=tuple(line for line in lines if _ROOTS_ERRORS.search(line))[:3],
    )


def _is_json_object(line: str) -> bool:
    line = line.strip()
    if not (line.startswith("{") and line.endswith("}")):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _looks_error(line: str) -> bool:
    low = line.lower()
    return any(w in low for w in ("error", "unknown", "fatal", "cannot", "failed", "no such"))
