"""The analysis stage: ELF facts, Go build info, size by package, run-time needs, findings.

Public API (other stages code against it):
``analyze(path, top=20, runner=None) -> BinaryReport``, ``read_build_info(path_or_bytes) -> BuildInfo``,
``read_functions(path_or_bytes) -> list[GoFunction]``.
"""

from goslim.binary.analyze import analyze, read_functions
from goslim.binary.buildinfo import read_build_info
from goslim.binary.errors import (
    BinaryInputError,
    CorruptBuildInfoError,
    CorruptElfError,
    NotElfError,
    NotGoBinaryError,
    PclntabError,
)
from goslim.binary.models import (
    BinaryReport,
    BuildInfo,
    ElfFacts,
    Finding,
    GoFunction,
    Module,
    Need,
    NeedAnswer,
    Needs,
    PackageSize,
    SectionSize,
)

__all__ = [
    "BinaryInputError",
    "BinaryReport",
    "BuildInfo",
    "CorruptBuildInfoError",
    "CorruptElfError",
    "ElfFacts",
    "Finding",
    "GoFunction",
    "Module",
    "Need",
    "NeedAnswer",
    "Needs",
    "NotElfError",
    "NotGoBinaryError",
    "PackageSize",
    "PclntabError",
    "SectionSize",
    "analyze",
    "read_build_info",
    "read_functions",
]
