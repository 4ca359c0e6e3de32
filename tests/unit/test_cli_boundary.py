"""The error boundary: one line, a hint, the right exit code, no traceback."""

from pathlib import Path

import pytest

from goslim.cli.app import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("goslim ")


def test_no_go_mod_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "no go.mod" in err
    assert "hint:" in err
    assert "Traceback" not in err


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--no-such-flag"]) == 2


def test_bad_config_key_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "go.mod").write_text("module example.com/x\n\ngo 1.22\n")
    (tmp_path / "goslim.yaml").write_text("build:\n  profle: slim\n")
    code = main(["build", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown key 'build.profle'" in err
    assert str(tmp_path / "goslim.yaml") in err
