"""Errors of the compress stage."""

from __future__ import annotations

from goslim.errors import UserInputError


class UpxRefusedError(UserInputError):
    """UPX (or goslim on its behalf) will not pack this file; the input is left unchanged."""
