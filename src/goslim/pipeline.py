"""The main job, `goslim slim`: every stage in order, each result kept even when a later one fails.

Data flows one way, each stage taking and returning typed models (docs/architecture.md):
build (Binary) → analyze (BinaryReport) → upx (Binary, UpxReport) → image (AssembledImage) →
compare (BaseRow) → verify (Checklist, with Observed) → scan (ScanReport) → sign → deploy files → report.
The run contract (RunContract) is resolved once before the image and once more after verify, from
the flags, goslim.yaml, the image config and what verify observed; every stage reads it.
A stage that fails is recorded with its one-line reason; stages that need its output are skipped
with the reason; the report always renders what was learned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

from goslim import __version__, interrupt
from goslim.attestation import (
    CYCLONEDX_TYPE,
    GOSLIM_TYPE,
    ImageReuse,
    ReusedImage,
    attest_sbom,
    attest_verification,
    find_reusable,
    find_reusable_platforms,
    find_reused_image,
    read_sbom,
    reused_platform_runs,
    tag_inputs,
)
from goslim.binary import BinaryReport, analyze
from goslim.binary.needs import with_run_env
from goslim.config import GoslimConfig
from goslim.contract import RunContract
from goslim.contract_resolve import ContractFlags, resolve_contract, start_probe
from goslim.decisions import ManifestsOutcome, UpxOutcome, manifests_under_lock, upx_under_lock
from goslim.dockerfile.generate import DockerfileSpec, plan_dockerfile, write_dockerfile
from goslim.errors import ExitStatus, GoslimError, ToolError, UserInputError
from goslim.fsutil import write_text_atomic
from goslim.gobuild import Ablation, Binary, BuildOptions, GoToolchain, Profile, build_binaries
from goslim.gobuild.ablation_cache import cached_ablation
from goslim.gobuild.toolchain import MainPackage
from goslim.image import AssembledImage, ImageOptions, assemble
from goslim.image.compare import Variant, compare_bases
from goslim.image.locations import archive_choice
from goslim.image.platforms import AssembledIndex, as_docker, docker_assembled, index_of, more_platform_images
from goslim.image.startcache import StartCheckCache
from goslim.image.startcheck import check_starts
from goslim.inputs import ImageInputs, image_inputs
from goslim.lock import LOCK_NAME, ServiceLock
from goslim.oci import Image, ImageLocation, Index, PushResult, RegistryClient, push, write_image
from goslim.oci.gc import GcResult, collect_garbage
from goslim.oci.layout import layout_tags
from goslim.platform import Platform
from goslim.report import evaluate_claims, goroutine_dump, report_paths, write_report
from goslim.report.models import BaseRow, Decision, JourneyStep, SlimRun, StageOutcome, StageStatus
from goslim.scan import run_scan
from goslim.scan.models import ScanReport
from goslim.scan.run import ScanOutcome
from goslim.sign.keys import KeyFile
from goslim.sign.password import read_password
from goslim.sign.recursive import attest_recursive, sign_recursive
from goslim.upx import Budget
from goslim.upx.measurement_cache import UpxMeasurementCache
from goslim.verify import Checklist, CheckResult, CheckStatus, VerifyOptions, verify_image
from goslim.verify.options import options_from_config
from goslim.verify.platforms import (
    PlatformChecklists,
    PlatformRun,
    platform_predicates,
    select_images,
    verify_index,
)
from goslim.verify.predicate import verification_predicate

T = TypeVar("T")
IMAGE_TAG = "latest"
# What a stage's own result can make of it; skipped and cancelled come only from the recorder.
Verdict = Literal["ok", "warned", "not checked", "failed"]


@dataclass(frozen=True)
class SlimOptions:
    """What `goslim slim` was asked to do; built from goslim.yaml and flags by the CLI."""

    module_dir: Path
    config: GoslimConfig
    out_dir: Path
    package: str = "."  # the main package's import path (or pattern) to build
    package_dir: str = "."  # the same, relative to the module: ./cmd/NAME
    main: MainPackage | None = None  # the main package as `go list` found it (None: found when needed)
    platform: Platform = field(default_factory=lambda: Platform(os="linux", architecture="amd64"))
    more_platforms: tuple[Platform, ...] = ()  # also built and imaged: the image becomes an index
    flags: ContractFlags = field(default_factory=ContractFlags)  # the run-contract flags
    ablation: bool = True
    compare: bool = True
    upx_policy: str = "off"
    to: str | None = None  # extra destination: registry reference or docker-archive:PATH
    mount_from: tuple[str, ...] = ()  # registry repositories whose blobs a push may mount instead of upload
    db: Path | None = None
    key: Path | None = None
    key_password: bytes | None = None
    allow_slow_stop: bool = False  # k8s files for a service that needed SIGKILL do not fail the run
    # A valid signed verification of the same image replaces the run; with --to REGISTRY, an image
    # made from the same inputs (goslim.inputs) with a passing one replaces build, image, verify, ...
    reuse_attestation: bool = False
    docker_manifests: bool = False  # --manifest-format docker: Docker schema 2 (a manifest list for an index)
    lock: ServiceLock | None = None  # this package's entry in goslim.lock (decisions to reuse)
    lock_where: str = LOCK_NAME  # the lock file, as messages name it
    redecide: bool = False  # measure again even while goslim.lock's facts hold

    @cached_property
    def signing_key(self) -> KeyFile | None:
        """--key, else goslim.yaml's sign.key: one KeyFile for the run's look-ups, verify and signing."""
        path = self.key or (Path(self.config.sign.key) if self.config.sign.key else None)
        return KeyFile(path, lambda: _key_password(self)) if path else None


class StageRecorder:
    """Runs stages, timing each and turning a GoslimError into a recorded failure.

    Once goslim is interrupted (goslim.interrupt), the running stage is recorded as cancelled and
    every later stage too, without running; the job then still writes its report, once.
    """

    def __init__(self, on_stage: Callable[[StageOutcome], None] | None = None) -> None:
        self.outcomes: list[StageOutcome] = []
        self.first_error: GoslimError | None = None
        self.interrupted_by: int | None = None  # the signal that cancelled a stage
        self._pending: dict[str, list[str]] = {}
        self._verdicts: dict[str, tuple[Verdict, str | None]] = {}
        self._lock = threading.RLock()
        self._on_stage = on_stage or (lambda _o: None)

    def run(self, name: str, fn: Callable[[], T]) -> T | None:
        start = time.monotonic()
        if interrupt.requested() is not None:
            self._cancel(name, "not run")
            return None
        try:
            with interrupt.cancellable():  # a signal stops the stage where it is
                value = fn()
        except (interrupt.Interrupted, GoslimError) as exc:
            self._failed(name, exc, time.monotonic() - start)
            return None
        self._record(StageOutcome(stage=name, status="ok", seconds=time.monotonic() - start))
        return value

    def alongside(self, name: str, fn: Callable[[], T]) -> Callable[[], T | None]:
        """Start a stage on its own thread while the next stages run (a little below their CPU
        priority); the returned function waits for it and records it in the place it was started."""
        slot = len(self.outcomes)
        if interrupt.requested() is not None:
            self._cancel(name, "not run")
            return lambda: None
        start = time.monotonic()
        done: Future[T] = Future()
        ended: list[float] = []

        def work() -> None:
            _lower_priority()
            try:
                with interrupt.cancellable():
                    value = fn()
            except BaseException as exc:  # handed to the main thread, which records or raises it
                ended.append(time.monotonic())
                done.set_exception(exc)
                return
            ended.append(time.monotonic())
            done.set_result(value)

        thread = threading.Thread(target=work, name=f"goslim {name}", daemon=True)
        thread.start()

        def finish() -> T | None:
            with interrupt.deferred():  # the stage's own thread stops at its next cancellation point
                thread.join()
            seconds = ended[0] - start
            try:
                value = done.result()
            except (interrupt.Interrupted, GoslimError) as exc:
                self._failed(name, exc, seconds, at=slot)
                return None
            self._record(StageOutcome(stage=name, status="ok", seconds=seconds), at=slot)
            return value

        return finish

    def _failed(self, name: str, exc: BaseException, seconds: float, at: int | None = None) -> None:
        if isinstance(exc, interrupt.Interrupted) or interrupt.requested() is not None:
            # A tool killed by the same Ctrl-C fails too; the interrupt is what happened.
            self._cancel(name, f"stopped after {seconds:.1f}s", seconds, at=at)
            return
        assert isinstance(exc, GoslimError)
        self._record(
            StageOutcome(
                stage=name,
                status="failed",
                seconds=seconds,
                message=exc.one_line(),
                hint=exc.hint,
                evidence=_evidence(exc),
            ),
            at=at,
        )
        self.first_error = self.first_error or exc

    def note(self, name: str, text: str) -> None:
        """Attach a one-line remark to a stage; a stage still running gets it when it is recorded."""
        with self._lock:  # a stage running alongside notes from its own thread
            self._note(name, text)

    def _note(self, name: str, text: str) -> None:
        for i, outcome in enumerate(self.outcomes):
            if outcome.stage == name:
                message = f"{outcome.message}; {text}" if outcome.message else text
                self.outcomes[i] = outcome.model_copy(update={"message": message})
                return
        self._pending.setdefault(name, []).append(text)

    def judge(self, name: str, status: Verdict, why: str = "", policy: str | None = None) -> None:
        """Give a stage the verdict its own result calls for (checks failed or warned, nothing could be
        checked, a policy broken): a running stage gets it when it ends, a recorded one at once.
        A worse status wins; a broken policy fails a stage that would otherwise pass."""
        if why:
            self.note(name, why)
        for i, outcome in enumerate(self.outcomes):
            if outcome.stage == name:
                self.outcomes[i] = _with_verdict(outcome, status, policy)
                return
        earlier, earlier_policy = self._verdicts.get(name, ("ok", None))
        worse = status if _SEVERITY[status] > _SEVERITY[earlier] else earlier
        self._verdicts[name] = (worse, policy or earlier_policy)

    def skip(self, name: str, why: str) -> None:
        if interrupt.requested() is not None:
            self._cancel(name, "not run")  # most skips then follow from a cancelled stage
            return
        self._record(StageOutcome(stage=name, status="skipped", message=why))

    def _cancel(self, name: str, what: str, seconds: float = 0.0, at: int | None = None) -> None:
        signum = interrupt.requested()
        assert signum is not None
        self.interrupted_by = signum
        message = f"{what}: goslim was {interrupt.describe(signum)}"
        self._record(StageOutcome(stage=name, status="cancelled", seconds=seconds, message=message), at=at)

    def _record(self, outcome: StageOutcome, at: int | None = None) -> None:
        with self._lock:
            verdict = self._verdicts.pop(outcome.stage, None)
            if verdict is not None:
                outcome = _with_verdict(outcome, *verdict)
            pending = self._pending.pop(outcome.stage, [])
            if pending:
                outcome = outcome.model_copy(
                    update={"message": "; ".join(filter(None, [outcome.message, *pending]))}
                )
            self.outcomes.insert(len(self.outcomes) if at is None else at, outcome)
        self._on_stage(outcome)


def _lower_priority(niceness: int = 5) -> None:
    """Lower this thread's CPU priority (Linux: per thread; its threads and children inherit it)."""
    try:
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, os.getpriority(os.PRIO_PROCESS, me) + niceness)
    except OSError:
        pass  # a priority is an optimisation; the stage runs the same without it


