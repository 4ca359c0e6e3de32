"""The OCI bundle verify runs: config.json plus the files a container runtime always provides.

Docker, containerd and Kubernetes bind-mount /etc/hosts, /etc/hostname and /etc/resolv.conf
into every container whatever the image holds, and set HOSTNAME. goslim writes the same files
into the bundle and mounts them read-only, so the image's rootfs is never changed. A pod also has
eth0 with a private address (cluster peers such as alertmanager advertise it); when goslim runs
as root with ip(8) and nsenter(1), a createRuntime hook gives the container's network namespace
an eth0 (one end of a veth pair whose other end stays inside, so nothing leaves the sandbox) with
a pod-style address and no route out. resolv.conf names a cluster DNS address that is unreachable
from the sandbox: a lookup of a non-local name fails at once, as in a network namespace without DNS.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from goslim.verify.models import VerifyOptions
from goslim.verify.process import ContainerProcess
from goslim.verify.seccomp import default_seccomp, profile_source
from goslim.verify.spec import HOSTNAME, SHM_SIZE_KIB, runtime_spec
from goslim.verify.userns import ID_COUNT, IdMap, unavailable_note, user_namespace

HOSTS = (
    "# written by goslim verify, as a container runtime does (the sandbox network is loopback only)\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
    f"127.0.0.1\t{HOSTNAME}\n"
)
# Kubernetes' ClusterFirst shape; 10.96.0.10 is kubeadm's default cluster DNS address.
CLUSTER_DNS = "10.96.0.10"
RESOLV_CONF = (
    "# written by goslim verify: a cluster-style resolver, unreachable from the loopback-only sandbox\n"
    "search default.svc.cluster.local svc.cluster.local cluster.local\n"
    f"nameserver {CLUSTER_DNS}\n"
    "options ndots:5\n"
)
# The "kubernetes" service every pod sees (kubeadm's default service CIDR).
KUBERNETES_ENV = (
    ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
    ("KUBERNETES_SERVICE_PORT", "443"),
    ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
    ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
    ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
    ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
    ("KUBERNETES_PORT_443_TCP_PORT", "443"),
    ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
)
FILE_OPTIONS = ["rbind", "ro", "nosuid", "nodev", "noexec"]
# A pod's eth0: an address from kubeadm-style pod CIDRs; the veth's other end stays in the sandbox.
POD_IP, POD_PREFIX, POD_PEER = "10.244.0.2", 24, "goslim-peer"
POD_NET_LABEL = f"eth0 ({POD_IP}/{POD_PREFIX}, a pod's private address; no route out)"
# ip -batch commands that give the container's network namespace a pod's eth0.
POD_NET_BATCH = (
    f"link add eth0 type veth peer name {POD_PEER}\n"
    f"link set {POD_PEER} up\n"
    f"addr add {POD_IP}/{POD_PREFIX} dev eth0\n"
    "link set eth0 up\n"
)
# Run by the runtime before the process starts, with the container's state (JSON, "pid":N) on
# stdin; $1 nsenter, $2 ip, $3 the batch file. A failure never stops the run: observe checks for
# eth0 afterwards and says when the pod network could not be given.
_POD_NET_SCRIPT = (
    "read -r state || true; pid=${state#*'\"pid\":'}; pid=${pid# }; pid=${pid%%[!0-9]*}; "
    '[ -n "$pid" ] && "$1" --net="/proc/$pid/ns/net" "$2" -batch "$3" >/dev/null 2>&1; exit 0'
)


@dataclass(frozen=True)
class Sandbox:
    """What the bundle gives the container (as a runtime would) and how it is confined."""

    injected: tuple[str, ...]  # files and env a runtime provides: "/etc/hosts (...)", "HOSTNAME=..."
    confinement: tuple[str, ...]  # seccomp, namespaces, limits, and what was not available


def write_bundle(bundle: Path, process: ContainerProcess, rootfs: Path, options: VerifyOptions) -> Sandbox:
    """Write config.json and the injected files into ``bundle``; say what the container gets."""
    id_map, userns_note = _id_map(options, max(process.uid, process.gid), bundle.parent)
    files = {
        "/etc/hosts": (HOSTS, f"/etc/hosts (localhost, {HOSTNAME})"),
        "/etc/hostname": (HOSTNAME + "\n", f"/etc/hostname ({HOSTNAME})"),
        "/etc/resolv.conf": (
            RESOLV_CONF, f"/etc/resolv.conf (nameserver {CLUSTER_DNS}, unreachable: no DNS)"
        ),
    }
    mounts: list[dict[str, Any]] = []
    injected: list[str] = []
    for dest, (text, label) in files.items():
        source = bundle / ("etc-" + dest.rsplit("/", 1)[1])
        source.write_text(text)
        os.chmod(source, 0o644)
        if id_map is not None:
            os.chown(source, id_map.host_id, id_map.host_id)  # owned by the container's root, as runtimes do
        mounts.append({"destination": dest, "type": "bind", "source": str(source), "options": FILE_OPTIONS})
        injected.append(label)
    present = set(process.env_map)
    env = [("HOSTNAME", HOSTNAME), *(KUBERNETES_ENV if options.kubernetes_env else ())]
    added = [(k, v) for k, v in env if k not in present]  # the image's or the user's value wins
    injected.append(f"/dev/shm (tmpfs, {SHM_SIZE_KIB // 1024} MiB)")
    injected += [f"{k}={v}" for k, v in added]
    if id_map is not None:
        os.chmod(bundle, 0o711)  # the mapped root must reach the mount sources
    seccomp = default_seccomp()
    spec = runtime_spec(
        process,
        rootfs,
        memory_mb=options.memory_mb,
        pids=options.pids,
        cpus=options.cpus,
        id_map=id_map,
        seccomp=seccomp,
        extra_mounts=mounts,
        extra_env=[f"{k}={v}" for k, v in added],
        writable=options.writable,
    )
    hook = _pod_network_hook(bundle)
    if hook is not None:
        spec["hooks"] = {"createRuntime": [hook]}
        injected.append(POD_NET_LABEL)
    (bundle / "config.json").write_text(json.dumps(spec, indent=1))
    confinement = (
        f"seccomp: the Docker/containerd default profile ({profile_source()}): "
        f"{len(seccomp['syscalls'])} rules, anything else {seccomp['defaultAction']}",
        userns_note,
        "cgroup namespace",
        f"cpu limit: {options.cpus:g} CPU{'s' if options.cpus > 1 else ''} as a CFS quota",
        f"memory limit: {options.memory_mb} MiB; pids limit: {options.pids}",
        "read-only root, no capabilities, no-new-privileges, "
        + ("network: loopback and eth0, no route out" if hook else "loopback-only network"),
    )
    return Sandbox(tuple(injected), confinement)


def _pod_network_hook(bundle: Path) -> dict[str, Any] | None:
    """The createRuntime hook that gives the container eth0, or None where it cannot (not root,
    no sh, ip(8) or nsenter(1))."""
    sh, ip, nsenter = shutil.which("sh"), shutil.which("ip"), shutil.which("nsenter")
    if os.geteuid() != 0 or sh is None or ip is None or nsenter is None:
        return None
    batch = bundle / "pod-net.ip"
    batch.write_text(POD_NET_BATCH)
    args = ["sh", "-c", _POD_NET_SCRIPT, "goslim-pod-net", nsenter, ip, str(batch)]
    return {"path": sh, "args": args, "timeout": 20}


def _id_map(options: VerifyOptions, highest_id: int, work_dir: Path) -> tuple[IdMap | None, str]:
    support = user_namespace(work_dir)
    if options.rootfs_id_shift is None:
        reason = support.reason or "the rootfs was given as a directory, not unpacked with shifted owners"
        return None, unavailable_note(reason)
    if support.id_map is not None and support.id_map.host_id == options.rootfs_id_shift:
        id_map = support.id_map
    else:
        id_map = IdMap(options.rootfs_id_shift, source="the id shift the rootfs was unpacked with")
    if highest_id >= id_map.size:  # a User above 65535 runs as it would without a user namespace
        blocks = highest_id // ID_COUNT + 1
        id_map = replace(id_map, size=blocks * ID_COUNT)
    return id_map, id_map.describe()
