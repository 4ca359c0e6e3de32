"""Errors of the scan stage."""

from __future__ import annotations

from goslim.errors import CheckFailedError, UserInputError


class VulnDbError(UserInputError):
    """The vulnerability database cannot be read or fetched."""


class PolicyFailedError(CheckFailedError):
    """``--fail-on``: a vulnerability at or above the threshold was found (the report is still written)."""
