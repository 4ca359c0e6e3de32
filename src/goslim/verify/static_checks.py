"""Checks of the image's files that need no container: shell, libraries, CA roots, zoneinfo, modes, sizes.

What the entrypoint needs comes from its ``BinaryReport`` (goslim.binary, the one reader of binary
facts; a packed binary through an unpacked copy), so verify and the image stage read the same answer.
Where a container ran, its logs back up the verdict (an "unknown time zone" line proves the need).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from goslim.binary import BinaryReport, Need, NeedAnswer
from goslim.binary.needs import CA_DIRS, CA_FILES, ZONEINFO_DIRS, with_run_env
from goslim.verify.catalog import check_result as _r
from goslim.verify.logs import LogFacts
from goslim.verify.models import CheckResult, CheckStatus, VerifyOptions
from goslim.verify.process import ContainerProcess
from goslim.verify.rootfs import exists_in_rootfs, resolve_in_rootfs

P, W, F, S = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL, CheckStatus.SKIP

BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
SHELLS = ("sh", "bash", "ash", "dash", "zsh", "ksh", "busybox")
PACKAGE_MANAGERS = ("apt", "apt-get", "dpkg", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pip", "pip3")
LIB_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
LIB_TRIPLETS = (
    "x86_64-linux-gnu",
    "aarch64-linux-gnu",
    "arm-linux-gnueabihf",
    "i386-linux-gnu",
    "powerpc64le-linux-gnu",
    "s390x-linux-gnu",
    "riscv64-linux-gnu",
)
WRITABLE_OK = ("/tmp",)
MAX_LISTED = 10


@dataclass(frozen=True)
class StaticContext:
    """Everything the static checks read, gathered once."""

    rootfs: Path
    process: ContainerProcess
    binary: BinaryReport | None  # None when the entrypoint is not an ELF binary (a script)
    binary_size: int  # bytes of the entrypoint file as it sits in the image
    options: VerifyOptions
    image_size: int  # compressed image size, or the rootfs size when unknown
    image_size_kind: str  # "compressed layers" or "unpacked rootfs"
    logs: LogFacts | None  # from the container run, when there was one


def check_no_shell(ctx: StaticContext) -> CheckResult:
    found = [
        f"{d}/{name}"
        for d in BIN_DIRS
        for name in (*SHELLS, *PACKAGE_MANAGERS)
        if exists_in_rootfs(ctx.rootfs, f"{d}/{name}")
    ]
    # /bin -> /usr/bin merged layouts list a program twice; keep real files once.
    unique = list(dict.fromkeys(found))
    if unique:
        shells = [p for p in unique if p.rsplit("/", 1)[1] in SHELLS]
        pms = [p for p in unique if p not in shells]
        what = " and ".join(x for x in ("a shell" if shells else "", "a package manager" if pms else "") if x)
        return _r(
            "no-shell",
            F,
            f"the image has {what}: {', '.join(unique[:4])}",
            [f"found: {p}" for p in unique[:MAX_LISTED]],
        )
    return _r("no-shell", P, "no shell and no package manager", [f"looked in {', '.join(BIN_DIRS)}"])


def check_libraries(ctx: StaticContext) -> CheckResult:
    if ctx.binary is None:
        return _r("libraries", S, f"{ctx.process.executable} is not an ELF binary")
    b = ctx.binary.elf
    if b.interpreter is None:
        return _r(
            "libraries",
            P,
            "statically linked: needs no loader or shared libraries",
            [f"{ctx.process.executable}: no PT_INTERP, no DT_NEEDED"],
        )
    missing, evidence = [], []
    if exists_in_rootfs(ctx.rootfs, b.interpreter):
        evidence.append(f"loader {b.interpreter}: present")
    else:
        missing.append(b.interpreter)
        evidence.append(f"loader {b.interpreter}: MISSING")
    dirs = [*b.runpath, *LIB_DIRS, *(f"{d}/{t}" for d in LIB_DIRS for t in LIB_TRIPLETS)]
    for lib in b.needed:
        where = next((f"{d}/{lib}" for d in dirs if exists_in_rootfs(ctx.rootfs, f"{d}/{lib}")), None)
        evidence.append(f"{lib}: {where or 'MISSING'}")
        if where is None:
            missing.append(lib)
    if missing:
        return _r(
            "libraries",
            F,
            f"dynamic binary, missing from the image: {', '.join(missing)}",
            [*evidence, "hint: build with CGO_ENABLED=0 or use a base with libc"],
        )
    return _r("libraries", P, f"dynamic binary; loader and {len(b.needed)} libraries present", evidence)


def need_evidence(report: BinaryReport | None, need: Need | None) -> list[str]:
    """The binary's answer for a need, as the image stage printed it, and what proves it."""
    if report is None or need is None:
        return ["binary: not an ELF binary, its needs are unknown"]
    lines = [f"binary: {need.verdict}"]
    if need.evidence:
        lines.append("linked: " + ", ".join(need.evidence[:3]))
    if report.analyzed_unpacked_copy:
        lines.append("UPX-packed: read from a `upx -d` copy of the entrypoint")
    return lines


