"""OCI image layout on disk: write (verified blobs, skip existing, atomic index.json, lock) and read."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import platform as host
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from goslim.errors import UserInputError
from goslim.fsutil import write_bytes_atomic
from goslim.oci import mediatypes
from goslim.oci.descriptor import Descriptor, canonical_json, parse_json
from goslim.oci.digest import Digest
from goslim.oci.errors import BlobError, ImageFormatError
from goslim.oci.image import Image, Index
from goslim.oci.index_entries import is_platform_image
from goslim.oci.layer import Layer, copy_stream
from goslim.platform import Platform

REF_NAME = "org.opencontainers.image.ref.name"
LOCK_NAME = ".goslim.lock"
_LAYOUT_HEADER = b'{"imageLayoutVersion":"1.0.0"}'


ATTACHMENT_TAG = re.compile(r"^sha256-[0-9a-f]{64}\.(sig|att|sbom)$")


def blob_path(root: Path, digest: Digest) -> Path:
    return root / "blobs" / digest.algorithm / digest.hex


@contextlib.contextmanager
def layout_lock(root: Path) -> Iterator[None]:
    """Exclusive lock so two writers never interleave their index.json updates."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_NAME, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def write_blob(root: Path, digest: Digest, size: int, src: IO[bytes]) -> bool:
    """Copy ``src`` into the layout as ``digest``, verifying it; False if an intact blob is already there."""
    dest = blob_path(root, digest)
    if dest.is_file() and dest.stat().st_size == size:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".blob.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            hasher = _HashingWriter(out, digest)
            copy_stream(src, hasher)
            out.flush()
            os.fsync(out.fileno())
        hasher.check(size)
        os.chmod(name, 0o644)
        os.replace(name, dest)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return True


def write_oci_layout(path: Path, image: Image | Index, tag: str | None = None) -> Descriptor:
    """Add ``image`` (or an index) to the OCI layout at ``path`` and return its index.json descriptor.

    Blobs go first (verified, existing ones skipped), index.json last by atomic rename, so an
    interrupted write leaves the previous layout intact. A ``tag`` moves from any other image
    to this one; other tags are kept.
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise UserInputError(f"{root} exists and is not a directory",
                             hint="choose a directory for the OCI layout")
    if tag is not None:
        _check_tag(tag)
    try:
        return _write_locked(root, image, tag)
    except OSError as exc:
        raise UserInputError(f"cannot write OCI layout {root}: {exc.strerror or exc}",
                             hint="check free space and permissions; index.json was not changed") from exc


def _write_locked(root: Path, image: Image | Index, tag: str | None) -> Descriptor:
    with layout_lock(root):
        header = root / "oci-layout"
        if not header.is_file():
            write_bytes_atomic(header, _LAYOUT_HEADER)
        index = _load_index_json(root) if (root / "index.json").is_file() else _empty_index()
        images = image.images if isinstance(image, Index) else (image,)
        for img in images:
            for layer in img.layers:
                with layer.open() as fh:
                    write_blob(root, layer.digest, layer.size, fh)
            _write_bytes_blob(root, img.config_descriptor.digest, img.config_bytes)
            _write_bytes_blob(root, img.digest, img.manifest_bytes)
        if isinstance(image, Index):
            _write_bytes_blob(root, image.digest, image.index_bytes)
        desc = image.descriptor({REF_NAME: tag} if tag else None)
        if isinstance(image, Image):
            desc = Descriptor(desc.media_type, desc.digest, desc.size, desc.annotations, image.platform)
        entries = [e for e in index.get("manifests", []) if not _same_slot(e, desc, tag)]
        entries.append(desc.to_dict())
        index["manifests"] = entries
        write_bytes_atomic(root / "index.json", canonical_json(index))
    return desc


def put_blob_bytes(path: Path, data: bytes) -> Digest:
    """Store ``data`` as a blob of the layout (skipped when an intact copy is there); returns its digest."""
    digest = Digest.of_bytes(data)
    _write_bytes_blob(Path(path), digest, data)
    return digest


def read_blob_bytes(path: Path, digest: Digest) -> bytes:
    """A small blob's bytes, verified against ``digest`` (BlobError when missing or modified)."""
    dest = blob_path(Path(path), digest)
    if not dest.is_file():
        raise BlobError(f"blob {digest} is missing from OCI layout {path}",
                        hint="the layout is incomplete; write the image again")
    return _read_small_blob(Path(path), digest, dest.stat().st_size)


def tag_manifest(
    path: Path, manifest: bytes, media_type: str, tag: str, annotations: dict[str, str] | None = None
) -> Descriptor:
    """Store raw manifest bytes (an artifact such as a cosign signature) and point ``tag`` at them.

    The same lock and atomic index.json update as ``write_oci_layout``; other tags are kept.
    ``annotations`` are added to the index.json entry beside the tag.
    """
    root = Path(path)
    _check_tag(tag)
    digest = Digest.of_bytes(manifest)
    desc = Descriptor(media_type, digest, len(manifest), {**(annotations or {}), REF_NAME: tag})
    with layout_lock(root):
        _write_bytes_blob(root, digest, manifest)
        index = _load_index_json(root)
        entries = [e for e in index.get("manifests", []) if not _same_slot(e, desc, tag)]
        index["manifests"] = [*entries, desc.to_dict()]
        write_bytes_atomic(root / "index.json", canonical_json(index))
    return desc