# Which verdict wins when a stage earns several; failed, skipped and cancelled are never softened.
_SEVERITY: dict[StageStatus, int] = {"ok": 0, "warned": 1, "not checked": 2, "failed": 3}


def _with_verdict(outcome: StageOutcome, status: Verdict, policy: str | None) -> StageOutcome:
    if outcome.status not in _SEVERITY:
        return outcome
    worse = status if _SEVERITY[status] > _SEVERITY[outcome.status] else outcome.status
    if policy is not None and worse in ("ok", "warned"):
        worse = "failed"  # not checked stays what it is: the policy says why the run fails
    return outcome.model_copy(update={"status": worse, "policy": policy or outcome.policy})


def _evidence(exc: GoslimError, lines: int = 8) -> tuple[str, ...]:
    """The last lines of a failed tool's stderr (the compiler's own diagnostics), for the terminal."""
    if not isinstance(exc, ToolError) or not exc.stderr_tail:
        return ()
    return tuple(line for line in exc.stderr_tail.splitlines() if line.strip())[-lines:]


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

    # What the image is made from, before anything is built: a registry image made from the same
    # inputs, with a passing verification signed by the key, replaces every stage up to signing.
    requested = _given_contract(opts, opts.package)
    inputs = _inputs_stage(stages, opts, toolchain, build_opts, requested)
    reused = (_reuse_stage(stages, opts, inputs, requested)
              if inputs is not None and opts.reuse_attestation else None)
    if inputs is not None and reused is not None and reused.image is not None:
        return _reused_run(stages, opts, started, t0, inputs, reused.image)

    binaries = stages.run("build", lambda: build_binaries(toolchain, [opts.package], bin_dir, [build_opts]))
    binary = binaries[0] if binaries else None
    given = _given_contract(opts, binary.package if binary else opts.package)
    analysis = stages.run("analyze", lambda: analyze(binary.path)) if binary else None
    upx_outcome = _upx_stage(stages, opts, binary, given)
    upx_report = upx_outcome.report if upx_outcome else None
    shipped = upx_outcome.shipped if upx_outcome else binary
    # The ablation needs only the source: it runs alongside the stages below and is awaited for the
    # claims. Started after UPX, whose start-up timings it would disturb.
    ablation_done = (
        stages.alongside("ablation", lambda: _ablation(stages, opts, toolchain, build_opts, binary))
        if opts.ablation and binary
        else lambda: None
    )
    if not opts.ablation:
        stages.skip("ablation", "--no-ablation")
    elif opts.more_platforms:
        stages.note("ablation", f"measured on {opts.platform} only")

    assembled, location, index = _image_stage(stages, opts, shipped, analysis, given, build_opts)
    bases = (
        _compare_stage(stages, opts, binary, shipped, analysis, given, assembled)
        if opts.compare and binary and assembled
        else []
    )
    verify_options = options_from_config(cfg.verify, given)
    checklist, checklist_reused = _verify_stage(stages, opts, location, assembled, given, verify_options)
    platform_checks = _verify_platforms_stage(stages, opts, index, location, given)
    # The contract with what the image says and what verify found: every output below reads it.
    contract = resolve_contract(
        opts.flags,
        cfg.service,
        package=opts.package_dir,
        main_package=binary.package if binary else opts.package,
        image_config=assembled.image.config if assembled else None,
        observed=checklist.observed if checklist else None,
        user=cfg.image.user,
    )
    scan, sbom = _scan_stage(stages, opts, binary, shipped, location, contract)
    platform_scans, platform_sboms = _platform_scans_stage(stages, opts, index, contract)
    every_platform = _every_platform(index, checklist, checklist_reused, platform_checks)
    signature = _sign_stage(stages, opts, location, checklist, given, verify_options, sbom,
                            every_platform, platform_sboms, inputs.digest if inputs is not None else None)
    _gc_stage(stages, opts, location)
    deploy_files, k8s = _deploy_stage(stages, opts, analysis, assembled, location, checklist, contract,
                                      index.digest if index else None)
    decisions: list[Decision] = [upx_outcome.decision] if upx_outcome else []
    decisions += k8s.decisions if k8s else []
    previous = opts.lock or ServiceLock()

    ablation = ablation_done()
    # Guides say a stripped binary cannot be symbolised; run it and look at its own stack dump.
    stack = (
        stages.run("claims", lambda: goroutine_dump(binary.path))
        if binary and analysis and analysis.is_go
        else None
    )
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
        decisions=decisions,
        lock=ServiceLock(
            upx=upx_outcome.entry if upx_outcome and upx_outcome.entry else previous.upx,
            k8s=k8s.entry if k8s else previous.k8s,
        ),
        contract=contract,
        inputs=inputs,
        image=assembled,
        image_location=location,
        published=_published(opts.to, assembled),
        bases=bases,
        checklist=checklist,
        checklist_reused=checklist_reused,
        index=index,
        platform_checks=platform_checks,
        scan=scan,
        platform_scans=platform_scans,
        sbom=sbom,
        signature=signature,
        claims=claims,
        journey=_journey(ablation, binary, shipped, assembled, index),
        exit_status=int(exit_status),
    )
    outputs = {"binary": str(shipped.path) if shipped else "", "image": location or "", **deploy_files,
               **{f"sbom {fmt} ({p})": path for p, files in platform_sboms.items()
                  for fmt, path in files.items()}}
    outputs |= {f"report ({kind})": str(path) for kind, path in report_paths(opts.out_dir).items()}
    run = run.model_copy(
        update={"seconds": time.monotonic() - t0, "outputs": {k: v for k, v in outputs.items() if v}}
    )
    write_report(run, opts.out_dir)
    return run


