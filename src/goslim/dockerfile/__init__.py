"""Dockerfile generation (the same build as goslim, for Docker/BuildKit users) and linting."""

from goslim.dockerfile.findings import Finding, LintReport, Severity
from goslim.dockerfile.generate import (
    DockerfileSpec,
    FinalBase,
    GeneratedDockerfile,
    plan_dockerfile,
    render_dockerfile,
    render_dockerignore,
    write_dockerfile,
)
from goslim.dockerfile.lint import lint_file, lint_text
from goslim.dockerfile.rules import RULES

__all__ = [
    "RULES",
    "DockerfileSpec",
    "FinalBase",
    "Finding",
    "GeneratedDockerfile",
    "LintReport",
    "Severity",
    "lint_file",
    "lint_text",
    "plan_dockerfile",
    "render_dockerfile",
    "render_dockerignore",
    "write_dockerfile",
]
