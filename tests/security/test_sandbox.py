"""verify's container is at least as tight as a runtime's default, and as faithful as Kubernetes.

The syscall-probe fixture tries what the default seccomp profile denies (a new user namespace,
keyctl, io_uring_setup, ptrace), reports its ids, namespaces, CPU quota and how `localhost`
resolves as one JSON line, then serves on localhost:8080. The image has no User, so it runs as
uid 0, but inside a user namespace: a non-zero uid on the host.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from goslim.binary import analyze
from goslim.image import ImageOptions, assemble
from goslim.oci import write_oci_layout
from goslim.verify import CheckStatus, VerifyOptions, verify_image, verify_rootfs
from goslim.verify.runtime import ID_PREFIX, OciRuntime
from goslim.verify.userns import user_namespace
from tests.conftest import need_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
FAST = VerifyOptions(alive_seconds=1.0, grace_seconds=5.0)
DENIED_SYSCALLS = ("unshare_newuser", "keyctl", "io_uring_setup", "ptrace")


def our_containers() -> list[dict]:
    return [c for c in OciRuntime("runc").list() if c["id"].startswith(f"{ID_PREFIX}{os.getpid()}-")]


@pytest.fixture(autouse=True)
def _no_leftovers():
    need_tool("runc")
    yield
    assert our_containers() == []


@pytest.fixture(scope="module")
def probe_layout(go_build, tmp_path_factory) -> str:
    """The syscall-probe on the static base, with no User (so uid 0) and port 8080."""
    binary = go_build("syscall-probe")
    assembled = assemble(binary, analyze(binary.path), "static", ImageOptions(user="", ports=[8080]))
    path = tmp_path_factory.mktemp("sandbox") / "layout"
    write_oci_layout(path, assembled.image, "t")
    return f"oci:{path}:t"


class Seen:
    """What the host sees of the running container, captured while verify keeps it alive."""

    report: dict
    host_status: str
    host_cgroupns: str
    uid_map: str
    entrypoint_owner: tuple[int, int]

    def __call__(self, step: str) -> None:
        if not step.startswith("staying alive"):
            return
        (container,) = our_containers()
        pid = int(container["pid"])
        stdout = Path(container["bundle"]) / "stdout.log"
        self.report = json.loads(stdout.read_text().splitlines()[0])
        self.host_status = Path(f"/proc/{pid}/status").read_text()
        self.host_cgroupns = os.readlink(f"/proc/{pid}/ns/cgroup")
        self.uid_map = Path(f"/proc/{pid}/uid_map").read_text()
        root = Path(json.loads((Path(container["bundle"]) / "config.json").read_text())["root"]["path"])
        st = next((root / "app").iterdir()).stat()
        self.entrypoint_owner = (st.st_uid, st.st_gid)


@pytest.fixture(scope="module")
def probed(probe_layout):
    seen = Seen()
    checklist = verify_image(probe_layout, FAST, progress=seen)
    return checklist, seen


def test_default_seccomp_denies_what_runtimes_deny(probed):
    _, seen = probed
    outcomes = seen.report["syscalls"]
    assert {name: outcomes[name] for name in DENIED_SYSCALLS} == {
        name: "operation not permitted" for name in DENIED_SYSCALLS
    }


def test_image_without_user_is_root_only_inside_a_user_namespace(probed):
    checklist, seen = probed
    if user_namespace().id_map is None:
        pytest.skip(f"no user namespace here: {user_namespace().reason}")
    assert seen.report["uid"] == 0 and seen.report["gid"] == 0
    host_uid = int(next(line for line in seen.host_status.splitlines() if line.startswith("Uid:")).split()[1])
    assert host_uid != 0 and host_uid == user_namespace().id_map.host_id
    assert seen.entrypoint_owner == (host_uid, host_uid)  # the rootfs was unpacked with shifted owners
    assert seen.report["userns"] != os.readlink("/proc/self/ns/user")
    non_root = checklist.result("non-root")  # still judged on the image's uid, as Kubernetes would see it
    assert non_root.status is CheckStatus.FAIL and non_root.measured["uid"] == 0
    sandbox = checklist.observed.sandbox
    assert any(line.startswith("user namespace: container ids 0-65535") for line in sandbox)


def test_cgroup_namespace_and_cpu_limit(probed):
    _, seen = probed
    assert seen.host_cgroupns != os.readlink("/proc/self/ns/cgroup")
    assert seen.report["cgroupns"] == seen.host_cgroupns
    # In its own cgroup namespace the container's cgroups are the root of what it sees.
    assert all(line.rsplit(":", 1)[1] == "/" for line in seen.report["cgroup"].splitlines())
    assert seen.report["cpu_quota"] in ("100000", "100000 100000")  # v1 cfs_quota_us, or v2 cpu.max


def test_runtime_files_and_env_are_injected(probed):
    checklist, seen = probed
    assert seen.report["localhost"] in ("127.0.0.1,::1", "127.0.0.1", "::1,127.0.0.1")
    assert seen.report["hostname"] == "goslim-verify" and seen.report["hostname_env"] == "goslim-verify"
    injected = checklist.observed.injected
    assert [i.split(" ")[0] for i in injected[:3]] == ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]
    assert "HOSTNAME=goslim-verify" in injected
    assert any(i.startswith("eth0 (10.244.0.2/24") for i in injected)  # a pod's private address
    # The service bound localhost:8080 and answered: it started, was ready, and stopped cleanly;
    # readiness warns that the kubelet, probing the pod IP, could not reach a localhost-only port.
    for check in ("starts", "liveness", "shutdown"):
        assert checklist.result(check).status is CheckStatus.PASS, checklist.result(check).summary
    ready = checklist.result("readiness")
    assert ready.status is CheckStatus.WARN and "loopback only" in ready.summary, ready.summary


def test_injected_files_leave_the_rootfs_alone(go_build, tmp_path):
    """A rootfs given as a directory: no user namespace (said so), and /etc is not written."""
    binary = Path(go_build("syscall-probe").path)
    rootfs = tmp_path / "rootfs"
    (rootfs / "app").mkdir(parents=True)
    (rootfs / "app" / binary.name).write_bytes(binary.read_bytes())
    (rootfs / "app" / binary.name).chmod(0o755)
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "hosts").write_text("10.0.0.1 image-owned\n")
    entry = [f"/app/{binary.name}"]
    cmd = ["-listen", ":8080"]  # every interface: a port the kubelet could reach
    config = {"config": {"User": "65532", "Entrypoint": entry, "Cmd": cmd, "ExposedPorts": {"8080/tcp": {}}}}
    cl = verify_rootfs(rootfs, config, FAST.model_copy(update={"checks": ("starts", "readiness")}))
    assert [cl.result(c).status for c in ("starts", "readiness")] == [CheckStatus.PASS, CheckStatus.PASS]
    assert (rootfs / "etc" / "hosts").read_text() == "10.0.0.1 image-owned\n"
    assert any(line.startswith("user namespace: not used (the rootfs was given as a directory")
               for line in cl.observed.sandbox)