def _ablation(
    stages: StageRecorder,
    opts: SlimOptions,
    toolchain: GoToolchain,
    build_opts: BuildOptions,
    binary: Binary | None,
) -> Ablation:
    """The ablation, reused from the cache when Go, flags and source are unchanged (said in a note);
    its slim row is measured on the build stage's binary, which it is."""
    cfg = opts.config
    outputs = [opts.out_dir, opts.module_dir / cfg.build.out, opts.module_dir / cfg.report.dir]
    result = cached_ablation(toolchain, opts.package, build_opts, exclude=outputs, built=binary)
    alongside = "" if result.reused else "; ran alongside the image, compare and verify stages"
    stages.note("ablation", result.describe() + alongside)
    return result.ablation


def _upx_stage(
    stages: StageRecorder, opts: SlimOptions, binary: Binary | None, contract: RunContract
) -> UpxOutcome | None:
    """The binary to ship (the built one unless a packed one was chosen), the measurements, and the
    decision under goslim.lock; None when UPX did not run (the built binary ships)."""
    if binary is None:
        return None
    if opts.upx_policy == "off":
        stages.skip("upx", "policy off (use --upx auto to measure and decide)")
        return None

    def decide() -> UpxOutcome:
        outcome = upx_under_lock(
            binary,
            opts.upx_policy,
            Budget.from_config(opts.config.upx, opts.config.image.compression),
            start_probe(contract),
            levels=tuple(opts.config.upx.levels),
            work_dir=opts.out_dir / "upx",
            entry=opts.lock.upx if opts.lock else None,
            redecide=opts.redecide,
            where=opts.lock_where,
            env=contract.env,
            args=contract.args,
            cache=UpxMeasurementCache(),
        )
        stages.note("upx", outcome.note)  # shown with the stage's line
        if outcome.report is not None and outcome.report.reused_measurements:
            stages.note("upx", f"measurements reused from the cache (binary {binary.sha256[:12]})")
        return outcome

    return stages.run("upx", decide)


