"""docker-archive tarballs (``docker save`` / ``docker load``): write and read.

goslim writes a dual-format tar like Docker Engine 25+: ``manifest.json`` for
``docker load`` plus ``oci-layout``/``index.json`` over the same ``blobs/sha256/*``,
with the registry (compressed) layer blobs, which ``docker load`` decompresses. Tar
entries have fixed mtime/owner so the archive itself is reproducible.
"""

from __future__ import annotations

import io
import lzma
import tarfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zstandard

from goslim.errors import UserInputError
from goslim.fsutil import atomic_path
from goslim.oci import mediatypes
from goslim.oci.descriptor import canonical_json, parse_json
from goslim.oci.digest import Digest
from goslim.oci.errors import BlobError, ImageFormatError
from goslim.oci.image import Image
from goslim.oci.layer import Layer, decompress_stream, detect_compression
from goslim.oci.reference import ImageReference

_REF_NAME = "org.opencontainers.image.ref.name"
_CONTAINERD_NAME = "io.containerd.image.name"


def write_docker_archive(path: Path, image: Image, repo_tags: Sequence[str] = ()) -> Path:
    """Write ``image`` as a tarball ``docker load`` and ``skopeo docker-archive:`` accept (atomic)."""
    tags = [_normalize_tag(t) for t in repo_tags]
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"{path} is a directory", hint="give a file name such as image.tar")
    try:
        _write_archive(path, image, tags)
    except OSError as exc:
        raise UserInputError(f"cannot write docker-archive {path}: {exc.strerror or exc}",
                             hint="check free space and permissions; an existing file is unchanged") from exc
    return path


def _write_archive(path: Path, image: Image, tags: list[str]) -> None:
    blob_names: dict[Digest, str] = {}
    with atomic_path(path) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        for layer in image.layers:
            name = f"blobs/{layer.digest.algorithm}/{layer.digest.hex}"
            if layer.digest not in blob_names:
                info = _info(name, layer.size)
                with layer.open() as fh:
                    tar.addfile(info, fh)
                blob_names[layer.digest] = name
        config_digest = image.config_descriptor.digest
        config_name = f"blobs/{config_digest.algorithm}/{config_digest.hex}"
        _add_bytes(tar, config_name, image.config_bytes)
        _add_bytes(tar, f"blobs/{image.digest.algorithm}/{image.digest.hex}", image.manifest_bytes)
        entries = []
        for tag in tags or [None]:
            annotations = {_CONTAINERD_NAME: tag, _REF_NAME: tag.rsplit(":", 1)[1]} if tag else {}
            entries.append(image.descriptor(annotations).to_dict())
        index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": entries}
        _add_bytes(tar, "index.json", canonical_json(index))
        manifest = [{"Config": config_name, "RepoTags": tags,
                     "Layers": [blob_names[la.digest] for la in image.layers]}]
        _add_bytes(tar, "manifest.json", canonical_json(manifest))


def read_docker_archive(path: Path, repo_tag: str | None = None) -> Image:
    """Read one image from a docker-archive (goslim's, ``docker save``'s or crane's), verifying diff_ids."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"docker-archive {path} does not exist")
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
            raw_manifest = _member_bytes(tar, members, "manifest.json", path)
            manifest = parse_json(raw_manifest, what=f"{path} manifest.json")
            item = _pick_item(manifest, repo_tag, path)
            layer_names = item.get("Layers") or []
            if not isinstance(item.get("Config"), str) or not isinstance(layer_names, list):
                raise ImageFormatError(f"{path}: manifest.json needs a Config name and a Layers list")
            config_bytes = _member_bytes(tar, members, item["Config"], path)
            config = parse_json(config_bytes, what=f"{path} config")
            rootfs = config.get("rootfs") if isinstance(config, dict) else None
            diff_ids = (rootfs.get("diff_ids") if isinstance(rootfs, dict) else None) or []
            if not isinstance(diff_ids, list):
                raise ImageFormatError(f"{path}: config rootfs.diff_ids is not a list")
            if len(layer_names) != len(diff_ids):
                raise ImageFormatError(f"{path}: {len(layer_names)} layers but the config lists "
                                       f"{len(diff_ids)} diff_ids")
            layers = [_read_layer(tar, members, str(n), Digest.parse(d), path)
                      for n, d in zip(layer_names, diff_ids, strict=True)]
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        # EOFError/zlib/lzma/OSError: a compressed archive that is truncated or corrupt.
        raise ImageFormatError(f"{path} is not a valid tar archive: {exc}") from exc
    docker = isinstance(config, dict) and "container_config" in config
    if any(la.compression == "zstd" for la in layers):
        docker = False
    if docker:
        layers = [la.with_media_type(mediatypes.DOCKER_LAYER_GZIP if la.compression == "gzip"
                                     else mediatypes.DOCKER_LAYER) for la in layers]
    return Image.from_config_bytes(config_bytes, layers, docker_media_types=docker)


def _read_layer(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, diff_id: Digest,
                path: Path) -> Layer:
    data = _member_bytes(tar, members, name, path)
    compression = detect_compression(data[:4])
    media_type = mediatypes.OCI_LAYER_FOR[compression]
    layer = Layer(media_type, Digest.of_bytes(data), diff_id, len(data), data=data)
    with decompress_stream(io.BytesIO(data), compression) as fh:
        try:
            diff_id.verify_stream(fh, what=f"{path} layer {name} (diff_id)")
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
            raise BlobError(f"{path}: layer {name} cannot be decompressed: {exc}") from exc
    return layer


def _pick_item(manifest: Any, repo_tag: str | None, path: Path) -> dict[str, Any]:
    if not isinstance(manifest, list) or not manifest or not all(isinstance(i, dict) for i in manifest):
        raise ImageFormatError(f"{path}: manifest.json lists no images")
    if repo_tag is None:
        if len(manifest) > 1:
            raise UserInputError(f"{path} holds {len(manifest)} images; choose one by its repo tag")
        return manifest[0]
    want = _normalize_tag(repo_tag)
    for item in manifest:
        tags = item.get("RepoTags") or []
        if isinstance(tags, list) and want in [_normalize_tag(t) for t in tags if isinstance(t, str)]:
            return item
    raise UserInputError(f"{path} has no image tagged {repo_tag}")


def _member_bytes(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, path: Path) -> bytes:
    member = members.get(name.removeprefix("./"))
    if member is None:
        raise BlobError(f"{path} is missing '{name}'",
                        hint="the archive is incomplete or not a docker-archive")
    fh = tar.extractfile(member)
    assert fh is not None
    return fh.read()


def _normalize_tag(text: str) -> str:
    ref = ImageReference.parse(text)
    if ref.digest is not None or ref.tag is None:
        raise UserInputError(f"repo tag '{text}' must be NAME:TAG (no digest)",
                             hint="e.g. example.com/app:v1")
    return f"{ref.name}:{ref.tag}".removeprefix("docker.io/library/").removeprefix("docker.io/")


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.uname, info.gname = size, 0o644, 0, "", ""
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = _info(name, 0)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)

