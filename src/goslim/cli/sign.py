"""`goslim keygen | sign | verify-signature | sign-blob | verify-blob`: cosign-compatible signatures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import line, plain
from goslim.config import load_config
from goslim.errors import UserInputError
from goslim.sign import (
    BlobSignature,
    ImageSignature,
    SignatureReport,
    sign_blob,
    verify_blob,
    write_key_pair,
)
from goslim.sign.password import read_password
from goslim.sign.recursive import (
    RecursiveSignature,
    RecursiveSignatureReport,
    sign_recursive,
    verify_recursive,
)

ImageArg = Annotated[
    str, typer.Argument(help="oci:DIR[:TAG] or a registry reference HOST/REPO[:TAG|@DIGEST].")
]
FileArg = Annotated[Path, typer.Argument(help="The file (binary) to sign or verify.")]
PrivateKeyOpt = Annotated[
    Path | None,
    typer.Option("--key", help="cosign.key (default: goslim.yaml sign.key; password from COSIGN_PASSWORD)."),
]
PublicKeyOpt = Annotated[Path, typer.Option("--key", help="cosign.pub.")]
SigOpt = Annotated[Path | None, typer.Option("--signature", help="Signature file (default: FILE.sig).")]


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)
    app.command("sign")(sign)
    app.command("verify-signature")(verify_signature)
    app.command("sign-blob")(sign_blob_cmd)
    app.command("verify-blob")(verify_blob_cmd)


def keygen(
    out: Annotated[Path, typer.Option(help="Directory for cosign.key and cosign.pub.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing key pair.")] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Make an ECDSA P-256 key pair in cosign's format (cosign.key encrypted, cosign.pub)."""
    output = make_output(json_out)
    pair = write_key_pair(out, read_password(confirm=True), overwrite=force)
    result = {"private_key": str(pair.private_key), "public_key": str(pair.public_key)}
    output.emit(
        result,
        lambda c: c.print(
            plain(f"Private key written to {pair.private_key}\nPublic key written to {pair.public_key}",
                  multiline=True),
            highlight=False,
        ),
    )


def sign(
    image: ImageArg, key: PrivateKeyOpt = None, json_out: JsonOpt = False, debug: DebugOpt = False
) -> None:
    """Sign an image by digest; the signature is stored as cosign stores it (sha256-<hex>.sig).

    An image index is signed as `cosign sign --recursive` signs it: the index and each platform's manifest.
    """
    output = make_output(json_out)
    result = sign_recursive(image, private_key_path(key), read_password())
    output.emit(result if result.platforms else result.image, lambda c: _render_signed_all(c, result))


def verify_signature(
    image: ImageArg, key: PublicKeyOpt, json_out: JsonOpt = False, debug: DebugOpt = False
) -> None:
    """Verify an image's cosign signatures with a public key (exit 1 when none matches).

    For an image index, the index and every platform's manifest must carry a matching signature.
    """
    output = make_output(json_out)
    report = verify_recursive(image, key)
    output.emit(report if report.platforms else report.image, lambda c: _render_verified_all(c, report))


def sign_blob_cmd(
    file: FileArg,
    key: PrivateKeyOpt = None,
    signature: SigOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Detached signature for a file: writes FILE.sig (as `cosign sign-blob`) and FILE.sha256."""
    output = make_output(json_out)
    result = sign_blob(file, private_key_path(key), read_password(), signature)
    output.emit(result, lambda c: _render_blob(c, result, "signed"))


def verify_blob_cmd(
    file: FileArg,
    key: PublicKeyOpt,
    signature: SigOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Verify a file against FILE.sha256 and its detached signature."""
    output = make_output(json_out)
    result = verify_blob(file, key, signature)
    output.emit(result, lambda c: _render_blob(c, result, "verified"))


def private_key_path(key: Path | None) -> Path:
    """--key, else goslim.yaml's sign.key, else a clear error."""
    if key is not None:
        return key
    configured = load_config(Path.cwd()).sign.key
    if configured:
        return Path(configured)
    raise UserInputError("no signing key", hint="pass --key cosign.key or set sign.key in goslim.yaml")


def _render_signed_all(console: Console, result: RecursiveSignature) -> None:
    _render_signed(console, result.image)
    for platform, signed in result.platforms.items():
        console.print(line(("  signed", "green"), f" {platform} {signed.image_digest} as ",
                           signed.attachment.tag), highlight=False)


def _render_verified_all(console: Console, report: RecursiveSignatureReport) -> None:
    _render_verified(console, report.image)
    for platform, checked in report.platforms.items():
        good = sum(c.valid for c in checked.checks)
        console.print(line(("  verified", "green"), f" {platform} {checked.image_digest}: {good} of "
                           f"{len(checked.checks)} signature(s) match the key"), highlight=False)


def _render_signed(console: Console, result: ImageSignature) -> None:
    console.print(line(("signed", "green"), f" {result.location} {result.image_digest}"), highlight=False)
    console.print(
        line(f"  signature tag {result.attachment.tag} ({result.attachment.layers} signature(s))"),
        highlight=False,
    )


def _render_verified(console: Console, report: SignatureReport) -> None:
    good = sum(c.valid for c in report.checks)
    console.print(
        line(("verified", "green"), f" {report.location} {report.image_digest}: "
             f"{good} of {len(report.checks)} signature(s) match the key"),
        highlight=False,
    )
    for c in report.checks:
        if not c.valid:
            console.print(line("  ", (f"other signature {c.payload_digest[:19]}: {c.reason}", "dim")),
                          highlight=False)


def _render_blob(console: Console, result: BlobSignature, verb: str) -> None:
    console.print(line((verb, "green"), f" {result.path} sha256:{result.sha256}"), highlight=False)
    console.print(line(f"  signature {result.signature_path}, checksum {result.checksum_path}"),
                  highlight=False)
