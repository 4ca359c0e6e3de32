"""The main job, `goslim slim`: every stage in order, each result kept even when a later one fails.

Data flows one way: build → analyze → upx → image → verify → scan → sign → report.
A stage that fails is recorded with its one-line reason; stages that need its output
are skipped with the reason; the report always renders what was learned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from goslim import __version__
from goslim.binary import analyze
from goslim.config import GoslimConfig
from goslim.dockerfile.generate import plan_dockerfile, write_dockerfile
from goslim.dockerfile.needs import needs_from_report
from goslim.errors import ExitStatus, GoslimError, UserInputError
from goslim.fsutil import write_text_atomic
from goslim.gobuild import BuildOptions, GoToolchain, Profile, build_binaries, run_ablation
from goslim.image import ImageOptions, assemble
from goslim.image.compare import Variant, compare_bases
from goslim.image.startcheck import check_starts
from goslim.k8s import build_manifests, plan_k8s
from goslim.oci import ImageLocation, RegistryClient, push, write_image
from goslim.platform import Platform
from goslim.probe import ProbeSpec
from goslim.report import evaluate_claims, goroutine_dump, report_paths, write_report
from goslim.report.models import BaseRow, JourneyStep, SlimRun, StageOutcome
from goslim.scan import run_scan
from goslim.scan.errors import VulnDbError
from goslim.sign import sign_image
from goslim.sign.password import read_password
from goslim.upx import Budget, apply_policy
from goslim.verify import verify_image
from goslim.verify.options import options_from_config

T = TypeVar("T")
IMAGE_TAG = "latest"


@dataclass(frozen=True)
class SlimOptions:
    """What `goslim slim` was asked to do; built from goslim.yaml and flags by the CLI."""

    module_dir: Path
    config: GoslimConfig
    out_dir: Path
    package: str = "."
    platform: Platform = field(default_factory=lambda: Platform(os="linux", architecture="amd64"))
    ablation: bool = True
    compare: bool = True
    upx_policy: str = "off"
    to: str | None = None  # extra destination: registry reference or docker-archive:PATH
    mount_from: tuple[str, ...] = ()  # registry repositories whose blobs a push may mount instead of upload
    db: Path | None = None
    key: Path | None = None
    key_password: bytes | None = None


class StageRecorder:
    """Runs stages, timing each and turning a GoslimError into a recorded failure."""

    def __init__(self, on_stage: Callable[[StageOutcome], None] | None = None) -> None:
        self.outcomes: list[StageOutcome] = []
        self.first_error: GoslimError | None = None
        self.policy_failed = False  # a policy (scan --fail-on) failed although the stage ran
        self._pending: dict[str, list[str]] = {}
        self._on_stage = on_stage or (lambda _o: None)

    def run(self, name: str, fn: Callable[[], T]) -> T | None:
        start = time.monotonic()
        try:
            value = fn()
        except GoslimError as exc:
            self._record(
                StageOutcome(
                    stage=name,
                    status="failed",
                    seconds=time.monotonic() - start,
                    message=exc.one_line(),
                    hint=exc.hint,
                )
            )
            self.first_error = self.first_error or exc
            return None
        self._record(StageOutcome(stage=name, status="ok", seconds=time.monotonic() - start))
        return value

    def note(self, name: str, text: str) -> None:
        """Attach a one-line remark to a stage; a stage still running gets it when it is recorded."""
        for i, outcome in enumerate(self.outcomes):
            if outcome.stage == name:
                message = f"{outcome.message}; {text}" if outcome.message else text
                self.outcomes[i] = outcome.model_copy(update={"message": message})
                return
        self._pending.setdefault(name, []).append(text)

    def skip(self, name: str, why: str) -> None:
        self._record(StageOutcome(stage=name, status="skipped", message=why))

    def _record(self, outcome: StageOutcome) -> None:
        pending = self._pending.pop(outcome.stage, [])
        if pending:
            outcome = outcome.model_copy(
                update={"message": "; ".join(filter(None, [outcome.message, *pending]))}
            )
        self.outcomes.append(outcome)
        self._on_stage(outcome)


def check_writable(out_dir: Path) -> None:
    """Refuse an output directory goslim cannot write before any work is done."""
    probe_dir = out_dir
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir() or not os.access(probe_dir, os.W_OK | os.X_OK):
        raise UserInputError(
            f"cannot write the report to {out_dir}: {probe_dir} is not a writable directory",
            hint="pass --report DIR pointing at a writable place",
        )


def run_slim(opts: SlimOptions, on_stage: Callable[[StageOutcome], None] | None = None) -> SlimRun:
    """The whole job on one main package; returns everything for the report (which it also writes)."""

    check_writable(opts.out_dir)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    t0 = time.monotonic()
    stages = StageRecorder(on_stage)
    cfg = opts.config
    toolchain = GoToolchain(opts.module_dir)
    build_opts = BuildOptions(
        profile=Profile.SLIM, platform=opts.platform, tags=tuple(cfg.build.tags), x=dict(cfg.build.x)
    )
    bin_dir = opts.out_dir / "bin"

    binaries = stages.run("build", lambda: build_binaries(toolchain, [opts.package], bin_dir, [build_opts]))
    binary = binaries[0] if binaries else None
    ablation = (
        stages.run("ablation", lambda: run_ablation(toolchain, opts.package, build_opts))
        if opts.ablation and binary
        else None
    )
    if not opts.ablation:
        stages.skip("ablation", "--no-ablation")

    analysis = stages.run("analyze", lambda: analyze(binary.path)) if binary else None
    upx_report, shipped = _upx_stage(stages, opts, binary)
    assembled, location = _image_stage(stages, opts, shipped, analysis)
    bases = _compare_stage(stages, opts, binary, shipped, analysis) if opts.compare and assembled else []
    checklist = _verify_stage(stages, opts, location, assembled)
    scan, sbom = _scan_stage(stages, opts, binary, shipped, location)
    signature = _sign_stage(stages, opts, location)
    deploy_files = _deploy_stage(stages, opts, analysis, assembled, location, checklist)

    # Guides say a stripped binary cannot be symbolised; run it and look at its own stack dump.
    stack = stages.run("claims", lambda: goroutine_dump(binary.path)) if analysis and analysis.is_go else None
    claims = evaluate_claims(ablation, upx_report, bases, stack, analysis.elf.stripped if analysis else None)
    exit_status = _exit_status(stages, checklist)
    run = SlimRun(
        goslim_version=__version__,
        module_dir=str(opts.module_dir),
        package=binary.package if binary else opts.package,
        started=started,
        stages=stages.outcomes,
        ablation=ablation,
        binary=binary,
        analysis=analysis,
        upx=upx_report,
        image=assembled.model_dump(mode="json") if assembled else None,
        image_location=location,
        bases=bases,
        checklist=checklist,
        scan=scan.model_dump(mode="json") if scan else None,
        sbom=sbom,
        signature=signature,
        claims=claims,
        journey=_journey(ablation, binary, shipped, assembled),
        exit_status=int(exit_status),
    )
    outputs = {"binary": str(shipped.path) if shipped else "", "image": location or "", **deploy_files}
    outputs |= {f"report ({kind})": str(path) for kind, path in report_paths(opts.out_dir).items()}
    run = run.model_copy(
        update={"seconds": time.monotonic() - t0, "outputs": {k: v for k, v in outputs.items() if v}}
    )
    write_report(run, opts.out_dir)
    return run


def _upx_stage(stages: StageRecorder, opts: SlimOptions, binary: Any) -> tuple[Any, Any]:
    if binary is None:
        return None, None
    if opts.upx_policy == "off":
        stages.skip("upx", "policy off (use --upx auto to measure and decide)")
        return None, binary

    verify_cfg = opts.config.verify
    probe = (
        ProbeSpec(
            kind="http", port=verify_cfg.port, path=verify_cfg.readiness or verify_cfg.health or "/healthz"
        )
        if verify_cfg.port
        else None
    )
    budget = Budget.from_config(opts.config.upx, opts.config.image.compression)

    def decide() -> tuple[Any, Any]:
        shipped, report = apply_policy(
            binary,
            opts.upx_policy,
            budget,
            probe,
            auto_levels=tuple(opts.config.upx.levels),
            work_dir=opts.out_dir / "upx",
        )
        if report is not None:
            stages.note("upx", report.decision.reason)  # shown with the stage's line
        return shipped, report

    result = stages.run("upx", decide)
    if result is None:
        return None, binary
    shipped, report = result
    return report, shipped


def _image_stage(
    stages: StageRecorder, opts: SlimOptions, binary: Any, analysis: Any
) -> tuple[Any, str | None]:
    if binary is None or analysis is None:
        stages.skip("image", "needs a built and analyzed binary")
        return None, None

    image_opts = ImageOptions.from_config(opts.config.image)
    location = f"oci:{opts.out_dir / 'image'}:{IMAGE_TAG}"

    def build_and_write() -> Any:
        assembled = assemble(binary, analysis, opts.config.image.base, image_opts)
        write_image(location, assembled.image)
        if opts.to:
            _publish(stages, assembled.image, opts.to, opts.mount_from)
        return assembled

    assembled = stages.run("image", build_and_write)
    return assembled, (location if assembled else None)


def _publish(stages: StageRecorder, image: Any, to: str, mount_from: tuple[str, ...]) -> None:
    """Write the image to ``to``; a registry push skips blobs already there and mounts shared ones."""
    destination = ImageLocation.parse(to)
    if destination.reference is None:
        write_image(destination, image)
        return
    with RegistryClient() as client:
        result = push(image, destination.reference, client, mount_from=mount_from)
    counts = ", ".join(f"{n} {what}" for what, n in sorted(Counter(result.blobs.values()).items()))
    stages.note("image", f"pushed {result.pinned} ({counts})")


def _compare_stage(
    stages: StageRecorder, opts: SlimOptions, binary: Any, shipped: Any, analysis: Any
) -> list[BaseRow]:
    """The same service on the chosen base, static and scratch (and packed, when UPX was chosen)."""

    cfg = opts.config
    start_options = options_from_config(cfg.verify)

    def compare() -> list[BaseRow]:
        variants = [Variant(label="off", binary=binary, report=analysis)]
        if shipped is not None and shipped.path != binary.path:
            variants.append(
                Variant(
                    label=shipped.profile.rsplit("upx-", 1)[-1],
                    binary=shipped,
                    report=analyze(shipped.path),
                )
            )
        bases = list(dict.fromkeys([cfg.image.base, "static", "scratch"]))
        result = compare_bases(
            variants,
            bases,
            ImageOptions.from_config(cfg.image),
            start_checker=lambda image: check_starts(image, start_options),
        )
        return [
            BaseRow(
                base=r.base,
                upx=r.variant,
                pull_size=r.pull_size or 0,
                disk_size=r.disk_size or 0,
                layers=r.layers or 0,
                files=r.files or 0,
                starts=r.starts if not r.error else False,
                detail=r.error or (r.start.detail if r.start else ""),
            )
            for r in result.rows
        ]

    return stages.run("compare", compare) or []


def _verify_stage(stages: StageRecorder, opts: SlimOptions, location: str | None, assembled: Any) -> Any:
    if location is None:
        stages.skip("verify", "needs an image")
        return None

    options = options_from_config(opts.config.verify).model_copy(
        update={"image_size_bytes": assembled.stats.pull_size}
    )
    return stages.run("verify", lambda: verify_image(location, options))


def _scan_stage(
    stages: StageRecorder, opts: SlimOptions, binary: Any, shipped: Any, location: str | None
) -> tuple[Any, dict[str, str]]:
    if binary is None or location is None:
        stages.skip("scan", "needs an image")
        return None, {}

    db = opts.db or (Path(opts.config.scan.db) if opts.config.scan.db else None)
    # The SBOM comes from the unpacked binary: a packed Go binary hides its build info.
    unpacked = binary.path if shipped is not None and shipped.path != binary.path else None

    def scan(db_path: Path | None) -> Any:
        return run_scan(
            location,
            db=db_path,
            sbom_formats=opts.config.scan.sbom,
            out_dir=opts.out_dir / "sbom",
            fail_on=opts.config.scan.fail_on,
            unpacked=unpacked,
        )

    def scan_offline_if_needed() -> Any:
        try:
            outcome = scan(db)
        except VulnDbError as exc:
            if db is not None:
                raise
            # No database given and none reachable: still write the SBOM, and say what was not checked.
            stages.note("scan", f"vulnerabilities not checked: {exc.one_line()} (pass --db PATH)")
            with tempfile.TemporaryDirectory(prefix="goslim-emptydb-") as empty:
                outcome = scan(Path(empty))
        if outcome.policy_failures:
            stages.policy_failed = True
            stages.note("scan", f"--fail-on {outcome.fail_on}: {', '.join(outcome.policy_failures)}")
        return outcome

    outcome = stages.run("scan", scan_offline_if_needed)
    if outcome is None:
        return None, {}
    return outcome.report, {f.format: str(f.path) for f in outcome.sboms}


def _sign_stage(stages: StageRecorder, opts: SlimOptions, location: str | None) -> str | None:
    key = opts.key or (Path(opts.config.sign.key) if opts.config.sign.key else None)
    if key is None:
        stages.skip("sign", "no key configured (sign.key in goslim.yaml or --key)")
        return None
    if location is None:
        stages.skip("sign", "needs an image")
        return None

    def sign() -> str:
        password = opts.key_password if opts.key_password is not None else read_password(confirm=False)
        signed = sign_image(location, key, password)
        return f"{signed.attachment.tag} ({signed.image_digest})"

    return stages.run("sign", sign)


def _deploy_stage(
    stages: StageRecorder,
    opts: SlimOptions,
    analysis: Any,
    assembled: Any,
    location: str | None,
    checklist: Any,
) -> dict[str, str]:
    """The files teams deploy with: a Dockerfile giving the same result, and Kubernetes manifests
    whose probes and grace period come from what verify measured."""
    if analysis is None or location is None:
        stages.skip("deploy files", "needs an image")
        return {}
    cfg = opts.config
    digest = assembled.digest
    deploy_dir = opts.out_dir / "deploy"

    def write() -> dict[str, str]:
        spec = plan_dockerfile(
            opts.module_dir, cfg, needs=needs_from_report(analysis.needs, binary=str(analysis.path))
        )
        dockerfile = write_dockerfile(
            spec, opts.module_dir, deploy_dir, ignore=[cfg.build.out, cfg.report.dir], force=True
        )
        measured = _measured(checklist)
        k8s_input, _notes = plan_k8s(
            _pinned_reference(opts.to, digest) or location,
            port=cfg.verify.port or (cfg.image.ports or [8080])[0],
            health=cfg.verify.health,
            readiness=cfg.verify.readiness,
            shutdown_seconds=measured.get("shutdown_s"),
            startup_seconds=measured.get("seconds_to_start"),
        )
        manifests = build_manifests(k8s_input)
        write_text_atomic(deploy_dir / "k8s.yaml", manifests.yaml)
        return {"Dockerfile": str(dockerfile.dockerfile), "kubernetes": str(deploy_dir / "k8s.yaml")}

    return stages.run("deploy files", write) or {}


def _pinned_reference(to: str | None, digest: str) -> str | None:
    """REPO@DIGEST for an image also pushed to a registry; None for local destinations."""
    if not to or to.startswith(("oci:", "docker-archive:")):
        return None
    repo = to.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:  # drop the tag, keep a host:port
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    return f"{repo}@{digest}"


def _measured(checklist: Any) -> dict[str, float]:
    """Verify's measured shutdown and start-up times, when it ran and measured them."""
    figures: dict[str, float] = {}
    if checklist is None:
        return figures
    for check_id, key in (("shutdown", "shutdown_s"), ("startup", "seconds_to_start")):
        try:
            value = checklist.result(check_id).measured.get(key)
        except KeyError:
            continue
        if isinstance(value, int | float):
            figures[key] = float(value)
    return figures


