"""`goslim verify`: run an image for real under an OCI runtime and judge it check by check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console
from rich.table import Table

from goslim.attestation import GOSLIM_TYPE, attest_verification, find_reusable, reused_platform_runs
from goslim.cli.causes import render_causes
from goslim.cli.contract_options import (
    ArgOpt,
    ContractCommand,
    EnvOpt,
    HealthOpt,
    NameOpt,
    PortOpt,
    ReadinessOpt,
    WritableOpt,
    contract_flags,
)
from goslim.cli.options import DebugOpt, JsonOpt, make_output
from goslim.cli.output import Output, line, plain
from goslim.config import GoslimConfig, load_config
from goslim.contract import RunContract
from goslim.contract_resolve import resolve_contract
from goslim.errors import CheckFailedError, UserInputError
from goslim.fsutil import write_text_atomic
from goslim.oci.image import Index
from goslim.platform import Platform, parse_platforms
from goslim.sign.keys import KeyFile
from goslim.sign.locations import open_store
from goslim.sign.password import read_password
from goslim.sign.recursive import attest_recursive
from goslim.verify import Checklist, CheckStatus, VerifyOptions, verify_image, verify_rootfs
from goslim.verify.export import platforms_junit, to_junit, to_markdown
from goslim.verify.image import load_image_or_index
from goslim.verify.options import options_from_config
from goslim.verify.platforms import (
    PlatformChecklists,
    PlatformRun,
    platform_predicates,
    select_images,
    verify_index,
)
from goslim.verify.predicate import verification_predicate

ROOTFS_PREFIX = "rootfs:"
STYLES = {
    CheckStatus.PASS: "green",
    CheckStatus.WARN: "yellow",
    CheckStatus.FAIL: "bold red",
    CheckStatus.SKIP: "dim",
}


def register(app: typer.Typer) -> None:
    app.command("verify", cls=ContractCommand)(verify)


def verify(
    image: Annotated[
        str, typer.Argument(help="oci:PATH[:TAG], docker-archive:PATH, HOST/REPO[:TAG], or rootfs:DIR")
    ],
    name: NameOpt = None,
    arg: ArgOpt = None,
    env: EnvOpt = None,
    port: PortOpt = None,
    health: HealthOpt = None,
    readiness: ReadinessOpt = None,
    writable: WritableOpt = None,
    grace: Annotated[float | None, typer.Option(help="Seconds to wait after SIGTERM (default 30).")] = None,
    alive: Annotated[float | None, typer.Option(
        help="Seconds it must stay up once ready, probed for liveness (default 5).")] = None,
    runtime: Annotated[str | None, typer.Option(help="OCI runtime: runc (default) or crun.")] = None,
    check: Annotated[list[str] | None, typer.Option("--check", help="Only these checks or groups.")] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Skip these checks or groups.")] = None,
    max_image_mb: Annotated[float | None, typer.Option(help="Image size budget in MiB.")] = None,
    max_binary_mb: Annotated[float | None, typer.Option(help="Binary size budget in MiB.")] = None,
    image_config: Annotated[Path | None, typer.Option(help="OCI image config JSON (for rootfs:DIR).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write JUnit XML here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Also write a Markdown summary here.")] = None,
    platform: Annotated[str | None, typer.Option(
        help="Of an image index, verify only these (comma list); default: every platform.")] = None,
    attest: Annotated[
        bool, typer.Option("--attest", help="Sign the checklist onto the image as a goslim attestation.")
    ] = False,
    reuse_attestation: Annotated[
        bool,
        typer.Option(
            "--reuse-attestation",
            help="Skip the run when a valid goslim attestation for this digest, contract and check set "
            "exists (signed by --key).",
        ),
    ] = False,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="cosign.key for --attest (password from COSIGN_PASSWORD); cosign.pub or cosign.key for "
            "--reuse-attestation (default: goslim.yaml sign.key).",
        ),
    ] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run the image under runc and check it starts, logs, answers probes, stops on SIGTERM, and more."""
    output = make_output(json_out)
    config = load_config(Path.cwd())
    flags = contract_flags(name, arg, env, port, health, readiness, writable)
    # The image's own Cmd, Env and EXPOSE are already in the image: verify needs only what was given.
    contract = resolve_contract(flags, config.service)
    options = options_from_config(
        config.verify,
        contract,
        grace=grace,
        alive=alive,
        runtime=runtime,
        check=check,
        skip=skip,
        max_image_mb=max_image_mb,
        max_binary_mb=max_binary_mb,
    )
    wanted = parse_platforms(platform) if platform else None
    if not image.startswith(ROOTFS_PREFIX):
        with output.progress("reading the image"):
            found = load_image_or_index(image)
        if isinstance(found, Index):
            index_key = _attestation_key(image, config, key, attest=attest, reuse=reuse_attestation)
            index_signer = index_key.private() if attest and index_key else None
            reused: dict[str, PlatformRun] = {}
            if reuse_attestation and index_key:
                reused, said = reused_platform_runs([image], select_images(found, wanted), index_key.public(),
                                                    contract, options, image)
                for one in said:
                    output.note(one)
            _verify_index(output, found, image, options, wanted, junit, markdown,
                          attest=(index_signer, contract) if index_signer else None, reused=reused)
            return
        if wanted and not any(p.matches(found.platform) for p in wanted):
            raise UserInputError(f"{image} is one linux/{found.platform.architecture} image, not an index",
                                 hint="leave out --platform, or give an image index")
    key_file = _attestation_key(image, config, key, attest=attest, reuse=reuse_attestation)
    # Key and location are checked before the run: a wrong password or a docker-archive wastes nothing.
    signer = key_file.private() if attest and key_file else None
    checklist = None
    if reuse_attestation and key_file:
        reuse = find_reusable([image], key_file.public(), contract, options)
        checklist = reuse.checklist
        output.note(reuse.reason if reuse.reused else f"running it: no attestation to reuse: {reuse.reason}")
    if checklist is None:
        with output.progress("verify") as step:
            if image.startswith(ROOTFS_PREFIX):
                rootfs = Path(image[len(ROOTFS_PREFIX) :])
                checklist = verify_rootfs(
                    rootfs, read_image_config(image_config), options, label=image, progress=step
                )
            else:
                checklist = verify_image(image, options, progress=step)
        if signer is not None:
            predicate = verification_predicate(checklist, contract, options)
            for done in attest_verification([image], signer, predicate):
                output.note(line(("attested", "green"), f" {done.image_digest} as {done.attachment.tag}"))
    output.emit(checklist, lambda c: render_checklist(c, checklist))
    if junit:
        write_text_atomic(junit, to_junit(checklist))
    if markdown:
        write_text_atomic(markdown, to_markdown(checklist))
    if not checklist.ok:
        failed = ", ".join(r.id for r in checklist.failed)
        raise CheckFailedError(
            f"{len(checklist.failed)} check(s) failed: {failed}",
            hint="see the evidence above; --skip CHECK to accept a known gap",
        )


