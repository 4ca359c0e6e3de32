"""Multi-platform images: which platforms to build, and one image per platform under one OCI image index.

Each platform's image is assembled exactly as a single-platform one (``assemble``) on the matching
platform of the base: the built-in bases are generated per platform, a pulled base's index gives each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from goslim.binary import analyze
from goslim.errors import UserInputError
from goslim.gobuild import BuildOptions, GoToolchain, build_binaries
from goslim.image.assemble import AssembledImage, BaseReader, assemble
from goslim.image.locations import read_base_image
from goslim.image.options import ImageOptions
from goslim.image.service import Service
from goslim.oci import mediatypes
from goslim.oci.image import Index
from goslim.oci.index import available_platforms
from goslim.oci.index_docker import docker_image
from goslim.platform import BUILTIN_ALL, Platform, parse_platforms

BUILTIN_BASES = ("static", "scratch")
PlatformLister = Callable[[str], tuple[Platform, ...]]


class BasePlatformError(UserInputError):
    """The base image has no image for a platform asked for."""


class AssembledIndex(BaseModel):
    """An OCI image index and the image of each platform in it (index order)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    index: Any = Field(exclude=True)  # goslim.oci.Index
    digest: str
    media_type: str
    images: list[AssembledImage]

    @property
    def platforms(self) -> list[str]:
        return [a.platform for a in self.images]

    @property
    def pull_size(self) -> int:
        """What pulling every platform costs: each platform's layers once (shared blobs counted once)."""
        sizes: dict[str, int] = {}
        for a in self.images:
            for layer in a.stats.layers:
                sizes[layer.digest] = layer.size
        return sum(sizes.values())


def requested_platforms(
    text: str, base_spec: str, lister: PlatformLister = available_platforms
) -> tuple[Platform, ...]:
    """``--platform`` words -> platforms; ``all`` is what the base offers (the built-in bases: BUILTIN_ALL).

    A pulled base that lacks a platform asked for is refused here, before anything is built.
    """
    builtin = base_spec in BUILTIN_BASES
    if text.strip() == "all":
        if builtin:
            return tuple(Platform.parse(p) for p in BUILTIN_ALL)
        offered = lister(base_spec)
        if not offered:
            raise BasePlatformError(f"base {base_spec} offers no platform goslim builds for",
                                    hint="pick a base with linux images, or list the platforms")
        return offered
    wanted = parse_platforms(text)
    if not builtin and len(wanted) > 1:
        offered = lister(base_spec)
        for p in wanted:
            if not any(p.matches(o) for o in offered):
                have = ", ".join(str(o) for o in offered) or "none"
                raise BasePlatformError(f"base {base_spec} has no {p} image (it has: {have})",
                                        hint="drop that platform, or pick a base that offers it")
    return wanted


def more_platform_images(
    toolchain: GoToolchain,
    package: str,
    build: BuildOptions,
    platforms: Sequence[Platform],
    out_dir: Path,
    base_spec: str,
    options: ImageOptions,
) -> list[AssembledImage]:
    """The same package built (in parallel, one Go cache) and imaged for each of ``platforms``.

    `goslim slim` runs its whole pipeline on one platform; these are the index's other entries.
    """
    binaries = build_binaries(toolchain, [package], out_dir,
                              [build.model_copy(update={"platform": p}) for p in platforms])
    return [assemble(b, analyze(b.path), base_spec, options) for b in binaries]


def assemble_index(
    services: Sequence[Service],
    base_spec: str,
    options: ImageOptions,
    *,
    reader: BaseReader = read_base_image,
) -> AssembledIndex:
    """One image per service (one service per platform), then the index over them, in that order."""
    images = [assemble(s.binary, s.report, base_spec, options, reader=reader) for s in services]
    return index_of(images)


def index_of(images: Sequence[AssembledImage]) -> AssembledIndex:
    """The OCI image index over ``images`` (one per platform, in that order)."""
    # A Docker-typed base gives Docker manifests: list them in a Docker manifest list, as buildx does.
    docker = all(a.image.media_type == mediatypes.DOCKER_MANIFEST for a in images)
    index = Index.build([a.image for a in images], docker_media_types=docker)
    return AssembledIndex(index=index, digest=str(index.digest), media_type=index.media_type,
                          images=list(images))


def docker_assembled(assembled: AssembledImage) -> AssembledImage:
    """The assembled image under Docker schema-2 media types (same blobs; the manifest digest changes)."""
    image = docker_image(assembled.image, where=assembled.platform)
    return assembled.model_copy(update={"image": image, "digest": str(image.digest)})


def as_docker(index: AssembledIndex) -> AssembledIndex:
    """The index as a Docker manifest list (v2.2) over Docker schema-2 images (registries that need one)."""
    return index_of([docker_assembled(a) for a in index.images])
