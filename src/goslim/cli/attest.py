"""`goslim attest | verify-attestation`: signed in-toto attestations stored as cosign stores them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.sign import ImageArg, PrivateKeyOpt, PublicKeyOpt, private_key_path
from goslim.cli.verify import render_checklist
from goslim.errors import CheckFailedError, UserInputError
from goslim.sign.attest import (
    PREDICATE_TYPES,
    AttestationCheck,
    attest_image,
    predicate_type_uri,
    verify_attestation,
)
from goslim.sign.password import read_password
from goslim.verify.predicate import attested_checklist

MAX_PREDICATE_BYTES = 16 << 20
TypeOpt = Annotated[
    str, typer.Option("--type", help=f"Predicate type: {', '.join(PREDICATE_TYPES)} or a URI.")
]


def register(app: typer.Typer) -> None:
    app.command("attest")(attest)
    app.command("verify-attestation")(verify_attestation_cmd)


def attest(
    image: ImageArg,
    predicate: Annotated[Path, typer.Option(help="The predicate: a JSON file (an SBOM, a checklist, ...).")],
    type_: TypeOpt = "cyclonedx",
    key: PrivateKeyOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Attach a signed attestation (in-toto statement in a DSSE envelope) as `cosign attest` does."""
    output = make_output(json_out)
    try:
        raw = predicate.read_bytes()[: MAX_PREDICATE_BYTES + 1]
        body = json.loads(raw) if len(raw) <= MAX_PREDICATE_BYTES else None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{predicate}: not a readable JSON file ({exc})") from exc
    if not isinstance(body, dict):
        raise UserInputError(f"{predicate}: the predicate must be a JSON object of at most 16 MiB")
    result = attest_image(image, private_key_path(key), read_password(), predicate_type_uri(type_), body)
    output.emit(result, lambda c: c.print(
        f"[green]attested[/] {result.image_digest} ({result.predicate_type}) as {result.attachment.tag}",
        highlight=False))


def verify_attestation_cmd(
    image: ImageArg,
    key: PublicKeyOpt,
    type_: TypeOpt = "goslim",
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check an image's attestation offline with a public key; print the checklist a goslim one carries.

    Exit 1 when there is no valid attestation or the checklist it carries has failed checks.
    """
    output = make_output(json_out)
    found = verify_attestation(image, key, predicate_type_uri(type_))
    output.emit(found, lambda c: _render(c, found))
    if found.predicate_type == PREDICATE_TYPES["goslim"] and not (found.predicate or {}).get("passed"):
        raise CheckFailedError("the attested checklist has failed checks",
                               hint="fix the image and verify it again with --attest")


def _render(console: Console, found: AttestationCheck) -> None:
    console.print(f"[green]valid attestation[/] {found.predicate_type}", highlight=False)
    if found.predicate_type == PREDICATE_TYPES["goslim"] and found.predicate is not None:
        console.print(f"  goslim {found.predicate.get('goslim')}, contract: "
                      f"{json.dumps(found.predicate.get('contract'))}", highlight=False, markup=False)
        render_checklist(console, attested_checklist(found.predicate))
