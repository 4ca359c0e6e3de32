"""Known ways UPX can hurt a Go service, each shown with what goslim measured on this binary."""

from __future__ import annotations

from pathlib import Path

from goslim.binary import BinaryInputError, BinaryReport, read_build_info
from goslim.upx.models import LevelRow, Risk

SELINUX_ENFORCE = Path("/sys/fs/selinux/enforce")


def selinux_state(enforce_file: Path = SELINUX_ENFORCE) -> str:
    """'enforcing', 'permissive' or 'not enabled' on this host."""
    try:
        return "enforcing" if enforce_file.read_text().strip() == "1" else "permissive"
    except OSError:
        return "not enabled"


def scanner_view(path: Path) -> tuple[bool, str]:
    """What a scanner reading Go build info sees in ``path``: (readable, evidence)."""
    try:
        info = read_build_info(path)
    except BinaryInputError as exc:
        return False, f"unreadable: {exc.message}"
    return True, f"{info.go_version}, main module {info.main.path or '?'}, {len(info.deps)} dependencies"


def assess_risks(
    facts: BinaryReport, rows: list[LevelRow], *, env_count: int, env_bytes: int, selinux: str
) -> list[Risk]:
    """The risks of shipping the packed levels in ``rows`` (baseline first)."""
    baseline, packed = rows[0], [r for r in rows if r.packed]
    if not packed:
        return []
    return [
        _scanners(baseline, packed),
        _large_environment(baseline, packed, env_count, env_bytes),
        _write_exec(baseline, packed, selinux),
        _memory(baseline, packed),
        _shape(facts),
    ]


def _scanners(baseline: LevelRow, packed: list[LevelRow]) -> Risk:
    hidden = [r.level for r in packed if not r.build_info_readable and baseline.build_info_readable]
    evidence = [f"{r.level}: {r.build_info}" for r in (baseline, *packed)]
    return Risk(
        name="scanners",
        severity="warn" if hidden else "info",
        summary=(
            "SBOM and vulnerability scanners read Go build info, which UPX compresses away; "
            "goslim keeps the unpacked binary and attaches the SBOM made from it"
        ),
        evidence=evidence,
    )


def _large_environment(baseline: LevelRow, packed: list[LevelRow], env_count: int, env_bytes: int) -> Risk:
    failed = [r.level for r in packed if r.large_env_ok is False]
    evidence = [
        f"{env_count} variables, Kubernetes service-link style, {env_bytes} bytes: "
        f"unpacked {baseline.large_env_detail}"
    ]
    evidence += [f"{r.level}: {r.large_env_detail}" for r in packed]
    return Risk(
        name="large-environment",
        severity="block" if failed else "info",
        summary=(
            "UPX stubs have crashed Go binaries at start-up when the environment is large "
            "(upx#18902, #743); goslim smoke-runs each packed level with one"
        ),
        evidence=evidence,
    )


def _write_exec(baseline: LevelRow, packed: list[LevelRow], selinux: str) -> Risk:
    evidence = [f"SELinux on this host: {selinux}"]
    if baseline.write_exec_denied:
        evidence.append(
            f"with memory-deny-write-execute (PR_SET_MDWE): unpacked {baseline.write_exec_denied}"
        )
        evidence += [f"{r.level}: {r.write_exec_denied}" for r in packed]
    else:
        evidence.append("PR_SET_MDWE is not available on this kernel: not tried")
    return Risk(
        name="write-xor-execute",
        severity="warn",
        summary=(
            "the UPX stub writes the program into memory and then executes it: SELinux without "
            "execmem, systemd MemoryDenyWriteExecute=yes and other W^X policies stop it"
        ),
        evidence=evidence,
    )


def _memory(baseline: LevelRow, packed: list[LevelRow]) -> Risk:
    evidence = []
    for r in packed:
        if r.memory and baseline.memory:
            anon = (r.memory.anon_kib - baseline.memory.anon_kib) / 1024
            file = (r.memory.file_kib - baseline.memory.file_kib) / 1024
            evidence.append(
                f"{r.level}: RssAnon {anon:+.1f} MiB, RssFile {file:+.1f} MiB per process at ready"
            )
    return Risk(
        name="memory",
        severity="info",
        summary=(
            "the packed program lives in private (anonymous) memory: no page sharing between "
            "replicas on a node, and it counts against each container's memory limit"
        ),
        evidence=evidence,
    )


def _shape(report: BinaryReport) -> Risk:
    facts = report.elf
    linking = "dynamically linked" if facts.interpreter else "statically linked"
    kind = "PIE" if facts.pie else "non-PIE (ET_EXEC)"
    return Risk(
        name="pie",
        severity="block" if facts.pie or facts.interpreter else "info",
        summary=(
            "goslim packs only static non-PIE Go binaries: UPX fails on Go PIE (upx#18895) "
            "and on dynamically linked Go binaries (upx#825)"
        ),
        evidence=[f"{facts.goarch or facts.machine} ELF{facts.elf_class}, {kind}, {linking}"],
    )
