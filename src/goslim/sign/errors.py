"""Errors of the signing stage, each one line for the user."""

from __future__ import annotations

from goslim.errors import CheckFailedError, UserInputError


class KeyFileError(UserInputError):
    """A key file that cannot be used: unreadable, wrong password, unsupported type."""


class WrongPasswordError(KeyFileError):
    """The password does not decrypt the private key."""


class UnsupportedKeyError(KeyFileError):
    """A key of a type goslim does not sign or verify with."""


class SignatureVerificationError(CheckFailedError):
    """A signature is missing, does not match the key, or covers something else."""
