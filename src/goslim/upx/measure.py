"""Measurements of one binary and its packed variants, all taken in the same run.

Sizes: the binary as a one-file layer tar, compressed as goslim writes layers (gzip
through goslim.gzipstream, zstd -19). Start-up: exec to exit of a version flag when the binary has one, else
exec to ready. Memory: RssAnon/RssFile at ready. Runs are interleaved across
variants (baseline, level, level, baseline, ...) so load on the machine hits all alike,
and the median is kept.
"""

from __future__ import annotations

import io
import statistics
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from goslim.errors import UserInputError
from goslim.launch import ReadyRun, Sandbox, run_to_exit, start_until_ready
from goslim.probe import ProbeSpec
from goslim.sizes import gzip_size, zstd_size
from goslim.upx.models import Memory

LAYER_MEMBER = "app"
SIZE_METHOD = (
    "one-file layer tar (the binary as /app, mode 0755, mtime 0), gzip as goslim writes layers, zstd -19"
)
VERSION_FLAGS = ("--version", "-version")
VERSION_TIMEOUT_S = 3.0
MAX_VERSION_OUTPUT = 4096
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LayerSizes:
    size: int
    gzip: int
    zstd: int


@dataclass(frozen=True)
class StartupPlan:
    """How start-up is measured for this binary, decided once on the unpacked build."""

    version_flag: str | None  # '--version' / '-version' when the binary has one
    version_output: str
    probe: ProbeSpec | None
    args: tuple[str, ...] = ()  # the run contract's program arguments, for runs to ready

    def startup_method(self) -> str:
        if self.version_flag:
            return f"exec to exit of `BINARY {self.version_flag}`"
        return f"exec to ready ({self.ready_method()})"

    def ready_method(self) -> str:
        if self.probe:
            return f"first successful probe {self.probe.describe()} (private network namespace)"
        return "first output line (private network namespace)"


@dataclass
class RuntimeFigures:
    """What the launches of one variant measured."""

    startup_samples_ms: list[float] = field(default_factory=list)
    ready_samples_ms: list[float] = field(default_factory=list)
    memory_samples: list[Memory] = field(default_factory=list)
    version_outputs: list[str] = field(default_factory=list)
    ready_ok: bool = True
    ready_detail: str = ""
    failure: str = ""  # a launch that went wrong: the variant does not work

    def startup_ms(self) -> float | None:
        return statistics.median(self.startup_samples_ms) if self.startup_samples_ms else None

    def ready_ms(self) -> float | None:
        return statistics.median(self.ready_samples_ms) if self.ready_samples_ms else None

    def memory(self) -> Memory | None:
        if not self.memory_samples:
            return None
        return Memory(
            rss_kib=int(statistics.median(m.rss_kib for m in self.memory_samples)),
            anon_kib=int(statistics.median(m.anon_kib for m in self.memory_samples)),
            file_kib=int(statistics.median(m.file_kib for m in self.memory_samples)),
        )


def layer_sizes(path: Path) -> LayerSizes:
    """The binary's size, and the pull size of a layer holding only it (see SIZE_METHOD)."""
    data = path.read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(LAYER_MEMBER)
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        tar.addfile(info, io.BytesIO(data))
    layer = buf.getvalue()
    return LayerSizes(size=len(data), gzip=gzip_size(layer), zstd=zstd_size(layer))


