"""`goslim attest | verify-attestation`: signed in-toto attestations stored as cosign stores them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import line
from goslim.cli.sign import ImageArg, PrivateKeyOpt, PublicKeyOpt, private_key_path
from goslim.cli.verify import render_checklist
from goslim.errors import CheckFailedError, UserInputError
from goslim.sign.attest import PREDICATE_TYPES, AttestationCheck, predicate_type_uri
from goslim.sign.keys import load_private_key
from goslim.sign.password import read_password
from goslim.sign.recursive import RecursiveAttestationCheck, attest_recursive, verify_attestation_recursive
from goslim.verify.predicate import attested_checklist, parse_predicate

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
    """Attach a signed attestation (in-toto statement in a DSSE envelope) as `cosign attest` does.

    On an image index, as `cosign attest --recursive`: the index and each platform's manifest.
    """
    output = make_output(json_out)
    try:
        raw = predicate.read_bytes()[: MAX_PREDICATE_BYTES + 1]
        body = json.loads(raw) if len(raw) <= MAX_PREDICATE_BYTES else None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{predicate}: not a readable JSON file ({exc})") from exc
    if not isinstance(body, dict):
        raise UserInputError(f"{predicate}: the predicate must be a JSON object of at most 16 MiB")
    signer = load_private_key(private_key_path(key), read_password())
    done = attest_recursive(image, signer, predicate_type_uri(type_), body)
    result = done.image

    def render(c: Console) -> None:
        for what, one in (("", result), *((f"{p} ", a) for p, a in done.platforms.items())):
            c.print(line(("attested", "green"), f" {what}{one.image_digest} ({one.predicate_type}) as ",
                         one.attachment.tag), highlight=False)

    output.emit(done if done.platforms else result, render)


def verify_attestation_cmd(
    image: ImageArg,
    key: PublicKeyOpt,
    type_: TypeOpt = "goslim",
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check an image's attestation offline with a public key; print the checklist a goslim one carries.

    Exit 1 when there is no valid attestation or the checklist it carries has failed checks. For an
    image index, the index and every platform's manifest must carry one.
    """
    output = make_output(json_out)
    checked = verify_attestation_recursive(image, key, predicate_type_uri(type_))
    found = checked.image
    output.emit(checked if checked.platforms else found, lambda c: _render_all(c, checked))
    if found.predicate_type != PREDICATE_TYPES["goslim"]:
        return
    failed = [name for name, one in (("the index" if checked.platforms else "the image", found),
                                     *checked.platforms.items())
              if not (one.predicate or {}).get("passed")]
    if failed:
        raise CheckFailedError(f"the attested checklist of {', '.join(failed)} has failed checks",
                               hint="fix the image and verify it again with --attest")


def _render_all(console: Console, checked: RecursiveAttestationCheck) -> None:
    _render(console, checked.image)
    for platform, one in checked.platforms.items():
        console.print()
        console.print(line((platform, "bold"), f" {checked.digests[platform]}"), highlight=False)
        _render(console, one)


def _render(console: Console, found: AttestationCheck) -> None:
    console.print(line(("valid attestation", "green"), " ", found.predicate_type), highlight=False)
    if found.predicate_type == PREDICATE_TYPES["goslim"] and found.predicate is not None:
        console.print(f"  goslim {found.predicate.get('goslim')}, contract: "
                      f"{json.dumps(found.predicate.get('contract'))}", highlight=False, markup=False)
        rows = parse_predicate(found.predicate).platforms
        if not rows:
            render_checklist(console, attested_checklist(found.predicate))
        for row in rows:  # an index: each platform's checklist is on its own manifest
            verdict = ("passed", "green") if row.passed else ("failed", "bold red")
            console.print(line(f"  {row.platform} {row.digest[:19]} {row.mode}: ", verdict), highlight=False)
