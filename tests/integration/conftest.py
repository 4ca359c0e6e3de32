import pytest

# Shared registry fixtures (docker-registry on 127.0.0.1): `registry` (open), `auth_registry` (htpasswd).
from tests.integration.registry import auth_registry, registry  # noqa: F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
