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


def artifacts(workspace: Path, patterns: list[str], into: Path) -> list[Path]:
    """Copy what a job declares as artifacts (GitLab globs, ** included) to ``into``, keeping paths."""
    copied = []
    for pattern in patterns:
        for found in sorted(workspace.glob(pattern)):
            target = into / found.relative_to(workspace)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(found, target)
            copied.append(target)
    return copied


def test_sharded_pipeline_runs_locally_and_merges_into_one_report(tmp_path: Path, registry, capsys) -> None:
    for tool in ("go", "runc"):
        need_tool(tool)
    names = services_on_every_shard(per_shard=2)
    repo = tmp_path / "repo"
    make_module(repo, names)
    pipeline_file = repo / ".gitlab-ci.yml"
    to = f"{registry.host}/fanout"
    code = main(
        [
            "ci",
            "gitlab",
            "--services",
            "./cmd/...",
            "--shards",
            str(SHARDS),
            "--to",
            to,
            "--no-sign",
            "--no-ablation",
            "--no-compare",
            "--out",
            str(pipeline_file),
        ]
    )
    assert code == 0, capsys.readouterr().err
    pipeline = yaml.safe_load(pipeline_file.read_text())
    shard_job, summary_job = pipeline["goslim"], pipeline["goslim-summary"]
    assert shard_job["parallel"] == SHARDS
    env = goslim_on_path(tmp_path) | pipeline["variables"]

    # Every shard at once, each in its own checkout, all pushing to one registry.
    running = []
    for index in range(1, SHARDS + 1):
        workspace = tmp_path / f"runner-{index}"
        shutil.copytree(repo, workspace)
        job_env = env | {"CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(SHARDS)}
        script = "\n".join(shard_job["script"])
        log = (tmp_path / f"shard-{index}.log").open("wb")
        proc = subprocess.Popen(
            ["bash", "-e", "-c", script], cwd=workspace, env=job_env, stdout=log, stderr=subprocess.STDOUT
        )
        running.append((workspace, proc, log))
    summary_workspace = tmp_path / "summary"
    shutil.copytree(repo, summary_workspace)
    reported: dict[int, list[str]] = {}
    for index, (workspace, proc, log) in enumerate(running, start=1):
        code = proc.wait(timeout=800)
        log.close()
        output = (tmp_path / f"shard-{index}.log").read_text()
        assert code == 0, output[-3000:]
        moved = artifacts(workspace, shard_job["artifacts"]["paths"], summary_workspace)
        reported[index] = sorted(p.parent.name for p in moved if p.name == "report.json")
        assert not any(p.suffix == ".tar" or "bin" in p.parts for p in moved)  # reports only, no binaries

    # Each service ran on exactly one shard, the one its hash names.
    for index, ran in reported.items():
        expected = select_shard([f"example.com/mono/cmd/{n}" for n in names], (index, SHARDS))
        assert ran == sorted(p.rsplit("/", 1)[1] for p in expected) and ran
    assert sorted(n for ran in reported.values() for n in ran) == names

    # The summary job: its script only, in the workspace holding every shard's artifacts.
    result = subprocess.run(
        ["bash", "-e", "-c", "\n".join(summary_job["script"])],
        check=False, cwd=summary_workspace, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out_dir = summary_workspace / summary_job["artifacts"]["paths"][0]
    summary = json.loads((out_dir / "summary.json").read_text())
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
