"""Each lint rule fires on a bad Dockerfile at the right line, and stays quiet on good ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from goslim.dockerfile import RULES, Severity, lint_file, lint_text

# One bad Dockerfile, written as (line, rules expected on that line); line numbers follow from the list.
BAD = [
    ("# syntax=docker/dockerfile:1", set()),
    ("FROM golang AS build", {"GS050"}),
    ("WORKDIR /src", set()),
    ("ENV DB_PASSWORD=hunter2", {"GS071"}),
    ("COPY . .", {"GS070"}),
    ("RUN go mod download", {"GS001"}),
    ("RUN go build -o /out/app .", {"GS030", "GS060", "GS061", "GS062"}),
    ("", set()),
    ("FROM alpine:latest AS tools", {"GS050"}),
    ("RUN apk update && apk add curl", {"GS020"}),
    ("RUN apt-get update && \\", {"GS021", "GS022"}),
    ("    apt-get install -y ca-certificates", set()),
    ("ADD https://example.com/tool.tar.gz /opt/", {"GS040"}),
    ("ADD config.yaml /etc/app/", {"GS041"}),
    ("", set()),
    ("FROM scratch AS build", {"GS073"}),
    ("", set()),
    ("FROM scratch", {"GS010"}),
    ("COPY --from=build /out/app /app", set()),
    ('RUN ["/app", "-selftest"]', set()),
    ("RUN echo ready", {"GS012"}),
    ("ENTRYPOINT /app", {"GS011", "GS074"}),
    ("ENTRYPOINT /app --serve", {"GS011"}),
    ("CMD -port 8080", {"GS011"}),
]


def _expected() -> set[tuple[int, str]]:
    return {(n, rule) for n, (_, rules) in enumerate(BAD, start=1) for rule in rules}


def test_every_rule_fires_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("\n".join(line for line, _ in BAD) + "\n")
    report = lint_file(path)
    found = {(f.line, f.rule) for f in report.findings}
    assert found == _expected(), "\n".join(report.lines())
    assert report.errors > 0
    assert report.lines()[0].startswith(f"{path}:2: warning [GS050 latest-tag]")


def test_the_bad_file_covers_every_rule_but_those_tested_alone() -> None:
    covered = {rule for _, rules in BAD for rule in rules}
    assert covered | {"GS000", "GS002", "GS072"} == {r.rule for r in RULES}


def test_dynamic_build_copied_into_scratch_is_an_error_on_the_go_build_line() -> None:
    text = (
        "FROM golang:1.22 AS build\n"
        "COPY go.mod ./\n"
        "RUN go mod download\n"
        "COPY . .\n"
        'RUN go build -trimpath -ldflags="-s -w" -o /app .\n'
        "FROM gcr.io/distroless/static-debian12:nonroot\n"
        "COPY --from=build /app /app\n"
        'ENTRYPOINT ["/app"]\n'
    )
    errors = [(f.line, f.rule) for f in lint_text(text).findings if f.severity is Severity.ERROR]
    assert errors == [(5, "GS030")]


@pytest.mark.parametrize(
    "how",
    [
        "ENV CGO_ENABLED=0\nRUN go build -trimpath -ldflags='-s -w' -o /app .",
        "ARG CGO_ENABLED=0\nRUN go build -trimpath -ldflags='-s -w' -o /app .",
        "RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /app .",
    ],
)
def test_cgo_disabled_by_env_arg_or_inline_is_fine(how: str) -> None:
    text = (
        f"FROM golang:1.22 AS build\n{how}\nFROM scratch\nCOPY --from=build /app /app\nUSER 65532\n"
        'ENTRYPOINT ["/app"]\n'
    )
    assert "GS030" not in {f.rule for f in lint_text(text).findings}


def test_cgo_build_on_a_base_with_libc_is_fine() -> None:
    text = (
        "FROM golang:1.22 AS b\nRUN go build -o /app .\nFROM debian:12-slim\nCOPY --from=b /app /app\n"
        "USER 1\n"
    )
    assert "GS030" not in {f.rule for f in lint_text(text).findings}


def test_cgo_env_is_inherited_from_a_parent_stage() -> None:
    text = (
        "FROM golang:1.22 AS base\nENV CGO_ENABLED=0\nFROM base AS build\n"
        "RUN go build -trimpath -ldflags='-s -w' -o /app .\n"
        'FROM scratch\nCOPY --from=build /app /app\nUSER 65532\nENTRYPOINT ["/app"]\n'
    )
    assert "GS030" not in {f.rule for f in lint_text(text).findings}


def test_no_dependency_layer_is_info() -> None:
    text = "FROM golang:1.22 AS b\nCOPY . .\nRUN go build -trimpath -ldflags='-s -w' -o /app .\n"
    gs002 = [f for f in lint_text(text).findings if f.rule == "GS002"]
    assert [(f.line, f.severity) for f in gs002] == [(3, Severity.INFO)]


def test_distroless_nonroot_base_needs_no_user_line_but_user_root_is_caught() -> None:
    ok = 'FROM gcr.io/distroless/static-debian12:nonroot\nCOPY app /app\nENTRYPOINT ["/app"]\n'
    assert "GS010" not in {f.rule for f in lint_text(ok).findings}
    root = 'FROM alpine:3.20\nUSER 0:0\nENTRYPOINT ["/app"]\n'
    assert [(f.line, f.rule) for f in lint_text(root).findings if f.rule == "GS010"] == [(2, "GS010")]


def test_user_is_inherited_from_a_parent_stage() -> None:
    text = 'FROM alpine:3.20 AS base\nUSER 65532\nFROM base\nENTRYPOINT ["/app"]\n'
    assert "GS010" not in {f.rule for f in lint_text(text).findings}


def test_cache_mounts_count_as_cleaning_package_caches() -> None:
    text = (
        "FROM debian:12\n"
        "RUN --mount=type=cache,target=/var/lib/apt --mount=type=cache,target=/var/cache/apt "
        "apt-get update && apt-get install -y --no-install-recommends curl\n"
        "RUN --mount=type=cache,target=/var/cache/apk apk add curl\n"
        "USER 1000\n"
    )
    rules = {f.rule for f in lint_text(text).findings}
    assert not rules & {"GS020", "GS021", "GS022"}


def test_add_with_checksum_and_archives_are_accepted() -> None:
    text = (
        "FROM alpine:3.20\nADD --checksum=sha256:abc https://example.com/a.tgz /a\n"
        "ADD rootfs.tar.gz /\nUSER 1\n"
    )
    assert not {f.rule for f in lint_text(text).findings} & {"GS040", "GS041"}


def test_digest_pinned_and_arg_tagged_bases_are_not_latest() -> None:
    text = "ARG GO=1.22\nFROM golang:${GO}-bookworm AS b\nFROM alpine@sha256:" + "a" * 64 + "\nUSER 1\n"
    assert "GS050" not in {f.rule for f in lint_text(text).findings}
    text = "ARG TAG=latest\nFROM alpine:${TAG}\nUSER 1\n"
    assert [f.line for f in lint_text(text).findings if f.rule == "GS050"] == [2]


def test_golang_final_image_and_secret_arg() -> None:
    text = 'FROM golang:1.22\nARG GITHUB_TOKEN=ghp_abc\nUSER 1\nENTRYPOINT ["/app"]\n'
    found = {(f.line, f.rule) for f in lint_text(text).findings}
    assert {(1, "GS072"), (2, "GS071")} <= found


def test_shell_form_healthcheck_on_scratch() -> None:
    text = 'FROM scratch\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\nUSER 1\nENTRYPOINT ["/app"]\n'
    assert [(f.line, f.rule) for f in lint_text(text).findings if f.rule == "GS012"] == [(2, "GS012")]


def test_parse_problems_and_missing_from_are_errors() -> None:
    report = lint_text("RUN echo hi\nCOPPY a b\n")
    errors = {(f.line, f.rule, f.message) for f in report.findings if f.severity is Severity.ERROR}
    assert (2, "GS000", "unknown instruction 'COPPY'") in errors
    assert any(m.startswith("no FROM") for _, _, m in errors)


def test_dockerignore_beside_the_file_silences_gs070(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nCOPY . .\nUSER 1\n")
    assert "GS070" in {f.rule for f in lint_file(tmp_path).findings}
    (tmp_path / ".dockerignore").write_text(".git\n")
    assert "GS070" not in {f.rule for f in lint_file(tmp_path).findings}


def test_findings_are_sorted_by_line_then_severity() -> None:
    findings = lint_text(
        "FROM golang\nCOPY . .\nRUN go mod download\nRUN go build -o /a .\nENTRYPOINT /a\n"
    ).findings
    keys = [(f.line, f.severity.rank) for f in findings]
    assert keys == sorted(keys)


def test_cgo_build_in_a_parent_of_the_copied_stage_is_caught() -> None:
    text = (
        "FROM golang:1.22 AS compile\n"
        "RUN go build -trimpath -ldflags='-s -w' -o /app .\n"
        "FROM compile AS package\n"
        "FROM scratch\n"
        "COPY --from=package /app /app\n"
        "USER 65532\n"
        'ENTRYPOINT ["/app"]\n'
    )
    assert [(f.line, f.rule) for f in lint_text(text).findings if f.rule == "GS030"] == [(2, "GS030")]
