"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goslim import interrupt


@pytest.fixture
def handlers() -> Iterator[None]:
    """goslim's signal handlers installed for the test, and a fresh interrupt state after it."""
    restore = interrupt.install()
    try:
        yield
    finally:
        restore()
        interrupt.install()()  # a fresh state for the next test, old handlers back