def launch_env(probe: ProbeSpec | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A small, fixed environment; PORT is set to the probed port, the common convention."""
    env = dict(BASE_ENV)
    if probe is not None:
        env["PORT"] = str(probe.port)
    env.update(extra or {})
    return env


def kubernetes_env(count: int = 1000) -> dict[str, str]:
    """``count`` variables shaped like Kubernetes service links (7 per Service in a busy namespace)."""
    env: dict[str, str] = {}
    service = 0
    while len(env) < count:
        name = f"PAYMENTS_API_{service:04d}"
        ip = f"10.96.{service // 250}.{service % 250 + 1}"
        port = 8080 + service % 10
        tcp = f"tcp://{ip}:{port}"
        for key, value in (
            (f"{name}_SERVICE_HOST", ip),
            (f"{name}_SERVICE_PORT", str(port)),
            (f"{name}_PORT", tcp),
            (f"{name}_PORT_{port}_TCP", tcp),
            (f"{name}_PORT_{port}_TCP_PROTO", "tcp"),
            (f"{name}_PORT_{port}_TCP_PORT", str(port)),
            (f"{name}_PORT_{port}_TCP_ADDR", ip),
        ):
            if len(env) < count:
                env[key] = value
        service += 1
    return env


def plan_startup(
    path: Path, probe: ProbeSpec | None, env: Mapping[str, str], cwd: Path, args: tuple[str, ...] = ()
) -> StartupPlan:
    """Find a version flag safely: run the unpacked binary with it, isolated, with a short timeout.

    Accepted when it exits 0 quickly and prints a short text; a binary that ignores the flag
    and starts serving is killed after the timeout and measured to ready instead.
    """
    for flag in VERSION_FLAGS:
        run = run_to_exit(
            [str(path), flag],
            env=env,
            cwd=cwd,
            timeout_s=VERSION_TIMEOUT_S,
            sandbox=Sandbox(private_network=True),
        )
        output = (run.stdout + run.stderr).strip()
        if run.returncode == 0 and output and len(output) <= MAX_VERSION_OUTPUT:
            return StartupPlan(version_flag=flag, version_output=output, probe=probe, args=args)
    return StartupPlan(version_flag=None, version_output="", probe=probe, args=args)


def measure_runtime(
    variants: Mapping[str, Path],
    plan: StartupPlan,
    *,
    env: Mapping[str, str],
    cwd: Path,
    repetitions: int,
    progress: Progress | None = None,
    timing_only: bool = False,
) -> dict[str, RuntimeFigures]:
    """Launch every variant ``repetitions`` times, interleaved; the first variant is the baseline.

    ``timing_only`` skips the run to ready (and so memory) when a version flag times start-up.
    """
    figures = {name: RuntimeFigures() for name in variants}
    for rep in range(repetitions):
        for name, path in variants.items():
            fig = figures[name]
            if fig.failure:
                continue  # a variant that already failed is not launched again
            if progress:
                progress(f"run {rep + 1}/{repetitions}: {name}")
            if plan.version_flag:
                _version_run(path, plan, env, cwd, fig)
            if not fig.failure and not (timing_only and plan.version_flag):
                _ready_run(path, plan, env, cwd, fig, timing_is_startup=plan.version_flag is None)
    return figures


def _version_run(
    path: Path, plan: StartupPlan, env: Mapping[str, str], cwd: Path, fig: RuntimeFigures
) -> None:
    assert plan.version_flag is not None
    # The flag was proven to exit quickly on the unpacked build, so no namespace is needed here.
    run = run_to_exit([str(path), plan.version_flag], env=env, cwd=cwd, timeout_s=30.0)
    if run.returncode != 0:
        fig.failure = f"`{plan.version_flag}` ended with {run.describe()}"
        return
    fig.startup_samples_ms.append(run.seconds * 1000.0)
    fig.version_outputs.append((run.stdout + run.stderr).strip())


def _ready_run(
    path: Path,
    plan: StartupPlan,
    env: Mapping[str, str],
    cwd: Path,
    fig: RuntimeFigures,
    *,
    timing_is_startup: bool,
) -> None:
    run = start_until_ready([str(path), *plan.args], env=env, cwd=cwd, probe=plan.probe, timeout_s=15.0)
    fig.ready_detail = f"{run.how}: {run.detail}"
    if not run.ok:
        fig.ready_ok = False
        fig.failure = f"not ready ({run.how}): {run.detail}" + _tail_hint(run)
        return
    if run.seconds is not None:
        fig.ready_samples_ms.append(run.seconds * 1000.0)
        if timing_is_startup:
            fig.startup_samples_ms.append(run.seconds * 1000.0)
    if run.rss is not None:
        fig.memory_samples.append(
            Memory(rss_kib=run.rss.rss_kib, anon_kib=run.rss.anon_kib, file_kib=run.rss.file_kib)
        )


def _tail_hint(run: ReadyRun) -> str:
    last = run.output_tail.strip().splitlines()[-1:] if run.output_tail.strip() else []
    return f"; last output: {last[0][:200]}" if last else ""


def require_ready_baseline(figures: RuntimeFigures, plan: StartupPlan) -> None:
    """The unpacked binary must work here, or no comparison means anything."""
    if figures.failure:
        hint = "give --port and --health for a service, and check it starts on this host"
        if plan.probe is None:
            hint = "give --port (and --health) so goslim can probe it, and check it starts on this host"
        raise UserInputError(f"the unpacked binary does not run here: {figures.failure}", hint=hint)
