"""goslim.yaml: the project's defaults, validated strictly; flags override them.

Every section forbids unknown keys so that a typo is an error that names the key
and the file, instead of a setting that silently does nothing.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from goslim.errors import ConfigError

CONFIG_NAME = "goslim.yaml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuildConfig(Section):
    profile: Literal["slim", "default"] = "slim"
    packages: list[str] = Field(default_factory=lambda: ["."])
    platforms: list[str] = Field(default_factory=lambda: ["linux/amd64"])
    tags: list[str] = Field(default_factory=list)
    # -X stamps: {"main.version": "1.2.3"}
    x: dict[str, str] = Field(default_factory=dict)
    out: str = "dist"


class ImageConfig(Section):
    base: str = "static"
    tag: str | None = None
    to: str | None = None
    user: str = "65532:65532"
    workdir: str = "/"
    labels: dict[str, str] = Field(default_factory=dict)
    tz: Literal["auto", "files", "embed", "none"] = "auto"
    compression: Literal["gzip", "zstd"] = "gzip"
    app_dir: str = "/app"  # the binary goes to <app_dir>/<name> (ko uses /ko-app)
    ca_source: Literal["auto", "system", "certifi"] = "auto"
    tz_source: Literal["auto", "system", "tzdata"] = "auto"


class ServiceConfig(Section):
    """The run contract as goslim.yaml writes it; the same facts as the run-contract flags."""

    name: str | None = None  # --name
    args: list[str] = Field(default_factory=list)  # --arg / after --
    env: dict[str, str] = Field(default_factory=dict)  # --env KEY=VALUE
    ports: list[int] = Field(default_factory=list)  # --port; the first is the probe port
    health: str | None = None  # --health: liveness HTTP path
    readiness: str | None = None  # --readiness: readiness HTTP path
    writable: list[str] = Field(default_factory=list)  # --writable: in-image paths that must be writable


class UpxConfig(Section):
    policy: str = "off"  # off | auto | default | best | lzma | best-lzma | brute
    max_startup_ms: float = 150.0
    min_pull_saving_pct: float = 10.0
    levels: list[str] = Field(default_factory=lambda: ["default", "lzma"])  # what `auto` evaluates


class ProbeConfig(Section):
    kind: Literal["http", "tcp"] = "http"
    path: str = "/healthz"
    port: int | None = None
    period_seconds: float = 0.2
    failure_threshold: int = 50
    timeout_seconds: float = 1.0


class VerifyConfig(Section):
    runtime: Literal["runc", "crun"] = "runc"
    startup: ProbeConfig | None = None
    liveness: ProbeConfig | None = None
    alive_seconds: float = 5.0
    grace_seconds: float = 30.0
    checks: list[str] = Field(default_factory=list)
    skip: list[str] = Field(default_factory=list)
    max_image_mb: float | None = None
    max_binary_mb: float | None = None
    memory_mb: int = 512
    pids: int = 256
    cpus: float = Field(default=1.0, gt=0)
    kubernetes_env: bool = False


class ScanConfig(Section):
    db: str | None = None
    fail_on: Literal["none", "low", "medium", "high", "critical"] = "none"
    sbom: list[Literal["cyclonedx", "spdx"]] = Field(default_factory=lambda: ["cyclonedx", "spdx"])


class SignConfig(Section):
    key: str | None = None


class ReportConfig(Section):
    dir: str = "goslim-report"


class GoslimConfig(Section):
    build: BuildConfig = Field(default_factory=BuildConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    image: ImageConfig = Field(default_factory=ImageConfig)
    upx: UpxConfig = Field(default_factory=UpxConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)
    sign: SignConfig = Field(default_factory=SignConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)


def load_config(module_dir: Path) -> GoslimConfig:
    """Read ``goslim.yaml`` beside go.mod in ``module_dir``; defaults when there is none."""
    path = module_dir / CONFIG_NAME
    if not path.is_file():
        return GoslimConfig()
    return parse_config(path.read_text(), where=str(path))


def parse_config(text: str, *, where: str) -> GoslimConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{line}", where=where, hint="fix the syntax of the file") from exc
    if data is None:
        return GoslimConfig()
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of sections", where=where)
    data = _migrate_service_keys(data, where)
    try:
        return GoslimConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, where) from exc


# Keys that described the service before it had its own section: old key -> service key.
MOVED_TO_SERVICE = {
    ("image", "args"): "args",
    ("image", "env"): "env",
    ("image", "ports"): "ports",
    ("verify", "port"): "ports",
    ("verify", "health"): "health",
    ("verify", "readiness"): "readiness",
}


def _migrate_service_keys(data: dict, where: str) -> dict:
    """Read the older image.args/env/ports and verify.port/health/readiness as service keys.

    Each fact has one key: a file that sets both the old and the new key is refused, naming both.
    """
    data = dict(data)
    service = data.get("service")
    service = dict(service) if isinstance(service, dict) else service
    moved: dict[str, object] = {}
    for (section, key), target in MOVED_TO_SERVICE.items():
        block = data.get(section)
        if not isinstance(block, dict) or key not in block:
            continue
        block = dict(block)
        value = block.pop(key)
        data[section] = block
        if isinstance(service, dict) and target in service:
            raise ConfigError(
                f"'{section}.{key}' and 'service.{target}' both set the service's {target}",
                where=where,
                hint=f"keep only service.{target} ({section}.{key} is its older name)",
            )
        if target == "ports":
            # verify.port is the probe port: it goes first, image.ports follow.
            value = [value] if key == "port" and value is not None else value
            earlier = moved.get("ports", [])
            if not isinstance(value, list) or not isinstance(earlier, list):
                raise ConfigError(
                    f"invalid value for '{section}.{key}': expected a list of ports", where=where
                )
            value = [*value, *earlier] if key == "port" else [*earlier, *value]
            value = list(dict.fromkeys(value))
        if value is not None:
            moved[target] = value
    if moved:
        data["service"] = {**(service if isinstance(service, dict) else {}), **moved}
    return data


def _config_error(exc: ValidationError, where: str) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        hint = _suggest(err["loc"])
        return ConfigError(
            f"unknown key '{key}'", where=where, hint=hint or "remove it or check the spelling"
        )
    return ConfigError(f"invalid value for '{key}': {err['msg']}", where=where)


def _suggest(loc: tuple) -> str | None:
    """'did you mean' for a mistyped key, from the model's own field names."""
    model: type[BaseModel] = GoslimConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if (
            field is None
            or not isinstance(field.annotation, type)
            or not issubclass(field.annotation, BaseModel)
        ):
            return None
        model = field.annotation
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f"did you mean '{close[0]}'?" if close else None
