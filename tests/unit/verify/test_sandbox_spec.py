"""The sandbox's pure parts: the seccomp profile resolution, user namespace helpers, the bundle."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from goslim.config import VerifyConfig
from goslim.verify.bundle import write_bundle
from goslim.verify.models import VerifyOptions
from goslim.verify.options import options_from_config
from goslim.verify.process import container_process
from goslim.verify.seccomp import default_seccomp, profile_source
from goslim.verify.spec import runtime_spec
from goslim.verify.userns import IdMap, _inside, _subid_start, user_namespace

DENIED = {"keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter", "ptrace", "unshare",
          "mount", "bpf", "perf_event_open", "kexec_load", "userfaultfd", "setns", "process_vm_readv"}


def allowed_unconditionally(seccomp: dict) -> set[str]:
    return {n for rule in seccomp["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
            for n in rule["names"]}


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "app").mkdir(parents=True)
    (root / "app" / "svc").write_bytes(b"\x7fELF")
    return root


def test_default_profile_for_no_capabilities_denies_what_runtimes_deny():
    s = default_seccomp(arch="amd64", kernel="6.1.0")
    assert s["defaultAction"] == "SCMP_ACT_ERRNO" and s["defaultErrnoRet"] == 1
    assert s["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = allowed_unconditionally(s)
    assert {"read", "futex", "epoll_pwait", "arch_prctl", "rseq"} <= allowed
    assert allowed & DENIED == set()
    # clone only without namespace flags; clone3 answers ENOSYS so libc falls back to clone
    (clone,) = [r for r in s["syscalls"] if r["names"] == ["clone"]]
    assert clone["args"] == [{"index": 0, "value": 0x7E020000, "op": "SCMP_CMP_MASKED_EQ"}]
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in s["syscalls"]
    sockets = [r["args"][0] for r in s["syscalls"] if r["names"] == ["socket"]]
    assert [(a["op"], a["value"]) for a in sockets] == [
        ("SCMP_CMP_LT", 38), ("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40)  # not AF_ALG (38) nor AF_VSOCK (40)
    ]
    assert "190fa92" in profile_source()


def test_profile_conditions_follow_capabilities_and_architecture():
    arm = default_seccomp(arch="arm64", kernel="6.1")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert {"set_tls", "cacheflush"} <= allowed_unconditionally(arm)
    assert "arch_prctl" not in allowed_unconditionally(arm)
    traced = default_seccomp(capabilities=frozenset({"CAP_SYS_PTRACE"}), arch="amd64", kernel="6.1")
    assert "ptrace" in allowed_unconditionally(traced)
    admin = default_seccomp(capabilities=frozenset({"CAP_SYS_ADMIN"}), arch="amd64", kernel="6.1")
    assert "unshare" in allowed_unconditionally(admin)
    assert not any(r["names"] == ["clone3"] for r in admin["syscalls"])


def test_uid_map_translation_and_subid_entries(tmp_path: Path):
    uid_map = tmp_path / "uid_map"
    uid_map.write_text("         0 1879048192      65536\n")
    assert _inside(uid_map, 1879048192 + 65532) == 65532
    assert _inside(uid_map, 0) is None
    subuid = tmp_path / "subuid"
    subuid.write_text("root:100000:65536\ngoslim:200000:1000\ngoslim:300000:65536\n")
    assert _subid_start(subuid) == 300000  # the first goslim entry big enough
    assert _subid_start(tmp_path / "missing") is None
    described = IdMap(300000).describe()
    assert described.startswith("user namespace: container ids 0-65535 = host ids 300000-365535")


@pytest.mark.skipif(os.geteuid() != 0, reason="the user namespace is only used as root")
def test_no_user_namespace_when_the_work_dir_is_closed(tmp_path: Path):
    closed = tmp_path / "private"
    (closed / "tmp").mkdir(parents=True)
    closed.chmod(0o700)
    support = user_namespace(closed / "tmp")
    assert support.id_map is None and support.reason.startswith(f"{closed} is not searchable")


def test_spec_with_user_namespace_and_cpu_limit(rootfs: Path):
    p = container_process(rootfs, {"Entrypoint": ["/app/svc"]})
    spec = runtime_spec(p, rootfs, memory_mb=64, pids=16, cpus=0.5, id_map=IdMap(300000))
    linux = spec["linux"]
    assert {"type": "user"} in linux["namespaces"] and {"type": "cgroup"} in linux["namespaces"]
    mapping = [{"containerID": 0, "hostID": 300000, "size": 65536}]
    assert linux["uidMappings"] == linux["gidMappings"] == mapping
    assert linux["resources"]["cpu"] == {"quota": 50_000, "period": 100_000}
    cgroup = next(m for m in spec["mounts"] if m["destination"] == "/sys/fs/cgroup")
    assert "ro" in cgroup["options"]


def test_bundle_injects_runtime_files_without_overriding_the_image(rootfs: Path, tmp_path: Path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    p = container_process(rootfs, {"Entrypoint": ["/app/svc"], "Env": ["HOSTNAME=from-image"]})
    sandbox = write_bundle(bundle, p, rootfs, VerifyOptions(kubernetes_env=True))
    spec = json.loads((bundle / "config.json").read_text())
    binds = {m["destination"]: m for m in spec["mounts"] if m["type"] == "bind"}
    assert set(binds) == {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
    assert all("ro" in m["options"] for m in binds.values())
    hosts = Path(binds["/etc/hosts"]["source"]).read_text()
    assert "127.0.0.1\tlocalhost" in hosts and "::1\tlocalhost" in hosts and "goslim-verify" in hosts
    assert Path(binds["/etc/resolv.conf"]["source"]).read_text().count("nameserver") == 1
    env = spec["process"]["env"]
    assert "HOSTNAME=from-image" in env and "HOSTNAME=goslim-verify" not in env  # the image's value wins
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in env
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in sandbox.injected
    assert "HOSTNAME=goslim-verify" not in sandbox.injected
    assert "uidMappings" not in spec["linux"]
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert any(s.startswith("user namespace: not used (") for s in sandbox.confinement)
    assert list((rootfs / "app").iterdir()) == [rootfs / "app" / "svc"] and not (rootfs / "etc").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the pod network hook needs root")
def test_bundle_gives_a_pod_eth0_through_a_hook_that_never_stops_the_run(rootfs: Path, tmp_path: Path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    p = container_process(rootfs, {"Entrypoint": ["/app/svc"]})
    sandbox = write_bundle(bundle, p, rootfs, VerifyOptions())
    (hook,) = json.loads((bundle / "config.json").read_text())["hooks"]["createRuntime"]
    batch = Path(hook["args"][-1])
    assert batch.parent == bundle and "addr add 10.244.0.2/24 dev eth0" in batch.read_text()
    assert hook["args"][2].endswith("exit 0")  # a failed setup is reported by observe, not fatal
    assert any(i.startswith("eth0 (10.244.0.2/24") for i in sandbox.injected)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to the shifted ids needs root")
def test_bundle_with_shifted_rootfs_maps_ids(rootfs: Path, tmp_path: Path):
    bundle = tmp_path / "bundle"
    bundle.mkdir(mode=0o700)
    p = container_process(rootfs, {"Entrypoint": ["/app/svc"]})
    sandbox = write_bundle(bundle, p, rootfs, VerifyOptions(rootfs_id_shift=300000))
    spec = json.loads((bundle / "config.json").read_text())
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 300000, "size": 65536}]
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o711  # the mapped root can reach the mount sources
    assert (bundle / "etc-hosts").stat().st_uid == 300000
    assert any("host ids 300000-365535" in s for s in sandbox.confinement)
    high = container_process(rootfs, {"Entrypoint": ["/app/svc"], "User": "70000"})
    write_bundle(bundle, high, rootfs, VerifyOptions(rootfs_id_shift=300000))
    mapping = json.loads((bundle / "config.json").read_text())["linux"]["uidMappings"]
    assert mapping == [{"containerID": 0, "hostID": 300000, "size": 2 * 65536}]  # uid 70000 is mapped too


def test_cpus_from_config():
    assert options_from_config(VerifyConfig(cpus=2.5)).cpus == 2.5
    assert VerifyOptions().cpus == 1.0
    with pytest.raises(ValidationError):
        VerifyConfig(cpus=0)
