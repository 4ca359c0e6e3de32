"""A Dockerfile parser that keeps line numbers: continuations, comments, heredocs, stages.

It follows BuildKit's reading of the file closely enough for linting: parser
directives (``# escape=``) at the top, the escape character at the end of a line
joins it to the next, comment lines inside a continuation are dropped, and
``<<WORD`` heredocs on RUN/COPY/ADD swallow the lines up to ``WORD``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_JSON_FORM_INSTRUCTIONS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_]*)\s*=\s*(.*?)\s*$")
_HEREDOC_RE = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG_RE = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?$")


@dataclass(frozen=True)
class Heredoc:
    """The body of a ``<<WORD`` heredoc and the lines it spans."""

    word: str
    body: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Instruction:
    """One instruction as written, with the 1-based lines it spans in the file."""

    keyword: str  # upper-case, e.g. "RUN"
    args: str  # everything after the keyword, continuations joined with a space
    line: int  # line of the keyword
    end_line: int
    flags: dict[str, str] = field(default_factory=dict)  # leading --name=value options
    rest: str = ""  # args without the leading flags
    heredocs: tuple[Heredoc, ...] = ()

    @property
    def json_args(self) -> list[str] | None:
        """The exec-form argument list when written as a JSON array of strings, else None."""
        if self.keyword not in _JSON_FORM_INSTRUCTIONS or not self.rest.startswith("["):
            return None
        try:
            value = json.loads(self.rest)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None

    @property
    def is_exec_form(self) -> bool:
        return self.json_args is not None

    def words(self) -> list[str]:
        """The shell-like words of ``rest`` (quotes honoured; falls back to whitespace split)."""
        try:
            return shlex.split(self.rest, comments=False, posix=True)
        except ValueError:
            return self.rest.split()

    @property
    def script(self) -> str:
        """What a RUN executes: the command line plus any heredoc bodies."""
        return "\n".join([self.rest, *(h.body for h in self.heredocs)])


@dataclass(frozen=True)
class Stage:
    """A build stage: its FROM and the instructions up to the next FROM."""

    index: int
    base: str  # the image (or earlier stage) named in FROM, as written
    name: str | None  # the AS name, lower-cased like BuildKit does
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass(frozen=True)
class ParseProblem:
    """Something the parser could not read; reported as a lint finding."""

    line: int
    message: str


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: directives, global ARGs before the first FROM, and stages."""

    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    directives: dict[str, str]
    problems: tuple[ParseProblem, ...]
    escape: str = "\\"

    @property
    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def stage_named(self, ref: str) -> Stage | None:
        """The stage a ``--from=`` or ``FROM`` refers to, by AS name or index, or None for an image."""
        ref_l = ref.lower()
        for stage in self.stages:
            if stage.name == ref_l:
                return stage
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


def parse_dockerfile(text: str) -> Dockerfile:
    """Parse Dockerfile text; never raises on odd content, records ``problems`` instead."""
    lines = text.splitlines()
    directives, first_line = _read_directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        escape = "\\"
    instructions: list[Instruction] = []
    problems: list[ParseProblem] = []
    i = first_line
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts, i = _join_continuation(lines, i, escape)
        if i > len(lines):
            problems.append(ParseProblem(start + 1, "the file ends inside a line continuation"))
        logical = " ".join(p for p in parts if p)
        keyword, _, args = logical.strip().partition(" ")
        keyword_u = keyword.upper()
        args = args.strip()
        heredocs: list[Heredoc] = []
        if keyword_u in _HEREDOC_INSTRUCTIONS and not args.startswith("["):
            for match in _HEREDOC_RE.finditer(args):
                heredoc, i, ok = _read_heredoc(lines, i, match.group(3), strip_tabs=match.group(1) == "-")
                if not ok:
                    problems.append(ParseProblem(start + 1, f"heredoc <<{match.group(3)} is never closed"))
                heredocs.append(heredoc)
        if keyword_u not in KNOWN_INSTRUCTIONS:
            problems.append(ParseProblem(start + 1, f"unknown instruction '{keyword}'"))
        flags, rest = (
            _split_flags(args) if keyword_u in {"FROM", "COPY", "ADD", "RUN", "HEALTHCHECK"} else ({}, args)
        )
        instructions.append(
            Instruction(
                keyword=keyword_u,
                args=args,
                line=start + 1,
                end_line=min(i, len(lines)),
                flags=flags,
                rest=rest,
                heredocs=tuple(heredocs),
            )
        )
    return Dockerfile(
        instructions=tuple(instructions),
        stages=_group_stages(instructions),
        directives=directives,
        problems=tuple(problems),
        escape=escape,
    )


def _read_directives(lines: list[str]) -> tuple[dict[str, str], int]:
    # Directives count only at the very top, before any blank line, comment or instruction.
    directives: dict[str, str] = {}
    for n, line in enumerate(lines):
        match = _DIRECTIVE_RE.match(line.strip())
        if not match or match.group(1).lower() in directives:
            return directives, n
        directives[match.group(1).lower()] = match.group(2)
    return directives, len(lines)


def _join_continuation(lines: list[str], i: int, escape: str) -> tuple[list[str], int]:
    """Collect one logical line from ``lines[i]``; returns its parts and the next index."""
    parts: list[str] = []
    while i < len(lines):
        line = lines[i]
        i += 1
        # Comment and blank lines inside a continuation are skipped by BuildKit.
        if parts and (line.strip().startswith("#") or not line.strip()):
            continue
        body = line.rstrip()
        if body.endswith(escape):
            parts.append(body[:-1].strip())
            if i >= len(lines):
                return parts, len(lines) + 1
            continue
        parts.append(body.strip())
        return parts, i
    return parts, i


def _read_heredoc(lines: list[str], i: int, word: str, *, strip_tabs: bool) -> tuple[Heredoc, int, bool]:
    start = i
    body: list[str] = []
    while i < len(lines):
        line = lines[i].lstrip("\t") if strip_tabs else lines[i]
        i += 1
        if line.rstrip() == word:
            return Heredoc(word, "\n".join(body), start + 1, i), i, True
        body.append(line)
    return Heredoc(word, "\n".join(body), start + 1, len(lines)), i, False


def _split_flags(args: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        token, _, remainder = rest.partition(" ")
        match = _FLAG_RE.match(token)
        if not match:
            break
        name, value = match.group(1), match.group(2) or ""
        # Repeated flags (several --mount) are kept together, separated by newlines.
        flags[name] = f"{flags[name]}\n{value}" if name in flags else value
        rest = remainder.lstrip()
    return flags, rest


def _group_stages(instructions: list[Instruction]) -> tuple[Stage, ...]:
    stages: list[Stage] = []
    current: Instruction | None = None
    body: list[Instruction] = []

    def close() -> None:
        if current is None:
            return
        words = current.words()
        base = words[0] if words else ""
        name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
        stages.append(Stage(len(stages), base, name, current, tuple(body)))

    for ins in instructions:
        if ins.keyword == "FROM":
            close()
            current, body = ins, []
        elif current is not None:
            body.append(ins)
    close()
    return tuple(stages)
