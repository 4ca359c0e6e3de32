"""docker-archive tarballs (``docker save`` / ``docker load``): write and read.

goslim writes a dual-format tar like Docker Engine 25+: ``manifest.json`` for
``docker load`` plus ``oci-layout``/``index.json`` over the same ``blobs/sha256/*``,
with the registry (compressed) layer blobs, which ``docker load`` decompresses. Tar
entries have fixed mtime/owner so the archive itself is reproducible.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import re
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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
    with atomic_path(path, "docker-archive") as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
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


DOCUMENT_CAP = 4 << 20  # manifest.json and the config, as distribution and containerd cap manifests
MEMBER_CAP = 10_000  # tar entries; a docker-archive holds a few per layer
_CONTENT_ADDRESSED = re.compile(r"(?:^|/)(?:blobs/sha256/)?([0-9a-f]{64})(?:\.tar(?:\.gz|\.zst)?)?$")


@dataclass(frozen=True)
class ArchiveMember:
    """A layer blob inside a docker-archive: opened again from the archive whenever it is read."""

    archive: Path
    member: tarfile.TarInfo
    identity: tuple[int, int, int, int]  # device, inode, size, mtime of the archive when it was read

    def open(self) -> IO[bytes]:
        """The member's bytes, streamed from the archive (never held in memory)."""
        try:
            if _identity(self.archive) != self.identity:
                raise BlobError(f"{self.archive} changed after it was read; layer {self.member.name} is gone",
                                hint="read the image again")
            tar = tarfile.open(self.archive, "r:*")  # noqa: SIM115 - closed by the stream returned
        except (tarfile.TarError, OSError) as exc:
            raise BlobError(f"{self.archive}: layer {self.member.name} cannot be read: {exc}") from exc
        fh = tar.extractfile(self.member)
        if fh is None:
            tar.close()
            raise BlobError(f"{self.archive}: '{self.member.name}' is not a regular file")
        return io.BufferedReader(_MemberStream(tar, fh), 1 << 20)


class _MemberStream(io.RawIOBase):
    """A tar member's stream that closes its archive with it."""

    def __init__(self, tar: tarfile.TarFile, fh: IO[bytes]) -> None:
        super().__init__()
        self._tar, self._fh = tar, fh

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._fh.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
            self._tar.close()
        super().close()


