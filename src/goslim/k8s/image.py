"""Pin an image by digest: from ``name@sha256:...`` or from an ``oci:`` layout's index.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from goslim.errors import UserInputError

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


class PinnedImage(BaseModel):
    """A repository and the manifest digest it is pinned to."""

    model_config = ConfigDict(frozen=True)

    repository: str
    digest: str
    source: str  # what the user passed
    note: str = ""


def resolve_image(text: str, *, repository: str | None = None) -> PinnedImage:
    """Turn ``repo@sha256:..`` or ``oci:PATH[:TAG]`` into a repository + digest; tags alone are refused."""
    if text.startswith("oci:"):
        return _from_layout(text, repository)
    if text.startswith(("docker-archive:", "docker://")):
        raise UserInputError(
            f"cannot pin '{text}' by digest",
            hint="pass REPO@sha256:<digest> (the digest printed by the push), or an oci: layout",
        )
    name, sep, digest = text.partition("@")
    if not sep:
        raise UserInputError(
            f"image '{text}' is not pinned by digest",
            hint="pass REPO@sha256:<digest> or oci:PATH so the manifest runs exactly what was verified",
        )
    if not _DIGEST_RE.match(digest):
        raise UserInputError(
            f"invalid digest '{digest}' in '{text}'", hint="expected sha256:<64 lowercase hex>"
        )
    repo = _strip_tag(name)
    if not repo:
        raise UserInputError(f"image '{text}' has no repository name", hint="write REPO@sha256:<digest>")
    return PinnedImage(repository=repository or repo, digest=digest, source=text)


def _strip_tag(name: str) -> str:
    # registry:5000/team/app:1.0 -> registry:5000/team/app (a tag beside a digest is ignored by runtimes)
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        last[-1] = last[-1].split(":", 1)[0]
    return "/".join(last)


def _from_layout(text: str, repository: str | None) -> PinnedImage:
    spec = text.removeprefix("oci:")
    path, tag = Path(spec), None
    if not (path / "index.json").is_file() and ":" in spec:
        head, _, maybe_tag = spec.rpartition(":")
        if "/" not in maybe_tag:
            path, tag = Path(head), maybe_tag
    index_file = path / "index.json"
    if not index_file.is_file():
        raise UserInputError(
            f"no OCI layout at {path} (index.json is missing)",
            hint="write one with `goslim image --to oci:PATH`",
        )
    try:
        index = json.loads(index_file.read_text())
        manifests = index["manifests"]
        if not isinstance(manifests, list):
            raise TypeError("manifests is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise UserInputError(
            f"{index_file} is not a valid OCI index: {exc}", hint="rebuild the layout with goslim image"
        ) from exc
    chosen = _choose(manifests, tag, path)
    digest = chosen.get("digest", "")
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise UserInputError(
            f"{index_file} names an invalid digest '{digest}'", hint="rebuild the layout with goslim image"
        )
    if repository is None:
        # The layout directory is not a registry name: the caller names the image (k8s.plan_k8s does).
        raise UserInputError(
            f"the layout {path} has no registry name", hint="pass --repository REGISTRY/REPO"
        )
    return PinnedImage(repository=repository, digest=digest, source=text)


def _choose(manifests: list, tag: str | None, path: Path) -> dict:
    entries = [m for m in manifests if isinstance(m, dict)]
    if tag is not None:
        for entry in entries:
            if entry.get("annotations", {}).get(_REF_NAME_ANNOTATION) == tag:
                return entry
        tags = sorted(t for e in entries if (t := e.get("annotations", {}).get(_REF_NAME_ANNOTATION)))
        raise UserInputError(
            f"no tag '{tag}' in the layout {path}", hint=f"tags there: {', '.join(tags) or 'none'}"
        )
    if len(entries) == 1:
        return entries[0]
    if not entries:
        raise UserInputError(f"the layout {path} holds no image", hint="write one with goslim image")
    tags = sorted(t for e in entries if (t := e.get("annotations", {}).get(_REF_NAME_ANNOTATION)))
    raise UserInputError(
        f"the layout {path} holds {len(entries)} images: say which",
        hint=f"use oci:{path}:TAG with one of: {', '.join(tags) or '(untagged)'}",
    )
