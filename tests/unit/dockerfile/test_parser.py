"""The Dockerfile parser: continuations, comments, heredocs, directives, stages, line numbers."""

from __future__ import annotations

from goslim.dockerfile.parser import parse_dockerfile


def test_continuations_join_lines_and_keep_the_first_line_number() -> None:
    df = parse_dockerfile(
        "FROM alpine:3.20\n"
        "RUN apk add --no-cache \\\n"
        "    # a comment inside the continuation is dropped\n"
        "\n"
        "    curl \\\n"
        "    git\n"
        "USER 65532\n"
    )
    run = df.instructions[1]
    assert run.keyword == "RUN"
    assert (run.line, run.end_line) == (2, 6)
    assert run.rest == "apk add --no-cache curl git"
    assert df.instructions[2].line == 7


def test_escape_directive_switches_the_continuation_character() -> None:
    df = parse_dockerfile(
        "# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN dir c:\\ `\n  && echo hi\n"
    )
    assert df.escape == "`"
    assert df.instructions[1].rest == "dir c:\\ && echo hi"
    assert df.instructions[1].line == 3


def test_directives_only_count_at_the_top() -> None:
    df = parse_dockerfile("# syntax=docker/dockerfile:1\nFROM scratch\n# escape=`\n")
    assert df.directives == {"syntax": "docker/dockerfile:1"}
    assert df.escape == "\\"


def test_heredoc_body_belongs_to_its_run_and_lines_after_it_count_on() -> None:
    df = parse_dockerfile(
        "FROM alpine:3.20\n"
        "RUN <<EOF\n"
        "set -e\n"
        "echo FROM inside a heredoc is not an instruction\n"
        "EOF\n"
        "COPY <<-'CONF' /etc/app.conf\n"
        "\tkey=value\n"
        "\tCONF\n"
        "USER 1000\n"
    )
    keywords = [(i.keyword, i.line) for i in df.instructions]
    assert keywords == [("FROM", 1), ("RUN", 2), ("COPY", 6), ("USER", 9)]
    run = df.instructions[1]
    assert run.heredocs[0].word == "EOF"
    assert "echo FROM inside" in run.script
    assert run.end_line == 5
    assert df.instructions[2].heredocs[0].body == "key=value"
    assert not df.problems


def test_unclosed_heredoc_and_trailing_continuation_are_problems_not_crashes() -> None:
    df = parse_dockerfile("FROM alpine:3.20\nRUN <<EOF\necho hi\n")
    assert any("never closed" in p.message for p in df.problems)
    df = parse_dockerfile("FROM alpine:3.20\nRUN echo hi \\\n")
    assert any("continuation" in p.message for p in df.problems)


def test_stages_flags_and_names() -> None:
    df = parse_dockerfile(
        "ARG GO=1.22\n"
        "FROM --platform=$BUILDPLATFORM golang:${GO} AS Build\n"
        "RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build "
        "go build .\n"
        "FROM build AS test\n"
        "FROM scratch\n"
        "COPY --from=build /out/app /app\n"
    )
    assert [(s.index, s.base, s.name) for s in df.stages] == [
        (0, "golang:${GO}", "build"),
        (1, "build", "test"),
        (2, "scratch", None),
    ]
    run = df.stages[0].instructions[0]
    assert run.flags["mount"].count("type=cache") == 2
    assert run.rest == "go build ."
    assert df.stage_named("BUILD") is df.stages[0]
    assert df.stage_named("1") is df.stages[1]
    assert df.stage_named("golang:1.22") is None
    assert df.stages[2].of("COPY")[0].flags == {"from": "build"}


def test_exec_form_is_a_json_array_of_strings() -> None:
    df = parse_dockerfile('FROM scratch\nENTRYPOINT ["/app", "-v"]\nCMD /app -v\nCMD ["/app", 1]\n')
    entry, shell_cmd, bad_json = df.instructions[1:]
    assert entry.json_args == ["/app", "-v"]
    assert not shell_cmd.is_exec_form
    assert not bad_json.is_exec_form  # Docker runs a non-string array through the shell


def test_unknown_instruction_is_reported_with_its_line() -> None:
    df = parse_dockerfile("FROM scratch\nCOPPY a b\n")
    assert [(p.line, p.message) for p in df.problems] == [(2, "unknown instruction 'COPPY'")]


def test_empty_and_comment_only_files_parse_to_nothing() -> None:
    assert parse_dockerfile("").stages == ()
    assert parse_dockerfile("# just a comment\n\n").instructions == ()