def read_docker_archive(path: Path, repo_tag: str | None = None, *, verify_layers: bool = True) -> Image:
    """Read one image from a docker-archive (goslim's, ``docker save``'s or crane's), verifying diff_ids.

    Layers stay in the archive and are streamed from it when read. With ``verify_layers=False``
    (inspect) only manifest.json and the config are read: layer digests come from content-addressed
    member names, or equal the diff_id for an uncompressed layer, as a registry's manifest is trusted.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"docker-archive {path} does not exist")
    try:
        with tarfile.open(path, "r:*") as tar:
            members = _file_members(tar, path)
            raw_manifest = _member_bytes(tar, members, "manifest.json", path)
            manifest = parse_json(raw_manifest, what=f"{path} manifest.json")
            item = _pick_item(manifest, repo_tag, path)
            layer_names = item.get("Layers") or []
            if not isinstance(item.get("Config"), str) or not isinstance(layer_names, list):
                raise ImageFormatError(f"{path}: manifest.json needs a Config name and a Layers list")
            config_bytes = _member_bytes(tar, members, item["Config"], path)
            config = parse_json(config_bytes, what=f"{path} config")
            if not isinstance(config, dict):
                raise ImageFormatError(f"{path}: config {item['Config']} is not a JSON object")
            rootfs = config.get("rootfs")
            diff_ids = (rootfs.get("diff_ids") if isinstance(rootfs, dict) else None) or []
            if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
                raise ImageFormatError(f"{path}: config rootfs.diff_ids is not a list of digests")
            if len(layer_names) != len(diff_ids):
                raise ImageFormatError(f"{path}: {len(layer_names)} layers but the config lists "
                                       f"{len(diff_ids)} diff_ids")
            sources = [_layer_member(members, n, path) for n in layer_names]
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        # EOFError/zlib/lzma/OSError: a compressed archive that is truncated or corrupt.
        raise ImageFormatError(f"{path} is not a valid tar archive: {exc}") from exc
    read = _read_layer if verify_layers else _describe_layer
    layers = [read(src, Digest.parse(d), path) for src, d in zip(sources, diff_ids, strict=True)]
    docker = "container_config" in config
    if any(la.compression == "zstd" for la in layers):
        docker = False
    if docker:
        layers = [la.with_media_type(mediatypes.DOCKER_LAYER_GZIP if la.compression == "gzip"
                                     else mediatypes.DOCKER_LAYER) for la in layers]
    return Image.from_config_bytes(config_bytes, layers, docker_media_types=docker)


def _file_members(tar: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for count, member in enumerate(tar, 1):
        if count > MEMBER_CAP:
            raise ImageFormatError(f"{path} has more than {MEMBER_CAP} entries; not a docker-archive")
        if member.isfile():
            members[member.name.removeprefix("./")] = member
    return members


def _layer_member(members: dict[str, tarfile.TarInfo], name: object, path: Path) -> ArchiveMember:
    member = members.get(str(name).removeprefix("./"))
    if member is None:
        raise BlobError(f"{path} is missing '{name}'",
                        hint="the archive is incomplete or not a docker-archive")
    return ArchiveMember(path, member, _identity(path))


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _read_layer(src: ArchiveMember, diff_id: Digest, path: Path) -> Layer:
    """Stream the layer once: its digest and size as stored, and its diff_id once decompressed."""
    name = src.member.name
    digest_hash = hashlib.sha256()
    try:
        with src.open() as raw:
            head = raw.peek(4)[:4] if isinstance(raw, io.BufferedReader) else b""
            compression = detect_compression(head)
            counted = _HashingReader(raw, digest_hash)
            with decompress_stream(counted, compression) as fh:  # type: ignore[arg-type]
                diff_id.verify_stream(fh, what=f"{path} layer {name} (diff_id)")
            while counted.read(1 << 20):  # bytes after the compressed stream still belong to the blob
                pass
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
        raise BlobError(f"{path}: layer {name} cannot be decompressed: {exc}") from exc
    media_type = mediatypes.OCI_LAYER_FOR[compression]
    digest = Digest("sha256", digest_hash.hexdigest())
    return Layer(media_type, digest, diff_id, counted.size, source=src)


def _describe_layer(src: ArchiveMember, diff_id: Digest, path: Path) -> Layer:
    """The layer's descriptor from its name and first bytes only (no layer is read through)."""
    with src.open() as raw:
        compression = detect_compression(raw.read(4))
    named = _CONTENT_ADDRESSED.search(src.member.name)
    if compression == "none":
        digest = diff_id  # an uncompressed blob is its own diff
    elif named:
        digest = Digest("sha256", named.group(1))
    else:
        return _read_layer(src, diff_id, path)  # no name to go by: hash it, streaming
    return Layer(mediatypes.OCI_LAYER_FOR[compression], digest, diff_id, src.member.size, source=src)


class _HashingReader:
    """Reads through to ``raw``, hashing and counting what passes (the blob digest in the same pass)."""

    def __init__(self, raw: IO[bytes], hasher: Any) -> None:
        self._raw, self._hasher, self.size = raw, hasher, 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._hasher.update(data)
        self.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """The caller closes the archive stream; decompressors closing this must not."""

    def __enter__(self) -> _HashingReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


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
    """A small document from the archive (manifest.json, the config), refused past DOCUMENT_CAP."""
    member = members.get(name.removeprefix("./"))
    if member is None:
        raise BlobError(f"{path} is missing '{name}'",
                        hint="the archive is incomplete or not a docker-archive")
    if member.size > DOCUMENT_CAP:
        raise ImageFormatError(f"{path}: '{name}' has {member.size} bytes, more than the "
                               f"{DOCUMENT_CAP >> 20} MiB a manifest or config may have")
    fh = tar.extractfile(member)
    assert fh is not None
    return fh.read(DOCUMENT_CAP)


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