def mark_entries(path: Path, digest: Digest, key: str, value: str) -> None:
    """Annotate the index.json entries of ``digest`` with ``key: value`` and take that value off every
    other entry: a marker one image carries at a time (cosign's ``kind`` for ``--local-image``)."""
    root = Path(path)
    with layout_lock(root):
        index = _load_index_json(root)
        entries = []
        for entry in index.get("manifests", []):
            notes = dict(entry.get("annotations") or {})
            if entry.get("digest") == str(digest):
                notes[key] = value
            elif notes.get(key) == value:
                del notes[key]
            entries.append({**entry, "annotations": notes} if notes else
                           {k: v for k, v in entry.items() if k != "annotations"})
        if entries != index.get("manifests", []):
            index["manifests"] = entries
            write_bytes_atomic(root / "index.json", canonical_json(index))


def layout_tags(path: Path) -> dict[str, Descriptor]:
    """Tag -> descriptor for every tagged entry of index.json."""
    index = _load_index_json(Path(path))
    out = {}
    for i, raw in enumerate(index.get("manifests") or []):
        desc = Descriptor.from_dict(raw, where=f"index.json entry {i}")
        if REF_NAME in desc.annotations:
            out[desc.annotations[REF_NAME]] = desc
    return out


def read_oci_layout(path: Path, tag: str | None = None) -> Image | Index:
    """Read the image or index tagged ``tag`` (or the only entry) from a layout, verifying every blob."""
    root = Path(path)
    if not (root / "index.json").is_file():
        raise UserInputError(f"{root} is not an OCI image layout (no index.json)",
                             hint="give a directory written by goslim, skopeo or umoci")
    desc = _select(root, tag)
    return read_descriptor(root, desc)


def read_layout_image(path: Path, tag: str | None = None, platform: Platform | str | None = None) -> Image:
    """Like ``read_oci_layout`` but always one image: an index is narrowed to ``platform``."""
    found = read_oci_layout(path, tag)
    return found if isinstance(found, Image) else found.image_for(platform or default_platform())


def read_descriptor(root: Path, desc: Descriptor, *, _in_index: Digest | None = None) -> Image | Index:
    """Load the manifest or index ``desc`` points at, with all its blobs, from layout ``root``."""
    data = _read_small_blob(root, desc.digest, desc.size)
    doc = parse_json(data, what=f"manifest {desc.digest}")
    if not isinstance(doc, dict):
        raise ImageFormatError(f"manifest {desc.digest} is not a JSON object")
    media_type = doc.get("mediaType") or desc.media_type
    if not isinstance(media_type, str):
        raise ImageFormatError(f"manifest {desc.digest} has a malformed mediaType")
    if media_type in mediatypes.INDEX_TYPES and _in_index is not None:
        # An entry typed as an image that is an index: following it could go on for thousands of levels.
        raise ImageFormatError(f"index {_in_index} lists {desc.digest} as an image, but it is an index",
                               hint="nested indexes are not followed; point at the inner index instead")
    if media_type in mediatypes.INDEX_TYPES:
        images = []
        children = doc.get("manifests") or []
        if not isinstance(children, list):
            raise ImageFormatError(f"index {desc.digest} manifests is not a list")
        for i, child in enumerate(children):
            child_desc = Descriptor.from_dict(child, where=f"index {desc.digest} entry {i}")
            if is_platform_image(child_desc):  # not buildx's attestation manifests
                loaded = read_descriptor(root, child_desc, _in_index=desc.digest)
                assert isinstance(loaded, Image)  # an index child is refused above
                images.append(loaded)
        return Index(data, tuple(images))
    if media_type not in mediatypes.MANIFEST_TYPES:
        raise ImageFormatError(f"{desc.digest} has media type '{media_type}', not an image or index")
    cfg_desc = Descriptor.from_dict(doc.get("config"), where=f"manifest {desc.digest} config")
    config_bytes = _read_small_blob(root, cfg_desc.digest, cfg_desc.size)
    config = parse_json(config_bytes, what=f"config {cfg_desc.digest}")
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = (rootfs.get("diff_ids") if isinstance(rootfs, dict) else None) or []
    raw_layers = doc.get("layers") or []
    if not isinstance(diff_ids, list) or not isinstance(raw_layers, list):
        raise ImageFormatError(f"manifest {desc.digest} layers or its config's rootfs.diff_ids is not a list")
    if len(diff_ids) != len(raw_layers):
        raise ImageFormatError(f"manifest {desc.digest} has {len(raw_layers)} layers but config lists "
                               f"{len(diff_ids)} diff_ids")
    layers = []
    for i, raw in enumerate(raw_layers):
        ld = Descriptor.from_dict(raw, where=f"manifest {desc.digest} layer {i}")
        layers.append(_layer_from_layout(root, ld, Digest.parse(diff_ids[i])))
    return Image(data, config_bytes, tuple(layers))


