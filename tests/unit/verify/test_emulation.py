"""Emulation changes exactly two things of the runtime spec: the emulator's read-only mount and argv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goslim.oci import FileEntry, Image, Index, build_layer, mediatypes, new_config
from goslim.oci.descriptor import canonical_json
from goslim.platform import Platform
from goslim.verify.bundle import write_bundle
from goslim.verify.emulation import Emulator, NoEmulator, find_emulator
from goslim.verify.models import Checklist, CheckResult, CheckStatus, VerifyOptions
from goslim.verify.platforms import PlatformRun, _mark_emulated, select_images
from goslim.verify.process import container_process

QEMU = Emulator(architecture="arm64", host_path="/usr/bin/qemu-aarch64-static",
                version="qemu-aarch64 version 7.2.22")


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "app").mkdir(parents=True)
    (root / "app" / "svc").write_bytes(b"\x7fELF")
    (root / "app" / "svc").chmod(0o755)
    return root


def spec_for(rootfs: Path, bundle: Path, options: VerifyOptions) -> dict:
    bundle.mkdir()
    process = container_process(rootfs, {"Entrypoint": ["svc"], "Cmd": ["serve"], "Env": ["PATH=/app"]})
    write_bundle(bundle, process, rootfs, options)
    return json.loads((bundle / "config.json").read_text().replace(str(bundle), "BUNDLE"))


def test_only_the_mount_and_the_argv_change(rootfs: Path, tmp_path: Path) -> None:
    native = spec_for(rootfs, tmp_path / "native", VerifyOptions())
    emulated = spec_for(rootfs, tmp_path / "emulated", VerifyOptions(emulator=QEMU))
    inside = "/dev/.goslim-emulator/qemu-aarch64-static"
    assert emulated["process"]["args"] == [inside, "-0", "svc", "/app/svc", "serve"]
    extra = [m for m in emulated["mounts"] if m not in native["mounts"]]
    assert extra == [{"destination": inside, "type": "bind", "source": QEMU.host_path,
                      "options": ["rbind", "ro", "nosuid", "nodev"]}]
    # Everything else is the native spec (bundle paths aside): same seccomp, namespaces, limits, env.
    for key in ("linux", "root", "hostname"):
        assert emulated[key] == native[key]
    rest = {k: v for k, v in emulated["process"].items() if k != "args"}
    assert rest == {k: v for k, v in native["process"].items() if k != "args"}


def test_an_unknown_architecture_has_no_emulator() -> None:
    found = find_emulator("mips64")
    assert isinstance(found, NoEmulator) and "no qemu-user emulator is known" in found.reason


def test_timing_results_are_marked_not_judged() -> None:
    r = CheckResult(id="startup", title="t", status=CheckStatus.PASS, summary="answered after 0.8s")
    marked = _mark_emulated(r)
    assert marked.status is CheckStatus.PASS and marked.measured["emulated"] is True
    assert "not judged against native budgets" in marked.summary
    other = CheckResult(id="no-shell", title="t", status=CheckStatus.PASS, summary="no shell")
    assert _mark_emulated(other) == other


def tiny(os_name: str, arch: str) -> Image:
    cfg = new_config(Platform(os=os_name, architecture=arch), entrypoint=["/app"])
    return Image.build(cfg, [build_layer([FileEntry.file("/app", arch.encode(), 0o755)])])


def test_an_index_runs_each_linux_platform_once() -> None:
    amd, arm, attestation = tiny("linux", "amd64"), tiny("linux", "arm64"), tiny("unknown", "unknown")
    entries = [i.descriptor(with_platform=True).to_dict() for i in (amd, attestation, arm, amd)]
    data = canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": entries})
    index = Index(data, (amd, attestation, arm))
    assert [str(i.platform) for i in select_images(index, None)] == ["linux/amd64", "linux/arm64"]
    assert select_images(index, (Platform.parse("linux/arm64"),)) == [arm]


def test_a_platform_run_says_how_it_ran() -> None:
    checklist = Checklist(image="x", runtime="runc", platform="linux/arm64", seconds=1.0, results=())
    run = PlatformRun(platform="linux/arm64", digest="sha256:" + "a" * 64, mode="emulated",
                      emulator=QEMU.version, checklist=checklist)
    assert run.how == "emulated: qemu-aarch64 version 7.2.22"
    # A reused run names no emulator of this machine: it says where its verdict came from instead.
    reused = run.model_copy(update={"emulator": None, "reused": "reused the signed verification of ..."})
    assert reused.how == "reused: its attested emulated run"
    skipped = run.model_copy(update={"mode": "not run", "emulator": None, "reason": "no qemu-aarch64-static"})
    assert skipped.how == "not run: no qemu-aarch64-static"
