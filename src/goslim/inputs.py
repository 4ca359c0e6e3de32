"""The inputs digest: one hash of everything that decides the image `goslim slim` would build.

goslim (its version, check set and own code), Go (`go env` under the build's environment, minus
paths and network settings that do not reach the binary), the build options and flags, the source
as the go command sees it (every file of the module but VCS folders and goslim's outputs, local
replacements, go.work, the commit and whether the checkout is dirty: go stamps both), the resolved
base (a built-in base by what it carries, a remote one by digest), UPX (policy, settings, the
locked decision and the upx version), the image options and compressors, and the given run contract.
The signed verification predicate carries the digest, and a registry tag derived from it points at
the image, so a later run with the same inputs finds the image and its proof without building.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import zlib
from pathlib import Path

import zstandard
from pydantic import BaseModel, ConfigDict

from goslim import __version__, gzipstream
from goslim.bases.sources import CaSource, TzSource, load_ca_bundle, load_zoneinfo
from goslim.contract import RunContract
from goslim.errors import UserInputError
from goslim.gobuild import BuildOptions, GoToolchain
from goslim.gobuild.flags import plan_build
from goslim.gobuild.sourcehash import checkout_modified, file_digest, source_state
from goslim.image import ImageOptions
from goslim.image.metadata import source_url
from goslim.lock import ServiceLock
from goslim.oci import ImageLocation, RegistryClient
from goslim.oci.layout import layout_tags
from goslim.resultcache import cache_key
from goslim.upx.tool import Upx
from goslim.verify.predicate import check_set

SCHEMA = 1  # bump when what goes into the digest changes
# `go env` values that name places or the network, not what the compiler and linker produce.
GO_ENV_IGNORED = frozenset({
    "GOCACHE", "GOCACHEPROG", "GOENV", "GOGCCFLAGS", "GOMOD", "GOMODCACHE", "GOPATH", "GOROOT",
    "GOTMPDIR", "GOTOOLDIR", "GOTELEMETRY", "GOTELEMETRYDIR", "GOWORK", "GOPROXY", "GOSUMDB",
    "GONOPROXY", "GONOSUMDB", "GOPRIVATE", "GOINSECURE", "GOVCS", "GOAUTH",
})


class ImageInputs(BaseModel):
    """What the image is made from, each part as hashed; ``digest`` names them all."""

    model_config = ConfigDict(frozen=True)

    goslim: dict[str, str]  # version, check set, a hash of goslim's own code, the Python running it
    go: dict[str, str]  # `go env` under the build environment, without GO_ENV_IGNORED
    build: dict[str, object]  # the package, build options, flags and environment
    source: dict[str, str]  # goslim.gobuild.sourcehash.source_state, plus whether the checkout is dirty
    base: str  # "static (ca ..., zoneinfo ...)", "scratch", or the base location with its digest
    upx: dict[str, object]
    image: dict[str, object]  # ImageOptions, SOURCE_DATE_EPOCH, the source label
    contract: dict[str, object]  # the run contract as given (flags, goslim.yaml), without sources

    @property
    def digest(self) -> str:
        """sha256:<hex> of the canonical JSON of every part."""
        return "sha256:" + cache_key({"schema": SCHEMA, **self.model_dump(mode="json")})


def image_inputs(
    toolchain: GoToolchain,
    package: str,
    build: BuildOptions,
    *,
    base: str,
    image: ImageOptions,
    contract: RunContract,
    upx_policy: str,
    upx_settings: dict[str, object],
    lock: ServiceLock | None,
    exclude: list[Path],
    client: RegistryClient | None = None,
) -> ImageInputs:
    """The inputs of the image ``goslim slim`` would build for ``package``; ``exclude``: goslim's outputs
    inside the module (reports, build output, goslim.lock, which is read through ``lock``)."""
    plan = plan_build(build)
    source = source_state(toolchain, exclude)
    if "vcs" in source:
        source["vcs dirty"] = str(checkout_modified(toolchain))
    upx: dict[str, object] = {"policy": upx_policy}
    if upx_policy != "off":
        upx |= {"settings": upx_settings, "decision": lock.upx.model_dump(mode="json") if lock and lock.upx
                else None, "upx": Upx(toolchain.runner).version()}
    return ImageInputs(
        goslim={"version": __version__, "checks": ",".join(check_set()), "code": _goslim_code(),
                "python": platform.python_version()},
        go=_go_env(toolchain, plan.env),
        build={"package": package, "options": build.model_dump(mode="json"), "flags": list(plan.flags),
               "env": plan.env},
        source=source,
        base=_base_identity(base, image, build, client),
        upx=upx,
        image={"options": image.model_dump(mode="json"),
               # The layer bytes depend on the compressor goslim finds here.
               "compressors": [gzipstream.backend(), zlib.ZLIB_RUNTIME_VERSION, zstandard.ZSTD_VERSION],
               "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
               "source_label": source_url(toolchain.module_dir, None)},
        contract=contract.model_copy(update={"sources": {}}).model_dump(mode="json"),
    )


def _go_env(toolchain: GoToolchain, env: dict[str, str]) -> dict[str, str]:
    out = toolchain.run(["env", "-json"], env=env).stdout
    try:
        values = json.loads(out)
    except ValueError as exc:
        raise UserInputError(f"`go env -json` did not print JSON ({exc})") from exc
    return {str(k): str(v) for k, v in sorted(values.items()) if k not in GO_ENV_IGNORED}


def _base_identity(spec: str, image: ImageOptions, build: BuildOptions, client: RegistryClient | None) -> str:
    """What the base is, pinned: a built-in base by the files it may carry, another by its digest."""
    if spec == "scratch":
        return "scratch"
    if spec == "static":
        return _static_identity(image.static.ca_source, image.static.tz_source)
    loc = ImageLocation.parse(spec)
    if loc.kind == "oci" and loc.path is not None:
        tag = loc.tag or "latest"
        desc = layout_tags(loc.path).get(tag)
        if desc is None:
            raise UserInputError(f"base {spec}: no tag {tag} in the layout")
        return f"{spec}@{desc.digest}"
    if loc.kind == "docker-archive" and loc.path is not None:
        return f"{spec}@sha256:{file_digest(loc.path).hex()}"
    assert loc.reference is not None
    if loc.reference.digest is not None:
        return str(loc.reference)
    if client is not None:
        return f"{loc.reference}@{client.get_manifest(loc.reference).digest} ({build.platform})"
    with RegistryClient() as own:
        return f"{loc.reference}@{own.get_manifest(loc.reference).digest} ({build.platform})"


@functools.lru_cache(maxsize=4)
def _static_identity(ca_source: CaSource, tz_source: TzSource) -> str:
    """The built-in static base by the CA bundle and zoneinfo files it may carry (read once a process:
    many services share them)."""
    ca = load_ca_bundle(ca_source)
    zones = load_zoneinfo(tz_source)
    h = hashlib.sha256()
    for entry in zones.entries:
        h.update(f"{entry.path}\0{entry.kind}\0{entry.mode}\0{entry.target}\0".encode())
        h.update(hashlib.sha256(entry.data).digest())
    return (f"static (ca {hashlib.sha256(ca.data).hexdigest()} from {ca.source}; zoneinfo "
            f"{h.hexdigest()} {zones.version} from {zones.source})")


@functools.cache
def _goslim_code() -> str:
    """A hash of goslim's own files: a change to how goslim builds images changes the inputs."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + file_digest(path).hex().encode())
    return h.hexdigest()
