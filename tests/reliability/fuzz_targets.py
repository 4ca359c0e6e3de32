"""The fuzz targets: goslim's readers of hostile bytes, each fed mutations of real seeds.

Each target's ``execute`` may end in a ``GoslimError`` (a clean refusal) and nothing else.
Targets that touch the disk work in one scratch directory and also check that nothing is
left outside the place goslim was told to write.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import httpx

from goslim.bases.remote import list_paths
from goslim.binary.analyze import elf_facts
from goslim.binary.buildinfo import parse_build_info
from goslim.binary.elf import ElfImage
from goslim.binary.errors import PclntabError
from goslim.binary.pclntab import decode_table, file_names, read_table
from goslim.oci import (
    Descriptor,
    Digest,
    Image,
    ImageLocation,
    ImageReference,
    Index,
    RegistryClient,
    StaticKeychain,
    mediatypes,
    pull_image,
)
from goslim.oci.archive import read_docker_archive
from goslim.oci.descriptor import canonical_json, parse_json
from goslim.oci.layout import blob_path, layout_tags, read_oci_layout, write_oci_layout
from goslim.oci.unpack import unpack_rootfs
from tests.reliability.fuzz_engine import Mutator, Target
from tests.reliability.fuzz_seeds import Corpus, layer_image_from_tar


class LeftoverError(AssertionError):
    """A target wrote outside its destination or left temp garbage behind."""


def scratch_dir() -> Path:
    """A scratch directory in memory when /dev/shm exists: the disk targets run ~8x faster there."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="goslim-fuzz-", dir=base))


def make_targets(corpus: Corpus, scratch: Path) -> list[Target]:
    """All targets over ``corpus``; disk-touching ones use subdirectories of ``scratch``."""
    return [
        _elf_target(corpus),
        _buildinfo_target(corpus),
        _pclntab_target(corpus),
        _manifest_target(corpus),
        _index_target(corpus),
        _descriptor_target(corpus),
        _reference_target(corpus),
        _layout_target(corpus, scratch / "layout"),
        _base_tar_target(corpus),
        _unpack_target(corpus, scratch / "unpack"),
        _docker_archive_target(corpus, scratch / "archive"),
        _pull_target(corpus, scratch / "pull-cache"),
    ]


# -- binaries ----------------------------------------------------------------------------------------


def _elf_target(corpus: Corpus) -> Target:
    seed = corpus.elf

    def generate(rng: random.Random, m: Mutator) -> bytes:
        if rng.random() < 0.03:
            return rng.randbytes(rng.randint(0, 128))
        return m.mutate_bytes(seed.data, seed.hot)

    def execute(data: bytes) -> None:
        elf = ElfImage(data, where="fuzz")
        elf_facts(elf)
        for sec in elf.sections[:64]:
            elf.section_data(sec)
        elf.read_va(0x401000, 16)
        elf.symbols()
        # The skeleton keeps only a prefix of .gopclntab (the pclntab target fuzzes the whole table),
        # so this always ends in PclntabError; count ELF parsing that got this far as accepted.
        with contextlib.suppress(PclntabError):
            read_table(elf)

    return Target("elf", 0.15, generate, execute, "ElfImage + ELF facts + read_table (real headers)")


def _buildinfo_target(corpus: Corpus) -> Target:
    seed = corpus.elf

    def generate(rng: random.Random, m: Mutator) -> bytes:
        return m.mutate_bytes(seed.data, (seed.buildinfo,))

    def execute(data: bytes) -> None:
        info = parse_build_info(ElfImage(data, where="fuzz"))
        _ = (info.go_version, info.settings)

    return Target("buildinfo", 0.13, generate, execute, "parse_build_info (real .go.buildinfo)")


def _pclntab_target(corpus: Corpus) -> Target:
    table, hot = corpus.pclntab.table, corpus.pclntab.hot

    def generate(rng: random.Random, m: Mutator) -> tuple[list[tuple[int, bytes]], int | None]:
        cut = None
        if rng.random() < 0.03:
            cut = rng.randrange(max(end for _, end in hot))
        return m.overwrite_ops(len(table), hot, max_ops=6), cut

    def execute(plan: tuple[list[tuple[int, bytes]], int | None]) -> None:
        ops, cut = plan
        # Patch the 2 MB table in place and restore it afterwards: copying it per run would dominate.
        saved = [(pos, bytes(table[pos : pos + len(new)])) for pos, new in ops]
        try:
            for pos, new in ops:
                table[pos : pos + len(new)] = new
            tab = table if cut is None else table[:cut]
            header, _names, _entries = decode_table(tab, where="fuzz")  # type: ignore[arg-type]
            file_names(tab, header)  # type: ignore[arg-type]
        finally:
            for pos, old in reversed(saved):
                table[pos : pos + len(old)] = old

    return Target("pclntab", 0.07, generate, execute, "decode_table (compact real .gopclntab)")


