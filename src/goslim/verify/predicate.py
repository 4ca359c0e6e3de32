"""The checklist as an attestation predicate, and back: proof that travels with the image.

The predicate carries the whole ``Checklist`` (each check with status, evidence and measured
figures, the runtime and sandbox it ran under, what was observed) and the run contract it ran
with, so a cluster or a later CI run can read the verdict without running the image again.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from goslim import __version__
from goslim.contract import RunContract
from goslim.errors import UserInputError
from goslim.verify.catalog import CHECKS
from goslim.verify.models import Checklist

PREDICATE_VERSION = 1


def check_set() -> list[str]:
    """The ids of every check this goslim can run: an attestation is reused only when it covers them."""
    return sorted(CHECKS)


def verification_predicate(checklist: Checklist, contract: RunContract | None = None) -> dict[str, Any]:
    """The goslim verification predicate for ``checklist`` (and the contract it ran with)."""
    return {
        "version": PREDICATE_VERSION,
        "goslim": __version__,
        "passed": checklist.ok,
        "checkSet": check_set(),
        "contract": contract.model_dump(mode="json") if contract is not None else None,
        "checklist": checklist.model_dump(mode="json"),
    }


def attested_checklist(predicate: dict[str, Any]) -> Checklist:
    """The checklist a verification predicate carries (the predicate was signed, but read it strictly)."""
    try:
        return Checklist.model_validate(predicate["checklist"])
    except (KeyError, TypeError, ValidationError) as exc:
        raise UserInputError("the attestation does not carry a goslim checklist",
                             hint="it was written by another tool or another goslim version") from exc