def _image_stage(
    stages: StageRecorder,
    opts: SlimOptions,
    binary: Binary | None,
    analysis: BinaryReport | None,
    contract: RunContract,
    build_opts: BuildOptions,
) -> tuple[AssembledImage | None, str | None, AssembledIndex | None]:
    """The image (with ``more_platforms``: this platform's image, and the index over every platform)."""
    if binary is None or analysis is None:
        stages.skip("image", "needs a built and analyzed binary")
        return None, None, None

    image_opts = ImageOptions.from_config(opts.config.image, contract)
    location = f"oci:{_layout_dir(opts)}:{IMAGE_TAG}"
    index: AssembledIndex | None = None

    def build_and_write() -> AssembledImage:
        nonlocal index
        base = opts.config.image.base
        assembled = assemble(binary, analysis, base, image_opts)
        written: Image | Index = assembled.image
        if opts.more_platforms:
            others = more_platform_images(
                GoToolchain(opts.module_dir), opts.package, build_opts, opts.more_platforms,
                opts.out_dir / "bin" / "platforms", base, image_opts,
            )
            index = index_of([assembled, *others])
            if opts.docker_manifests:
                index = as_docker(index)
                assembled = index.images[0]
            written = index.index
            stages.note("image", f"index {index.digest} of {', '.join(index.platforms)}"
                        + (" (UPX only on this platform)" if binary.profile.startswith("upx") else ""))
        elif opts.docker_manifests:
            assembled = docker_assembled(assembled)
            written = assembled.image
        before = _tagged_digest(_layout_dir(opts), IMAGE_TAG)
        write_image(location, written)
        if before == (index.digest if index else assembled.digest):
            stages.note("image", f"same digest as the previous run ({before[:19]}…)")
        if opts.to:
            pushed = _publish(stages, written, opts.to, opts.mount_from)
            if pushed is not None and pushed.docker_fallback and index is not None:
                # The registry holds the Docker manifest list: the layout, verify, signing and k8s follow it.
                index = as_docker(index)
                assembled = index.images[0]
                write_image(location, index.index)
                stages.note("image", pushed.docker_fallback)
        return assembled

    assembled = stages.run("image", build_and_write)
    return assembled, (location if assembled else None), (index if assembled else None)


def _tagged_digest(layout: Path, tag: str) -> str | None:
    """The digest an earlier run wrote under ``tag`` in the layout, if any (its own output, read once)."""
    if not (layout / "index.json").is_file():
        return None
    try:
        desc = layout_tags(layout).get(tag)
    except (GoslimError, OSError):
        return None
    return str(desc.digest) if desc else None


def _layout_dir(opts: SlimOptions) -> Path:
    """The OCI layout goslim owns: the image, its SBOMs and signatures."""
    return opts.out_dir / "image"


def _publish(
    stages: StageRecorder, image: Image | Index, to: str, mount_from: tuple[str, ...]
) -> PushResult | None:
    """Write the image to ``to``; a registry push skips blobs already there and mounts shared ones.

    Returns the push's result for a registry (it says when the Docker manifest list went up instead)."""
    destination = ImageLocation.parse(to)
    if destination.kind == "docker-archive" and isinstance(image, Index):
        image = archive_choice(image)  # a docker-archive holds one image: say which
        stages.note("image", f"{to} holds {image.platform} only")
    if destination.reference is None:
        write_image(destination, image)
        return None
    with RegistryClient() as client:
        result = push(image, destination.reference, client, mount_from=mount_from)
    counts = ", ".join(f"{n} {what}" for what, n in sorted(Counter(result.blobs.values()).items()))
    stages.note("image", f"pushed {result.pinned} ({counts})")
    return result


def _compare_stage(
    stages: StageRecorder,
    opts: SlimOptions,
    binary: Binary,
    shipped: Binary | None,
    analysis: BinaryReport | None,
    contract: RunContract,
    assembled: AssembledImage | None = None,
) -> list[BaseRow]:
    """The same service on the chosen base, static and scratch (and packed, when UPX was chosen)."""

    cfg = opts.config
    # The same options verify runs with: an unpinned port is discovered there, not skipped here.
    start_options = options_from_config(cfg.verify, contract)
    starts = StartCheckCache()

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
            ImageOptions.from_config(cfg.image, contract),
            start_checker=starts.wrap(lambda image: check_starts(image, start_options), start_options),
            # The image stage's image is this row when nothing was packed: not assembled twice.
            assembled_already=(
                {(cfg.image.base, "off"): assembled}
                if assembled is not None and (shipped is None or shipped.path == binary.path)
                else None
            ),
        )
        if starts.describe():
            stages.note("compare", starts.describe())
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


