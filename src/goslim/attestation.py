"""Verification attestations: sign what verify found onto the image, and reuse a signed verdict.

Chains the sign stage (DSSE/in-toto storage, cosign's layout) and the verify stage's predicate, as
goslim.pipeline chains stages; `goslim verify` and `goslim slim` both call it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict

from goslim.contract import RunContract
from goslim.errors import GoslimError, UserInputError
from goslim.sign.attest import PREDICATE_TYPES, ImageAttestation, attest_image, check_attestations
from goslim.verify.models import Checklist, VerifyOptions
from goslim.verify.predicate import VerificationPredicate, parse_predicate, reuse_mismatch

GOSLIM_TYPE = PREDICATE_TYPES["goslim"]
CYCLONEDX_TYPE = PREDICATE_TYPES["cyclonedx"]
MAX_SBOM_BYTES = 16 << 20


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
) -> Reuse:
    """The first valid goslim attestation, signed by ``key``, for the same image digest, contract,
    verify options and check set; else why none is (never raises on a bad or missing attestation)."""
    reasons: list[str] = []
    for location in locations:
        try:
            digest, checks = check_attestations(location, key, predicate_type=GOSLIM_TYPE)
        except GoslimError as exc:
            reasons.append(f"{location}: attestations unreadable: {exc.one_line()}")
            continue
        if image_digest is not None and digest != image_digest:
            reasons.append(f"{location} holds {digest}, not the image built now ({image_digest})")
            continue
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
    return Reuse(reason="; ".join(reasons) or "no location to look in")