def _verify_index(
    output: Output, index: Index, image: str, options: VerifyOptions, wanted: tuple[Platform, ...] | None,
    junit: Path | None, markdown: Path | None,
    *, attest: tuple[ec.EllipticCurvePrivateKey, RunContract] | None = None,
    reused: dict[str, PlatformRun] | None = None,
) -> None:
    """Every platform of an index (or the ``--platform`` ones), a checklist each, one verdict.

    With ``attest`` (key, contract): each verified platform's manifest gets its own checklist as a
    goslim attestation, and the index one with a row per platform; nothing is signed again when every
    platform was answered by its attestation (``reused``).
    """
    with output.progress("verify") as step:
        result = verify_index(index, options, label=image, platforms=wanted, progress=step, reused=reused)
    if attest is not None and any(r.reused is None for r in result.runs):
        signer, contract = attest
        on_index, mine = platform_predicates(result, contract, options)
        done = attest_recursive(image, signer, GOSLIM_TYPE, on_index.to_json(),
                                per_platform={p: m.to_json() for p, m in mine.items()})
        for what, one in (("index", done.image), *done.platforms.items()):
            output.note(line(("attested", "green"), f" {what} {one.image_digest} as {one.attachment.tag}"))
    output.emit(result, lambda c: render_platforms(c, result))
    if junit:
        write_text_atomic(junit, platforms_junit(result))
    if markdown:
        write_text_atomic(markdown, "\n".join(to_markdown(r.checklist) for r in result.runs))
    if not result.ok:
        rows = "; ".join(f"{r.platform}: {', '.join(c.id for c in r.checklist.failed)}"
                         for r in result.failed)
        raise CheckFailedError(
            f"{len(result.failed)} of {len(result.runs)} platform(s) failed checks ({rows})",
            hint="see each platform's evidence above; --platform to verify a subset",
        )


