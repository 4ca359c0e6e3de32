"""The fan-out a generated pipeline describes, run locally: each shard on its own copy of the repository
(as on its own CI machine) runs the shard job's script against one docker-registry; only the files the job
declares as artifacts travel to the summary job, whose script merges them into one report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from goslim.cli.app import main
from goslim.pipeline import select_shard
from tests.conftest import need_tool
from tests.integration.test_slim_many import make_module

SHARDS = 2
CANDIDATES = [f"svc{i:02d}" for i in range(40)]


def services_on_every_shard(per_shard: int) -> list[str]:
    """Service names such that each of the SHARDS shards holds ``per_shard`` of them (sharding is a hash)."""
    chosen: list[str] = []
    for index in range(1, SHARDS + 1):
        paths = [f"example.com/mono/cmd/{n}" for n in CANDIDATES]
        chosen += [p.rsplit("/", 1)[1] for p in select_shard(paths, (index, SHARDS))][:per_shard]
    return sorted(chosen)


def goslim_on_path(tmp_path: Path) -> dict[str, str]:
    """The environment of a CI job that installed goslim: `goslim` on PATH runs this checkout's goslim."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "goslim"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m goslim "$@"\n')
    launcher.chmod(0o755)
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
    }


def generate(repo: Path, to: str, *extra: str) -> dict:
    """`goslim ci gitlab --services ./cmd/...` for ``repo``, parsed."""
    pipeline_file = repo / ".gitlab-ci.yml"
    code = main(
        ["ci", "gitlab", "--services", "./cmd/...", "--shards", str(SHARDS), "--to", to,
         "--no-ablation", "--no-compare", *extra, "--out", str(pipeline_file)]
    )  # fmt: skip
    assert code == 0
    pipeline = yaml.safe_load(pipeline_file.read_text())
    assert pipeline["goslim"]["parallel"] == SHARDS
    return pipeline