# -- manifests, indexes, descriptors, references -----------------------------------------------------


def _manifest_target(corpus: Corpus) -> Target:
    image = corpus.image
    manifest = json.loads(image.manifest_bytes)
    config = json.loads(image.config_bytes)

    def generate(rng: random.Random, m: Mutator) -> tuple[bytes, bytes]:
        roll = rng.random()
        if roll < 0.35:
            return m.mutate_bytes(image.manifest_bytes), image.config_bytes
        if roll < 0.7:
            return m.json_bytes(m.mutate_json(manifest)), image.config_bytes
        # A mutated config with a manifest that points at it, so the deeper checks run.
        cfg = m.json_bytes(m.mutate_json(config)) if roll < 0.9 else m.mutate_bytes(image.config_bytes)
        doc = json.loads(image.manifest_bytes)
        doc["config"]["digest"], doc["config"]["size"] = str(Digest.of_bytes(cfg)), len(cfg)
        return canonical_json(doc), cfg

    def execute(pair: tuple[bytes, bytes]) -> None:
        img = Image(pair[0], pair[1], image.layers)
        _ = (img.summary(), img.platform, img.diff_ids, img.annotations, img.descriptor(with_platform=True))

    return Target("manifest", 0.15, generate, execute, "Image(manifest, config, layers)")


def _index_target(corpus: Corpus) -> Target:
    images = (corpus.image, corpus.small_image)
    seed = Index.build([corpus.image]).index_bytes
    doc = json.loads(seed)

    def generate(rng: random.Random, m: Mutator) -> bytes:
        if rng.random() < 0.4:
            return m.mutate_bytes(seed)
        return m.json_bytes(m.mutate_json(doc))

    def execute(data: bytes) -> None:
        index = Index(data, images)
        _ = (index.media_type, index.descriptor())
        index.image_for("linux/amd64")

    return Target("index", 0.10, generate, execute, "Index(bytes, images) + image_for")


def _descriptor_target(corpus: Corpus) -> Target:
    manifest = json.loads(corpus.image.manifest_bytes)
    seeds = [*json.loads(Index.build([corpus.image]).index_bytes)["manifests"], manifest["config"],
             *manifest["layers"]]

    def generate(rng: random.Random, m: Mutator) -> bytes:
        base = rng.choice(seeds)
        if rng.random() < 0.3:
            return m.mutate_bytes(json.dumps(base).encode())
        return m.json_bytes(m.mutate_json(base))

    def execute(data: bytes) -> None:
        desc = Descriptor.from_dict(parse_json(data, what="fuzz descriptor"))
        Descriptor.from_dict(desc.to_dict())
        Digest.parse(str(desc.digest))

    return Target("descriptor", 0.18, generate, execute, "Descriptor.from_dict + Digest.parse")


def _reference_target(corpus: Corpus) -> Target:
    def generate(rng: random.Random, m: Mutator) -> bytes:
        return m.mutate_bytes(rng.choice(corpus.references).encode())

    def execute(data: bytes) -> None:
        text = data.decode("utf-8", "surrogateescape")
        loc = ImageLocation.parse(text)
        str(loc)
        if loc.reference is not None:
            ref = ImageReference.parse(str(loc.reference))
            _ = (ref.api_host, ref.is_loopback, ref.name, ref.identifier)

    return Target("reference", 0.12, generate, execute, "ImageLocation / ImageReference.parse")


# -- on-disk readers ---------------------------------------------------------------------------------


