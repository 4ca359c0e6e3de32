"""Verification attestations: sign what verify found onto the image, and reuse a signed verdict.

Chains the sign stage (DSSE/in-toto storage, cosign's layout) and the verify stage's predicate, as
goslim.pipeline chains stages; `goslim verify` and `goslim slim` both call it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict

from goslim.contract import RunContract
from goslim.errors import GoslimError, UserInputError
from goslim.oci import RegistryClient, RegistryError
from goslim.oci.descriptor import Descriptor, parse_json
from goslim.oci.image import Image
from goslim.oci.mediatypes import MANIFEST_TYPES
from goslim.oci.reference import ImageReference
from goslim.sign.attest import PREDICATE_TYPES, ImageAttestation, attest_image, check_attestations
from goslim.sign.locations import open_store
from goslim.sign.recursive import PlatformStore
from goslim.sign.store import ImageStore
from goslim.verify.models import Checklist, VerifyOptions
from goslim.verify.platforms import PlatformRun, reused_run
from goslim.verify.predicate import VerificationPredicate, parse_predicate, reuse_mismatch

TAG_PREFIX = "goslim-inputs-"  # + the inputs digest's hex: 78 characters, within a tag's 128

GOSLIM_TYPE = PREDICATE_TYPES["goslim"]
CYCLONEDX_TYPE = PREDICATE_TYPES["cyclonedx"]
MAX_SBOM_BYTES = 16 << 20


def inputs_tag(inputs: str) -> str:
    """The registry tag that points at the image built from inputs ``inputs`` (sha256:...)."""
    return TAG_PREFIX + inputs.removeprefix("sha256:")


class Reuse(BaseModel):
    """Whether a signed verification answers this run: the attested checklist, or why not."""

    model_config = ConfigDict(frozen=True)

    checklist: Checklist | None = None  # the attested checklist when it can be reused
    location: str | None = None  # where the reusable attestation was found
    goslim: str | None = None  # the goslim version that verified
    reason: str  # what was reused, or why nothing could be

    @property
    def reused(self) -> bool:
        return self.checklist is not None


def attest_verification(
    locations: Sequence[str], key: ec.EllipticCurvePrivateKey, predicate: VerificationPredicate
) -> list[ImageAttestation]:
    """Attach the signed verification predicate to the image at each location (replacing an older one)."""
    body = predicate.to_json()
    return [attest_image(loc, key, b"", GOSLIM_TYPE, body) for loc in locations]


def attest_sbom(
    locations: Sequence[str], key: ec.EllipticCurvePrivateKey, sbom: Path
) -> list[ImageAttestation]:
    """Attach the CycloneDX SBOM as a signed attestation (``cosign verify-attestation --type cyclonedx``)."""
    body = read_sbom(sbom)
    return [attest_image(loc, key, b"", CYCLONEDX_TYPE, body) for loc in locations]


def read_sbom(sbom: Path) -> dict:
    """An SBOM file as the predicate it is attested as: a JSON object of at most 16 MiB."""
    try:
        raw = sbom.read_bytes()[: MAX_SBOM_BYTES + 1]
        body = json.loads(raw) if len(raw) <= MAX_SBOM_BYTES else None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{sbom}: the SBOM is not a readable JSON file ({exc})") from exc
    if not isinstance(body, dict):
        raise UserInputError(f"{sbom}: the SBOM must be a JSON object of at most 16 MiB")
    return body


def find_reusable(
    locations: Sequence[str],
    key: ec.EllipticCurvePublicKey,
    contract: RunContract | None,
    options: VerifyOptions,
    *,
    image_digest: str | None = None,
    inputs: str | None = None,
    client: RegistryClient | None = None,
) -> Reuse:
    """The first valid goslim attestation, signed by ``key``, for the same image digest, contract,
    verify options and check set; else why none is (never raises on a bad or missing attestation).

    ``inputs``: also the same inputs digest (goslim.inputs), and every check passed: the attestation
    then stands for a build that is not made."""
    reasons: list[str] = []
    for location in locations:
        try:
            store = open_store(location, client)
        except GoslimError as exc:
            reasons.append(f"{location}: attestations unreadable: {exc.one_line()}")
            continue
        found = _reusable_at(location, store, key, contract, options, image_digest, inputs, reasons)
        if found is not None:
            return found
    return Reuse(reason="; ".join(reasons) or "no location to look in")


def find_reusable_platforms(
    locations: Sequence[str],
    images: Sequence[Image],
    key: ec.EllipticCurvePublicKey,
    contract: RunContract | None,
    options: VerifyOptions,
) -> dict[str, Reuse]:
    """For each platform image of an index, by platform: the checklist attested on its own manifest
    (where `goslim verify --attest` and `slim` leave one per platform), judged as ``find_reusable``
    judges one image's.

    A platform whose attested run started no container (no emulator for it then) is not reused:
    judging it again starts none either, and this machine may run it now."""
    stores: dict[str, ImageStore | str] = {}
    for location in locations:
        try:
            stores[location] = open_store(location)
        except GoslimError as exc:
            stores[location] = f"{location}: attestations unreadable: {exc.one_line()}"
    found: dict[str, Reuse] = {}
    for img in images:
        platform, digest = str(img.platform), str(img.digest)
        reasons: list[str] = []
        for location, store in stores.items():
            if isinstance(store, str):
                reasons.append(store)
                continue
            where = f"{location} ({platform})"
            reuse = _reusable_at(where, PlatformStore(store, digest), key, contract, options, None, None,
                                 reasons, ran_container=True)
            if reuse is not None:
                found[platform] = reuse
                break
        else:
            found[platform] = Reuse(reason="; ".join(reasons) or "no location to look in")
    return found


def reused_platform_runs(
    locations: Sequence[str],
    images: Sequence[Image],
    key: ec.EllipticCurvePublicKey,
    contract: RunContract | None,
    options: VerifyOptions,
    label: str,
) -> tuple[dict[str, PlatformRun], list[str]]:
    """The platforms ``find_reusable_platforms`` answers, as runs for ``verify_index``, and a line per
    platform saying what was reused or why it runs."""
    found = find_reusable_platforms(locations, images, key, contract, options)
    runs: dict[str, PlatformRun] = {}
    said = []
    for img in images:
        reuse = found[str(img.platform)]
        if reuse.checklist is None:
            said.append(f"running {img.platform}: no attestation to reuse: {reuse.reason}")
        else:
            said.append(reuse.reason)
            runs[str(img.platform)] = reused_run(img, reuse.checklist, label, reuse.reason)
    return runs, said


def _reusable_at(
    location: str,
    store: ImageStore,
    key: ec.EllipticCurvePublicKey,
    contract: RunContract | None,
    options: VerifyOptions,
    image_digest: str | None,
    inputs: str | None,
    reasons: list[str],
    *,
    ran_container: bool = False,
) -> Reuse | None:
    """The reusable attestation in ``store``; else None, with why not added to ``reasons``.
    ``ran_container``: only one whose verification started the container."""
    try:
        digest, checks = check_attestations(location, key, predicate_type=GOSLIM_TYPE, store=store)
    except GoslimError as exc:
        reasons.append(f"{location}: attestations unreadable: {exc.one_line()}")
        return None
    if image_digest is not None and digest != image_digest:
        reasons.append(f"{location} holds {digest}, not the image built now ({image_digest})")
        return None
    if not checks:
        reasons.append(f"no goslim attestation for {digest} at {location}")
    for check in checks:
        if not check.valid or check.predicate is None:
            reasons.append(f"{location}: attestation refused: {check.reason}")
            continue
        try:
            predicate = parse_predicate(check.predicate)
        except UserInputError as exc:
            reasons.append(f"{location}: {exc.message}")
            continue
        mismatch = reuse_mismatch(predicate, contract, options)
        if mismatch is None and inputs is not None:
            mismatch = _inputs_mismatch(predicate, inputs)
        if mismatch is None and ran_container and predicate.checklist.observed is None:
            mismatch = "the attested run started no container"
        if mismatch is not None:
            reasons.append(f"{location}: {mismatch}")
            continue
        return Reuse(
            checklist=predicate.checklist,
            location=location,
            goslim=predicate.goslim,
            reason=f"reused the signed verification of {digest} at {location} (goslim "
            f"{predicate.goslim}): the container was not run",
        )
    return None


def _inputs_mismatch(predicate: VerificationPredicate, inputs: str) -> str | None:
    if predicate.inputs != inputs:
        return f"attested for inputs {predicate.inputs or '(none)'}, not {inputs}"
    if not predicate.passed:
        return "the attested verification did not pass"
    return None


class ReusedImage(BaseModel):
    """An image already in the registry, made from the same inputs, with a valid passing verification
    signed by the key: what `goslim slim --reuse-attestation` reports instead of building it."""

    model_config = ConfigDict(frozen=True)

    reference: str  # REPO@sha256:...
    digest: str
    inputs: str  # the inputs digest the signed predicate carries
    goslim: str  # the goslim version that verified it
    key: str  # the key file the attestation was checked with
    pull_size: int  # manifest + config + compressed layers, as the image stage measures it
    checklist: Checklist  # the attested checklist
    image_config: dict[str, Any]  # the image's config (Entrypoint, Env, ExposedPorts, ...)

    def describe(self) -> str:
        """One line for every stage the reuse replaced."""
        return f"reused: image {self.digest} attested by {self.key} (goslim {self.goslim}, same inputs)"


class ImageReuse(BaseModel):
    """The registry look-up: the image to reuse, or why there is none (then every stage runs)."""

    model_config = ConfigDict(frozen=True)

    image: ReusedImage | None = None
    reason: str
    requests: int = 0  # HTTP requests the look-up made


def find_reused_image(
    to: str,
    key: ec.EllipticCurvePublicKey,
    key_name: str,
    inputs: str,
    contract: RunContract | None,
    options: VerifyOptions,
) -> ImageReuse:
    """The image tagged for ``inputs`` in ``to``'s repository, when its goslim attestation is signed by
    ``key``, names the same inputs, passed, and matches the contract, options and check set; else why
    not. A handful of requests: the tag's manifest, the ``.att`` manifest and envelope, the config."""
    reference = ImageReference.parse(to)
    tagged = reference.with_tag(inputs_tag(inputs))
    counted = CountingTransport()
    with RegistryClient(transport=counted) as client:
        try:
            manifest = client.get_manifest(tagged)
        except RegistryError as exc:
            why = (f"no image for these inputs in {reference.name} (tag {tagged.tag})" if exc.status == 404
                   else f"look-up failed: {exc.one_line()}")
            return ImageReuse(reason=why, requests=counted.requests)
        except GoslimError as exc:
            return ImageReuse(reason=f"look-up failed: {exc.one_line()}", requests=counted.requests)
        digest = str(manifest.digest)
        pinned = f"{reference.name}@{digest}"
        try:
            doc = parse_json(manifest.data, what=f"manifest {pinned}")
            if manifest.media_type not in MANIFEST_TYPES or not isinstance(doc, dict):
                return ImageReuse(reason=f"{pinned} is not one image manifest ({manifest.media_type})",
                                  requests=counted.requests)
            config_desc = Descriptor.from_dict(doc.get("config"), where=f"config of {pinned}")
            layers = [Descriptor.from_dict(d, where=f"layer of {pinned}") for d in doc.get("layers") or []]
        except GoslimError as exc:
            return ImageReuse(reason=f"{pinned}: {exc.one_line()}", requests=counted.requests)
        reuse = find_reusable([pinned], key, contract, options, image_digest=digest, inputs=inputs,
                              client=client)
        if reuse.checklist is None or reuse.goslim is None:
            return ImageReuse(reason=reuse.reason, requests=counted.requests)
        try:
            config = parse_json(client.fetch_config(reference, config_desc), what=f"config of {pinned}")
            if not isinstance(config, dict):
                return ImageReuse(reason=f"{pinned}: its config is not a JSON object",
                                  requests=counted.requests)
            if reference.tag is not None:  # --to REPO:TAG names the image, as a build would have pushed it
                client.put_manifest(reference, reference.tag, manifest.data, manifest.media_type)
        except GoslimError as exc:
            return ImageReuse(reason=f"{pinned}: {exc.one_line()}", requests=counted.requests)
        size = len(manifest.data) + config_desc.size + sum(d.size for d in layers)
        image = ReusedImage(reference=pinned, digest=digest, inputs=inputs, goslim=reuse.goslim, key=key_name,
                            pull_size=size, checklist=reuse.checklist, image_config=config)
        return ImageReuse(image=image, reason=image.describe(), requests=counted.requests)


def tag_inputs(location: str, inputs: str) -> str:
    """Tag the image at the registry ``location`` (REPO@DIGEST) for ``inputs``: where a later run with
    the same inputs looks it up. Returns the tagged reference."""
    reference = ImageReference.parse(location)
    with RegistryClient() as client:
        manifest = client.get_manifest(reference)
        tagged = reference.with_tag(inputs_tag(inputs))
        client.put_manifest(tagged, tagged.tag or "", manifest.data, manifest.media_type)
    return str(tagged)


class CountingTransport(httpx.HTTPTransport):
    """The registry client's HTTP transport, counting requests (the look-up says how many it made)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)
