"""The run contract on the command line: given once, it reaches every stage and output unchanged.

serve-9090 starts only as `serve-9090 serve`, listens on 9090 (not 8080) and answers /-/healthy (not
/healthz): without its contract nothing about it can be guessed, so a stage that did not get the
contract fails visibly instead of passing by luck.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from goslim.cli.app import main
from tests.conftest import GO_FIXTURES, need_tool

CONTRACT = [
    "--port",
    "9090",
    "--health",
    "/-/healthy",
    "--env",
    "GREETING=hello",
    "--writable",
    "/var/cache/serve",
]


@pytest.fixture(scope="module")
def slimmed(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """`goslim slim serve-9090 --port 9090 --health /-/healthy ... -- serve`: (exit code, report dir)."""
    for tool in ("go", "runc", "umoci"):
        need_tool(tool)
    root = tmp_path_factory.mktemp("contract")
    module = root / "serve-9090"
    shutil.copytree(GO_FIXTURES / "serve-9090", module)
    # Only how long verify watches: the contract itself comes from the command line alone.
    (module / "goslim.yaml").write_text("verify:\n  alive_seconds: 1\n")
    out = root / "report"
    code = main(["slim", str(module), "--report", str(out), "--no-ablation", *CONTRACT, "--", "serve"])
    return code, out


def test_slim_with_the_contract_on_the_command_line_passes(slimmed: tuple[int, Path]) -> None:
    code, out = slimmed
    run = json.loads((out / "report.json").read_text())
    assert code == 0, [s for s in run["stages"] if s["status"] != "ok"]
    assert run["checklist"] is not None and all(r["status"] != "fail" for r in run["checklist"]["results"])


def test_the_contract_reaches_every_stage_unchanged(slimmed: tuple[int, Path]) -> None:
    _, out = slimmed
    run = json.loads((out / "report.json").read_text())
    contract = run["contract"]
    # report.json: the contract as given, each value saying it came from a flag.
    assert contract["name"] == "serve-9090"
    assert contract["args"] == ["serve"] and contract["ports"] == [9090]
    assert contract["env"] == {"GREETING": "hello"} and contract["writable"] == ["/var/cache/serve"]
    assert contract["liveness"] == {"kind": "http", "port": 9090, "path": "/-/healthy"}
    assert {contract["sources"][f] for f in ("args", "ports", "env", "liveness", "writable")} == {"flag"}
    # The image: Cmd, Env and ExposedPorts from the contract.
    image = run["image"]
    assert image["cmd"] == ["serve"] and "GREETING=hello" in image["env"]
    # compare: every base started the service (the wrong port, path or arguments would not).
    assert run["bases"] and all(row["starts"] for row in run["bases"]), run["bases"]
    # Dockerfile: the same arguments, environment and port.
    dockerfile = (out / "deploy" / "Dockerfile").read_text()
    assert 'CMD ["serve"]' in dockerfile and 'ENV GREETING="hello"' in dockerfile
    assert "EXPOSE 9090" in dockerfile
    # Kubernetes: named after the service, its port, its probe path, its args, env and writable path.
    documents = [d for d in yaml.safe_load_all((out / "deploy" / "k8s.yaml").read_text()) if d]
    deployment = documents[0]
    assert deployment["metadata"]["name"] == "serve-9090"
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["ports"][0]["containerPort"] == 9090
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert container["args"] == ["serve"] and container["env"] == [{"name": "GREETING", "value": "hello"}]
    assert {"name": "writable-1", "mountPath": "/var/cache/serve"} in container["volumeMounts"]
    assert container["image"].startswith("REGISTRY/serve-9090@sha256:")  # never the layout directory
    # SBOMs named after the service.
    assert sorted(p.name for p in (out / "sbom").iterdir()) == ["serve-9090.cdx.json", "serve-9090.spdx.json"]


def test_verify_takes_args_env_and_writable_paths(slimmed: tuple[int, Path], tmp_path: Path) -> None:
    """The service writes to CACHE_DIR: verify passes only when --env reaches the process and the
    --writable path is a tmpfs in the otherwise read-only root."""
    _, out = slimmed
    image = f"oci:{out / 'image'}:latest"
    base = [
        "verify",
        image,
        "--port",
        "9090",
        "--health",
        "/-/healthy",
        "--alive",
        "1",
        "--env",
        "CACHE_DIR=/var/cache/serve",
        "--json",
    ]
    assert main([*base, "--writable", "/var/cache/serve", "--", "serve"]) == 0
    assert main([*base, "--", "serve"]) == 1  # read-only root: the write fails, the service exits
    assert main([*base, "--writable", "/var/cache/serve", "--arg", "nope"]) == 1  # wrong arguments


def test_after_double_dash_is_the_programs_not_a_package(tmp_path: Path, capsys) -> None:
    """`goslim dockerfile DIR -- -port 8080`: the arguments go to the program, not to goslim."""
    module = tmp_path / "serve-9090"
    shutil.copytree(GO_FIXTURES / "serve-9090", module)
    code = main(["dockerfile", str(module), "--port", "8080", "--", "-port", "8080"])
    assert code == 0, capsys.readouterr().err
    assert 'CMD ["-port", "8080"]' in (module / "Dockerfile").read_text()


def test_k8s_from_the_report_keeps_the_contract(slimmed: tuple[int, Path], tmp_path: Path) -> None:
    """`goslim k8s IMAGE --verified report.json` writes what the pipeline wrote: the contract the run
    was given travels in report.json."""
    _, out = slimmed
    produced = tmp_path / "k8s.yaml"
    image = f"oci:{out / 'image'}:latest"
    assert main(["k8s", image, "--verified", str(out / "report.json"), "--out", str(produced)]) == 0
    assert produced.read_text() == (out / "deploy" / "k8s.yaml").read_text()