def check_ca_roots(ctx: StaticContext) -> CheckResult:
    need = ctx.binary.needs.ca_roots if ctx.binary else None
    why = need_evidence(ctx.binary, need)
    log_lines = ctx.logs.roots_lines if ctx.logs else ()
    env = ctx.process.env_map
    found = [f for f in (env.get("SSL_CERT_FILE", ""), *CA_FILES) if f and _is_file(ctx.rootfs, f)]
    if not found:
        found = [
            d
            for d in (*env.get("SSL_CERT_DIR", "").split(":"), *CA_DIRS)
            if d and _nonempty_dir(ctx.rootfs, d)
        ]
    if found:
        certs = _count_certs(ctx.rootfs, found[0])
        return _r(
            "ca-roots",
            P,
            f"CA roots at {found[0]}" + (f" ({certs} certificates)" if certs else ""),
            why,
            path=found[0],
            certificates=certs,
        )
    evidence = [*why, f"looked for {', '.join(CA_FILES[:2])}, ...", *(f"log: {line}" for line in log_lines)]
    if (need is not None and need.answer is NeedAnswer.NEEDED) or log_lines:
        return _r(
            "ca-roots",
            F,
            "the binary loads the system CA roots but the image has none",
            [*evidence, "hint: add /etc/ssl/certs/ca-certificates.crt (the static base has it)"],
        )
    if need is None:
        return _r("ca-roots", S, "not checked: no CA roots, and the entrypoint's needs are unknown", evidence)
    if need.answer is NeedAnswer.CARRIED:
        return _r("ca-roots", P, f"no CA roots in the image; {need.verdict}", evidence)
    return _r("ca-roots", P, "no CA roots, and the binary does not load system roots", evidence)


def check_zoneinfo(ctx: StaticContext) -> CheckResult:
    # The same rule the image stage used: the binary's answer plus a TZ in the process's environment.
    need = with_run_env(ctx.binary.needs, ctx.process.env_map).zoneinfo if ctx.binary else None
    why = need_evidence(ctx.binary, need)
    log_lines = ctx.logs.zone_lines if ctx.logs else ()
    zoneinfo_env = ctx.process.env_map.get("ZONEINFO")
    found = [
        d
        for d in ((zoneinfo_env,) if zoneinfo_env else ()) + ZONEINFO_DIRS
        if _is_file(ctx.rootfs, d) or _nonempty_dir(ctx.rootfs, d)
    ]
    names = need.names if need is not None and need.needed else None
    if found and names is not None and found[0] in ZONEINFO_DIRS:
        absent = [n for n in names if not _is_file(ctx.rootfs, f"{found[0]}/{n}")]
        if absent:
            missing = f"zones the binary loads are missing from {found[0]}: {', '.join(absent)}"
            return _r("zoneinfo", F, missing, [*why, *(f"log: {line}" for line in log_lines)])
        zones = ", ".join(names) or "none but UTC"
        return _r("zoneinfo", P, f"zoneinfo at {found[0]} has the zones the binary loads ({zones})", why)
    if found:
        return _r("zoneinfo", P, f"zoneinfo at {found[0]}", why)
    evidence = [*why, *(f"log: {line}" for line in log_lines)]
    if (need is not None and need.answer is NeedAnswer.NEEDED) or log_lines:
        return _r(
            "zoneinfo",
            F,
            "the binary loads named time zones but the image has no zoneinfo",
            [*evidence, "hint: add /usr/share/zoneinfo or build with -tags timetzdata"],
        )
    if need is None:
        return _r("zoneinfo", S, "not checked: no zoneinfo, and the entrypoint's needs are unknown", evidence)
    if need.answer is NeedAnswer.CARRIED:
        return _r("zoneinfo", P, f"no zoneinfo in the image; {need.verdict}", evidence)
    return _r("zoneinfo", P, "no zoneinfo needed (only UTC and Local will work)", evidence)