def _layout_target(corpus: Corpus, root: Path) -> Target:
    image = corpus.small_image
    shutil.rmtree(root, ignore_errors=True)
    write_oci_layout(root, image, "latest")
    index_path = root / "index.json"
    index_seed = index_path.read_bytes()
    index_doc = json.loads(index_seed)
    manifest_doc = json.loads(image.manifest_bytes)
    config_doc = json.loads(image.config_bytes)
    keep = {p for p in root.rglob("*")}

    def generate(rng: random.Random, m: Mutator) -> tuple[bytes, bytes | None, bytes | None]:
        roll = rng.random()
        if roll < 0.3:
            return m.mutate_bytes(index_seed), None, None
        if roll < 0.6:
            return m.json_bytes(m.mutate_json(index_doc)), None, None
        # A mutated manifest (or config) stored under its own digest, with index.json pointing at it.
        cfg = None
        if roll < 0.75:
            cfg = m.json_bytes(m.mutate_json(config_doc))
            man = json.loads(json.dumps(manifest_doc))
            man["config"]["digest"], man["config"]["size"] = str(Digest.of_bytes(cfg)), len(cfg)
        else:
            man = m.mutate_json(manifest_doc)
        raw = m.json_bytes(man)
        entry = {"mediaType": mediatypes.OCI_MANIFEST, "digest": str(Digest.of_bytes(raw)), "size": len(raw),
                 "annotations": {"org.opencontainers.image.ref.name": "latest"}}
        return canonical_json({"schemaVersion": 2, "manifests": [entry]}), raw, cfg

    def execute(plan: tuple[bytes, bytes | None, bytes | None]) -> None:
        index_bytes, manifest, cfg = plan
        extra = [b for b in (manifest, cfg) if b is not None]
        paths = [blob_path(root, Digest.of_bytes(b)) for b in extra]
        try:
            for path, blob in zip(paths, extra, strict=True):
                path.write_bytes(blob)
            index_path.write_bytes(index_bytes)
            layout_tags(root)
            found = read_oci_layout(root)
            if isinstance(found, Image):
                found.summary()
        finally:
            for path in paths:
                if path not in keep:
                    path.unlink(missing_ok=True)
            index_path.write_bytes(index_seed)

    return Target("layout", 0.04, generate, execute, "read_oci_layout + layout_tags (index.json, blobs)")


def _mutated_tar(rng: random.Random, m: Mutator, corpus: Corpus) -> tuple[bytes, bool]:
    seed = rng.choice(corpus.tars)
    hot = [(i, i + 512) for i in range(0, min(len(seed), 64 * 512), 512)]
    return m.mutate_bytes(seed, hot), rng.random() < 0.9


def _base_tar_target(corpus: Corpus) -> Target:
    def generate(rng: random.Random, m: Mutator) -> tuple[bytes, bool]:
        return _mutated_tar(rng, m, corpus)

    def execute(plan: tuple[bytes, bool]) -> None:
        list_paths(layer_image_from_tar(plan[0], plan[1]))

    return Target("base-tar", 0.03, generate, execute, "bases: list_paths over a layer tar")


def _unpack_target(corpus: Corpus, box: Path) -> Target:
    box.mkdir(parents=True, exist_ok=True)
    dest = box / "rootfs"

    def generate(rng: random.Random, m: Mutator) -> tuple[bytes, bool]:
        return _mutated_tar(rng, m, corpus)

    def execute(plan: tuple[bytes, bool]) -> None:
        try:
            unpack_rootfs(layer_image_from_tar(plan[0], plan[1]), dest)
        finally:
            leftovers = [p.name for p in box.iterdir() if p.name != "rootfs"]
            _make_removable(dest)
            shutil.rmtree(dest, ignore_errors=True)
            if leftovers:
                for name in leftovers:
                    _make_removable(box / name)
                    shutil.rmtree(box / name, ignore_errors=True)
                raise LeftoverError(f"unpack left {leftovers} beside the destination")

    return Target("unpack", 0.008, generate, execute, "unpack_rootfs (whiteouts, links, escapes)")


