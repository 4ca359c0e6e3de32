"""Credentials from Docker config (auths, credHelpers, credsStore) and challenge parsing."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from goslim.errors import UserInputError
from goslim.oci.auth import Credential, DockerConfigKeychain, parse_challenges
from goslim.runner import ProcessResult


class FakeHelperRunner:
    """Stands in for docker-credential-* programs: answers `get` from a dict."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets
        self.calls: list[tuple[str, str | None]] = []

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if program in self.secrets else None

    def run(self, argv: Sequence[str], *, cwd=None, env: Mapping[str, str] | None = None, timeout=None,
            check=True, stdin: str | None = None) -> ProcessResult:
        self.calls.append((argv[0], stdin))
        table = self.secrets[argv[0]]
        if stdin in table:
            return ProcessResult(tuple(argv), 0, table[stdin], "", 0.0)
        return ProcessResult(tuple(argv), 1, "credentials not found in native keychain", "", 0.0)


def _write(tmp_path: Path, config: dict) -> Path:
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_auths_forms(tmp_path: Path) -> None:
    b64 = base64.b64encode(b"alice:pw:with:colons").decode()
    cfg = _write(tmp_path, {"auths": {
        "https://index.docker.io/v1/": {"auth": b64},
        "ghcr.io": {"username": "bob", "password": "x"},
        "https://reg.example:5000/v2/": {"identitytoken": "refresh"},
        "tok.example": {"registrytoken": "bearer"},
    }})
    chain = DockerConfigKeychain(cfg, runner=FakeHelperRunner({}))
    assert chain.resolve("docker.io") == Credential("alice", "pw:with:colons")
    assert chain.resolve("ghcr.io") == Credential("bob", "x")
    assert chain.resolve("reg.example:5000") == Credential(identity_token="refresh")
    assert chain.resolve("tok.example") == Credential(registry_token="bearer")
    assert chain.resolve("other.example") is None


def test_cred_helpers_win_then_store(tmp_path: Path) -> None:
    cfg = _write(tmp_path, {
        "auths": {"ghcr.io": {"username": "from-auths", "password": "x"}},
        "credHelpers": {"ghcr.io": "gh"},
        "credsStore": "desktop",
    })
    runner = FakeHelperRunner({
        "docker-credential-gh": {"ghcr.io": json.dumps({"Username": "helper", "Secret": "s1"})},
        "docker-credential-desktop": {"quay.io": json.dumps({"Username": "<token>", "Secret": "idt"})},
    })
    chain = DockerConfigKeychain(cfg, runner=runner)
    assert chain.resolve("ghcr.io") == Credential("helper", "s1")
    assert chain.resolve("quay.io") == Credential(identity_token="idt")
    assert chain.resolve("nothing.example") is None
    assert ("docker-credential-gh", "ghcr.io") in runner.calls


def test_missing_helper_and_bad_json(tmp_path: Path) -> None:
    cfg = _write(tmp_path, {"credHelpers": {"ghcr.io": "nope"}})
    with pytest.raises(UserInputError, match="docker-credential-nope"):
        DockerConfigKeychain(cfg, runner=FakeHelperRunner({})).resolve("ghcr.io")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        DockerConfigKeychain(tmp_path, runner=FakeHelperRunner({})).resolve("ghcr.io")


def test_docker_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {"auths": {"r.example": {"username": "u", "password": "p"}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert DockerConfigKeychain(runner=FakeHelperRunner({})).resolve("r.example") == Credential("u", "p")


def test_parse_challenges() -> None:
    got = parse_challenges([
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:ns/app:pull,push",error="insufficient_scope"',
        'Basic realm="r"',
    ])
    assert got[0].scheme == "bearer"
    assert got[0].params == {"realm": "https://auth.example/token", "service": "registry.example",
                             "scope": "repository:ns/app:pull,push", "error": "insufficient_scope"}
    assert got[1].scheme == "basic" and got[1].params == {"realm": "r"}
