"""A binary from an older Go (1.25), whose pclntab header still records the text start.

The toolchain comes through the Go module proxy (GOTOOLCHAIN); without it the test is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from goslim.binary import analyze, read_build_info, read_functions
from goslim.binary.elf import ElfImage
from goslim.binary.pclntab import read_table
from tests.conftest import app_dir, need_tool

TOOLCHAIN = "go1.25.0"


@pytest.fixture(scope="module")
def old_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tool("go")
    out = tmp_path_factory.mktemp("go125") / "hello-api"
    env = {**os.environ, "GOTOOLCHAIN": TOOLCHAIN, "CGO_ENABLED": "0"}
    proc = subprocess.run(
        ["go", "build", "-o", str(out), "."],
        cwd=app_dir("hello-api"),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(proc.stderr)
        pytest.skip(f"{TOOLCHAIN} is not available: {proc.stderr.strip().splitlines()[-1:]}")
    return out


def test_text_start_comes_from_the_header(old_binary: Path) -> None:
    table = read_table(ElfImage(old_binary.read_bytes()))
    assert table.header.layout == "go1.20"
    assert table.header.text_start != 0
    assert (table.text_start, table.text_start_source) == (table.header.text_start, "header")


def test_entries_match_the_symbol_table(old_binary: Path) -> None:
    with open(old_binary, "rb") as fh:
        addrs: dict[str, set[int]] = defaultdict(set)
        for sym in ELFFile(fh).get_section_by_name(".symtab").iter_symbols():
            addrs[sym.name].add(sym["st_value"])
    funcs = [f for f in read_functions(old_binary) if f.name in addrs]
    assert len(funcs) > 1000
    assert [f.name for f in funcs if f.entry not in addrs[f.name] | addrs[f.name + ".abi0"]] == []


def test_build_info_and_report(old_binary: Path) -> None:
    go = json.loads(
        subprocess.run(
            ["go", "version", "-m", "-json", str(old_binary)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    ours = read_build_info(old_binary)
    assert ours.go_version == go["GoVersion"] == TOOLCHAIN
    assert list(ours.settings.items()) == [(s["Key"], s.get("Value", "")) for s in go.get("Settings", [])]
    r = analyze(old_binary)
    assert r.is_go and r.needs.ca_roots.needed and r.needs.zoneinfo.needed
    assert abs(sum(p.size for p in r.packages) + sum(s.size for s in r.sections) - r.size) <= 0.01 * r.size
