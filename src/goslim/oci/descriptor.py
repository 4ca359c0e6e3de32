"""Descriptors: the (media type, digest, size) pointer every OCI document uses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from goslim.oci.digest import Digest
from goslim.oci.errors import ImageFormatError
from goslim.platform import Platform


@dataclass(frozen=True)
class Descriptor:
    """A pointer to a blob or manifest; ``platform`` only appears in indexes."""

    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as OCI JSON (camelCase keys, empty optional fields left out)."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        if self.platform is not None:
            out["platform"] = platform_to_dict(self.platform)
        return out

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "descriptor") -> Descriptor:
        """Parse a descriptor object strictly: media type, digest and a non-negative size are required."""
        if not isinstance(data, dict):
            raise ImageFormatError(f"{where} is not a JSON object")
        media_type, digest, size = data.get("mediaType"), data.get("digest"), data.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise ImageFormatError(f"{where} has no mediaType")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ImageFormatError(f"{where} has no valid size")
        annotations = data.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise ImageFormatError(f"{where} has malformed annotations")
        platform = data.get("platform")
        urls = data.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ImageFormatError(f"{where} has malformed urls")
        return cls(
            media_type=media_type,
            digest=Digest.parse(digest),
            size=size,
            annotations={str(k): str(v) for k, v in annotations.items()},
            platform=platform_from_dict(platform) if isinstance(platform, dict) else None,
            urls=tuple(urls),
        )

    def with_annotations(self, extra: dict[str, str]) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size, {**self.annotations, **extra},
                          self.platform, self.urls)


def platform_to_dict(platform: Platform) -> dict[str, str]:
    out = {"architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        out["variant"] = platform.variant
    return out


def platform_from_dict(data: dict[str, Any]) -> Platform:
    return Platform(os=str(data.get("os", "")), architecture=str(data.get("architecture", "")),
                    variant=data.get("variant") or None)


def canonical_json(obj: Any) -> bytes:
    """Compact JSON with sorted keys: the one serialisation goslim hashes and stores."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A base image's config may carry a lone surrogate ("\ud800"): keep it, escaped as it came.
        return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def parse_json(data: bytes, *, what: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ImageFormatError(f"{what} is not valid JSON: {exc}") from exc
