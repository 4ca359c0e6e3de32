"""The signing commands as a user runs them: one line per problem, exit codes, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.sign.password import read_password
from tests.unit.sign.test_sign_layout import make_layout


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    return tmp_path


def test_keygen_sign_verify_layout(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "--out", "keys", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["public_key"] == "keys/cosign.pub"
    digest = make_layout(workdir / "img")
    (workdir / "goslim.yaml").write_text("sign:\n  key: keys/cosign.key\n")
    assert main(["sign", "oci:img:latest"]) == 0  # key from goslim.yaml
    assert f"signed oci:img:latest {digest}" in capsys.readouterr().out
    assert main(["verify-signature", "oci:img", "--key", "keys/cosign.pub", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["image_digest"] == digest and report["checks"][0]["valid"]


def test_problems_are_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["keygen", "--out", "keys"]) == 0
    make_layout(workdir / "img")
    capsys.readouterr()
    assert main(["sign", "oci:img"]) == 2
    assert "no signing key" in capsys.readouterr().err
    monkeypatch.setenv("COSIGN_PASSWORD", "wrong")
    assert main(["sign", "oci:img", "--key", "keys/cosign.key"]) == 2
    err = capsys.readouterr().err
    assert "wrong password for the private key" in err and "Traceback" not in err
    assert main(["verify-signature", "oci:img", "--key", "keys/cosign.key"]) == 2
    assert "this is a private key" in capsys.readouterr().err
    assert main(["verify-signature", "oci:img", "--key", "keys/cosign.pub"]) == 1
    assert "no signatures found" in capsys.readouterr().err
    assert main(["verify-signature", "oci:nowhere", "--key", "keys/cosign.pub"]) == 2
    assert "not an OCI image layout" in capsys.readouterr().err


def test_blob_commands(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "--out", "."]) == 0
    Path("server").write_bytes(b"binary")
    assert main(["sign-blob", "server", "--key", "cosign.key"]) == 0
    assert main(["verify-blob", "server", "--key", "cosign.pub"]) == 0
    Path("server").write_bytes(b"binary!")
    capsys.readouterr()
    assert main(["verify-blob", "server", "--key", "cosign.pub"]) == 1
    assert "sha256 mismatch" in capsys.readouterr().err


def test_password_sources() -> None:
    assert read_password(environ={"COSIGN_PASSWORD": ""}) == b""
    answers = iter(["a", "a"])
    assert read_password(confirm=True, environ={}, interactive=True, prompt=lambda _: next(answers)) == b"a"
    answers = iter(["a", "b"])
    with pytest.raises(Exception, match="the two passwords differ"):
        read_password(confirm=True, environ={}, interactive=True, prompt=lambda _: next(answers))
    with pytest.raises(Exception, match="COSIGN_PASSWORD is not set"):
        read_password(environ={}, interactive=False)
