"""`goslim lint`: check a Dockerfile against goslim's rules, with file:line findings."""

from __future__ import annotations

from pathlib import Path

from goslim.dockerfile.findings import Finding, LintReport
from goslim.dockerfile.parser import parse_dockerfile
from goslim.dockerfile.rules import RULES, LintContext
from goslim.errors import UserInputError


def lint_text(text: str, *, path: str = "Dockerfile", context_dir: Path | None = None) -> LintReport:
    """Lint Dockerfile text; ``context_dir`` enables the checks that look at the build context."""
    df = parse_dockerfile(text)
    ctx = LintContext(context_dir=context_dir)
    findings: list[Finding] = [f for rule in RULES for f in rule.findings(df, ctx)]
    findings.sort(key=lambda f: (f.line, f.severity.rank, f.rule))
    return LintReport(path=path, findings=findings)


def lint_file(path: Path) -> LintReport:
    """Read and lint a Dockerfile; its folder is taken as the build context."""
    if path.is_dir():
        path = path / "Dockerfile"
    if not path.is_file():
        raise UserInputError(f"no Dockerfile at {path}", hint="pass the path of a Dockerfile")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{path} is not a UTF-8 text file", hint="is this really a Dockerfile?") from exc
    except OSError as exc:
        raise UserInputError(f"cannot read {path}: {exc.strerror}") from exc
    if "\x00" in text:
        raise UserInputError(
            f"{path} is a binary file, not a Dockerfile", hint="pass the path of a Dockerfile"
        )
    return lint_text(text, path=str(path), context_dir=path.parent)
