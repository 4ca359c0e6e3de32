"""The bases stage: a base spec and a binary's needs -> ``Base`` (files or a pulled image + facts)."""

from goslim.bases.builtin import BUILTIN_BASES, StaticOptions, scratch_base, static_base
from goslim.bases.compat import IncompatibleBaseError, check_compatible
from goslim.bases.models import Base, BaseFile, LibcInfo, Provision

__all__ = [
    "BUILTIN_BASES",
    "Base",
    "BaseFile",
    "IncompatibleBaseError",
    "LibcInfo",
    "Provision",
    "StaticOptions",
    "check_compatible",
    "scratch_base",
    "static_base",
]