def _docker_archive_target(corpus: Corpus, box: Path) -> Target:
    box.mkdir(parents=True, exist_ok=True)
    path = box / "image.tar"
    seed = corpus.docker_archive
    hot = [(i, i + 512) for i in range(0, len(seed), 512) if seed[i + 257 : i + 262] == b"ustar"]

    members = _tar_members(seed)
    manifest_doc = json.loads(members["manifest.json"])
    config_name = manifest_doc[0]["Config"]
    config_doc = json.loads(members[config_name])

    def generate(rng: random.Random, m: Mutator) -> bytes:
        roll = rng.random()
        if roll < 0.45:
            return m.mutate_bytes(seed, hot)
        # Well-formed tar around a mutated manifest.json or config, sometimes gzipped and cut short.
        changed = dict(members)
        if rng.random() < 0.6:
            changed["manifest.json"] = m.json_bytes(m.mutate_json(manifest_doc))
        else:
            changed[config_name] = m.json_bytes(m.mutate_json(config_doc))
        data = _tar_bytes(changed)
        if roll > 0.8:
            data = gzip.compress(data, compresslevel=1)
            data = data[: rng.randrange(len(data))] if rng.random() < 0.5 else m.mutate_bytes(data)
        return data

    def execute(data: bytes) -> None:
        path.write_bytes(data)
        read_docker_archive(path)

    return Target("docker-archive", 0.015, generate, execute, "read_docker_archive")


def _pull_target(corpus: Corpus, cache: Path) -> Target:
    """``pull_image`` against an in-process transport that serves mutated manifests, indexes and configs.

    Not a stand-in for a registry (the integration tests use a real one): only a way to hand the
    client's response parsing a million hostile documents without a network round trip each.
    """
    image = corpus.small_image
    index_bytes = Index.build([image]).index_bytes
    docs = {"manifest": json.loads(image.manifest_bytes), "index": json.loads(index_bytes)}
    config_doc = json.loads(image.config_bytes)
    blobs = {str(image.config_descriptor.digest): image.config_bytes,
             **{str(la.digest): la.read_bytes() for la in image.layers},
             str(image.digest): image.manifest_bytes}
    served: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/":
            return httpx.Response(200)
        if "/manifests/" in path:
            ident = path.rsplit("/", 1)[1]
            if ident == "v1":
                return httpx.Response(200, content=served["top"], headers={"Content-Type": served["type"]})
            if ident in blobs:
                headers = {"Content-Type": mediatypes.OCI_MANIFEST}
                return httpx.Response(200, content=blobs[ident], headers=headers)
            return httpx.Response(404)
        digest = path.rsplit("/", 1)[1]
        if digest == served.get("config_digest"):
            return httpx.Response(200, content=served["config"])
        if digest in blobs:
            return httpx.Response(200, content=blobs[digest])
        return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN", "message": "no"}]})

    client = RegistryClient(StaticKeychain({}), transport=httpx.MockTransport(handler), retries=0)

    def generate(rng: random.Random, m: Mutator) -> tuple[bytes, str, bytes | None]:
        kind = rng.choice(("manifest", "manifest", "index"))
        media = mediatypes.OCI_MANIFEST if kind == "manifest" else mediatypes.OCI_INDEX
        if rng.random() < 0.1:
            media = rng.choice(("application/json", "", "text/plain", mediatypes.DOCKER_MANIFEST_LIST))
        roll = rng.random()
        if kind == "manifest" and roll < 0.3:
            cfg = m.json_bytes(m.mutate_json(config_doc))
            doc = json.loads(json.dumps(docs["manifest"]))
            doc["config"]["digest"], doc["config"]["size"] = str(Digest.of_bytes(cfg)), len(cfg)
            return canonical_json(doc), media, cfg
        raw = json.dumps(docs[kind]).encode()
        top = m.mutate_bytes(raw) if roll < 0.55 else m.json_bytes(m.mutate_json(docs[kind]))
        return top, media, None

    def execute(plan: tuple[bytes, str, bytes | None]) -> None:
        top, media, cfg = plan
        served.clear()
        served.update(top=top, type=media)
        if cfg is not None:
            served.update(config=cfg, config_digest=str(Digest.of_bytes(cfg)))
        pulled = pull_image("127.0.0.1:5000/fuzz/app:v1", client, platform="linux/amd64", cache_dir=cache)
        pulled.summary()

    return Target("pull", 0.03, generate, execute, "pull_image: manifest/index/config from a registry")


def _tar_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return out.getvalue()


def _make_removable(path: Path) -> None:
    """Read-only directories from a fuzzed tar must not stop the cleanup."""
    if not path.exists() or path.is_symlink():
        return
    os.chmod(path, 0o755)
    for dirpath, dirnames, _files in os.walk(path):
        for d in dirnames:
            full = Path(dirpath) / d
            if not full.is_symlink():
                os.chmod(full, 0o755)