def _verify_stage(
    stages: StageRecorder,
    opts: SlimOptions,
    location: str | None,
    assembled: AssembledImage | None,
    contract: RunContract,
    verify_options: VerifyOptions,
) -> tuple[Checklist | None, str | None]:
    """This machine's verification, and which signed verification answered it when one was reused."""
    if location is None or assembled is None:
        stages.skip("verify", "needs an image")
        return None, None

    options = verify_options.model_copy(update={"image_size_bytes": assembled.stats.pull_size})
    reused: list[str] = []

    def reuse_or_run() -> Checklist:
        key = opts.signing_key
        if opts.reuse_attestation and key is not None:
            pub = key.public()
            # The registry copy first: that is where an earlier CI run left its attestation.
            where = [*_registry_copy(opts), location]
            if opts.more_platforms:  # this platform's manifest in the index carries its own attestation
                found = find_reusable_platforms(where, [assembled.image], pub, contract, options)
                reuse = found[str(assembled.image.platform)]
            else:
                reuse = find_reusable(where, pub, contract, options, image_digest=assembled.digest)
            if reuse.checklist is not None:
                stages.note("verify", reuse.reason)
                reused.append(reuse.reason)
                return reuse.checklist
            stages.note("verify", f"ran it: no attestation to reuse: {reuse.reason}")
        elif opts.reuse_attestation:
            stages.note("verify", "ran it: --reuse-attestation needs a key (--key or sign.key)")
        if opts.more_platforms:
            # With an index in the layout, verify this platform's image itself, under the layout's name.
            return verify_image(assembled.image, options).model_copy(update={"image": location})
        return verify_image(location, options)

    def verify() -> Checklist:
        checklist = reuse_or_run()  # an attested checklist is judged as a fresh one
        status, why = checklist_verdict(checklist)
        stages.judge("verify", status, why)
        return checklist

    checklist = stages.run("verify", verify)
    return checklist, (reused[0] if reused and checklist is not None else None)


def checklist_verdict(checklist: Checklist) -> tuple[Verdict, str]:
    """The verify stage's status from its checks: failed when one failed, warned when one warned."""
    warned = [r for r in checklist.results if r.status is CheckStatus.WARN]
    if checklist.failed:
        return "failed", _checks_text(checklist.failed, "failed")
    if warned:
        return "warned", _checks_text(warned, "warned")
    return "ok", ""


def _checks_text(results: Sequence[CheckResult], what: str) -> str:
    return f"{len(results)} check{'s' * (len(results) != 1)} {what}: {', '.join(r.id for r in results)}"


def _verify_platforms_stage(
    stages: StageRecorder, opts: SlimOptions, index: AssembledIndex | None, location: str | None,
    contract: RunContract,
) -> PlatformChecklists | None:
    """The index's other platforms run too: natively when this machine is theirs, else under qemu-user."""
    if not opts.more_platforms:
        return None
    if index is None:
        stages.skip("verify platforms", "needs an image index")
        return None
    options = options_from_config(opts.config.verify, contract)
    label = f"image index {index.digest}"

    def run() -> PlatformChecklists:
        reused = _reused_platforms(stages, opts, index, location, label, contract, options)
        result = verify_index(index.index, options, label=label, platforms=opts.more_platforms, reused=reused)
        for r in result.runs:
            status, why = checklist_verdict(r.checklist)
            if r.mode == "not run":
                status, why = ("failed" if status == "failed" else "not checked"), f"not run: {r.reason}"
            how = f"{r.mode}, reused" if r.reused else r.mode
            stages.judge("verify platforms", status, f"{r.platform} {how}: {why or 'ok'}")
        return result

    return stages.run("verify platforms", run)


def _reused_platforms(
    stages: StageRecorder, opts: SlimOptions, index: AssembledIndex, location: str | None, label: str,
    contract: RunContract, options: VerifyOptions,
) -> dict[str, PlatformRun]:
    """With --reuse-attestation and a key: the other platforms whose own attestation (in the registry
    copy, else the layout) answers this run; each one said, and why the rest run."""
    key = opts.signing_key
    if not opts.reuse_attestation or key is None:
        return {}
    pub = key.public()
    images = select_images(index.index, opts.more_platforms)
    where = [*_registry_copy(opts), *([location] if location else [])]
    reused, said = reused_platform_runs(where, images, pub, contract, options, label)
    for one in said:
        stages.note("verify platforms", one)
    return reused


def _scan_stage(
    stages: StageRecorder,
    opts: SlimOptions,
    binary: Binary | None,
    shipped: Binary | None,
    location: str | None,
    contract: RunContract,
) -> tuple[ScanReport | None, dict[str, str]]:
    if binary is None or location is None:
        stages.skip("scan", "needs an image")
        return None, {}

    db = opts.db or (Path(opts.config.scan.db) if opts.config.scan.db else None)
    # The SBOM comes from the unpacked binary: a packed Go binary hides its build info.
    unpacked = binary.path if shipped is not None and shipped.path != binary.path else None

    def scan() -> ScanOutcome:
        outcome = run_scan(
            location,
            db=db,
            sbom_formats=opts.config.scan.sbom,
            out_dir=opts.out_dir / "sbom",
            fail_on=opts.config.scan.fail_on,
            unpacked=unpacked,
            name=contract.name,
        )
        breach = outcome.policy_breach()
        if outcome.report.not_checked is not None:
            # No database reachable: the SBOMs are written, the vulnerabilities are not checked (and say so).
            why = f"vulnerabilities not checked: {outcome.report.not_checked}"
            db_missing = db is None and outcome.report.go_version is not None
            stages.judge("scan", "not checked", why + (" (pass --db PATH)" if db_missing else ""))
        status: Verdict = "not checked" if outcome.report.not_checked is not None else "failed"
        if breach is not None:
            stages.judge("scan", status, breach, policy=breach)
        return outcome

    outcome = stages.run("scan", scan)
    if outcome is None:
        return None, {}
    return outcome.report, {f.format: str(f.path) for f in outcome.sboms}


