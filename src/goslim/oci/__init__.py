"""goslim.oci — the OCI image engine: model, deterministic layers, layout/archive/registry I/O.

Public API (names are stable; other stages import them from ``goslim.oci``):

Model
  ``Digest.parse(text)`` / ``Digest.of_bytes(data)``      strict ``sha256:<hex>`` value
  ``Descriptor(media_type, digest, size, annotations, platform)``  (``to_dict``/``from_dict``)
  ``Platform``                                         re-export of ``goslim.platform.Platform``
  ``FileEntry(path, kind, mode, uid, gid, data, source, linkname)``  (+ ``.file/.dir/.symlink/.from_path``)
  ``build_layer(entries, compression="gzip"|"zstd"|"none", mtime=None, level=None, spool_dir=None) -> Layer``
  ``Layer``   digest, diff_id, size, media_type; ``open()``, ``read_bytes()``, ``open_uncompressed()``,
              ``Layer.from_blob(media_type, data=|path=, digest=, diff_id=)``
  ``new_config(platform, entrypoint=, cmd=, env=, user=, workdir=, exposed_ports=, labels=, ...)``,
  ``history_entry(created_by, ...)``
  ``Image.build(config, layers, annotations=)``  immutable; ``.digest``, ``.manifest_bytes``,
              ``.config_bytes``, ``.layers``, ``.platform``, ``.with_layers(layers, config_updates, history)``
  ``Index.build(images)``; ``index.image_for(platform)``
  ``mediatypes``  module of OCI/Docker media type constants

Writers / readers
  ``write_oci_layout(path, image_or_index, tag=None) -> Descriptor``
  ``read_oci_layout(path, tag=None) -> Image | Index``; ``layout_tags(path)``
  ``write_docker_archive(path, image, repo_tags=())``; ``read_docker_archive(path)``
  ``read_image(location, platform=None, client=None) -> Image``  (``oci:PATH[:TAG]``, ``docker-archive:PATH``,
              ``HOST/REPO[:TAG|@DIGEST]``); ``ImageLocation.parse``, ``ImageReference.parse``
  ``write_image(location, image_or_index, client=None)``  any of the three location kinds
  ``unpack_rootfs(image, dest, *, limits=UnpackLimits(), id_shift=0) -> UnpackResult``  applies layers
              with whiteouts through fds inside the root, refusing escapes and bombs (``.bytes`` is the
              content written; ``goslim.oci.unpack.check_member`` applies the name rules to one member)
  ``goslim.oci.inspect.inspect_image(location, platform, client)``  summary; registries: no layer download

Registry
  ``RegistryClient(keychain=None, insecure=False, retries=3, chunk_size=None)`` (keychain default:
  ``DockerConfigKeychain()``; tests use ``StaticKeychain({host: Credential(user, password)})``)
  ``push(image_or_index, reference, client, mount_from=(), progress=None, jobs=4) -> PushResult``
  ``pull(reference, client) -> Image | Index``; ``pull_image(reference, client, platform=None) -> Image``

Errors (all ``GoslimError``): InvalidDigestError, InvalidReferenceError, BlobError, ImageFormatError,
UnsafeLayerError, RegistryError, RegistryAuthError.
"""

from __future__ import annotations

from goslim.oci import mediatypes
from goslim.oci.archive import read_docker_archive, write_docker_archive
from goslim.oci.auth import Credential, DockerConfigKeychain, StaticKeychain
from goslim.oci.descriptor import Descriptor
from goslim.oci.digest import Digest
from goslim.oci.errors import (
    BlobError,
    ImageFormatError,
    InvalidDigestError,
    InvalidReferenceError,
    RegistryAuthError,
    RegistryError,
    UnsafeLayerError,
)
from goslim.oci.image import Image, Index, history_entry, new_config
from goslim.oci.layer import FileEntry, Layer, build_layer, source_date_epoch
from goslim.oci.layout import layout_tags, read_layout_image, read_oci_layout, write_oci_layout
from goslim.oci.reference import ImageLocation, ImageReference
from goslim.oci.registry import RegistryClient
from goslim.oci.remote import PushResult, pull, pull_image, push
from goslim.oci.store import read_image, write_image
from goslim.oci.unpack import UnpackLimits, UnpackResult, unpack_rootfs
from goslim.platform import Platform

__all__ = [
    "BlobError",
    "Credential",
    "Descriptor",
    "Digest",
    "DockerConfigKeychain",
    "FileEntry",
    "Image",
    "ImageFormatError",
    "ImageLocation",
    "ImageReference",
    "Index",
    "InvalidDigestError",
    "InvalidReferenceError",
    "Layer",
    "Platform",
    "PushResult",
    "RegistryAuthError",
    "RegistryClient",
    "RegistryError",
    "StaticKeychain",
    "UnpackLimits",
    "UnpackResult",
    "UnsafeLayerError",
    "build_layer",
    "history_entry",
    "layout_tags",
    "mediatypes",
    "new_config",
    "pull",
    "pull_image",
    "push",
    "read_docker_archive",
    "read_image",
    "read_layout_image",
    "read_oci_layout",
    "source_date_epoch",
    "unpack_rootfs",
    "write_docker_archive",
    "write_image",
    "write_oci_layout",
]
