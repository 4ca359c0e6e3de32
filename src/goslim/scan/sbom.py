"""SBOMs from a binary's Go build info plus the base image's packages: CycloneDX 1.6 and SPDX 2.3 JSON.

Go modules are ``pkg:golang/<module>@<version>``; the standard library is
``pkg:golang/stdlib@<go version>``. What could not be read is said in the document
(a CycloneDX property / the SPDX document comment) and in ``SbomDocument.partial_reasons``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from datetime import UTC, datetime

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from pydantic import BaseModel, ConfigDict, Field

from goslim import __version__
from goslim.binary import BuildInfo, Module
from goslim.errors import UserInputError
from goslim.scan.models import OsPackage, SbomDocument, SbomFormat
from goslim.scan.osv import STDLIB
from goslim.scan.semver import go_to_semver

CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"
# cosign's SBOM spec (specs/SBOM_SPEC.md) names the layer types; ko attaches SPDX as text/spdx+json.
SPDX_MEDIA_TYPE = "text/spdx+json"
SBOM_FORMATS: tuple[SbomFormat, ...] = ("cyclonedx", "spdx")
_FILE_SUFFIX = {"cyclonedx": ".cdx.json", "spdx": ".spdx.json"}
_SPDX_ID_RE = re.compile(r"[^A-Za-z0-9.-]+")
_DEVEL = "(devel)"


class SbomSubject(BaseModel):
    """What an SBOM describes: a binary or an image, what it was built from, and what is unknown."""

    model_config = ConfigDict(frozen=True)

    name: str  # image reference or binary name
    kind: str = "binary"  # binary | image
    sha256: str | None = None  # of the binary file, or the image manifest digest's hex
    build_info: BuildInfo | None = None
    os_packages: list[OsPackage] = Field(default_factory=list)
    partial_reasons: list[str] = Field(default_factory=list)


def make_sbom(subject: SbomSubject, fmt: SbomFormat) -> SbomDocument:
    """Render the subject as CycloneDX 1.6 JSON or SPDX 2.3 JSON."""
    if fmt == "cyclonedx":
        content, count = _cyclonedx(subject)
        media_type = CYCLONEDX_MEDIA_TYPE
    elif fmt == "spdx":
        content, count = _spdx(subject)
        media_type = SPDX_MEDIA_TYPE
    else:
        raise UserInputError(f"unknown SBOM format '{fmt}'", hint="use cyclonedx or spdx")
    return SbomDocument(
        format=fmt,
        media_type=media_type,
        file_name=sbom_file_name(subject.name, fmt),
        content=content,
        components=count,
        partial_reasons=list(subject.partial_reasons),
    )


def sbom_file_name(name: str, fmt: SbomFormat) -> str:
    """``app`` → ``app.cdx.json`` / ``app.spdx.json`` (reference punctuation made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1]).strip("._") or "sbom"
    return safe + _FILE_SUFFIX[fmt]


def go_purl(module: str, version: str) -> str:
    """``pkg:golang/<module>@<version>``; the stdlib uses the Go version (go1.21.0 → 1.21.0)."""
    if module == STDLIB:
        version = go_to_semver(version) or version.removeprefix("go")
    namespace, _, name = module.rpartition("/")
    ver = version if version and version != _DEVEL else None
    return PackageURL(type="golang", namespace=namespace or None, name=name, version=ver).to_string()


def _go_components(info: BuildInfo) -> list[tuple[str, str, str]]:
    """(name, version, purl) for stdlib and each dependency (replacements followed)."""
    out = [(STDLIB, info.go_version, go_purl(STDLIB, info.go_version))]
    for dep in info.deps:
        mod: Module = dep.replace if dep.replace is not None and dep.replace.version else dep
        out.append((mod.path, mod.version, go_purl(mod.path, mod.version)))
    return out


def _main(subject: SbomSubject) -> tuple[str, str | None, str | None]:
    info = subject.build_info
    if info is not None and info.main.path:
        version = info.main.version if info.main.version and info.main.version != _DEVEL else None
        return info.main.path, version, go_purl(info.main.path, info.main.version)
    return subject.name, None, None


def _timestamp() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=UTC)
    return datetime.now(tz=UTC).replace(microsecond=0)


def _stable_uuid(subject: SbomSubject, fmt: str) -> uuid.UUID:
    # Same subject, same serial number: SBOMs stay reproducible.
    seed = hashlib.sha256(f"{fmt}\0{subject.model_dump_json()}".encode()).hexdigest()
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://goslim/sbom/{seed}")