def _platform_scans_stage(
    stages: StageRecorder, opts: SlimOptions, index: AssembledIndex | None, contract: RunContract
) -> tuple[dict[str, ScanReport], dict[str, dict[str, str]]]:
    """Each other platform of the index scanned from its own binary: its build info (modules, Go version,
    GOOS/GOARCH) is what is matched, and its SBOMs are written. Platform -> report; platform -> format ->
    SBOM path."""
    if index is None or len(index.images) < 2:
        return {}, {}
    db = opts.db or (Path(opts.config.scan.db) if opts.config.scan.db else None)
    fail_on = opts.config.scan.fail_on

    def scan() -> tuple[dict[str, ScanReport], dict[str, dict[str, str]]]:
        reports: dict[str, ScanReport] = {}
        written: dict[str, dict[str, str]] = {}
        for image in index.images[1:]:
            slug = image.platform.replace("/", "_")
            outcome = run_scan(str(image.binary.path), db=db, sbom_formats=opts.config.scan.sbom,
                               out_dir=opts.out_dir / "sbom", fail_on=fail_on, attach_sboms=False,
                               name=f"{contract.name}-{slug}")
            reports[image.platform] = outcome.report.model_copy(update={"target": image.platform})
            written[image.platform] = {f.format: str(f.path) for f in outcome.sboms}
            breach = outcome.policy_breach()
            if outcome.report.not_checked is not None:
                stages.judge("scan platforms", "not checked",
                             f"{image.platform}: vulnerabilities not checked: {outcome.report.not_checked}")
            if breach is not None:
                status: Verdict = "not checked" if outcome.report.not_checked is not None else "failed"
                stages.judge("scan platforms", status, f"{image.platform}: {breach}", policy=breach)
        return reports, written

    return stages.run("scan platforms", scan) or ({}, {})


def _every_platform(
    index: AssembledIndex | None, checklist: Checklist | None, reused: str | None,
    others: PlatformChecklists | None,
) -> PlatformChecklists | None:
    """This machine's run and the index's other platforms' runs, in index order; None for one image."""
    if index is None or checklist is None or others is None:
        return None
    host = PlatformRun(platform=index.images[0].platform, digest=str(index.images[0].digest), mode="native",
                       reused=reused, checklist=checklist)
    return others.model_copy(update={"runs": (host, *others.runs)})


def _broke_policy(stages: StageRecorder, stage: str, policy: str) -> None:
    """Mark a stage as having broken a policy: it ran, failed, and the run exits 1 because of it."""
    stages.judge(stage, "failed", policy=policy)


def _key_password(opts: SlimOptions) -> bytes:
    return opts.key_password if opts.key_password is not None else read_password(confirm=False)


def _registry_copy(opts: SlimOptions) -> list[str]:
    """The registry destination (--to) as an attachment location; [] for none or a docker-archive."""
    if not opts.to or opts.to.startswith(("oci:", "docker-archive:")):
        return []
    return [opts.to]


def _sign_stage(
    stages: StageRecorder,
    opts: SlimOptions,
    location: str | None,
    checklist: Checklist | None,
    contract: RunContract,
    verify_options: VerifyOptions,
    sboms: dict[str, str],
    platform_checks: PlatformChecklists | None = None,
    platform_sboms: dict[str, dict[str, str]] | None = None,
    inputs: str | None = None,
) -> str | None:
    """Sign the image, and attest what verify found and the CycloneDX SBOM, in the layout and the
    registry it was pushed to (cosign's ``.sig`` and ``.att`` tags).

    An index (``platform_checks``: every platform's run, this machine's first) is signed as
    ``cosign sign --recursive`` does, and each platform's manifest is attested with its own checklist
    and SBOM; the index with a row per platform and this machine's SBOM. With ``inputs`` (one
    platform), the predicate names them and the registry image is tagged for them (where a later
    run looks it up)."""
    key = opts.signing_key
    if key is None:
        stages.skip("sign", "no key configured (sign.key in goslim.yaml or --key)")
        return None
    if location is None:
        stages.skip("sign", "needs an image")
        return None
    locations = [location, *_registry_copy(opts)]

    def sign() -> str:
        private = key.private()
        signed = [sign_recursive(loc, private, b"", once=True).image for loc in locations]
        attested = []
        if checklist is not None and platform_checks is not None:
            on_index, mine = platform_predicates(platform_checks, contract, verify_options)
            for loc in locations:
                attest_recursive(loc, private, GOSLIM_TYPE, on_index.to_json(),
                                 per_platform={p: m.to_json() for p, m in mine.items()})
            attested.append(f"the verification of each of {len(mine)} platforms")
        elif checklist is not None:
            predicate = verification_predicate(checklist, contract, verify_options, inputs)
            attestations = attest_verification(locations, private, predicate)
            attested.append("the verification")
            if inputs is not None:  # the tag goes on only once the proof is there
                for made in attestations:
                    pinned = _pinned_reference(made.location, made.image_digest)
                    if pinned is not None:
                        stages.note("sign", f"tagged {tag_inputs(pinned, inputs)} for its inputs")
        if "cyclonedx" in sboms and platform_checks is not None:
            host = read_sbom(Path(sboms["cyclonedx"]))
            others = {p: read_sbom(Path(files["cyclonedx"])) for p, files in (platform_sboms or {}).items()
                      if "cyclonedx" in files}
            for loc in locations:
                attest_recursive(loc, private, CYCLONEDX_TYPE, host,
                                 per_platform={platform_checks.runs[0].platform: host, **others})
            attested.append("each platform's CycloneDX SBOM")
        elif "cyclonedx" in sboms:
            attest_sbom(locations, private, Path(sboms["cyclonedx"]))
            attested.append("the CycloneDX SBOM")
        if attested:
            stages.note("sign", f"attested {' and '.join(attested)} in {' and '.join(locations)}")
        return f"{signed[0].attachment.tag} ({signed[0].image_digest})"

    return stages.run("sign", sign)


