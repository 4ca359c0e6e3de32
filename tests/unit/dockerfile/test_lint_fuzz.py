"""The linter never crashes: any text yields findings (bad input is a finding, never a traceback)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from goslim.dockerfile import lint_text

# Pieces of real Dockerfiles, so the fuzzer reaches deep into the rules instead of only the tokenizer.
FRAGMENTS = [
    "FROM ",
    "scratch",
    "golang:1.22",
    " AS ",
    "build",
    "RUN ",
    "COPY ",
    "--from=build ",
    ". .",
    "USER ",
    "root",
    "ENTRYPOINT ",
    '["/app"]',
    "/app",
    "CMD ",
    "<<EOF",
    "EOF",
    "\\",
    "\n",
    " ",
    "#",
    "# escape=`",
    "`",
    "ENV ",
    "ARG ",
    "=",
    "$",
    "${X:-y}",
    "go build",
    "go mod download",
    "apk add ",
    "apt-get install",
    "ADD ",
    "https://x/y",
    "HEALTHCHECK CMD ",
    "--mount=type=cache,target=/root/.cache/go-build ",
    "[",
    "]",
    '"',
    "'",
    "CGO_ENABLED=0 ",
    "-ldflags=",
    "-trimpath",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=60))
def test_any_text_lints_without_raising(parts: list[str]) -> None:
    report = lint_text("".join(parts))
    assert all(f.line >= 1 for f in report.findings)
