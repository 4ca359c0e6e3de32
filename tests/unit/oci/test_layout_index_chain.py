"""A layout whose index lists an index as if it were an image: refused at the first level, not followed."""

from __future__ import annotations

from pathlib import Path

import pytest

from goslim.oci import (
    FileEntry,
    Image,
    ImageFormatError,
    build_layer,
    mediatypes,
    new_config,
    read_oci_layout,
)
from goslim.oci.descriptor import canonical_json
from goslim.oci.digest import Digest
from goslim.oci.layout import blob_path, write_oci_layout
from goslim.platform import Platform


def test_an_index_chain_3000_deep_is_one_line(tmp_path: Path) -> None:
    layer = build_layer([FileEntry.file("/a", b"a")], "gzip", mtime=0)
    image = Image.build(new_config(Platform(os="linux", architecture="amd64"), created=0), [layer])
    root = tmp_path / "layout"
    write_oci_layout(root, image, "real")
    child, size = str(image.digest), len(image.manifest_bytes)
    body = b""
    for _ in range(3000):
        body = canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [
            {"mediaType": mediatypes.OCI_MANIFEST, "digest": child, "size": size}]})
        digest = Digest.of_bytes(body)
        blob_path(root, digest).write_bytes(body)  # plain writes: 3,000 fsyncs would make the test slow
        child, size = str(digest), len(body)
    index = canonical_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [
        {"mediaType": mediatypes.OCI_INDEX, "digest": child, "size": size,
         "annotations": {"org.opencontainers.image.ref.name": "chain"}}]})
    (root / "index.json").write_bytes(index)
    with pytest.raises(ImageFormatError, match="but it is an index"):
        read_oci_layout(root, "chain")
