"""The checklist as an attestation predicate, and back: proof that travels with the image.

The predicate carries the whole ``Checklist`` (each check with status, evidence and measured
figures, what was observed, the entrypoint's needs), the runtime and sandbox it ran under, the
run contract and verify options it ran with, and the set of checks this goslim knows. A cluster
reads ``passed`` and ``checks``; a later CI run reads the rest to decide whether the proof still
holds for what it is asked to verify (``reuse_mismatch``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from goslim import __version__
from goslim.contract import RunContract
from goslim.errors import UserInputError
from goslim.verify.catalog import CHECKS
from goslim.verify.models import Checklist, CheckStatus, VerifyOptions

PREDICATE_VERSION = 1


class CheckVerdict(BaseModel):
    """One check's id and status: what an admission policy reads."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: CheckStatus


class PlatformVerdict(BaseModel):
    """One platform of an attested image index: its manifest, how it ran, whether it passed."""

    model_config = ConfigDict(frozen=True)

    platform: str
    digest: str
    mode: str  # native, emulated or not run
    passed: bool


class VerificationPredicate(BaseModel):
    """goslim's verification predicate (type https://goslim.dev/attestations/verify/v1)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    version: int = PREDICATE_VERSION
    goslim: str  # the goslim version that ran the checks
    passed: bool  # no check failed
    check_set: tuple[str, ...] = Field(alias="checkSet")  # every check that goslim knew
    contract: RunContract | None = None  # the run contract verify ran with
    verify_options: VerifyOptions | None = Field(default=None, alias="verifyOptions")
    runtime: str = ""  # "runc 1.1.5"; "" when no container ran
    sandbox: tuple[str, ...] = ()  # how the run was confined
    checks: tuple[CheckVerdict, ...] = ()
    checklist: Checklist
    # On an image index: a row per platform (each manifest carries its own checklist); passed is all rows'.
    platforms: tuple[PlatformVerdict, ...] = ()
    # goslim.inputs: the digest of everything the image was made from, when goslim slim made it.
    inputs: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The predicate as it is signed: JSON with the camelCase names of the statement."""
        return self.model_dump(mode="json", by_alias=True)


def check_set() -> tuple[str, ...]:
    """The ids of every check this goslim can run: an attestation is reused only when it covers them."""
    return tuple(sorted(CHECKS))


def judging_options(options: VerifyOptions) -> VerifyOptions:
    """The options that decide a verdict: without the figures verify derives from the image itself."""
    return options.model_copy(update={"image_size_bytes": None, "rootfs_id_shift": None})


def verification_predicate(
    checklist: Checklist,
    contract: RunContract | None = None,
    options: VerifyOptions | None = None,
    inputs: str | None = None,
) -> VerificationPredicate:
    """The goslim verification predicate for ``checklist`` (and the contract and options it ran with,
    and the digest of the inputs the image was made from)."""
    observed = checklist.observed
    return VerificationPredicate(
        goslim=__version__,
        passed=checklist.ok,
        check_set=check_set(),
        contract=contract,
        verify_options=judging_options(options) if options is not None else None,
        runtime=checklist.runtime,
        sandbox=observed.sandbox if observed is not None else (),
        checks=tuple(CheckVerdict(id=r.id, status=r.status) for r in checklist.results),
        checklist=checklist,
        inputs=inputs,
    )


def parse_predicate(predicate: dict[str, Any]) -> VerificationPredicate:
    """A signed predicate read strictly: another tool's or version's predicate is bad input."""
    try:
        return VerificationPredicate.model_validate(predicate)
    except ValidationError as exc:
        raise UserInputError("the attestation does not carry a goslim checklist",
                             hint="it was written by another tool or another goslim version") from exc


def attested_checklist(predicate: dict[str, Any]) -> Checklist:
    """The checklist a verification predicate carries."""
    return parse_predicate(predicate).checklist


def reuse_mismatch(
    predicate: VerificationPredicate, contract: RunContract | None, options: VerifyOptions
) -> str | None:
    """Why this attested verification does not answer the run asked for; None when it does."""
    missing = sorted(set(check_set()) - set(predicate.check_set))
    if missing:
        return f"made by goslim {predicate.goslim}, which did not know the checks {', '.join(missing)}"
    if _unsourced(predicate.contract) != _unsourced(contract):
        return "the run contract changed: " + _contract_change(predicate.contract, contract)
    if predicate.verify_options != judging_options(options):
        return "the verify options changed: " + _diff(predicate.verify_options, judging_options(options))
    return None


def _unsourced(contract: RunContract | None) -> RunContract | None:
    """Where a value came from does not change how the service runs."""
    return contract.model_copy(update={"sources": {}}) if contract is not None else None


def _contract_change(before: RunContract | None, after: RunContract | None) -> str:
    if before is None or after is None:
        return "attested without one" if before is None else "none given now"
    return _diff(before, after)


def _diff(before: BaseModel | None, after: BaseModel | None) -> str:
    old = before.model_dump(mode="json") if before is not None else {}
    new = after.model_dump(mode="json") if after is not None else {}
    changed = [k for k in sorted(set(old) | set(new)) if k != "sources" and old.get(k) != new.get(k)]
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:4]) or "(no field)"
