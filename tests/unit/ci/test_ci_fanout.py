"""`goslim ci github|gitlab --services`: sharded pipelines that validate against the CI systems' schemas
(SchemaStore's github-workflow and gitlab-ci schemas, as vendored by the check-jsonschema package)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from goslim.ci_templates.fanout import parse_fanout, render_fanout, slim_commands
from goslim.cli.app import main
from tests.unit.ci.test_ci_templates import _load, _schema

SHAPES = {
    "one pattern": (["./cmd/..."], "ghcr.io/acme"),
    "several modules": (["services/api", "services/worker/...", "./tools/..."], "127.0.0.1:5000/team"),
}


def pipeline(system: str, services: list[str], to: str, **kw: object) -> dict:
    return _load(render_fanout(system, parse_fanout(system, services, to=to, **kw)))  # type: ignore[arg-type]


@pytest.mark.parametrize("system", ["github", "gitlab"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("shards", [1, 4, 200])
@pytest.mark.parametrize("sign", [True, False])
def test_fanout_validates_against_the_ci_schema(system: str, shape: str, shards: int, sign: bool) -> None:
    services, to = SHAPES[shape]
    jsonschema.validate(pipeline(system, services, to, shards=shards, sign=sign), _schema(system))


def test_schema_check_catches_a_broken_matrix() -> None:
    document = pipeline("github", ["./cmd/..."], "ghcr.io/acme", shards=4)
    document["jobs"]["slim"]["strategy"]["matrix"] = "shard"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, _schema("github"))
    gitlab = pipeline("gitlab", ["./cmd/..."], "ghcr.io/acme", shards=4)
    gitlab["goslim"]["parallel"] = 201
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(gitlab, _schema("gitlab"))


def test_github_matrix_shards_push_attest_upload_and_merge() -> None:
    document = pipeline("github", ["./cmd/..."], "ghcr.io/acme", shards=4)
    slim = document["jobs"]["slim"]
    assert slim["strategy"] == {"fail-fast": False, "matrix": {"shard": [1, 2, 3, 4]}}
    run = next(s for s in slim["steps"] if s.get("name") == "goslim slim")
    assert "goslim slim ./cmd/... --shard ${{ matrix.shard }}/4" in run["run"]
    assert '--to "$GOSLIM_TO"' in run["run"] and document["env"]["GOSLIM_TO"] == "ghcr.io/acme"
    assert '--key "$RUNNER_TEMP/cosign.key" --reuse-attestation' in run["run"]
    assert run["env"]["COSIGN_PASSWORD"] == "${{ secrets.COSIGN_PASSWORD }}"
    login = next(s for s in slim["steps"] if s.get("uses", "").startswith("docker/login-action"))
    assert login["with"]["registry"] == "ghcr.io" and document["permissions"]["packages"] == "write"
    upload = next(s for s in slim["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["name"] == "goslim-report-shard-${{ matrix.shard }}"
    assert "goslim-report/**/report.json" in upload["with"]["path"].split()
    summary = document["jobs"]["summary"]
    assert summary["needs"] == "slim" and summary["if"] == "always()"
    download = next(s for s in summary["steps"] if s.get("uses", "").startswith("actions/download-artifact"))
    assert download["with"] == {"pattern": "goslim-report-shard-*", "path": "goslim-report"}
    merge = next(s for s in summary["steps"] if s.get("name") == "goslim report merge")
    assert merge["run"].strip() == "goslim report merge goslim-report --out goslim-summary"


def test_gitlab_parallel_shards_push_attest_upload_and_merge() -> None:
    document = pipeline("gitlab", ["./cmd/..."], "registry.gitlab.com/acme/mono", shards=6)
    job = document["goslim"]
    assert job["parallel"] == 6
    script = "\n".join(job["script"])
    assert 'goslim slim ./cmd/... --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL" --to "$GOSLIM_TO"' in script
    assert '--key "$COSIGN_PRIVATE_KEY" --reuse-attestation' in script
    assert job["artifacts"]["when"] == "always"
    assert "goslim-report/**/report.json" in job["artifacts"]["paths"]
    summary = document["goslim-summary"]
    assert summary["needs"] == ["goslim"] and summary["when"] == "always"
    assert summary["script"] == ["goslim report merge goslim-report --out goslim-summary"]
    assert document["stages"] == ["slim", "report"]


def test_several_modules_each_run_on_every_shard_and_the_worst_exit_wins() -> None:
    fanout = parse_fanout("gitlab", ["services/api", "services/worker/..."], shards=3, to="ghcr.io/acme")
    lines = slim_commands("gitlab", fanout)
    assert lines[0] == "rc=0" and lines[-1] == 'exit "$rc"'
    assert "goslim slim ./services/api " in lines[1] and "--report goslim-report/services-api " in lines[1]
    assert "--report goslim-report/services-worker " in lines[2]
    assert all(line.endswith("|| rc=$?") for line in lines[1:-1])


def test_both_systems_run_the_same_slim_command() -> None:
    fanout = parse_fanout("github", ["./cmd/..."], shards=4, to="ghcr.io/acme", ablation=False)
    github, gitlab = slim_commands("github", fanout)[0], slim_commands("gitlab", fanout)[0]
    strip = github.split("goslim slim ", 1)[1].replace("${{ matrix.shard }}/4", "I/N")
    strip = strip.replace('"$RUNNER_TEMP/cosign.key"', "KEY")
    other = gitlab.split("goslim slim ", 1)[1].replace('"$CI_NODE_INDEX/$CI_NODE_TOTAL"', "I/N")
    assert strip == other.replace('"$COSIGN_PRIVATE_KEY"', "KEY")
    assert "--no-ablation" in strip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--services", "./cmd/..."], "--services needs --to REGISTRY/PREFIX"),
        (["--services", "./cmd/...", "--to", "ghcr.io/acme:v1"], "has a tag or digest"),
        (["--services", "./cmd/...", "--to", "ghcr.io/ACME"], "--to: invalid repository name"),
        (["--services", "./cmd/...", "--to", "ghcr.io/acme", "--shards", "0"], "--shards 0 is out of range"),
        (["--services", "$(id)", "--to", "ghcr.io/acme"], "is not a plain path"),
        (["--services", "../other/...", "--to", "ghcr.io/acme"], "is not a plain path"),
        (["--services", "a: b", "--to", "ghcr.io/acme"], "is not a plain path"),
        (["--services", "--x", "--to", "ghcr.io/acme"], "is not a plain path"),
        (
            ["--services", "svc/a", "--services", "./svc/a/...", "--to", "ghcr.io/acme"],
            "the same place twice",
        ),
        (["--shards", "4"], "name them with --services"),
    ],
)
def test_bad_fanout_input_is_one_line_and_exit_2(args: list[str], message: str, capsys) -> None:
    code = main(["ci", "gitlab", *args])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_gitlab_has_a_shard_limit_of_its_own(capsys) -> None:
    assert main(["ci", "gitlab", "--services", "./cmd/...", "--to", "ghcr.io/a", "--shards", "201"]) == 2
    assert "gitlab runs 1 to 200 shards" in capsys.readouterr().err
    assert (
        main(["ci", "github", "--services", "./cmd/...", "--to", "ghcr.io/a", "--shards", "201", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["path"] == ".github/workflows/goslim.yaml"
