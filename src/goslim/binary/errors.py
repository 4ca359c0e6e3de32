"""Errors of the analysis stage: every bad input becomes one of these, never a traceback."""

from __future__ import annotations

from goslim.errors import UserInputError


class BinaryInputError(UserInputError):
    """The file cannot be analysed as asked (base class of the analysis errors)."""


class NotElfError(BinaryInputError):
    """The file is not an ELF executable."""


class CorruptElfError(BinaryInputError):
    """The file starts like an ELF file but its headers are truncated or inconsistent."""


class NotGoBinaryError(BinaryInputError):
    """The ELF file carries no Go build information."""


class CorruptBuildInfoError(NotGoBinaryError):
    """The Go build-info blob exists but cannot be decoded."""


class PclntabError(BinaryInputError):
    """The Go function table (.gopclntab) is missing, of an unsupported version, or corrupt."""
