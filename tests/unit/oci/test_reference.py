"""ImageReference / ImageLocation parsing: strict, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from goslim.oci import ImageLocation, ImageReference, InvalidReferenceError

DIGEST = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repo", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("acme/app:v1", "docker.io", "acme/app", "v1", None),
        ("127.0.0.1:5000/team/app:latest", "127.0.0.1:5000", "team/app", "latest", None),
        ("localhost/app", "localhost", "app", None, None),
        (f"ghcr.io/acme/app:v2@{DIGEST}", "ghcr.io", "acme/app", "v2", DIGEST),
        ("[::1]:5000/app:x", "[::1]:5000", "app", "x", None),
    ],
)
def test_parse_references(text, registry, repo, tag, digest) -> None:
    ref = ImageReference.parse(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repo, tag)
    assert (str(ref.digest) if ref.digest else None) == digest


@pytest.mark.parametrize("text", ["", " nginx", "Nginx/App", "ghcr.io/a/b:bad tag", "ghcr.io/a/b:-x",
                                  "a@sha256:abc", "ghcr.io//x", "ghcr.io/a/b:" + "t" * 129, "a..b/c"])
def test_bad_references(text: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        ImageReference.parse(text)
    assert "\n" not in info.value.one_line()


def test_loopback_detection() -> None:
    assert ImageReference.parse("127.0.0.1:5000/a").is_loopback
    assert ImageReference.parse("localhost:5000/a").is_loopback
    assert ImageReference.parse("[::1]:5000/a").is_loopback
    assert not ImageReference.parse("ghcr.io/a").is_loopback
    assert ImageReference.parse("nginx").api_host == "registry-1.docker.io"


def test_locations() -> None:
    assert ImageLocation.parse("oci:out/layout:v1") == ImageLocation("oci", Path("out/layout"), "v1")
    assert ImageLocation.parse("oci:/abs/path") == ImageLocation("oci", Path("/abs/path"), None)
    assert ImageLocation.parse("docker-archive:img.tar").path == Path("img.tar")
    loc = ImageLocation.parse("docker://ghcr.io/a/b:1")
    assert loc.kind == "registry" and str(loc.reference) == "ghcr.io/a/b:1"
    assert ImageLocation.parse("nginx:latest").kind == "registry"
    for bad in ["oci:", "docker-archive:", "oci:x:bad!tag", "docker-daemon:img:1"]:
        with pytest.raises(InvalidReferenceError):
            ImageLocation.parse(bad)
