"""The OCI runtime spec (config.json) goslim runs an image with: locked down like a careful cluster.

Read-only root, /tmp on tmpfs, no capabilities, no-new-privileges, its own pid, network
(loopback only), ipc, uts and mount namespaces, pids and memory limits, and the masked and
read-only /proc paths of runc's default spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goslim.verify.process import ContainerProcess

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
NAMESPACES = ("pid", "network", "ipc", "uts", "mount")
TMP_SIZE = "64m"


def runtime_spec(
    process: ContainerProcess,
    rootfs: Path,
    *,
    memory_mb: int,
    pids: int,
    cgroups_path: str | None = None,
    writable: tuple[str, ...] = (),
) -> dict[str, Any]:
    """config.json for ``process`` on ``rootfs`` (an absolute path, mounted read-only).

    ``writable``: the run contract's writable paths, each a tmpfs as an emptyDir would be.
    """
    linux: dict[str, Any] = {
        "namespaces": [{"type": ns} for ns in NAMESPACES],
        "resources": {
            "devices": [{"allow": False, "access": "rwm"}],
            "memory": {"limit": memory_mb * 1024 * 1024},
            "pids": {"limit": pids},
        },
        "maskedPaths": list(MASKED_PATHS),
        "readonlyPaths": list(READONLY_PATHS),
    }
    if cgroups_path:
        linux["cgroupsPath"] = cgroups_path
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": process.uid, "gid": process.gid, "additionalGids": [process.gid]},
            "args": list(process.args),
            "env": list(process.env),
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
        "mounts": _mounts() + [_writable_mount(path) for path in writable if path != "/tmp"],
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
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
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
            "destination": "/tmp",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777", f"size={TMP_SIZE}"],
        },
    ]