def _cyclonedx(subject: SbomSubject) -> tuple[str, int]:
    name, version, purl = _main(subject)
    hashes = [HashType(alg=HashAlgorithm.SHA_256, content=subject.sha256)] if subject.sha256 else []
    main_type = ComponentType.CONTAINER if subject.kind == "image" else ComponentType.APPLICATION
    main = Component(
        name=name,
        version=version,
        type=main_type,
        bom_ref="main",
        hashes=hashes,
        purl=PackageURL.from_string(purl) if purl else None,
    )
    components = []
    if subject.build_info is not None:
        for mod_name, mod_version, mod_purl in _go_components(subject.build_info):
            kind = ComponentType.FRAMEWORK if mod_name == STDLIB else ComponentType.LIBRARY
            components.append(
                Component(
                    name=mod_name,
                    version=mod_version,
                    type=kind,
                    bom_ref=mod_purl,
                    purl=PackageURL.from_string(mod_purl),
                )
            )
    for pkg in subject.os_packages:
        components.append(
            Component(
                name=pkg.name,
                version=pkg.version,
                type=ComponentType.LIBRARY,
                bom_ref=pkg.purl,
                purl=PackageURL.from_string(pkg.purl),
            )
        )
    tools = ToolRepository(
        components=[Component(name="goslim", version=__version__, type=ComponentType.APPLICATION)]
    )
    properties = [Property(name="goslim:partial", value=reason) for reason in subject.partial_reasons]
    if subject.build_info is not None:
        properties.append(Property(name="goslim:go_version", value=subject.build_info.go_version))
    bom = Bom(
        components=components,
        serial_number=_stable_uuid(subject, "cyclonedx"),
        metadata=BomMetaData(component=main, timestamp=_timestamp(), tools=tools),
        properties=properties,
    )
    bom.register_dependency(main, components)
    return JsonV1Dot6(bom).output_as_string(indent=2), len(components)


def _spdx_id(text: str) -> str:
    return "SPDXRef-" + (_SPDX_ID_RE.sub("-", text).strip("-") or "package")


def _spdx_package(spdx_id: str, name: str, version: str | None, purl: str | None, purpose: str) -> dict:
    pkg: dict = {
        "name": name,
        "SPDXID": spdx_id,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": purpose,
    }
    if version:
        pkg["versionInfo"] = version
    if purl:
        pkg["externalRefs"] = [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}
        ]
    return pkg


def _spdx(subject: SbomSubject) -> tuple[str, int]:
    name, version, purl = _main(subject)
    main = _spdx_package(
        "SPDXRef-main", name, version, purl, "CONTAINER" if subject.kind == "image" else "APPLICATION"
    )
    if subject.sha256:
        main["checksums"] = [{"algorithm": "SHA256", "checksumValue": subject.sha256}]
    packages = [main]
    seen = {"SPDXRef-main"}
    entries: list[tuple[str, str, str, str]] = []
    if subject.build_info is not None:
        entries += [
            (n, v, p, "FRAMEWORK" if n == STDLIB else "LIBRARY")
            for n, v, p in _go_components(subject.build_info)
        ]
    entries += [
        (p.name, p.version, p.purl, "OPERATING-SYSTEM" if p.name == "base-files" else "LIBRARY")
        for p in subject.os_packages
    ]
    relationships = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-main",
        }
    ]
    for pkg_name, pkg_version, pkg_purl, purpose in entries:
        spdx_id = _spdx_id(pkg_purl.removeprefix("pkg:"))
        while spdx_id in seen:
            spdx_id += "-1"
        seen.add(spdx_id)
        packages.append(_spdx_package(spdx_id, pkg_name, pkg_version, pkg_purl, purpose))
        relationships.append(
            {"spdxElementId": "SPDXRef-main", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": spdx_id}
        )
    doc: dict = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject.name,
        "documentNamespace": f"https://goslim.invalid/spdx/{_stable_uuid(subject, 'spdx')}",
        "creationInfo": {
            "created": _timestamp().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [f"Tool: goslim-{__version__}"],
        },
        "packages": packages,
        "relationships": relationships,
    }
    if subject.partial_reasons:
        doc["comment"] = "Partial SBOM: " + "; ".join(subject.partial_reasons)
    return json.dumps(doc, indent=2) + "\n", len(packages) - 1
