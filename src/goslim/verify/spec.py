"""The OCI runtime spec (config.json) goslim runs an image with: locked down like a careful cluster.

Read-only root, /tmp on tmpfs, no capabilities, no-new-privileges, its own pid, network
(loopback only), ipc, uts, mount and cgroup namespaces (and a user namespace when given an id
map), pids, memory and CPU limits, the runtimes' default seccomp profile, the masked and
read-only /proc paths of runc's default spec, and /sys/fs/cgroup read-only as Docker and
Kubernetes mount it (Go reads its CPU quota there to size GOMAXPROCS).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from goslim.verify.process import ContainerProcess
from goslim.verify.userns import IdMap

OCI_VERSION = "1.0.2"
HOSTNAME = "goslim-verify"

# As in runc's default spec: hide kernel interfaces a container has no business reading.
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")
TMP_SIZE = "64m"
SHM_SIZE_KIB = 65536  # Docker's default /dev/shm
CPU_PERIOD_US = 100_000  # the CFS period Docker and the kubelet use


def runtime_spec(
    process: ContainerProcess,
    rootfs: Path,
    *,
    memory_mb: int,
    pids: int,
    cpus: float = 1.0,
    cgroups_path: str | None = None,
    id_map: IdMap | None = None,
    seccomp: dict[str, Any] | None = None,
    extra_mounts: Sequence[dict[str, Any]] = (),
    extra_env: Sequence[str] = (),
    writable: tuple[str, ...] = (),
) -> dict[str, Any]:
    """config.json for ``process`` on ``rootfs`` (an absolute path, mounted read-only).

    ``id_map`` adds a user namespace (the rootfs must be owned by the shifted ids); ``seccomp`` is
    a resolved ``linux.seccomp`` object; ``extra_mounts`` and ``extra_env`` are what the runtime
    injects (/etc/hosts, HOSTNAME, ...); ``writable``: the run contract's writable paths, each a
    tmpfs as an emptyDir would be.
    """
    namespaces = [*NAMESPACES, "user"] if id_map else list(NAMESPACES)
    linux: dict[str, Any] = {
        "namespaces": [{"type": ns} for ns in namespaces],
        "resources": {
            "devices": [{"allow": False, "access": "rwm"}],
            "memory": {"limit": memory_mb * 1024 * 1024},
            "pids": {"limit": pids},
            "cpu": {"quota": max(1000, round(cpus * CPU_PERIOD_US)), "period": CPU_PERIOD_US},
        },
        "maskedPaths": list(MASKED_PATHS),
        "readonlyPaths": list(READONLY_PATHS),
    }
    if id_map:
        mapping = [{"containerID": 0, "hostID": id_map.host_id, "size": id_map.size}]
        linux["uidMappings"], linux["gidMappings"] = mapping, [dict(m) for m in mapping]
    if seccomp:
        linux["seccomp"] = seccomp
    if cgroups_path:
        linux["cgroupsPath"] = cgroups_path
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": process.uid, "gid": process.gid, "additionalGids": [process.gid]},
            "args": list(process.args),
            "env": [*process.env, *extra_env],
            "cwd": process.cwd,
            "capabilities": {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")},
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
                {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
            ],
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs.resolve()), "readonly": True},
        "hostname": HOSTNAME,
        "mounts": [*_mounts(), *extra_mounts,
                   *(_writable_mount(path) for path in writable if path != "/tmp")],
        "linux": linux,
    }


def _writable_mount(path: str) -> dict[str, Any]:
    return {
        "destination": path,
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777", f"size={TMP_SIZE}"],
    }


def _mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={SHM_SIZE_KIB}k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
        {
            "destination": "/tmp",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777", f"size={TMP_SIZE}"],
        },
    ]