def _gc_stage(stages: StageRecorder, opts: SlimOptions, location: str | None) -> None:
    """A re-run writes into the same layout: remove what earlier runs left there (the old image's
    blobs, attachments of digests no longer tagged, replaced SBOMs), and say what went."""
    if location is None:
        stages.skip("gc", "needs an image")
        return

    def collect() -> GcResult:
        result = collect_garbage(_layout_dir(opts))
        stages.note("gc", result.describe())
        return result

    stages.run("gc", collect)


def _deploy_stage(
    stages: StageRecorder,
    opts: SlimOptions,
    analysis: BinaryReport | None,
    assembled: AssembledImage | None,
    location: str | None,
    checklist: Checklist | None,
    contract: RunContract,
    index_digest: str | None = None,
) -> tuple[dict[str, str], ManifestsOutcome | None]:
    """The files teams deploy with: a Dockerfile giving the same result, and Kubernetes manifests
    from the run contract and what verify observed (ports, probes, grace period); and the manifest
    values rounded from measured times."""
    if analysis is None or location is None or assembled is None:
        stages.skip("deploy files", "needs an image")
        return {}, None
    base = assembled.base

    def dockerfile() -> DockerfileSpec:
        return plan_dockerfile(
            opts.module_dir,
            opts.config,
            report=analysis,
            digests={base.name: base.digest} if base.digest else None,
            contract=contract,
        )

    pinned_digest = index_digest or assembled.digest  # an index: pin the index
    image = _pinned_reference(opts.to, pinned_digest) or location
    return _write_deploy_files(stages, opts, dockerfile, image, pinned_digest, checklist, contract)


def _write_deploy_files(
    stages: StageRecorder,
    opts: SlimOptions,
    dockerfile: Callable[[], DockerfileSpec],
    image: str,
    digest: str,
    checklist: Checklist | None,
    contract: RunContract,
) -> tuple[dict[str, str], ManifestsOutcome | None]:
    """Write the Dockerfile and k8s.yaml for ``image`` (pinned to ``digest``) into the report's deploy/."""
    cfg = opts.config
    deploy_dir = opts.out_dir / "deploy"
    observed = checklist.observed if checklist else None
    k8s: ManifestsOutcome | None = None

    def write() -> dict[str, str]:
        nonlocal k8s
        written = write_dockerfile(
            dockerfile(), opts.module_dir, deploy_dir, ignore=[cfg.build.out, cfg.report.dir], force=True
        )
        k8s = manifests_under_lock(
            image,
            contract,
            observed,
            digest=digest,
            entry=opts.lock.k8s if opts.lock else None,
            redecide=opts.redecide,
        )
        manifests = k8s.manifests
        write_text_atomic(deploy_dir / "k8s.yaml", manifests.yaml)
        slow_stop = manifests.slow_stop
        if k8s.note:
            stages.note("deploy files", k8s.note)
        if slow_stop:
            stages.note("deploy files", "k8s.yaml: the service needed SIGKILL to stop (said in the file)")
        if slow_stop and not opts.allow_slow_stop:
            _broke_policy(stages, "deploy files", "shutdown needed SIGKILL (--allow-slow-stop accepts it)")
        return {"Dockerfile": str(written.dockerfile), "kubernetes": str(deploy_dir / "k8s.yaml")}

    files = stages.run("deploy files", write) or {}
    return files, k8s


# The stages an image reused for its inputs replaces, in the order a full run records them.
REUSED_STAGES = ("build", "ablation", "analyze", "upx", "image", "compare", "verify", "scan", "sign", "gc",
                 "claims")


_REUSED_MORE = {
    "scan": "; the attested CycloneDX SBOM stands; vulnerabilities not checked again (goslim scan IMAGE)",
}


def _inputs_stage(
    stages: StageRecorder, opts: SlimOptions, toolchain: GoToolchain, build_opts: BuildOptions,
    given: RunContract,
) -> ImageInputs | None:
    """The inputs digest, when it can serve: a key signs the result and --to names a registry, where a
    later run can find the image by it (an image index is not reused). None, and why, otherwise."""
    if opts.signing_key is None or not _registry_copy(opts) or opts.more_platforms:
        if opts.reuse_attestation and opts.signing_key is not None and not opts.more_platforms:
            stages.note("verify", "only the container run can be reused: --to names no registry to look in")
        return None
    cfg = opts.config
    # goslim's own outputs; goslim.lock's UPX decision goes in by itself (its k8s entry changes no image).
    lock_file = opts.module_dir / opts.lock_where  # an absolute path stays itself
    exclude = [opts.out_dir, opts.module_dir / cfg.build.out, opts.module_dir / cfg.report.dir, lock_file]

    def compute() -> ImageInputs | None:
        try:
            inputs = image_inputs(
                toolchain, opts.package, build_opts, base=cfg.image.base,
                image=ImageOptions.from_config(cfg.image, given), contract=given, upx_policy=opts.upx_policy,
                upx_settings=cfg.upx.model_dump(mode="json"), lock=opts.lock, exclude=exclude,
            )
        except GoslimError as exc:  # then nothing is looked up or tagged; the run itself goes on
            stages.judge("inputs", "not checked", f"not computed, nothing reused: {exc.one_line()}")
            return None
        stages.note("inputs", inputs.digest)
        return inputs

    return stages.run("inputs", compute)


def _given_contract(opts: SlimOptions, main_package: str) -> RunContract:
    """The run contract as given (flags, goslim.yaml): what the image is made with and verify runs."""
    cfg = opts.config
    return resolve_contract(opts.flags, cfg.service, package=opts.package_dir, main_package=main_package,
                            user=cfg.image.user)


