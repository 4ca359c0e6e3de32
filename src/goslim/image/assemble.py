"""Image assembly: a ``Binary`` on a ``Base`` with a config -> ``AssembledImage``.

One place decides the image's shape: the base's layers (or the built-in base's one
layer), then one layer with the binary at ``<app_dir>/<name>`` (root-owned, 0755), an
exec-form entrypoint, a non-root user, and OCI labels from the binary's VCS info.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from goslim import gzipstream
from goslim.bases import Base, BaseFile, check_compatible, scratch_base, static_base
from goslim.bases.gaps import missing_needs
from goslim.bases.remote import remote_base
from goslim.binary import BinaryReport, NeedAnswer
from goslim.binary.needs import with_run_env
from goslim.errors import UserInputError
from goslim.gobuild import Binary
from goslim.image.inspect import ImageStats, image_stats
from goslim.image.locations import read_base_image
from goslim.image.metadata import created_epoch, oci_labels
from goslim.image.options import ImageOptions
from goslim.oci import FileEntry, Image, build_layer, history_entry, mediatypes, new_config
from goslim.oci.image import rfc3339
from goslim.oci.layer import DEFAULT_LEVELS
from goslim.platform import Platform

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BaseReader = Callable[[str, Platform], Image]


class EntrypointCollisionError(UserInputError):
    """The binary's path in the image is already taken by a file of the base."""


class BinaryRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    sha256: str
    size: int
    image_path: str  # where it sits in the image


class AssembledImage(BaseModel):
    """The image, its base, what went in and why, and its measured sizes."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    image: Any = Field(default=None, exclude=True)  # goslim.oci.Image; None when read back from JSON
    digest: str
    platform: str
    compression: str
    encoder: str = ""  # what compressed the layers goslim wrote: "libdeflate-12", "zlib-9 (...)", "zstd-19"
    base: Base
    binary: BinaryRef
    needs: dict[str, NeedAnswer]  # the binary's answers, the same ones verify reads
    dynamic: bool
    entrypoint: list[str]
    cmd: list[str]
    user: str
    workdir: str
    env: list[str]
    labels: dict[str, str]
    stats: ImageStats
    warnings: list[str] = Field(default_factory=list)  # needs the base leaves unmet

    @property
    def pull_size(self) -> int:
        return self.stats.pull_size

    @property
    def disk_size(self) -> int:
        return self.stats.disk_size


def resolve_base(
    spec: str,
    facts: BinaryReport,
    platform: Platform,
    options: ImageOptions,
    reader: BaseReader = read_base_image,
) -> Base:
    """``static`` | ``scratch`` | an image location -> ``Base``."""
    if spec == "scratch":
        return scratch_base(platform)
    if spec == "static":
        return static_base(facts, platform, options.static)
    return remote_base(reader(spec, platform), spec, platform)


def assemble(
    binary: Binary,
    report: BinaryReport,
    base_spec: str,
    options: ImageOptions | None = None,
    *,
    reader: BaseReader = read_base_image,
) -> AssembledImage:
    """Put ``binary`` on the base named by ``base_spec``; refuse pairs that cannot run.

    ``report`` is the binary's analysis (of an unpacked copy when ``binary`` is UPX-packed): the
    needs it answers decide what the base carries, and verify reads the same answers.
    """
    options = options or ImageOptions()
    # The needs of this run: the binary's, plus the zone a TZ in the image's environment names.
    facts = report.model_copy(update={"needs": with_run_env(report.needs, options.env)})
    base = resolve_base(base_spec, facts, binary.platform, options, reader)
    check_compatible(facts, base)
    entry_path = posixpath.join(options.app_dir, binary.name)
    _check_collision(base, entry_path)
    _check_user(base, options.user)

    created = created_epoch(facts)
    stamp = rfc3339(created)
    app_layer = build_layer(
        [FileEntry.dir(options.app_dir), FileEntry.from_path(entry_path, Path(binary.path), mode=0o755)],
        options.compression,
        mtime=created,
    )
    app_history = history_entry(f"goslim: COPY {binary.name} {entry_path}", created=created,
                                comment=f"sha256:{binary.sha256}")
    labels = {
        **oci_labels(facts, base, name=binary.name, flags=binary.flags, module_dir=binary.module_dir,
                     created=stamp),
        **options.labels,
    }
    annotations = {k: v for k, v in labels.items() if k.startswith("org.opencontainers.image.")}
    # Built-in bases start from the usual PATH; pulled bases keep their own Env.
    env = _merge_env([DEFAULT_PATH] if base.is_builtin else [], base.env, options.env)
    base_cfg = (base.image.config.get("config") or {}) if base.image is not None else {}
    workdir = options.workdir or base_cfg.get("WorkingDir") or "/"
    ports = [str(p) for p in options.ports]
    if base.image is None:
        layers = []
        history = []
        if base.files:
            base_entries = [layer_entry(f) for f in base.files]
            layers.append(build_layer(base_entries, options.compression, mtime=created))
            history.append(history_entry(f"goslim: base {base.name} ({_carried(base)})", created=created))
        config = new_config(
            binary.platform, entrypoint=[entry_path], cmd=options.args or None, env=env, user=options.user,
            workdir=workdir, exposed_ports=ports, labels=labels, created=created,
        )
        config["history"] = [*history, app_history]
        image = Image.build(config, [*layers, app_layer], annotations=annotations)
    else:
        updates: dict[str, Any] = {
            "Entrypoint": [entry_path],
            "Cmd": options.args or None,
            "Env": env,
            "User": options.user,
            "WorkingDir": workdir,
            "Labels": {**(base_cfg.get("Labels") or {}), **labels},
        }
        exposed = dict(base_cfg.get("ExposedPorts") or {})
        exposed.update({p if "/" in p else f"{p}/tcp": {} for p in ports})
        if exposed:
            updates["ExposedPorts"] = exposed
        stacked = base.image.with_layers([app_layer], updates, [app_history], annotations=annotations)
        # The new image's creation time is ours, not the base's.
        cfg = {**stacked.config, "created": stamp}
        image = Image.build(cfg, stacked.layers, annotations=stacked.annotations,
                            docker_media_types=stacked.media_type == mediatypes.DOCKER_MANIFEST)
    inner = image.config.get("config") or {}
    return AssembledImage(
        image=image,
        digest=str(image.digest),
        platform=str(image.platform),
        compression=options.compression,
        encoder=gzipstream.backend() if options.compression == "gzip" else f"zstd-{DEFAULT_LEVELS['zstd']}",
        base=base,
        binary=BinaryRef(name=binary.name, path=str(binary.path), sha256=binary.sha256, size=binary.size,
                         image_path=entry_path),
        needs={
            "ca_roots": facts.needs.ca_roots.answer,
            "zoneinfo": facts.needs.zoneinfo.answer,
            "passwd": facts.needs.passwd.answer,
            "resolver": facts.needs.resolver.answer,
        },
        dynamic=not facts.elf.static,
        entrypoint=list(inner.get("Entrypoint") or []),
        cmd=list(inner.get("Cmd") or []),
        user=str(inner.get("User") or ""),
        workdir=str(inner.get("WorkingDir") or ""),
        env=list(inner.get("Env") or []),
        labels=dict(inner.get("Labels") or {}),
        stats=image_stats(image),
        warnings=missing_needs(facts, base),
    )


def layer_entry(f: BaseFile) -> FileEntry:
    """A base's file as its layer entry."""
    if f.kind == "dir":
        return FileEntry.dir(f.path, f.mode, f.uid, f.gid)
    if f.kind == "symlink":
        return FileEntry.symlink(f.path, f.target, f.uid, f.gid)
    return FileEntry.file(f.path, f.data, f.mode, f.uid, f.gid, group=f.group)