def render_platforms(console: Console, result: PlatformChecklists) -> None:
    for run in result.runs:
        render_checklist(console, run.checklist)
    table = Table(title=line(f"goslim verify {result.image}: index {result.index_digest[:19]}"),
                  title_justify="left")
    for col in ("platform", "ran", "result", "checks"):
        table.add_column(col)
    for run in result.runs:
        counts = run.checklist.counts()
        verdict = "[green]ok[/]" if run.ok else "[bold red]failed[/]"
        tally = f"{counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, {counts['skip']} skip"
        table.add_row(line(run.platform), line(run.how), verdict, tally)
    console.print(table)


def _attestation_key(
    image: str, config: GoslimConfig, key: Path | None, *, attest: bool, reuse: bool
) -> KeyFile | None:
    """The key --attest signs with and --reuse-attestation checks with (its password asked at most
    once); None when neither was asked."""
    if not (attest or reuse):
        return None
    flag = "--attest" if attest else "--reuse-attestation"
    if image.startswith(ROOTFS_PREFIX):
        raise UserInputError(f"{flag} needs an image, not a rootfs: attestations are stored beside an image",
                             hint="verify oci:PATH[:TAG] or a registry reference")
    open_store(image)  # a docker-archive cannot hold attestations: say so before the run
    chosen = key or (Path(config.sign.key) if config.sign.key else None)
    if chosen is None:
        raise UserInputError(f"{flag} needs --key", hint="pass --key cosign.key (or sign.key in goslim.yaml)")
    return KeyFile(chosen, read_password)


def read_image_config(path: Path | None) -> dict:
    if path is None:
        raise UserInputError(
            "rootfs:DIR needs --image-config FILE (the image's config JSON)",
            hint="or verify the image itself: oci:PATH[:TAG]",
        )
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UserInputError(f"image config {path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise UserInputError(
            f"image config {path} is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from exc
    if not isinstance(data, dict):
        raise UserInputError(f"image config {path} must be a JSON object")
    return data


def render_checklist(console: Console, checklist: Checklist) -> None:
    title = f"goslim verify {checklist.image} ({checklist.platform}, {checklist.runtime or 'static only'})"
    table = Table(title=line(title), title_justify="left")
    for col in ("check", "result", "summary", "time"):
        table.add_column(col, justify="right" if col == "time" else "left")
    for r in checklist.results:
        table.add_row(
            r.id, f"[{STYLES[r.status]}]{r.status.value}[/]", plain(r.summary), f"{r.seconds:.2f}s"
        )
    console.print(table)
    render_causes(console, checklist)
    counts = checklist.counts()
    net = checklist.seconds - checklist.deliberate_wait_seconds
    console.print(
        f"{counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, {counts['skip']} skip in "
        f"{checklist.seconds:.1f}s ({net:.1f}s without the deliberate waits)",
        highlight=False,
    )
