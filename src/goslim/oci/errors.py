"""Errors of the OCI engine: each one is a single line naming what is wrong."""

from __future__ import annotations

from goslim.errors import ExitStatus, GoslimError, UserInputError


class InvalidDigestError(UserInputError):
    """A string is not a well-formed content digest."""


class InvalidReferenceError(UserInputError):
    """An image location or registry reference cannot be parsed."""


class BlobError(UserInputError):
    """A blob is missing, has the wrong size, or its content does not hash to its digest."""


class ImageFormatError(UserInputError):
    """A manifest, config, index or archive is malformed or inconsistent."""


class UnsafeLayerError(UserInputError):
    """A layer tar holds an entry that would escape the root when applied."""


class RegistryError(GoslimError):
    """A registry refused a request or could not be reached."""

    exit_status = ExitStatus.TOOL_FAILED

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


class RegistryAuthError(RegistryError):
    """The registry wants credentials we do not have, or refused the ones we sent."""

    exit_status = ExitStatus.BAD_INPUT


class RegistryLimitError(RegistryError):
    """A registry's answer went past a bound: larger than its cap or slower than its deadline."""


class RegistryUnsafeError(RegistryError):
    """A registry asked for something goslim refuses, such as credentials over plain http."""


class BlobCacheError(UserInputError):
    """A pulled blob could not be written to the local cache (disk full, permissions)."""
