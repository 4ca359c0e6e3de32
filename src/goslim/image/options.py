"""What the user asked the image to be, beyond the base: user, entrypoint, env, ports, compression."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from goslim.bases.builtin import StaticOptions
from goslim.config import ImageConfig
from goslim.contract import RunContract

# Where the binary goes: /app/<name> (goslim's choice; ko uses /ko-app/<name>).
DEFAULT_APP_DIR = "/app"


class ImageOptions(BaseModel):
    """Image settings; ``from_config`` fills them from goslim.yaml's image section."""

    model_config = ConfigDict(frozen=True)

    user: str = "65532:65532"
    workdir: str | None = None  # None: the base's, else "/"
    app_dir: str = DEFAULT_APP_DIR
    env: dict[str, str] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)
    ports: list[int] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    compression: Literal["gzip", "zstd"] = "gzip"
    static: StaticOptions = Field(default_factory=StaticOptions)

    @classmethod
    def from_config(
        cls, config: ImageConfig, contract: RunContract | None = None, **overrides: object
    ) -> ImageOptions:
        """Options from goslim.yaml's image section and the run ``contract`` (Cmd, Env, EXPOSE);
        ``overrides`` (flags) win when not None."""
        values: dict[str, object] = {
            "user": config.user,
            "workdir": config.workdir,
            "env": dict(contract.env) if contract else {},
            "args": list(contract.args) if contract else [],
            "ports": list(contract.ports) if contract else [],
            "labels": dict(config.labels),
            "compression": config.compression,
            "app_dir": config.app_dir,
        }
        tz = overrides.pop("tz", None) or config.tz
        values["static"] = StaticOptions(tz=tz, ca_source=config.ca_source, tz_source=config.tz_source)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
