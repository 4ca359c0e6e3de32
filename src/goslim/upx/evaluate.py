"""The compress stage: pack a Binary at a level, and evaluate levels against a budget."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from goslim.binary import BinaryReport, NotElfError, analyze
from goslim.errors import ToolError, UserInputError
from goslim.gobuild.models import Binary, sha256_file
from goslim.launch import Sandbox, env_size, run_to_exit, start_until_ready, write_exec_denial_supported
from goslim.probe import ProbeSpec
from goslim.runner import Runner
from goslim.sizes import percent_change
from goslim.upx.errors import UpxRefusedError
from goslim.upx.levels import check_policy, level_flags
from goslim.upx.margin import MIN_REPETITIONS, measure_startup, paired_cost
from goslim.upx.measure import (
    SIZE_METHOD,
    LayerSizes,
    Progress,
    RuntimeFigures,
    StartupPlan,
    kubernetes_env,
    launch_env,
    layer_sizes,
    plan_startup,
    require_ready_baseline,
)
from goslim.upx.models import Budget, LevelRow, UpxDecision, UpxReport
from goslim.upx.policy import Previous, decide
from goslim.upx.risks import assess_risks, scanner_view, selinux_state
from goslim.upx.tool import Upx

DEFAULT_REPETITIONS = MIN_REPETITIONS
LARGE_ENV_COUNT = 1000


def check_packable(binary: Binary, runner: Runner | None = None) -> BinaryReport:
    """Refuse, before UPX runs, what goslim will not pack; the file is never touched."""
    path = binary.path
    if not path.is_file():
        raise UserInputError(f"{path}: no such file", hint="give the path of a built Go binary")
    digest, _ = sha256_file(path)
    if digest != binary.sha256:
        raise UserInputError(f"{path} changed since it was described", hint="rebuild it or describe it again")
    try:
        facts = analyze(path, top=0, runner=runner, unpack=False)
    except NotElfError:
        raise UpxRefusedError(
            f"{path.name}: not an ELF executable, so not a Go binary UPX should pack; the input is unchanged",
            hint="give goslim a Linux Go binary",
        ) from None
    if facts.upx_packed:
        raise UpxRefusedError(
            f"{path.name}: already packed by UPX; the input is unchanged",
            hint="give goslim the unpacked build (or `upx -d` a copy of this one)",
        )
    if facts.elf.pie or facts.elf.interpreter:
        shape = "a PIE" if facts.elf.pie else "a dynamically linked"
        raise UpxRefusedError(
            f"{path.name}: {shape} binary; goslim packs only static non-PIE ones; the input is unchanged",
            hint="build with CGO_ENABLED=0 and without -buildmode=pie (goslim build --profile slim)",
        )
    return facts


def pack(binary: Binary, level: str, out_path: Path, *, runner: Runner | None = None) -> Binary:
    """Pack ``binary`` at ``level`` into ``out_path`` (atomically); ``upx -t`` has passed on the result.

    The input binary is never modified: UPX writes a new file beside ``out_path``.
    """
    level_flags(level)
    check_packable(binary, runner)
    upx = Upx(runner)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.upx-tmp")
    tmp.unlink(missing_ok=True)
    try:
        upx.pack(binary.path, tmp, level)
        ok, evidence = upx.test(tmp)
        if not ok:
            raise ToolError(
                f"{binary.path.name} packed at {level} failed `upx -t`", tool="upx", stderr_tail=evidence
            )
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    if sha256_file(binary.path)[0] != binary.sha256:
        raise ToolError(f"upx modified its input {binary.path}", tool="upx")
    return _packed_binary(binary, level, out_path)


def evaluate(
    binary: Binary,
    levels: tuple[str, ...] | list[str],
    probe: ProbeSpec | None,
    budget: Budget,
    *,
    policy: str = "auto",
    work_dir: Path | None = None,
    repetitions: int = DEFAULT_REPETITIONS,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    runner: Runner | None = None,
    progress: Progress | None = None,
    previous: Previous | None = None,
) -> UpxReport:
    """Pack ``binary`` at each level, measure every variant in the same run, and decide.

    Packed files go to ``work_dir`` (a new temporary directory when not given) and stay
    there: the decision's ``binary`` points into it. ``env`` and ``args`` are the run contract's:
    runs to ready start the binary as the service runs. ``repetitions`` is the least number of
    rounds; more are run while a level's start-up verdict is within its spread of the budget.
    ``previous`` is the decision an earlier run recorded, kept when the new verdict is unclear.
    """
    step = progress or (lambda _text: None)
    for level in levels:
        level_flags(level)
    facts = check_packable(binary, runner)
    upx = Upx(runner)
    version = upx.version()
    out_dir = work_dir or Path(tempfile.mkdtemp(prefix="goslim-upx-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    packed: dict[str, tuple[Binary, float, bool, str]] = {}
    for level in levels:
        step(f"upx {level}")
        out = out_dir / f"{binary.path.name}.{level}"
        out.unlink(missing_ok=True)
        run = upx.pack(binary.path, out, level)
        ok, evidence = upx.test(out)
        packed[level] = (_packed_binary(binary, level, out), run.seconds, ok, evidence)
    if sha256_file(binary.path)[0] != binary.sha256:
        raise ToolError(f"upx modified its input {binary.path}", tool="upx")
    step("layer sizes")
    sizes = {"unpacked": layer_sizes(binary.path)} | {
        level: layer_sizes(packed[level][0].path) for level in levels
    }
    changes = {level: _changes(sizes[level], sizes["unpacked"]) for level in levels}
    # Sizes are exact: only the levels that save enough need a clear start-up verdict.
    decisive = [
        level
        for level in levels
        if -changes[level][f"{budget.compression}_change_pct"] >= budget.min_pull_saving_pct
    ]

    with tempfile.TemporaryDirectory(prefix="goslim-upx-run-") as cwd_name:
        cwd = Path(cwd_name)
        run_env = launch_env(probe, env)
        step("looking for a version flag")
        plan = plan_startup(binary.path, probe, run_env, cwd, args=args)
        variants = {"unpacked": binary.path} | {level: packed[level][0].path for level in levels}
        figures, rounds = measure_startup(
            variants,
            plan,
            env=run_env,
            cwd=cwd,
            max_ms=budget.max_startup_ms,
            decisive=decisive if policy == "auto" else (),
            repetitions=repetitions,
            progress=step,
        )
        require_ready_baseline(figures["unpacked"], plan)
        step("large-environment smoke run")
        big_env = {**run_env, **kubernetes_env(LARGE_ENV_COUNT)}
        large = {name: _smoke(path, plan, big_env, cwd) for name, path in variants.items()}
        wx = write_exec_denial_supported()
        denied = {
            name: _smoke(path, plan, run_env, cwd, deny_write_exec=True)[1] if wx else ""
            for name, path in variants.items()
        }
    smoke = {"large": large, "denied": denied}

    base = _row("unpacked", binary, sizes["unpacked"], figures["unpacked"], pack_run=None, **smoke)
    rows = [base]
    for level in levels:
        packed_binary, seconds, ok, evidence = packed[level]
        fig = figures[level]
        row = _row(level, packed_binary, sizes[level], fig, pack_run=(seconds, ok, evidence), **smoke)
        cost = paired_cost(figures["unpacked"].startup_samples_ms, fig.startup_samples_ms)
        rows.append(
            row.model_copy(
                update={
                    **changes[level],
                    "startup_cost_ms": cost[0] if cost else None,
                    "startup_spread_ms": cost[1] if cost else None,
                    "output_matches": _output_matches(fig, figures["unpacked"], plan),
                }
            )
        )
    rows = [rows[0], *(_with_problems(r) for r in rows[1:])]
    risks = assess_risks(
        facts, rows, env_count=len(big_env), env_bytes=env_size(big_env), selinux=selinux_state()
    )
    level, reason, basis = decide(rows, policy, budget, previous)
    chosen = packed[level][0] if level else None
    return UpxReport(
        binary=binary,
        upx_version=version,
        budget=budget,
        levels=list(levels),
        repetitions=rounds,
        startup_method=plan.startup_method(),
        ready_method=plan.ready_method(),
        size_method=SIZE_METHOD,
        rows=rows,
        risks=risks,
        decision=UpxDecision(policy=policy, level=level, reason=reason, basis=basis, binary=chosen),
    )


def apply_policy(
    binary: Binary,
    policy: str,
    budget: Budget,
    probe: ProbeSpec | None,
    *,
    auto_levels: tuple[str, ...] = ("default", "lzma"),
    work_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    runner: Runner | None = None,
    progress: Progress | None = None,
    previous: Previous | None = None,
) -> tuple[Binary, UpxReport | None]:
    """For the pipeline: the Binary to ship under ``--upx off|auto|LEVEL`` and the report behind it.

    ``auto_levels`` is what ``auto`` evaluates (goslim.yaml ``upx.levels``). The unpacked
    ``binary`` is returned when nothing is chosen. ``previous`` is kept when the margin is unclear.
    """
    check_policy(policy)
    if policy == "off":
        return binary, None
    levels = auto_levels if policy == "auto" else (policy,)
    report = evaluate(
        binary,
        levels,
        probe,
        budget,
        policy=policy,
        work_dir=work_dir,
        env=env,
        args=args,
        runner=runner,
        progress=progress,
        previous=previous,
    )
    return (report.decision.binary or binary), report


def replay(
    binary: Binary,
    level: str,
    probe: ProbeSpec | None,
    *,
    work_dir: Path,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    runner: Runner | None = None,
) -> Binary:
    """Pack ``binary`` at a level decided earlier and check the level is valid for it: a known
    level, packable, ``upx -t`` passed, and one run of the packed binary (version flag or ready)."""
    level_flags(level)
    packed = pack(binary, level, work_dir / f"{binary.path.name}.{level}", runner=runner)
    with tempfile.TemporaryDirectory(prefix="goslim-upx-run-") as cwd_name:
        cwd = Path(cwd_name)
        run_env = launch_env(probe, env)
        plan = plan_startup(binary.path, probe, run_env, cwd, args=args)
        ok, how = _smoke(packed.path, plan, run_env, cwd)
    if not ok:
        raise UpxRefusedError(
            f"{binary.path.name} packed at {level} does not run: {how}",
            hint="choose another level, or measure again with --redecide",
        )
    return packed


def _packed_binary(binary: Binary, level: str, path: Path) -> Binary:
    fields = binary.model_dump(exclude={"path", "sha256", "size", "profile"})
    return Binary.from_file(path, profile=f"{binary.profile}+upx-{level}", **fields)


def _smoke(
    path: Path, plan: StartupPlan, env: Mapping[str, str], cwd: Path, *, deny_write_exec: bool = False
) -> tuple[bool, str]:
    """One run to exit (version flag) or to ready; (ok, how it went)."""
    if plan.version_flag:
        run = run_to_exit(
            [str(path), plan.version_flag],
            env=env,
            cwd=cwd,
            timeout_s=30.0,
            sandbox=Sandbox(deny_write_exec=deny_write_exec),
        )
        return run.returncode == 0, run.describe()
    ready = start_until_ready(
        [str(path), *plan.args],
        env=env,
        cwd=cwd,
        probe=plan.probe,
        timeout_s=15.0,
        sandbox=Sandbox(private_network=True, deny_write_exec=deny_write_exec),
    )
    if ready.ok:
        return True, f"ready ({ready.how})"
    return False, f"not ready: {ready.detail}"


def _row(
    level: str,
    binary: Binary,
    sizes: LayerSizes,
    fig: RuntimeFigures,
    *,
    pack_run: tuple[float, bool, str] | None,
    large: dict[str, tuple[bool, str]],
    denied: dict[str, str],
) -> LevelRow:
    seconds, ok, evidence = pack_run if pack_run else (None, None, "")
    readable, build_info = scanner_view(binary.path)
    return LevelRow(
        level=level,
        flags=list(level_flags(level)) if pack_run else [],
        path=binary.path,
        sha256=binary.sha256,
        size=sizes.size,
        layer_gzip=sizes.gzip,
        layer_zstd=sizes.zstd,
        pack_seconds=seconds,
        upx_test=ok,
        upx_test_evidence=evidence,
        startup_ms=fig.startup_ms(),
        startup_samples_ms=[round(s, 2) for s in fig.startup_samples_ms],
        ready_ok=fig.ready_ok and not fig.failure,
        ready_ms=fig.ready_ms(),
        ready_detail=fig.failure or fig.ready_detail,
        memory=fig.memory(),
        large_env_ok=large[level][0],
        large_env_detail=large[level][1],
        write_exec_denied=denied[level],
        build_info_readable=readable,
        build_info=build_info,
    )


def _with_problems(row: LevelRow) -> LevelRow:
    problems = []
    if row.upx_test is False:
        problems.append(f"`upx -t` failed: {row.upx_test_evidence}")
    if not row.ready_ok:
        problems.append(f"does not run: {row.ready_detail}")
    if row.output_matches is False:
        problems.append("its version output differs from the unpacked binary's")
    if row.large_env_ok is False:
        problems.append(f"large-environment smoke run failed: {row.large_env_detail}")
    return row.model_copy(update={"problems": problems})


def _changes(sizes: LayerSizes, baseline: LayerSizes) -> dict[str, float]:
    """A level's size changes against the unpacked binary, as LevelRow fields."""
    return {
        "size_change_pct": percent_change(sizes.size, baseline.size),
        "gzip_change_pct": percent_change(sizes.gzip, baseline.gzip),
        "zstd_change_pct": percent_change(sizes.zstd, baseline.zstd),
    }


def _output_matches(fig: RuntimeFigures, base: RuntimeFigures, plan: StartupPlan) -> bool | None:
    if not plan.version_flag or not fig.version_outputs:
        return None
    return all(out == plan.version_output for out in fig.version_outputs)
