"""Pure composition of `go build` flags and environment from a profile and options."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from goslim.errors import UserInputError
from goslim.platform import Platform


class Profile(StrEnum):
    DEFAULT = "default"  # plain `go build`
    SLIM = "slim"  # CGO_ENABLED=0 -trimpath -ldflags "-s -w -buildid="

    @classmethod
    def parse(cls, text: str) -> Profile:
        try:
            return cls(text)
        except ValueError:
            raise UserInputError(
                f"unknown profile '{text}'", hint=f"use one of: {', '.join(p.value for p in cls)}"
            ) from None


class BuildOptions(BaseModel):
    """What the user asked for beyond the profile."""

    model_config = ConfigDict(frozen=True)

    profile: Profile = Profile.SLIM
    platform: Platform = Field(default_factory=lambda: Platform(os="linux", architecture="amd64"))
    tags: tuple[str, ...] = ()
    x: dict[str, str] = Field(default_factory=dict)  # -X importpath.name=value
    # Techniques toggled one by one for the ablation; None = follow the profile.
    strip: bool | None = None  # -s -w
    cgo: bool | None = None  # CGO_ENABLED
    trimpath: bool | None = None
    empty_buildid: bool | None = None  # -buildid=
    no_inline: bool = False  # -gcflags=all=-l
    buildvcs: bool = True


class BuildPlan(BaseModel):
    """A fully composed `go build` invocation, minus output path and package."""

    model_config = ConfigDict(frozen=True)

    flags: tuple[str, ...]
    env: dict[str, str]


def plan_build(opts: BuildOptions) -> BuildPlan:
    slim = opts.profile is Profile.SLIM
    strip = slim if opts.strip is None else opts.strip
    cgo = (not slim) if opts.cgo is None else opts.cgo
    trimpath = slim if opts.trimpath is None else opts.trimpath
    empty_buildid = slim if opts.empty_buildid is None else opts.empty_buildid

    flags: list[str] = []
    if trimpath:
        flags.append("-trimpath")
    if not opts.buildvcs:
        flags.append("-buildvcs=false")
    if opts.tags:
        flags.append("-tags=" + ",".join(opts.tags))
    if opts.no_inline:
        flags.append("-gcflags=all=-l")
    ldflags: list[str] = []
    if strip:
        ldflags += ["-s", "-w"]
    if empty_buildid:
        ldflags.append("-buildid=")
    for name, value in sorted(opts.x.items()):
        ldflags.append(f"-X={name}={value}")
    if ldflags:
        flags.append("-ldflags=" + " ".join(_quote_ldflag(f) for f in ldflags))

    env = {"GOOS": opts.platform.os, "GOARCH": opts.platform.architecture}
    if opts.platform.variant and opts.platform.architecture == "arm":
        env["GOARM"] = opts.platform.variant.lstrip("v")
    # Only pin CGO_ENABLED when asked: the default profile keeps Go's own choice.
    if opts.cgo is not None or slim:
        env["CGO_ENABLED"] = "1" if cgo else "0"
    return BuildPlan(flags=tuple(flags), env=env)


def _quote_ldflag(flag: str) -> str:
    # cmd/go splits -ldflags on whitespace; a field that holds some is wrapped in one kind of quote,
    # with no escapes inside (cmd/internal/quoted), so a value with both kinds cannot be written.
    if not any(c in flag for c in " \t\n\r"):
        return flag
    if "\n" in flag or ("'" in flag and '"' in flag):
        raise UserInputError(
            f"the link flag {flag!r} cannot be passed to go build",
            hint="drop newlines, and use either single or double quotes in an -X value, not both",
        )
    return f'"{flag}"' if "'" in flag else f"'{flag}'"


def parse_x_stamps(items: list[str]) -> dict[str, str]:
    """Parse `--x main.version=1.2.3` items into a mapping."""
    stamps: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or "." not in name:
            raise UserInputError(
                f"bad -X stamp '{item}'", hint="write it as importpath.name=value, e.g. main.version=1.2.3"
            )
        stamps[name] = value
    return stamps
