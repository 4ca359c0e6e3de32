"""The runtimes' default seccomp profile, resolved into an OCI ``linux.seccomp`` object.

The profile is data (seccomp_default.json beside this module, with its source and goslim's
changes in its ``_source`` field), in moby's format: rules carry ``includes``/``excludes`` keyed
by capabilities, architectures and kernel version. Resolving them the way moby and containerd do
for one container (its capabilities, this machine's architecture and kernel) gives the plain
allow-list runc and crun take.
"""

from __future__ import annotations

import json
import platform
import re
from functools import cache
from importlib import resources
from typing import Any

PROFILE_FILE = "seccomp_default.json"
# Go's GOARCH names (the profile's "arches") for what the kernel reports as the machine.
MACHINE_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "x86", "s390x": "s390x",
                "ppc64le": "ppc64le", "riscv64": "riscv64"}
# The native libseccomp architecture for each GOARCH; the profile's archMap adds the compat ones.
SCMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "s390x": "SCMP_ARCH_S390X",
             "riscv64": "SCMP_ARCH_RISCV64", "ppc64le": "SCMP_ARCH_PPC64LE", "arm": "SCMP_ARCH_ARM",
             "x86": "SCMP_ARCH_X86"}


@cache
def _profile() -> dict[str, Any]:
    text = resources.files("goslim.verify").joinpath(PROFILE_FILE).read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def profile_source() -> str:
    """A few words naming where the profile comes from, for reports (the data file has the details)."""
    return str(_profile()["_source"]["short"])


def default_seccomp(
    *, capabilities: frozenset[str] = frozenset(), arch: str | None = None, kernel: str | None = None
) -> dict[str, Any]:
    """``linux.seccomp`` for a container with ``capabilities`` on ``arch`` (GOARCH) and ``kernel``.

    Defaults: this machine's architecture and running kernel.
    """
    prof = _profile()
    arch = arch or MACHINE_ARCH.get(platform.machine(), platform.machine())
    kver = _version(kernel or platform.release())
    syscalls = []
    for rule in prof["syscalls"]:
        if not _applies(rule, capabilities, arch, kver):
            continue
        out: dict[str, Any] = {"names": list(rule["names"]), "action": rule["action"]}
        if rule.get("args"):
            out["args"] = [dict(a) for a in rule["args"]]
        if "errnoRet" in rule:
            out["errnoRet"] = rule["errnoRet"]
        syscalls.append(out)
    return {
        "defaultAction": prof["defaultAction"],
        "defaultErrnoRet": prof["defaultErrnoRet"],
        "architectures": _architectures(prof, arch),
        "syscalls": syscalls,
    }


def _applies(rule: dict[str, Any], caps: frozenset[str], arch: str, kver: tuple[int, ...]) -> bool:
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if inc.get("minKernel") and kver < _version(inc["minKernel"]):
        return False
    if exc.get("caps") and set(exc["caps"]) & caps:
        return False
    if exc.get("arches") and arch in exc["arches"]:
        return False
    return not (exc.get("minKernel") and kver >= _version(exc["minKernel"]))


def _architectures(prof: dict[str, Any], arch: str) -> list[str]:
    native = SCMP_ARCH.get(arch)
    if native is None:
        return []  # libseccomp then filters only the native ABI
    for entry in prof["archMap"]:
        if entry["architecture"] == native:
            return [native, *(entry.get("subArchitectures") or [])]
    return [native]


def _version(text: str) -> tuple[int, ...]:
    m = re.match(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)