def default_platform() -> Platform:
    """The platform of this machine, in GOARCH words."""
    machine = host.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return Platform(os="linux", architecture=arch)


def _layer_from_layout(root: Path, desc: Descriptor, diff_id: Digest) -> Layer:
    path = blob_path(root, desc.digest)
    if not path.is_file():
        raise BlobError(f"layer blob {desc.digest} is missing from {root}",
                        hint="the layout is incomplete; write the image again")
    with open(path, "rb") as fh:
        desc.digest.verify_stream(fh, desc.size, what="layer blob")
    return Layer(desc.media_type, desc.digest, diff_id, desc.size, path=path,
                 annotations=dict(desc.annotations))


def _read_small_blob(root: Path, digest: Digest, size: int) -> bytes:
    path = blob_path(root, digest)
    if not path.is_file():
        raise BlobError(f"blob {digest} is missing from {root}",
                        hint="the layout is incomplete; write it again")
    if size > 64 << 20:
        raise ImageFormatError(f"manifest/config {digest} claims {size} bytes, too large")
    data = path.read_bytes()
    if len(data) != size:
        raise BlobError(f"blob {digest} has {len(data)} bytes, expected {size}",
                        hint="the blob was truncated or replaced; write the image again")
    digest.verify_bytes(data)
    return data


def _write_bytes_blob(root: Path, digest: Digest, data: bytes) -> None:
    write_blob(root, digest, len(data), io.BytesIO(data))


def _select(root: Path, tag: str | None) -> Descriptor:
    index = _load_index_json(root)
    descs = [Descriptor.from_dict(d, where=f"index.json entry {i}")
             for i, d in enumerate(index.get("manifests") or [])]
    if tag is not None:
        for d in descs:
            if d.annotations.get(REF_NAME) == tag:
                return d
        tags = sorted(d.annotations[REF_NAME] for d in descs if REF_NAME in d.annotations)
        raise UserInputError(f"tag '{tag}' not found in OCI layout {root}",
                             hint=f"tags there: {', '.join(tags) or 'none'}")
    # Signatures and SBOMs attached the cosign way (tags "sha256-<hex>.sig|.att|.sbom") are not images.
    usable = [d for d in descs if d.media_type in mediatypes.MANIFEST_TYPES | mediatypes.INDEX_TYPES
              and not ATTACHMENT_TAG.match(d.annotations.get(REF_NAME, ""))]
    if len(usable) == 1:
        return usable[0]
    if not usable:
        raise UserInputError(f"OCI layout {root} holds no image")
    tags = sorted(d.annotations[REF_NAME] for d in usable if REF_NAME in d.annotations)
    raise UserInputError(f"OCI layout {root} holds {len(usable)} images; name one with oci:PATH:TAG",
                         hint=f"tags there: {', '.join(tags) or 'none'}")


def load_index(root: Path) -> dict[str, Any]:
    """index.json of the layout at ``root`` as a dict (checked to be an index)."""
    return _load_index_json(Path(root))


def _load_index_json(root: Path) -> dict[str, Any]:
    path = root / "index.json"
    try:
        data = parse_json(path.read_bytes(), what=f"{path}")
    except FileNotFoundError:
        raise UserInputError(f"{root} is not an OCI image layout (no index.json)") from None
    if not isinstance(data, dict) or not isinstance(data.get("manifests", []), list):
        raise ImageFormatError(f"{path} is not an OCI image index")
    return data


def _empty_index() -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}


def _same_slot(entry: dict[str, Any], new: Descriptor, tag: str | None) -> bool:
    """Whether an existing index.json entry is replaced by ``new``: same tag, or untagged same digest."""
    ref = (entry.get("annotations") or {}).get(REF_NAME)
    if tag is not None:
        return ref == tag
    return ref is None and entry.get("digest") == str(new.digest)


def _check_tag(tag: str) -> None:
    if not re.fullmatch(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", tag):
        raise UserInputError(f"invalid tag '{tag}'", hint="tags are [A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


class _HashingWriter:
    def __init__(self, out: IO[bytes], digest: Digest) -> None:
        self._out = out
        self._digest = digest
        self._hash = digest.hasher()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._out.write(data)

    def check(self, size: int) -> None:
        if self.size != size:
            raise BlobError(f"blob {self._digest} has {self.size} bytes, expected {size}")
        if self._hash.hexdigest() != self._digest.hex:
            raise BlobError(f"blob {self._digest} is corrupt: content hashes to "
                            f"{self._digest.algorithm}:{self._hash.hexdigest()}")