def _exit_status(stages: StageRecorder, checklist: Any) -> ExitStatus:
    if stages.first_error is not None:
        return stages.first_error.exit_status
    if (checklist is not None and not checklist.ok) or stages.policy_failed:
        return ExitStatus.CHECK_FAILED
    return ExitStatus.OK


def _journey(ablation: Any, binary: Any, shipped: Any, assembled: Any) -> list[JourneyStep]:
    steps: list[JourneyStep] = []
    if ablation is not None:
        steps.append(JourneyStep(label="default go build", size=ablation.rows[0].size, what="file"))
    if binary is not None:
        steps.append(JourneyStep(label="slim build", size=binary.size, what="file"))
    if shipped is not None and binary is not None and shipped.path != binary.path:
        steps.append(JourneyStep(label=f"UPX ({shipped.profile})", size=shipped.size, what="file"))
    if assembled is not None:
        steps.append(JourneyStep(label="image on disk", size=assembled.stats.disk_size, what="image disk"))
        steps.append(JourneyStep(label="image to pull", size=assembled.stats.pull_size, what="image pull"))
    return steps


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' with 1 <= I <= N, as CI matrices number their jobs."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise UserInputError(f"bad --shard '{text}'", hint="write it as I/N with 1 <= I <= N, e.g. 2/4")
    return int(index), int(count)


def select_shard(packages: list[str], shard: tuple[int, int] | None) -> list[str]:
    """The packages of shard I of N: a package's shard comes from a hash of its import path, so
    adding or removing a service never moves the others to another runner."""
    if shard is None:
        return packages
    index, count = shard
    return [p for p in packages if int(hashlib.sha256(p.encode()).hexdigest(), 16) % count == index - 1]


def run_many(
    runs: list[SlimOptions],
    workers: int,
    on_stage: Callable[[str, StageOutcome], None] | None = None,
) -> list[SlimRun]:
    """Run the job for several services at once, ``workers`` at a time; results in input order."""

    def one(opts: SlimOptions) -> SlimRun:
        name = opts.package
        return run_slim(opts, on_stage=(lambda o: on_stage(name, o)) if on_stage else None)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, runs))
