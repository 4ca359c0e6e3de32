"""One error hierarchy for goslim, and the exit codes the CLI maps it to.

A ``GoslimError`` is a user-facing problem: bad input, a failed external tool, a
refused request. The CLI prints it as one line (plus an optional hint) and exits
with its ``exit_status``. Anything else that escapes is a bug and shows a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # a check or policy failed (verify, scan --fail-on, ...)
    BAD_INPUT = 2  # user mistake, bad input or usage
    TOOL_FAILED = 3  # an external program (go, upx, runc, registry) failed
    INTERRUPTED = 130


class GoslimError(Exception):
    """A problem to report to the user in one line, with an optional hint."""

    exit_status: ExitStatus = ExitStatus.BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def one_line(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        return f"{prefix}{self.message}"


class UserInputError(GoslimError):
    """Bad input: a missing module, a malformed file, a wrong flag value."""


class ConfigError(UserInputError):
    """goslim.yaml is malformed or has an unknown key."""


class ToolMissingError(GoslimError):
    """An external program goslim needs is not installed."""

    exit_status = ExitStatus.TOOL_FAILED


class ToolError(GoslimError):
    """An external program ran and failed; carries the tail of its stderr."""

    exit_status = ExitStatus.TOOL_FAILED

    def __init__(
        self,
        message: str,
        *,
        tool: str,
        returncode: int | None = None,
        stderr_tail: str = "",
        hint: str | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, where=where)
        self.tool = tool
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class SourceBuildError(ToolError):
    """The compiler ran and refused the module for a reason of its own (a compile error, cgo under
    CGO_ENABLED=0): the input is the problem, not the tool, so it is bad input."""

    exit_status = ExitStatus.BAD_INPUT


class CheckFailedError(GoslimError):
    """A check or policy failed; the result was still produced and rendered."""

    exit_status = ExitStatus.CHECK_FAILED


class UserInterrupt(GoslimError):
    """The user pressed Ctrl-C; cleanup ran and earlier output is intact."""

    exit_status = ExitStatus.INTERRUPTED