def _carried(base: Base) -> str:
    return ", ".join(p.item for p in base.provisions if p.included)


def _merge_env(*groups: list[str] | dict[str, str]) -> list[str]:
    """Later groups override earlier ones by name; order of first appearance is kept."""
    merged: dict[str, str] = {}
    for group in groups:
        items = group.items() if isinstance(group, dict) else (e.partition("=")[::2] for e in group)
        for key, value in items:
            merged[key] = value
    return [f"{k}={v}" for k, v in merged.items()]


def _check_collision(base: Base, entry_path: str) -> None:
    if base.contains(entry_path):
        raise EntrypointCollisionError(
            f"the binary's path {entry_path} collides with a file of base '{base.name}'",
            hint="choose another place for it with --app-dir (e.g. /ko-app), or a base without that file",
        )


def _check_user(base: Base, user: str) -> None:
    name = user.split(":", 1)[0]
    if not name or name.isdigit():
        return
    if not base.contains("/etc/passwd"):
        raise UserInputError(
            f"user '{user}' is a name but base '{base.name}' has no /etc/passwd to resolve it",
            hint="use a numeric uid:gid such as 65532:65532, or the static base",
        )
    passwd = next((f for f in base.files if f.path == "/etc/passwd"), None)
    known = [line.split(":", 1)[0] for line in passwd.data.decode().splitlines()] if passwd else None
    if known is not None and name not in known:
        raise UserInputError(
            f"user '{name}' is not in base '{base.name}' (it has {', '.join(known)})",
            hint="use one of those names or a numeric uid:gid",
        )
