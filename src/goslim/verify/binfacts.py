"""What the entrypoint binary needs from the image: loader and libraries, CA roots, zoneinfo.

A small reader of its own (pyelftools and a scan of the Go function-name table), so verify
judges any image, including ones goslim did not build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

# ELF e_machine -> GOARCH
MACHINES = {
    "EM_X86_64": "amd64",
    "EM_AARCH64": "arm64",
    "EM_ARM": "arm",
    "EM_386": "386",
    "EM_PPC64": "ppc64le",
    "EM_S390": "s390x",
    "EM_RISCV": "riscv64",
}

# Function names Go keeps in its pclntab even in stripped binaries.
SYSTEM_CERT_POOL = b"crypto/x509.SystemCertPool"
SYSTEM_ROOTS = b"crypto/x509.loadSystemRoots"
LOAD_LOCATION = b"time.LoadLocation"
EMBEDDED_TZDATA = b"time/tzdata"
ZONE_NAME = re.compile(
    rb"(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Z][A-Za-z_]{2,}"
)
HOST_ZONEINFO = Path("/usr/share/zoneinfo")


@dataclass(frozen=True)
class BinaryFacts:
    is_elf: bool
    architecture: str | None  # GOARCH spelling
    interpreter: str | None  # PT_INTERP, None for static binaries
    needed: tuple[str, ...]  # DT_NEEDED
    runpath: tuple[str, ...]  # DT_RUNPATH / DT_RPATH directories
    is_go: bool
    roots: str  # "yes" (calls SystemCertPool), "maybe" (TLS client code linked), "no"
    zoneinfo: str  # "yes" (names a zone), "maybe" (LoadLocation linked), "no"
    zone_names: tuple[str, ...]
    embeds_tzdata: bool
    size: int


def binary_facts(path: Path) -> BinaryFacts:
    """Read ``path``; a non-ELF file (a script) gives is_elf=False and nothing else."""
    data = path.read_bytes()
    interp, needed, runpath, arch = None, (), (), None
    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            arch = MACHINES.get(elf["e_machine"], str(elf["e_machine"]))
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_INTERP":
                    interp = seg.get_interp_name()
            for sec in elf.iter_sections():
                if isinstance(sec, DynamicSection):
                    needed = tuple(t.needed for t in sec.iter_tags() if t.entry.d_tag == "DT_NEEDED")
                    runpath = tuple(
                        d
                        for t in sec.iter_tags()
                        if t.entry.d_tag in ("DT_RUNPATH", "DT_RPATH")
                        for d in (t.runpath if t.entry.d_tag == "DT_RUNPATH" else t.rpath).split(":")
                        if d
                    )
    except ELFError:
        return BinaryFacts(False, None, None, (), (), False, "no", "no", (), False, len(data))
    is_go = b"runtime.goexit" in data or b"\xff Go buildinf:" in data
    embeds = EMBEDDED_TZDATA in data
    zones = _zone_names(data)
    roots = "yes" if SYSTEM_CERT_POOL in data else "maybe" if SYSTEM_ROOTS in data else "no"
    zoneinfo = "yes" if zones else "maybe" if LOAD_LOCATION in data else "no"
    return BinaryFacts(True, arch, interp, needed, runpath, is_go, roots, zoneinfo, zones, embeds, len(data))


def _zone_names(data: bytes) -> tuple[str, ...]:
    """Zone names written in the binary; Go packs string literals together, so trim to a real zone."""
    names = []
    for m in ZONE_NAME.finditer(data):
        raw = m.group().decode()
        names.append(_trim_zone(raw))
        if len(names) >= 5:
            break
    return tuple(dict.fromkeys(names))


def _trim_zone(raw: str) -> str:
    for end in range(len(raw), raw.index("/") + 2, -1):
        if (HOST_ZONEINFO / raw[:end]).is_file():
            return raw[:end]
    return raw
