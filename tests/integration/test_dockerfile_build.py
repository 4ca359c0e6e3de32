"""The generated Dockerfile's own commands, run for real: its build stage with /bin/sh and Go, and its
scratch final stage assembled into a rootfs and started under runc.

No Docker daemon or BuildKit exists here, so the test plays BuildKit's part for the two stages: it runs each
RUN of the build stage through sh (with /out mapped to a temp folder), then copies exactly the files the final
stage's COPY lines name into an empty rootfs. That proves the flags, the -X quoting and the runtime file set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from elftools.elf.elffile import ELFFile

from goslim.binary import analyze
from goslim.config import load_config
from goslim.dockerfile import plan_dockerfile, render_dockerfile
from goslim.dockerfile.parser import Dockerfile, parse_dockerfile
from goslim.gobuild import BuildOptions, GoToolchain, Profile, build_binaries
from tests.conftest import app_dir, need_tool

STAMP = '1.0.0 "$HOME" `x`'  # spaces, double quotes, $ and backticks must all survive sh and cmd/go


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dockerfile, Path, Path]:
    """Render the scratch Dockerfile for a copy of hello-api and run its build stage; (df, module, out)."""
    go = need_tool("go")
    root = tmp_path_factory.mktemp("dockerfile-build")
    module = root / "hello-api"
    shutil.copytree(app_dir("hello-api"), module, ignore=shutil.ignore_patterns("dist"))
    config = yaml.safe_load((module / "goslim.yaml").read_text())
    config["build"]["x"]["main.version"] = STAMP
    (module / "goslim.yaml").write_text(yaml.safe_dump(config))
    df = parse_dockerfile(render_dockerfile(plan_dockerfile(module, load_config(module), base="scratch")))
    out = root / "out"
    run_build_stage(df, module, out, go)
    return df, module, out


def run_build_stage(df: Dockerfile, module: Path, out: Path, go: str) -> None:
    """Play BuildKit for the build stage: each RUN through sh in the module, /out mapped to ``out``."""
    env = {
        **os.environ,
        "TARGETOS": "linux",
        "TARGETARCH": "amd64",
        "PATH": f"{Path(go).parent}:{os.environ['PATH']}",
    }
    stage = df.stage_named("build")
    assert stage is not None
    for run in stage.of("RUN"):
        script = run.rest.replace("/out/", f"{out}/")
        proc = subprocess.run(
            ["sh", "-ec", script],
            cwd=module,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, f"line {run.line}: {script}\n{proc.stderr}"


def test_a_cmd_layout_module_builds_byte_identical_to_goslim(tmp_path: Path) -> None:
    """The module root is a library and the program is ./cmd/greeter: the Dockerfile builds that
    package with goslim's own flags and -X stamps, and its binary is goslim's, byte for byte."""
    go = need_tool("go")
    module = tmp_path / "cmd-layout"  # outside any git checkout, as a Docker context without .git is
    shutil.copytree(app_dir("cmd-layout"), module)
    (module / "goslim.yaml").write_text(yaml.safe_dump({"build": {"x": {"main.version": STAMP}}}))
    config = load_config(module)
    opts = BuildOptions(profile=Profile.SLIM, x=dict(config.build.x))
    [built] = build_binaries(GoToolchain(module), ["./cmd/greeter"], tmp_path / "goslim-out", [opts])
    report = analyze(built.path)
    df = parse_dockerfile(render_dockerfile(plan_dockerfile(module, config, base="scratch", report=report)))
    out = tmp_path / "out"
    run_build_stage(df, module, out, go)
    made = out / "greeter"
    assert made.read_bytes()[:4] == b"\x7fELF"  # a program, not an `ar` archive of the library
    assert made.read_bytes() == built.path.read_bytes()
    printed = subprocess.run([str(made), "-version"], capture_output=True, text=True, timeout=30, check=True)
    assert printed.stdout.strip() == f"greeter {STAMP}"
    # Without a binary to read, the generator finds the one main package below the library root.
    assert plan_dockerfile(module, config).package == "./cmd/greeter"


def test_build_stage_makes_a_static_stripped_stamped_binary(built: tuple[Dockerfile, Path, Path]) -> None:
    _df, _module, out = built
    binary = out / "hello-api"
    with open(binary, "rb") as fh:
        elf = ELFFile(fh)
        assert not any(seg["p_type"] == "PT_INTERP" for seg in elf.iter_segments())  # static: no loader
        assert elf.get_section_by_name(".symtab") is None  # -s
        assert not any(s.name.startswith(".debug") for s in elf.iter_sections())  # -w
    printed = subprocess.run(
        [str(binary), "-version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert printed.stdout.strip() == f"hello-api {STAMP}"
    info = subprocess.run(
        ["go", "version", "-m", str(binary)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PATH": f"{Path(need_tool('go')).parent}:{os.environ['PATH']}"},
    )
    settings = dict(
        line.split("\t")[2].split("=", 1)
        for line in info.stdout.splitlines()
        if line.startswith("\tbuild\t") and "=" in line
    )
    assert settings["-trimpath"] == "true"
    assert settings["CGO_ENABLED"] == "0"
    # (-trimpath makes cmd/go leave -ldflags out of the build info; the ELF checks above prove -s -w.)


def _rootfs(
    df: Dockerfile, out: Path, dest: Path, *, skip: str | None = None
) -> tuple[list[str], list[str], str]:
    """Copy what the final stage's COPY lines name into ``dest``; returns (argv, env, user)."""
    goroot = subprocess.run(
        ["go", "env", "GOROOT"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PATH": f"{Path(need_tool('go')).parent}:{os.environ['PATH']}"},
    )
    # Where the builder image's files come from on this Debian host.
    builder_files = {
        "/etc/ssl/certs/ca-certificates.crt": Path("/etc/ssl/certs/ca-certificates.crt"),
        "/usr/local/go/lib/time/zoneinfo.zip": Path(goroot.stdout.strip()) / "lib/time/zoneinfo.zip",
    }
    final = df.final_stage
    assert final is not None and final.base == "scratch"
    env, argv, user = [], [], "0:0"
    for ins in final.instructions:
        if ins.keyword == "COPY":
            *sources, target = ins.words()
            for src in sources:
                host = out / src.removeprefix("/out/") if src.startswith("/out/") else builder_files[src]
                if skip and src.endswith(skip):
                    continue
                to = (
                    dest / target.lstrip("/") / host.name
                    if target.endswith("/")
                    else dest / target.lstrip("/")
                )
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(host, to)
        elif ins.keyword == "ENV":
            env.append(ins.rest)
        elif ins.keyword == "USER":
            user = ins.rest
        elif ins.keyword in ("ENTRYPOINT", "CMD"):
            argv += ins.json_args or []
    return argv, env, user


def _run_in_runc(
    bundle: Path, argv: list[str], env: list[str], user: str, name: str
) -> tuple[int | None, str]:
    """Start the rootfs under runc; (exit code or None if still serving after start-up, its output)."""
    runc = need_tool("runc")
    subprocess.run([runc, "spec", "--bundle", str(bundle)], check=True, timeout=30)
    spec = json.loads((bundle / "config.json").read_text())
    uid, gid = (int(x) for x in user.split(":"))
    spec["process"].update(
        terminal=False, args=argv, cwd="/", user={"uid": uid, "gid": gid}, env=["PATH=/", "PORT=8080", *env]
    )
    spec["root"] = {"path": "rootfs", "readonly": True}
    (bundle / "config.json").write_text(json.dumps(spec))
    log = bundle / "output.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [runc, "run", "--bundle", str(bundle), name], stdout=fh, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None and b"listening" not in log.read_bytes():
            time.sleep(0.1)
        code = proc.poll()
    finally:
        subprocess.run([runc, "kill", name, "KILL"], capture_output=True, timeout=30, check=False)
        try:
            proc.wait(timeout=15)
        finally:
            subprocess.run([runc, "delete", "--force", name], capture_output=True, timeout=30, check=False)
    return code, log.read_text(errors="replace")


@pytest.mark.skipif(os.geteuid() != 0, reason="runc needs root here")
def test_scratch_final_stage_has_what_the_binary_needs(
    built: tuple[Dockerfile, Path, Path], tmp_path: Path
) -> None:
    df, _module, out = built
    bundle = tmp_path / "bundle"
    argv, env, user = _rootfs(df, out, bundle / "rootfs")
    assert user == "65532:65532" and argv == ["/hello-api"]
    assert (bundle / "rootfs/etc/passwd").read_text().startswith("nonroot:x:65532:65532:")
    code, output = _run_in_runc(bundle, argv, env, user, f"goslim-df-{os.getpid()}")
    assert code is None, output  # still serving
    listening = next(json.loads(line) for line in output.splitlines() if '"listening"' in line)
    assert listening["zone"] == "Europe/Berlin" and listening["ca_roots"] > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="runc needs root here")
def test_without_the_ca_bundle_the_same_image_fails_to_start(
    built: tuple[Dockerfile, Path, Path], tmp_path: Path
) -> None:
    # Control for the test above: the copied CA bundle is what makes start-up succeed.
    df, _module, out = built
    bundle = tmp_path / "bundle"
    argv, env, user = _rootfs(df, out, bundle / "rootfs", skip="ca-certificates.crt")
    code, output = _run_in_runc(bundle, argv, env, user, f"goslim-df-noca-{os.getpid()}")
    assert code == 1, output
    assert "no CA roots found" in output