def run_shards(pipeline: dict, runners: list[Path], env: dict[str, str], logs: Path) -> list[list[Path]]:
    """Every shard job's script at once, runner I in its own checkout; the artifacts each declares."""
    job = pipeline["goslim"]
    running = []
    for index, workspace in enumerate(runners, start=1):
        job_env = env | {"CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(SHARDS)}
        log = (logs / f"shard-{index}.log").open("wb")
        proc = subprocess.Popen(
            ["bash", "-e", "-c", "\n".join(job["script"])],
            cwd=workspace, env=job_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        running.append((proc, log))
    declared = []
    for index, ((proc, log), workspace) in enumerate(zip(running, runners, strict=True), start=1):
        code = proc.wait(timeout=800)
        log.close()
        assert code == 0, (logs / f"shard-{index}.log").read_text()[-3000:]
        declared.append([p for pattern in job["artifacts"]["paths"] for p in sorted(workspace.glob(pattern))])
    return declared


def collect(runners: list[Path], declared: list[list[Path]], into: Path) -> dict[int, list[str]]:
    """Copy each shard's artifacts to the summary job's checkout, as GitLab does; who reported what."""
    reported = {}
    for index, (workspace, files) in enumerate(zip(runners, declared, strict=True), start=1):
        for found in files:
            target = into / found.relative_to(workspace)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(found, target)
        assert not any(p.suffix == ".tar" or "bin" in p.parts for p in files)  # reports only, no binaries
        reported[index] = sorted(p.parent.name for p in files if p.name == "report.json")
    return reported


def run_summary(pipeline: dict, workspace: Path, env: dict[str, str]) -> tuple[Path, dict]:
    """The summary job's script only, in the checkout holding every shard's artifacts."""
    job = pipeline["goslim-summary"]
    result = subprocess.run(
        ["bash", "-e", "-c", "\n".join(job["script"])],
        check=False, cwd=workspace, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out_dir = workspace / job["artifacts"]["paths"][0]
    return out_dir, json.loads((out_dir / "summary.json").read_text())


def checkouts(repo: Path, root: Path) -> list[Path]:
    runners = [root / f"runner-{i}" for i in range(1, SHARDS + 1)]
    for runner in runners:
        shutil.copytree(repo, runner)
    return runners


def test_sharded_pipeline_runs_locally_and_merges_into_one_report(tmp_path: Path, registry) -> None:
    for tool in ("go", "runc"):
        need_tool(tool)
    names = services_on_every_shard(per_shard=2)
    repo = tmp_path / "repo"
    make_module(repo, names)
    to = f"{registry.host}/fanout"
    pipeline = generate(repo, to, "--no-sign")
    env = goslim_on_path(tmp_path) | pipeline["variables"]

    # Every shard at once, each in its own checkout (its own CI machine), all pushing to one registry.
    runners = checkouts(repo, tmp_path)
    declared = run_shards(pipeline, runners, env, tmp_path)
    summary_workspace = tmp_path / "summary"
    shutil.copytree(repo, summary_workspace)
    reported = collect(runners, declared, summary_workspace)

    # Each service ran on exactly one shard, the one its hash names.
    for index, ran in reported.items():
        expected = select_shard([f"example.com/mono/cmd/{n}" for n in names], (index, SHARDS))
        assert ran == sorted(p.rsplit("/", 1)[1] for p in expected) and ran
    assert sorted(n for ran in reported.values() for n in ran) == names

    out_dir, summary = run_summary(pipeline, summary_workspace, env)
    assert [s["package"] for s in summary["services"]] == [f"example.com/mono/cmd/{n}" for n in names]
    assert summary["exit_status"] == 0 and summary["unreadable"] == []
    for service in summary["services"]:
        name = service["package"].rsplit("/", 1)[1]
        assert service["image"] == f"{to}/{name}@{service['digest']}"
        assert service["checks"]["fail"] == 0 and service["checks"]["pass"] > 0
        # The image is in the shared registry, at the digest the report names.
        head = httpx.head(
            f"{registry.url}/v2/fanout/{name}/manifests/latest",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert head.status_code == 200 and head.headers["Docker-Content-Digest"] == service["digest"]
    html = (out_dir / "summary.html").read_text()
    markdown = (out_dir / "summary.md").read_text()
    for name in names:
        assert f"example.com/mono/cmd/{name}" in html and f"example.com/mono/cmd/{name}" in markdown
    assert f"{len(names)} services — {len(names)} passed, 0 did not" in markdown


def test_a_warm_pipeline_run_reuses_the_attestations(tmp_path: Path, registry, monkeypatch) -> None:
    """The signed pipeline run twice on unchanged sources: the second run starts no container anywhere."""
    real_runc = need_tool("runc")
    need_tool("go")
    names = services_on_every_shard(per_shard=1)
    repo = tmp_path / "repo"
    make_module(repo, names)
    to = f"{registry.host}/fanout-warm"
    pipeline = generate(repo, to)
    # runc behind a shim that records each call: whether a container started is the runtime's own word.
    calls = tmp_path / "runc-calls.log"
    shim = tmp_path / "bin" / "runc"
    env = goslim_on_path(tmp_path) | pipeline["variables"]
    shim.write_text(f'#!/bin/sh\necho "$1" >> "{calls}"\nexec "{real_runc}" "$@"\n')
    shim.chmod(0o755)
    keys = tmp_path / "keys"
    password = "fan-out"
    monkeypatch.setenv("COSIGN_PASSWORD", password)
    assert main(["keygen", "--out", str(keys)]) == 0
    # GitLab hands a File variable to the job as the path of a file holding it.
    env |= {"COSIGN_PRIVATE_KEY": str(keys / "cosign.key"), "COSIGN_PASSWORD": password}
    runners = checkouts(repo, tmp_path)

    run_shards(pipeline, runners, env, tmp_path)
    cold = calls.read_text().split()
    assert "run" in cold or "create" in cold  # the cold run verified every image for real
    calls.unlink()
    declared = run_shards(pipeline, runners, env, tmp_path)
    warm = calls.read_text().split() if calls.exists() else []
    assert "run" not in warm and "create" not in warm, warm

    summary_workspace = tmp_path / "summary"
    shutil.copytree(repo, summary_workspace)
    collect(runners, declared, summary_workspace)
    _, summary = run_summary(pipeline, summary_workspace, env)
    assert [s["package"] for s in summary["services"]] == [f"example.com/mono/cmd/{n}" for n in names]
    # The attested checklist stands in for the run: every check passed, as it did when it ran.
    assert all(s["exit_status"] == 0 and s["checks"]["pass"] > 0 for s in summary["services"])