def _reuse_stage(
    stages: StageRecorder, opts: SlimOptions, inputs: ImageInputs, given: RunContract
) -> ImageReuse | None:
    """Look up the registry for an image made from ``inputs`` whose signed verification passed."""
    key = opts.signing_key
    to = _registry_copy(opts)
    if key is None or not to:
        return None
    if opts.redecide:
        stages.skip("reuse", "--redecide measures again: every stage runs")
        return None

    def look_up() -> ImageReuse:
        pub = key.public()
        options = options_from_config(opts.config.verify, given)
        found = find_reused_image(to[0], pub, str(key.path), inputs.digest, given, options)
        stages.note("reuse", f"{found.requests} registry requests")
        if found.image is None:
            stages.note("reuse", f"nothing reused, every stage runs: {found.reason}")
        return found

    return stages.run("reuse", look_up)


def _reused_run(
    stages: StageRecorder, opts: SlimOptions, started: str, t0: float, inputs: ImageInputs, image: ReusedImage
) -> SlimRun:
    """The run's result when an image made from the same inputs, verified and signed, is reused: the
    attested checklist, the image's own config, and deploy files pinned to its digest."""
    cfg = opts.config
    stages.note("reuse", image.describe())
    for name in REUSED_STAGES:
        stages.skip(name, image.describe() + _REUSED_MORE.get(name, ""))
    checklist = image.checklist
    contract = resolve_contract(
        opts.flags, cfg.service, package=opts.package_dir, main_package=opts.package,
        image_config=image.image_config, observed=checklist.observed, user=cfg.image.user,
    )
    main = opts.main or _main_package(opts)
    stages.note("deploy files", f"probes and grace period from the timings attested for {image.digest[:19]}…")

    def dockerfile() -> DockerfileSpec:
        # No binary was analyzed: its needs are the ones the attested verification carries.
        spec = plan_dockerfile(opts.module_dir, cfg, main=main, contract=contract,
                               digests=_base_pin(cfg.image.base, inputs.base))
        if checklist.needs is None:
            return spec
        return spec.model_copy(update={"needs": with_run_env(checklist.needs, contract.env),
                                       "needs_from": f"the attested verification of {image.digest}"})

    deploy_files, k8s = _write_deploy_files(stages, opts, dockerfile, image.reference, image.digest,
                                            checklist, contract)
    previous = opts.lock or ServiceLock()
    exit_status = _exit_status(stages, checklist)
    outputs = {"image": image.reference, **deploy_files}
    outputs |= {f"report ({kind})": str(path) for kind, path in report_paths(opts.out_dir).items()}
    run = SlimRun(
        goslim_version=__version__,
        module_dir=str(opts.module_dir),
        package=opts.package,
        started=started,
        stages=stages.outcomes,
        decisions=k8s.decisions if k8s else [],
        lock=ServiceLock(upx=previous.upx, k8s=k8s.entry if k8s else previous.k8s),
        contract=contract,
        inputs=inputs,
        reused=image,
        image_location=image.reference,
        published=image.reference,
        checklist=checklist,
        journey=[JourneyStep(label="image to pull (reused)", size=image.pull_size, what="image pull")],
        exit_status=int(exit_status),
        outputs=outputs,
    )
    run = run.model_copy(update={"seconds": time.monotonic() - t0})
    write_report(run, opts.out_dir)
    return run


def _main_package(opts: SlimOptions) -> MainPackage:
    """The main package as `go list` names it (the CLI passes it; a library caller may not)."""
    mains = GoToolchain(opts.module_dir).main_packages([opts.package])
    if len(mains) != 1:
        raise UserInputError(f"{opts.package} names {len(mains)} main packages, not one")
    return mains[0]


def _base_pin(spec: str, identity: str) -> dict[str, str] | None:
    """The remote base's digest for the Dockerfile's FROM, from the inputs (built-in bases have none)."""
    if spec in ("static", "scratch") or "@sha256:" not in identity:
        return None
    return {spec: identity.split("@", 1)[1].split(" ", 1)[0]}


def _published(to: str | None, assembled: AssembledImage | None) -> str | None:
    """Where the image stage also wrote the image: REPO@DIGEST for a registry, else ``to`` itself."""
    if not to or assembled is None:
        return None
    return _pinned_reference(to, assembled.digest) or to


def _pinned_reference(to: str | None, digest: str) -> str | None:
    """REPO@DIGEST for an image also pushed to a registry; None for local destinations."""
    if not to or to.startswith(("oci:", "docker-archive:")):
        return None
    repo = to.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:  # drop the tag, keep a host:port
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    return f"{repo}@{digest}"


def _exit_status(stages: StageRecorder, checklist: Checklist | None) -> ExitStatus:
    if stages.interrupted_by is not None:
        return interrupt.exit_status(stages.interrupted_by)
    if stages.first_error is not None:
        return stages.first_error.exit_status
    # Stages judged failed by their own results (checks, policies): no error was raised for them.
    judged_failed = any(o.fails_run for o in stages.outcomes)
    if (checklist is not None and not checklist.ok) or judged_failed:
        return ExitStatus.CHECK_FAILED
    return ExitStatus.OK


def _journey(
    ablation: Ablation | None,
    binary: Binary | None,
    shipped: Binary | None,
    assembled: AssembledImage | None,
    index: AssembledIndex | None = None,
) -> list[JourneyStep]:
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
    if index is not None:
        # A node pulls its own platform; a registry mirror of the index holds them all (shared blobs once).
        for other in index.images[1:]:
            steps.append(JourneyStep(label=f"{other.platform} image to pull", size=other.pull_size,
                                     what="image pull"))
        steps.append(JourneyStep(label=f"index of {len(index.images)} platforms, every blob once",
                                 size=index.pull_size, what="image pull"))
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
    """Run the job for several services at once, ``workers`` at a time; results in input order.

    A signal cancels the running stages and every later one; each job still writes its report.
    """

    def one(opts: SlimOptions) -> SlimRun:
        name = opts.package
        with interrupt.deferred():  # only stages stop at once; the report is always written
            return run_slim(opts, on_stage=(lambda o: on_stage(name, o)) if on_stage else None)

    if len(runs) == 1 or workers <= 1:
        # In the main thread, where a signal interrupts any stage at once, not only at cancellation points.
        return [one(opts) for opts in runs]
    with interrupt.deferred(), ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, runs))
