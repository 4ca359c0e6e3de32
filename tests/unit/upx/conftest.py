from __future__ import annotations

import os
from pathlib import Path

import pytest

from goslim.gobuild.models import Binary
from goslim.platform import Platform
from tests.unit.upx.elfdata import tiny_elf


def describe(path: Path) -> Binary:
    return Binary.from_file(
        path,
        name=path.name,
        package="example.com/tiny",
        module_dir=path.parent,
        platform=Platform.parse("linux/amd64"),
        profile="slim",
        go_version="go1.26",
        env={},
        flags=[],
    )


@pytest.fixture
def tiny_binary(tmp_path: Path) -> Binary:
    path = tmp_path / "tiny"
    path.write_bytes(tiny_elf())
    os.chmod(path, 0o755)
    return describe(path)
