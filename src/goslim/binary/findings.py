"""Findings: what the binary leaks or carries that a production image should not."""

from __future__ import annotations

from goslim.binary import secrets
from goslim.binary.elf import ElfImage
from goslim.binary.models import BuildInfo, Finding
from goslim.binary.secrets import MAX_PER_KIND
from goslim.binary.source import windows

# Sections whose bytes hold string literals and initialised variables (where secrets end up).
SECRET_SECTIONS = (".rodata", ".noptrdata", ".data", ".go.buildinfo", ".data.rel.ro")
MAX_PATH_EXAMPLES = 5
SECRET_OVERLAP = 4096  # longer than any secret pattern can match


def build_path_finding(file_names: list[str], info: BuildInfo | None) -> Finding | None:
    """Absolute source paths in the file table mean the binary was built without -trimpath."""
    absolute = [f for f in file_names if f.startswith("/") or (len(f) > 2 and f[1] == ":" and f[2] in "\\/")]
    trimmed = info is not None and info.settings.get("-trimpath") == "true"
    if not absolute:
        return None
    dirs = sorted({_root_dir(f) for f in absolute})
    return Finding(
        kind="build-path",
        severity="low",
        message=f"{len(absolute)} absolute build paths in the function table"
        + ("" if trimmed else " (built without -trimpath)")
        + ": they reveal the build machine's layout; rebuild with -trimpath",
        evidence=dirs[:MAX_PATH_EXAMPLES],
    )


def _root_dir(path: str) -> str:
    # Group by the directory above the Go source tree: GOROOT/src, the module cache, or the module.
    for marker in ("/src/", "/pkg/mod/"):
        i = path.find(marker)
        if i >= 0:
            return path[: i + len(marker) - 1]
    return path.rsplit("/", 1)[0] or "/"


def secret_findings(elf: ElfImage) -> list[Finding]:
    regions = [
        (s.offset, s.offset + s.file_size) for s in elf.sections if s.name in SECRET_SECTIONS and s.file_size
    ]
    hits: list[secrets.SecretHit] = []
    seen: set[tuple[str, int]] = set()
    # Window by window (with an overlap longer than any pattern) so a large file is never all resident.
    for start, end in regions or [(0, len(elf.data))]:
        for offset, chunk in windows(elf.data, start, end, overlap=SECRET_OVERLAP):
            for hit in secrets.scan(chunk, offset):
                kept = sum(h.kind == hit.kind for h in hits)
                if (hit.kind, hit.offset) not in seen and kept < MAX_PER_KIND:
                    seen.add((hit.kind, hit.offset))
                    hits.append(hit)
    by_kind: dict[str, list[secrets.SecretHit]] = {}
    for hit in hits:
        by_kind.setdefault(hit.kind, []).append(hit)
    return [
        Finding(
            kind="secret",
            severity="high",
            message=f"{len(found)} embedded {kind} value(s): anyone who pulls the image can read them; "
            "move them to run-time configuration and rotate them",
            evidence=[f"{h.redacted} at file offset {h.offset:#x}" for h in found],
        )
        for kind, found in sorted(by_kind.items())
    ]


def debug_findings(elf: ElfImage) -> list[Finding]:
    out = []
    dwarf = elf.dwarf_bytes()
    if dwarf:
        out.append(
            Finding(
                kind="dwarf",
                severity="info",
                message="DWARF debug information is present; -ldflags=-w drops it",
                evidence=sorted(s.name for s in elf.sections if s.name.startswith((".debug_", ".zdebug_")))[
                    :8
                ],
                bytes=dwarf,
            )
        )
    symtab = elf.symtab_bytes()
    if symtab:
        out.append(
            Finding(
                kind="symtab",
                severity="info",
                message="the ELF symbol table is present; -ldflags=-s drops it "
                "(panics and pprof still work: they use .gopclntab)",
                evidence=[".symtab", ".strtab"],
                bytes=symtab,
            )
        )
    return out
