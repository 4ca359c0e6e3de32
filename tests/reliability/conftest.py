"""Reliability suite fixtures: the shared docker-registry fixture, importable from tests/integration."""

# Same session fixture the integration tests use (docker-registry on 127.0.0.1).
from tests.integration.registry import registry  # noqa: F401
