"""What the Dockerfile linter reports: findings with a rule id, a severity and a line."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    ERROR = "error"  # breaks the image or its behaviour in production; `goslim lint` exits 1
    WARNING = "warning"  # costs size, cache hits or safety
    INFO = "info"  # worth knowing

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


class Finding(BaseModel):
    """One rule broken at one place in the file."""

    model_config = ConfigDict(frozen=True)

    rule: str  # e.g. "GS010"
    name: str  # e.g. "missing-user"
    severity: Severity
    line: int
    message: str
    hint: str | None = None

    def location(self, path: str) -> str:
        return f"{path}:{self.line}"


class LintReport(BaseModel):
    """All findings for one Dockerfile, sorted by line."""

    model_config = ConfigDict(frozen=True)

    path: str
    findings: list[Finding]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def lines(self) -> list[str]:
        """``file:line: severity [rule] message`` lines, like compilers print."""
        return [
            f"{f.location(self.path)}: {f.severity.value} [{f.rule} {f.name}] {f.message}"
            for f in self.findings
        ]