def check_users(ctx: StaticContext) -> CheckResult:
    need = ctx.binary.needs.passwd if ctx.binary else None
    evidence = need_evidence(ctx.binary, need)
    if _is_file(ctx.rootfs, "/etc/passwd"):
        return _r("users", P, "/etc/passwd present", evidence)
    if need is None:
        return _r("users", S, "not checked: no /etc/passwd, and the entrypoint's needs are unknown", evidence)
    if need.needed:
        # The image stage warns the same way: os/user copes with $USER and $HOME, so not a failure.
        return _r(
            "users",
            W,
            "the binary looks up users but the image has no /etc/passwd; user.Current needs $USER and $HOME",
            [*evidence, "hint: use the static base, which has /etc/passwd"],
        )
    return _r("users", P, "no /etc/passwd, and the binary looks up no users", evidence)


def check_setuid(ctx: StaticContext) -> CheckResult:
    found = [
        f"{_inside(ctx.rootfs, p)} ({stat.filemode(st.st_mode)})"
        for p, st in _walk(ctx.rootfs)
        if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID)
    ]
    if found:
        return _r("setuid", F, f"{len(found)} setuid/setgid files", found[:MAX_LISTED], count=len(found))
    return _r("setuid", P, "no setuid or setgid files")


def check_world_writable(ctx: StaticContext) -> CheckResult:
    found = []
    for p, st in _walk(ctx.rootfs):
        inside = _inside(ctx.rootfs, p)
        if stat.S_ISLNK(st.st_mode) or not st.st_mode & stat.S_IWOTH:
            continue
        if any(inside == ok or inside.startswith(ok + "/") for ok in WRITABLE_OK):
            continue
        found.append(f"{inside} ({stat.filemode(st.st_mode)})")
    if found:
        return _r(
            "world-writable",
            F,
            f"{len(found)} world-writable paths outside /tmp",
            found[:MAX_LISTED],
            count=len(found),
        )
    return _r("world-writable", P, "nothing world-writable outside /tmp")


def check_size(ctx: StaticContext) -> CheckResult:
    opts = ctx.options
    mib = 2**20
    img, binary = ctx.image_size, ctx.binary_size
    evidence = [
        f"image ({ctx.image_size_kind}): {img / mib:.2f} MiB"
        + (f", budget {opts.max_image_mb:g} MiB" if opts.max_image_mb is not None else ", no budget"),
        f"binary {ctx.process.executable}: {binary / mib:.2f} MiB"
        + (f", budget {opts.max_binary_mb:g} MiB" if opts.max_binary_mb is not None else ", no budget"),
    ]
    over = []
    if opts.max_image_mb is not None and img > opts.max_image_mb * mib:
        over.append(f"image {img / mib:.2f} MiB > {opts.max_image_mb:g} MiB")
    if opts.max_binary_mb is not None and binary > opts.max_binary_mb * mib:
        over.append(f"binary {binary / mib:.2f} MiB > {opts.max_binary_mb:g} MiB")
    measured = {"image_bytes": img, "binary_bytes": binary}
    if over:
        return _r("size", F, "over budget: " + "; ".join(over), evidence, **measured)
    return _r("size", P, f"image {img / mib:.2f} MiB, binary {binary / mib:.2f} MiB", evidence, **measured)


STATIC_CHECKS = {
    "no-shell": check_no_shell,
    "libraries": check_libraries,
    "ca-roots": check_ca_roots,
    "zoneinfo": check_zoneinfo,
    "users": check_users,
    "setuid": check_setuid,
    "world-writable": check_world_writable,
    "size": check_size,
}


def rootfs_size(rootfs: Path) -> int:
    """Bytes of regular files in the rootfs (hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for _p, st in _walk(rootfs):
        if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def _walk(rootfs: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under rootfs, never following symlinks (lstat)."""
    stack = [str(rootfs)]
    while stack:
        top = stack.pop()
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield entry.path, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)


def _inside(rootfs: Path, host_path: str) -> str:
    return "/" + os.path.relpath(host_path, rootfs)


def _is_file(rootfs: Path, path: str) -> bool:
    host = resolve_in_rootfs(rootfs, path)
    return host is not None and host.is_file() and host.stat().st_size > 0


def _nonempty_dir(rootfs: Path, path: str) -> bool:
    host = resolve_in_rootfs(rootfs, path)
    return host is not None and host.is_dir() and any(host.iterdir())


def _count_certs(rootfs: Path, path: str) -> int | None:
    host = resolve_in_rootfs(rootfs, path)
    if host is None or not host.is_file():
        return None
    # Counted chunk by chunk: the bundle comes from the image and may be any size.
    marker, count, tail = b"-----BEGIN CERTIFICATE-----", 0, b""
    with open(host, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            data = tail + chunk  # the tail is shorter than a marker: none is counted twice
            count += data.count(marker)
            tail = data[-(len(marker) - 1) :]
    return count
