import os

import pytest

from goslim.cli.app import main
from goslim.cli.upx import _probe
from goslim.config import GoslimConfig, parse_config
from goslim.contract_resolve import parse_flags
from goslim.errors import UserInputError
from tests.unit.upx.elfdata import tiny_elf


def test_no_upx_installed_is_one_line_with_an_install_hint(tmp_path, monkeypatch, capsys):
    path = tmp_path / "app"
    path.write_bytes(tiny_elf())
    os.chmod(path, 0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["upx", str(path)]) == 3
    err = capsys.readouterr().err
    assert "upx is not installed" in err and "apt-get install upx" in err and "Traceback" not in err
    assert path.read_bytes() == tiny_elf()


def test_missing_file_and_bad_level(tmp_path, capsys):
    assert main(["upx", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err
    path = tmp_path / "app"
    path.write_bytes(tiny_elf())
    assert main(["upx", str(path), "--level", "turbo"]) == 2
    assert "unknown UPX level 'turbo'" in capsys.readouterr().err


def test_bad_upx_config_key_is_named(tmp_path, capsys):
    cfg = tmp_path / "goslim.yaml"
    cfg.write_text("upx:\n  max_startup: 10\n")
    path = tmp_path / "app"
    path.write_bytes(tiny_elf())
    assert main(["upx", str(path), "--config", str(cfg)]) == 2
    assert "unknown key 'upx.max_startup'" in capsys.readouterr().err


def test_probe_from_the_run_contract():
    assert _probe(parse_flags(), GoslimConfig()) is None
    assert _probe(parse_flags(ports=[9000]), GoslimConfig()).kind == "tcp"
    spec = _probe(parse_flags(ports=[8080], health="/readyz"), GoslimConfig())
    assert (spec.kind, spec.port, spec.path) == ("http", 8080, "/readyz")
    cfg = parse_config("verify:\n  port: 8080\n  health: /healthz\n  readiness: /readyz\n", where="t")
    assert _probe(parse_flags(), cfg).path == "/readyz"
    with pytest.raises(UserInputError, match="--health needs --port"):
        _probe(parse_flags(health="/healthz"), GoslimConfig())


def test_out_must_not_be_a_directory(tmp_path, capsys):
    path = tmp_path / "app"
    path.write_bytes(tiny_elf())
    assert main(["upx", str(path), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
