"""The bases stage: a base spec and a binary's needs -> ``Base`` (files or a pulled image + facts)."""

from goslim.bases.builtin import BUILTIN_BASES, StaticOptions, scratch_base, static_base
from goslim.bases.compat import IncompatibleBaseError, check_compatible
from goslim.bases.models import Base, BaseFile, LibcInfo, Provision
from goslim.bases.needs import BinaryFacts, Need, facts_from_report

__all__ = [
    "BUILTIN_BASES",
    "Base",
    "BaseFile",
    "BinaryFacts",
    "IncompatibleBaseError",
    "LibcInfo",
    "Need",
    "Provision",
    "StaticOptions",
    "check_compatible",
    "facts_from_report",
    "scratch_base",
    "static_base",
]
