"""Run the image once under the OCI runtime and record what it did (no verdicts here).

One container run feeds every runtime check: start-up, logs, probes, uid, limits and
shutdown. The container, its runtime state and the bundle are removed on success, failure,
Ctrl-C or SIGTERM; leftovers of a goslim that was killed outright are swept on the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from goslim.probe import ProbeResult, ProbeSpec, WaitResult, probe_once, wait_until
from goslim.verify.cgroups import LimitUsage, limit_usage
from goslim.verify.logs import LogFacts, analyze_logs, read_stream
from goslim.verify.models import ProbeSettings, VerifyOptions
from goslim.verify.process import ContainerProcess
from goslim.verify.runtime import BUNDLE_PREFIX, STEP_TIMEOUT, Container, OciRuntime
from goslim.verify.spec import runtime_spec

LIVENESS_PATHS = ("/healthz", "/livez", "/health")
READINESS_PATHS = ("/readyz", "/ready")
DEFAULT_STARTUP = ProbeSettings(kind="tcp", period_seconds=0.1, failure_threshold=100)  # 10 s to open a port
DEFAULT_LIVENESS = ProbeSettings(period_seconds=0.5, failure_threshold=3)
TCP_LISTEN = "0A"
LIMITS_PERIOD = 0.25  # seconds between cgroup samples during the alive window


@dataclass
class RunObservation:
    """What one container run showed; turned into check results by ``runtime_checks``."""

    start_seconds: float = 0.0  # runtime start until the init pid was known
    exited_early: bool = False  # exited before the alive window ended
    early_exit_code: int | None = None
    alive_seconds: float = 0.0  # observed alive (capped by the window)
    uid: int | None = None
    gid: int | None = None
    port: int | None = None
    port_source: str = ""  # "--port", "EXPOSE", "listening socket"
    listening: tuple[int, ...] = ()
    liveness_spec: ProbeSpec | None = None
    readiness_spec: ProbeSpec | None = None
    startup: WaitResult | None = None
    startup_spec: ProbeSpec | None = None
    readiness: WaitResult | None = None
    time_to_ready: float | None = None  # from runtime start to the first ready answer
    liveness: list[ProbeResult] = field(default_factory=list)
    liveness_failed_in_a_row: int = 0
    limits: LimitUsage | None = None
    stop_signal: str = "TERM"
    shutdown_seconds: float | None = None
    shutdown_exit_code: int | None = None
    needed_kill: bool = False
    logs: LogFacts | None = None
    phase_seconds: dict[str, float] = field(default_factory=dict)
    deliberate_seconds: float = 0.0  # alive-window waiting and waiting for the stop signal to work


def observe(
    runtime: OciRuntime,
    rootfs: Path,
    process: ContainerProcess,
    options: VerifyOptions,
    progress: Callable[[str], None] = lambda _s: None,
) -> RunObservation:
    """Run ``process`` on ``rootfs`` once and observe it; always cleans up after itself."""
    runtime.sweep_leftovers()
    bundle = Path(tempfile.mkdtemp(prefix=f"{BUNDLE_PREFIX}{os.getpid()}-"))
    container = None
    obs = RunObservation(stop_signal=process.stop_signal)
    try:
        with _sigterm_as_interrupt():
            spec = runtime_spec(
                process, rootfs, memory_mb=options.memory_mb, pids=options.pids, writable=options.writable
            )
            (bundle / "config.json").write_text(json.dumps(spec, indent=1))
            progress("starting the container")
            container = runtime.start(runtime.new_id(), bundle, timeout=options.start_timeout_seconds)
            obs.start_seconds = container.ready - container.started
            obs.phase_seconds["start"] = obs.start_seconds
            _observe_running(runtime, container, process=process, options=options, obs=obs, progress=progress)
            obs.logs = analyze_logs(read_stream(container.stdout_path), read_stream(container.stderr_path))
    finally:
        if container is not None:
            runtime.remove(container)
        shutil.rmtree(bundle, ignore_errors=True)
    return obs


def _observe_running(
    runtime: OciRuntime,
    container: Container,
    *,
    process: ContainerProcess,
    options: VerifyOptions,
    obs: RunObservation,
    progress: Callable[[str], None],
) -> None:
    t0 = container.started
    window_end = t0 + options.alive_seconds
    obs.uid, obs.gid = _ids(container.pid)
    obs.limits = limit_usage(container.pid)

    progress("waiting for the service")
    t = time.monotonic()
    _startup(container, process, options, obs)
    obs.phase_seconds["probes"] = time.monotonic() - t
    if obs.uid is None:
        obs.uid, obs.gid = _ids(container.pid)

    t = time.monotonic()
    progress(f"staying alive for {options.alive_seconds:g}s")
    _alive_window(container, options, obs, window_end)
    obs.phase_seconds["alive"] = time.monotonic() - t
    obs.alive_seconds = min(time.monotonic(), window_end) - t0 if not obs.exited_early else obs.alive_seconds

    if container.running():
        obs.limits = _sample_limits(container, obs.limits)
        progress(f"SIGTERM, waiting up to {options.grace_seconds:g}s")
        _shutdown(runtime, container, options, obs)
    else:
        obs.shutdown_exit_code = container.exit_code


def _startup(
    container: Container, process: ContainerProcess, options: VerifyOptions, obs: RunObservation
) -> None:
    """Find the port, wait for it to open (startup probe), find health paths, wait until ready."""
    netns = container.pid
    if options.port:
        obs.port, obs.port_source = options.port, "--port / goslim.yaml"
    elif process.exposed_ports:
        obs.port, obs.port_source = process.exposed_ports[0], "EXPOSE"
    startup = options.startup or DEFAULT_STARTUP
    if obs.port is None:
        obs.port = _discover_port(container, startup)
        obs.port_source = "listening socket" if obs.port else ""
    obs.listening = _listening_ports(container.pid)
    if obs.port is None:
        return
    sspec = _spec(startup, obs.port, startup.path)
    obs.startup_spec = sspec
    obs.startup = wait_until(
        sspec,
        period_s=startup.period_seconds,
        failure_threshold=startup.failure_threshold,
        netns_pid=netns,
        still_running=container.running,
    )
    obs.listening = _listening_ports(container.pid) or obs.listening
    if not obs.startup.ok:
        return
    live_path = options.health or _find_path(LIVENESS_PATHS, obs.port, netns)
    ready_path = options.readiness or _find_path(READINESS_PATHS, obs.port, netns) or live_path
    live = options.liveness or DEFAULT_LIVENESS
    obs.liveness_spec = _spec(live, obs.port, live_path) if live_path else ProbeSpec("tcp", obs.port)
    obs.readiness_spec = ProbeSpec("http", obs.port, ready_path) if ready_path else ProbeSpec("tcp", obs.port)
    # Readiness: as patient as the startup budget, polled at the startup period.
    obs.readiness = wait_until(
        obs.readiness_spec,
        period_s=startup.period_seconds,
        failure_threshold=startup.failure_threshold,
        netns_pid=netns,
        still_running=container.running,
    )
    if obs.readiness.ok:
        obs.time_to_ready = time.monotonic() - container.started


def _alive_window(
    container: Container, options: VerifyOptions, obs: RunObservation, window_end: float
) -> None:
    """Stay until the window ends, probing liveness each period; note an early exit."""
    live = options.liveness or DEFAULT_LIVENESS
    next_probe = next_sample = time.monotonic()
    in_a_row = 0
    waited = 0.0
    while time.monotonic() < window_end:
        if not container.running():
            obs.exited_early = True
            obs.early_exit_code = container.exit_code
            obs.alive_seconds = time.monotonic() - container.started
            return
        if time.monotonic() >= next_sample:
            obs.limits = _sample_limits(container, obs.limits)
            next_sample = time.monotonic() + LIMITS_PERIOD
        if obs.liveness_spec and obs.readiness and obs.readiness.ok and time.monotonic() >= next_probe:
            result = probe_once(obs.liveness_spec, netns_pid=container.pid)
            obs.liveness.append(result)
            in_a_row = 0 if result.ok else in_a_row + 1
            obs.liveness_failed_in_a_row = max(obs.liveness_failed_in_a_row, in_a_row)
            next_probe = time.monotonic() + live.period_seconds
        pause = min(0.05, max(0.0, window_end - time.monotonic()))
        time.sleep(pause)
        waited += pause
    obs.deliberate_seconds += waited
    # A process that dies right at the end of the window still counts as dead.
    if container.wait(0.05) is not None:
        obs.exited_early = True
        obs.early_exit_code = container.exit_code


def _shutdown(runtime: OciRuntime, container: Container, options: VerifyOptions, obs: RunObservation) -> None:
    start = time.monotonic()
    runtime.kill(container.id, obs.stop_signal)
    code = container.wait(options.grace_seconds)
    obs.shutdown_seconds = time.monotonic() - start
    if code is None:
        obs.needed_kill = True
        runtime.kill(container.id, "KILL")
        code = container.wait(STEP_TIMEOUT)
    obs.shutdown_exit_code = code
    obs.deliberate_seconds += obs.shutdown_seconds
    obs.phase_seconds["shutdown"] = time.monotonic() - start


def _sample_limits(container: Container, last: LimitUsage | None) -> LimitUsage | None:
    """Fresh cgroup counters while the container runs (its cgroup goes with it), else the last ones."""
    if not container.running():
        return last
    now = limit_usage(container.pid)
    return now if now.pids_current is not None or last is None else last


def _spec(settings: ProbeSettings, port: int, path: str | None) -> ProbeSpec:
    kind = settings.kind if path or settings.kind == "tcp" else "tcp"
    return ProbeSpec(kind, settings.port or port, path or settings.path, timeout_s=settings.timeout_seconds)


def _find_path(candidates: tuple[str, ...], port: int, netns: int) -> str | None:
    """The first path the service serves at all (anything but 404/405), even if it is not ready yet."""
    for path in candidates:
        r = probe_once(ProbeSpec("http", port, path, timeout_s=1.0), netns_pid=netns)
        if r.status is not None and r.status not in (404, 405):
            return path
    return None


def _discover_port(container: Container, startup: ProbeSettings) -> int | None:
    deadline = time.monotonic() + startup.period_seconds * startup.failure_threshold
    while time.monotonic() < deadline and container.running():
        ports = _listening_ports(container.pid)
        if ports:
            return ports[0]
        time.sleep(startup.period_seconds)
    return None


def _listening_ports(pid: int) -> tuple[int, ...]:
    """TCP ports with a listening socket in the network namespace of ``pid``."""
    ports: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 3 and cols[3] == TCP_LISTEN:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return tuple(sorted(ports))


def _ids(pid: int) -> tuple[int | None, int | None]:
    """Real uid and gid of ``pid`` from /proc/PID/status."""
    uid = gid = None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
    except (OSError, ValueError):
        return None, None
    return uid, gid


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a container runs, SIGTERM to goslim unwinds like Ctrl-C so cleanup still happens."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
