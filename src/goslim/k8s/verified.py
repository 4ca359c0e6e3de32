"""What verify observed, read back from goslim slim's report.json or `goslim verify --json` output."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from goslim.contract import RunContract
from goslim.errors import UserInputError
from goslim.verify.models import Checklist, Observed


class Verified(BaseModel):
    """What a verified run left for the manifests."""

    model_config = ConfigDict(frozen=True)

    observed: Observed | None = None
    package: str | None = None  # the main package's import path (report.json only)
    contract: RunContract | None = None  # the run contract the run resolved (report.json only)


def read_verified(path: Path) -> Verified:
    """What verify observed (and, from report.json, the main package and the run contract) from
    goslim slim's report.json or `goslim verify --json` output."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UserInputError(
            f"--verified {path} does not exist", hint="pass goslim slim's report.json"
        ) from exc
    except (OSError, ValueError) as exc:
        raise UserInputError(f"--verified {path} is not readable JSON: {exc}") from exc
    try:
        if isinstance(data, dict) and "goslim_version" in data:  # report.json: the parts k8s reads
            checklist = data.get("checklist")
            observed = Checklist.model_validate(checklist).observed if checklist else None
            package = data.get("package")
            contract = data.get("contract")
            return Verified(
                observed=observed,
                package=package if isinstance(package, str) and package else None,
                contract=RunContract.model_validate(contract) if contract else None,
            )
        return Verified(observed=Checklist.model_validate(data).observed)
    except ValidationError as exc:
        raise UserInputError(
            f"--verified {path} is neither a goslim report.json nor goslim verify --json output",
            hint="pass the report.json goslim slim wrote",
        ) from exc
