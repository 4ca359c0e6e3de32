"""`goslim --help` imports no command; each command's module is imported only to run it or show its help."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections import defaultdict

import typer

from goslim.cli.app import COMMANDS, load_command
from tests.conftest import REPO


def test_every_listed_line_is_the_commands_own_docstring():
    for name, (_module, listed) in COMMANDS.items():
        assert load_command(name).get_short_help_str(limit=300) == listed, name


def test_every_module_registers_exactly_its_listed_commands():
    by_module: dict[str, set[str]] = defaultdict(set)
    for name, (module, _help) in COMMANDS.items():
        by_module[module].add(name)
    for module, names in by_module.items():
        holder = typer.Typer()
        importlib.import_module(module).register(holder)
        registered = {c.name for c in holder.registered_commands} | {g.name for g in holder.registered_groups}
        assert registered == names, module


def _modules_after(*args: str) -> set[str]:
    code = (
        "import sys\nfrom goslim.cli.app import main\ncode = main(list(sys.argv[1:]))\n"
        "print(' '.join(sorted(sys.modules)))\nraise SystemExit(code)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "COLUMNS": "100"},
        check=True,
    )
    return set(run.stdout.strip().splitlines()[-1].split())  # the help text comes first


def test_root_help_imports_no_command_and_no_stage():
    loaded = _modules_after("--help")
    goslim = {m for m in loaded if m.startswith("goslim")}
    assert goslim <= {"goslim", "goslim.cli", "goslim.cli.app", "goslim.errors", "goslim.interrupt"}, goslim
    assert "pydantic" not in loaded


def test_slim_help_imports_the_command_but_not_the_pipeline():
    loaded = _modules_after("slim", "--help")
    assert "goslim.cli.slim" in loaded
    assert not {"goslim.pipeline", "goslim.gobuild", "goslim.oci", "goslim.verify"} & loaded


def test_an_unknown_command_is_a_usage_error():
    run = subprocess.run(
        [sys.executable, "-m", "goslim", "no-such-command"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert run.returncode == 2 and "No such command" in run.stderr
