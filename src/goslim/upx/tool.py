"""The `upx` program, run one way through goslim's runner: pack to a new file, test, version.

`--no-env` everywhere so a stray ``UPX`` environment variable cannot change what is
measured. UPX reports a refusal as ``upx: FILE: SomethingException: detail`` on
stderr; those become ``UpxRefusedError`` with a message a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from goslim.errors import ToolError
from goslim.runner import Runner, SubprocessRunner, require
from goslim.upx.errors import UpxRefusedError
from goslim.upx.levels import level_flags

PACK_TIMEOUT_S = 1800.0  # --ultra-brute on a large binary runs for many minutes
TEST_TIMEOUT_S = 300.0
_EXCEPTION_RE = re.compile(r"upx: (?P<file>.*?): (?P<kind>\w+Exception)(?:: (?P<detail>.*))?$", re.MULTILINE)

# UPX exception -> (what it means, what to do)
_REFUSALS = {
    "AlreadyPackedException": (
        "already packed by UPX",
        "give goslim the unpacked build (or `upx -d` a copy of this one)",
    ),
    "NotCompressibleException": ("UPX cannot make it smaller", "leave this binary unpacked (--upx off)"),
    "UnknownExecutableFormatException": (
        "not an executable format UPX packs",
        "give goslim a Linux ELF Go binary",
    ),
    "CantPackException": (
        "UPX cannot pack this binary",
        "build it static and non-PIE: CGO_ENABLED=0, no -buildmode=pie",
    ),
    "IOException": ("UPX cannot read it", "check the file is a complete executable"),
}


@dataclass(frozen=True)
class PackRun:
    level: str
    flags: tuple[str, ...]
    seconds: float
    output: Path


class Upx:
    """The installed `upx`."""

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner = runner or SubprocessRunner()

    def version(self) -> str:
        """'4.2.2' from the first line of `upx --version`."""
        exe = require(self.runner, "upx")
        first = self.runner.run([exe, "--version"], timeout=30).stdout.strip().splitlines()[:1]
        return first[0].removeprefix("upx").strip() if first else "unknown"

    def pack(self, source: Path, output: Path, level: str) -> PackRun:
        """Pack ``source`` into the new file ``output`` (which must not exist); ``source`` is untouched."""
        exe = require(self.runner, "upx")
        flags = level_flags(level)
        result = self.runner.run(
            [exe, "--no-env", "-q", *flags, "-o", str(output), str(source)],
            timeout=PACK_TIMEOUT_S,
            check=False,
        )
        # Exit 2 is UPX's "warning" (AlreadyPacked, NotCompressible): nothing was written either.
        if result.returncode != 0 or not output.is_file():
            output.unlink(missing_ok=True)
            raise refusal(result.stderr, source, result.returncode)
        return PackRun(level=level, flags=flags, seconds=result.seconds, output=output)

    def test(self, path: Path) -> tuple[bool, str]:
        """`upx -t`: does the compressed data decompress to what was packed? (ok, evidence line)."""
        exe = require(self.runner, "upx")
        result = self.runner.run([exe, "--no-env", "-t", str(path)], timeout=TEST_TIMEOUT_S, check=False)
        text = result.stdout + result.stderr
        lines = [ln.strip() for ln in text.splitlines() if "testing" in ln or "upx:" in ln]
        evidence = lines[-1] if lines else f"upx -t exit {result.returncode}"
        return result.returncode == 0, evidence


def refusal(stderr: str, source: Path, returncode: int) -> UpxRefusedError | ToolError:
    """Turn UPX's stderr into one clear line: a refusal of this file, or a failure of UPX itself."""
    match = _EXCEPTION_RE.search(stderr)
    if match is None:
        return ToolError(
            f"upx failed on {source.name} (exit {returncode})",
            tool="upx",
            returncode=returncode,
            stderr_tail=stderr.strip()[-2000:],
        )
    kind, detail = match["kind"], (match["detail"] or "").strip()
    meaning, hint = _REFUSALS.get(kind, ("UPX refused it", "leave this binary unpacked (--upx off)"))
    if kind == "IOException" and "too small" in detail:
        meaning, hint = "too small for UPX to pack", "nothing to gain: leave it unpacked (--upx off)"
    elif kind == "CantPackException" and "not executable" in detail:
        meaning, hint = "not marked executable", f"chmod +x {source}"
    suffix = f" ({kind}: {detail})" if detail else f" ({kind})"
    return UpxRefusedError(f"{source.name}: {meaning}{suffix}; the input is unchanged", hint=hint)
