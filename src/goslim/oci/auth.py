"""Registry credentials (Docker config auths, credHelpers, credsStore; podman auth.json) and
``WWW-Authenticate`` challenge parsing (REFERENCE §3.6-3.7)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from goslim.errors import GoslimError, UserInputError
from goslim.runner import Runner, SubprocessRunner

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


@dataclass(frozen=True)
class Credential:
    """What to authenticate with: user/password, an identity (refresh) token, or a ready bearer token."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    registry_token: str | None = field(default=None, repr=False)

    @property
    def has_basic(self) -> bool:
        return bool(self.username) and self.password is not None


class Keychain(Protocol):
    def resolve(self, registry: str) -> Credential | None: ...


@dataclass(frozen=True)
class StaticKeychain:
    """Credentials given directly, keyed by registry host (``127.0.0.1:5000``, ``ghcr.io``)."""

    entries: Mapping[str, Credential]

    def resolve(self, registry: str) -> Credential | None:
        return self.entries.get(registry)


class DockerConfigKeychain:
    """Reads ``$DOCKER_CONFIG/config.json`` (default ``~/.docker``), else podman's auth.json.

    Lookup order per registry: ``credHelpers[host]``, then ``credsStore``, then ``auths``.
    """

    def __init__(self, config_dir: Path | None = None, runner: Runner | None = None) -> None:
        self._config_dir = config_dir
        self._runner = runner or SubprocessRunner()
        self._loaded: tuple[Path | None, dict] | None = None

    def resolve(self, registry: str) -> Credential | None:
        path, config = self._config()
        keys = _candidate_keys(registry)
        helpers = config.get("credHelpers") or {}
        for key in keys:
            if key in helpers:
                return self._from_helper(str(helpers[key]), registry)
        auths = config.get("auths") or {}
        normalized = {_normalize_key(k): v for k, v in auths.items() if isinstance(v, dict)}
        if config.get("credsStore"):
            found = self._from_helper(str(config["credsStore"]), registry, missing_ok=True)
            if found is not None:
                return found
        for key in keys:
            entry = normalized.get(_normalize_key(key))
            if entry is not None:
                return _from_auth_entry(entry, registry, path)
        return None

    def _config(self) -> tuple[Path | None, dict]:
        if self._loaded is None:
            self._loaded = _load_config(self._config_dir)
        return self._loaded

    def _from_helper(self, helper: str, registry: str, *, missing_ok: bool = False) -> Credential | None:
        program = f"docker-credential-{helper}"
        server = DOCKER_HUB_KEY if registry in _HUB_ALIASES else registry
        if self._runner.which(program) is None:
            if missing_ok:
                return None
            raise UserInputError(f"credential helper {program} (for {registry}) is not installed",
                                 hint="install it or remove it from credHelpers in ~/.docker/config.json")
        result = self._runner.run([program, "get"], stdin=server, timeout=30, check=False)
        if result.returncode != 0:
            if "not found" in (result.stdout + result.stderr).lower():
                return None
            raise GoslimError(f"credential helper {program} failed for {registry}: "
                              f"{(result.stderr or result.stdout).strip()[:200]}")
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise GoslimError(f"credential helper {program} printed invalid JSON") from exc
        user, secret = data.get("Username"), data.get("Secret")
        if user == "<token>":
            return Credential(identity_token=secret)
        return Credential(username=user, password=secret)


def _load_config(config_dir: Path | None) -> tuple[Path | None, dict]:
    candidates: list[Path] = []
    if config_dir is not None:
        candidates.append(Path(config_dir) / "config.json")
    else:
        docker_dir = os.environ.get("DOCKER_CONFIG")
        docker_home = Path(docker_dir) if docker_dir else Path.home() / ".docker"
        candidates.append(docker_home / "config.json")
        if os.environ.get("REGISTRY_AUTH_FILE"):
            candidates.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
        if os.environ.get("XDG_RUNTIME_DIR"):
            candidates.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
        xdg = os.environ.get("XDG_CONFIG_HOME")
        candidates.append((Path(xdg) if xdg else Path.home() / ".config") / "containers" / "auth.json")
    for path in candidates:
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise UserInputError(f"{path} is not valid JSON: {exc}",
                                     hint="fix or remove the file (docker login rewrites it)") from exc
            if not isinstance(data, dict):
                raise UserInputError(f"{path} is not a JSON object")
            return path, data
    return None, {}


def _candidate_keys(registry: str) -> list[str]:
    if registry in _HUB_ALIASES:
        return [DOCKER_HUB_KEY, "docker.io", "index.docker.io", "registry-1.docker.io"]
    return [registry, f"https://{registry}", f"http://{registry}"]


def _normalize_key(key: str) -> str:
    """``https://host:port/v1/`` -> ``host:port``; Hub keys -> ``docker.io``."""
    host = re.sub(r"^[a-z]+://", "", key.strip()).split("/", 1)[0]
    return "docker.io" if host in _HUB_ALIASES else host


def _from_auth_entry(entry: dict, registry: str, path: Path | None) -> Credential:
    if entry.get("registrytoken"):
        return Credential(registry_token=str(entry["registrytoken"]))
    if entry.get("identitytoken"):
        return Credential(identity_token=str(entry["identitytoken"]))
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserInputError(f"auth entry for {registry} in {path} is not base64 user:password") from exc
        return Credential(username=user, password=password)
    if entry.get("username"):
        return Credential(username=str(entry["username"]), password=str(entry.get("password", "")))
    return Credential()


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: scheme (lowercase) and its parameters."""

    scheme: str
    params: dict[str, str]


_CHALLENGE_RE = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)((?:\s+|\s*,?\s*)'
                           r'(?:[A-Za-z0-9_-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?\s*)*)')
_PARAM_RE = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')


def parse_challenges(headers: list[str]) -> list[Challenge]:
    """Parse every challenge of one or more ``WWW-Authenticate`` header values (RFC 6750 syntax)."""
    out: list[Challenge] = []
    for header in headers:
        pos = 0
        while pos < len(header):
            m = _CHALLENGE_RE.match(header, pos)
            if not m or m.end() == pos:
                break
            params = {}
            for pm in _PARAM_RE.finditer(m.group(2) or ""):
                value = pm.group(2)
                if value.startswith('"'):
                    value = value[1:-1].replace('\\"', '"')
                params[pm.group(1).lower()] = value
            out.append(Challenge(m.group(1).lower(), params))
            pos = m.end()
            while pos < len(header) and header[pos] in ", ":
                pos += 1
    return out
