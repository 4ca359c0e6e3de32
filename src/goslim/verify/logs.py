"""Reading what the container wrote: line counts, structured JSON, error-level lines, telling errors."""

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
# Go's net package: "listen tcp :80: bind: permission denied" (also udp, tcp4, "0.0.0.0:80", "[::]:80").
_BIND_DENIED = re.compile(r"listen (?:tcp|udp)[46]? \[?[\w.:%-]*?\]?:(\d+): bind: permission denied")
# Level words as loggers print them: klog "E1202 15:04:05", "[ERROR]", "[ERR]" (nats), zap's "\tERROR\t".
_KLOG_ERROR = re.compile(r"^[EF]\d{4} \d\d:\d\d:\d\d")
_TEXT_ERROR = re.compile(r"(?:^|[\s\[|])(?:ERROR|ERRO|ERR|FATAL|FTL|PANIC|CRITICAL|CRIT)(?:[\]\s:|]|$)")
_LOGFMT_ERROR = re.compile(
    r"\b(?:level|lvl|severity)=\"?(?:error|eror|err|fatal|panic|critical|crit|emerg|alert)\b", re.IGNORECASE
)
_ERROR_LEVELS = frozenset(
    {"error", "eror", "err", "fatal", "panic", "critical", "crit", "emerg", "emergency", "alert", "dpanic"}
)
KEPT_ERROR_LINES = 5
# Go's os errors: "open blackbox.yml: no such file or directory" (a config file the image lacks).
_MISSING_FILE = re.compile(r"\bopen ([^\s:\"']+): no such file or directory")
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
    error_count: int = 0  # error-level lines (JSON level, logfmt level=, text and klog prefixes)
    error_lines: tuple[str, ...] = ()  # the first few
    probe_error_count: int = 0  # of those, written while goslim probed health paths
    probe_error_lines: tuple[str, ...] = ()
    bind_denied_ports: tuple[int, ...] = ()  # "listen tcp :80: bind: permission denied"
    bind_denied_lines: tuple[str, ...] = ()
    missing_files: tuple[str, ...] = ()  # paths it failed to open: "open X: no such file or directory"
    missing_file_lines: tuple[str, ...] = ()
    panic_line: str = ""  # "panic: ..." from the Go runtime, when the process panicked

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


def read_span(path: Path, start: int, end: int) -> str:
    """Bytes ``start``..``end`` of a log file (at most a MiB, the last of the span), as text."""
    start = max(start, end - MAX_LOG_BYTES)
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            return fh.read(max(0, end - start)).decode(errors="replace")
    except FileNotFoundError:
        return ""


def is_error_line(line: str) -> bool:
    """An error-level line: JSON ``level``/``severity``, logfmt ``level=error``, or a text/klog prefix."""
    text = line.strip()
    if text.startswith("{"):
        level = _json_level(text)
        if level is not None:
            return level.lower() in _ERROR_LEVELS
    if _LOGFMT_ERROR.search(text):
        return True
    if re.search(r"\b(?:level|lvl)=", text, re.IGNORECASE):
        return False  # logfmt with a level that is not an error one
    return bool(_KLOG_ERROR.match(text) or _TEXT_ERROR.search(text))


def analyze_logs(stdout: str, stderr: str, probed: str = "") -> LogFacts:
    """Facts about the two streams a container wrote; ``probed``: what it wrote while goslim probed it."""
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
    errors = [line for line in lines if is_error_line(line)]
    probe_errors = [line for line in probed.splitlines() if line.strip() and is_error_line(line)]
    bind = [m for m in (_BIND_DENIED.search(line) for line in lines) if m]
    missing = [m for m in (_MISSING_FILE.search(line) for line in lines) if m]
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
        error_count=len(errors),
        error_lines=tuple(errors[:KEPT_ERROR_LINES]),
        probe_error_count=len(probe_errors),
        probe_error_lines=tuple(probe_errors[:KEPT_ERROR_LINES]),
        bind_denied_ports=tuple(dict.fromkeys(int(m.group(1)) for m in bind)),
        bind_denied_lines=tuple(dict.fromkeys(m.string for m in bind))[:3],
        missing_files=tuple(dict.fromkeys(m.group(1) for m in missing))[:5],
        missing_file_lines=tuple(dict.fromkeys(m.string for m in missing))[:3],
        panic_line=next((line for line in lines if line.startswith("panic: ")), ""),
    )


def _is_json_object(line: str) -> bool:
    line = line.strip()
    if not (line.startswith("{") and line.endswith("}")):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _json_level(text: str) -> str | None:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    for key in ("level", "lvl", "severity", "log.level", "levelname"):
        value = obj.get(key)
        if isinstance(value, str):
            return value
    return None


def _looks_error(line: str) -> bool:
    low = line.lower()
    return any(w in low for w in ("error", "unknown", "fatal", "cannot", "failed", "no such"))
