"""What verify observed, read back from goslim slim's report.json or `goslim verify --json` output."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from goslim.errors import UserInputError
from goslim.verify.models import Checklist, Observed


def read_verified(path: Path) -> tuple[Observed | None, str | None]:
    """(what verify observed, the main package) from report.json or `goslim verify --json` output."""
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
            return observed, package if isinstance(package, str) and package else None
        return Checklist.model_validate(data).observed, None
    except ValidationError as exc:
        raise UserInputError(
            f"--verified {path} is neither a goslim report.json nor goslim verify --json output",
            hint="pass the report.json goslim slim wrote",
        ) from exc
