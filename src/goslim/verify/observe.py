"""Run the image once under the OCI runtime and record what it did (no verdicts here).

One container run feeds every runtime check: start-up, logs, probes, uid, limits and
shutdown. The container, its runtime state and the bundle are removed on success, failure,
Ctrl-C or SIGTERM (goslim.interrupt); leftovers of a goslim that was killed outright are removed
by the container's guard (verify.runtime), or swept on the next run.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from goslim import interrupt
from goslim.probe import ProbeResult, ProbeSpec, WaitResult, probe_once, speaks_first, wait_until
from goslim.verify.bundle import POD_NET_LABEL, write_bundle
from goslim.verify.cgroups import LimitUsage, limit_usage
from goslim.verify.logs import LogFacts, analyze_logs, read_span, read_stream
from goslim.verify.models import Listener, Observed, ProbeAnswer, ProbeSettings, VerifyOptions
from goslim.verify.process import ContainerProcess
from goslim.verify.runtime import BUNDLE_PREFIX, STEP_TIMEOUT, Container, OciRuntime
from goslim.verify.userns import container_ids

# Conventional health paths, tried on every TCP port when the user names none. A dedicated path
# counts when it answers anything but 404/405 (a /readyz may say 503 while warming up); the
# generic ones (/metrics, /) only with a success, as Kubernetes would judge them.
HEALTH_PATHS = (
    "/healthz",
    "/readyz",
    "/livez",
    "/health",
    "/ready",
    "/-/healthy",
    "/-/ready",
    "/metrics",
    "/",
)
LIVENESS_ORDER = (
    "/healthz",
    "/livez",
    "/health",
    "/-/healthy",
    "/readyz",
    "/ready",
    "/-/ready",
    "/metrics",
    "/",
)
READINESS_ORDER = ("/readyz", "/ready", "/-/ready")
GENERIC_PATHS = frozenset({"/metrics", "/"})
NOT_THERE = (404, 405)
MAX_DISCOVERY_PORTS = 8  # bound the probing of a service that opens many ports
DISCOVERY_TIMEOUT = 1.0
_DIGITS = re.compile(r"\d+")
SETTLE_SECONDS = 1.0  # after the first port opens, wait this long for the others to appear
DEFAULT_STARTUP = ProbeSettings(kind="tcp", period_seconds=0.1, failure_threshold=100)  # 10 s to open a port
DEFAULT_LIVENESS = ProbeSettings(period_seconds=0.5, failure_threshold=3)
TCP_LISTEN = "0A"
UDP_UNCONNECTED = "07"
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
    listening: tuple[int, ...] = ()  # TCP ports
    listeners: tuple[Listener, ...] = ()  # every TCP and UDP socket seen listening during the run
    answers: tuple[ProbeAnswer, ...] = ()  # what each conventional health path answered, per port
    discovered: str = ""  # "discovered: port 9100, health GET /metrics answered 200; pin with ..."
    probe_log_span: tuple[tuple[int, int], tuple[int, int]] | None = None  # stdout, stderr offsets
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
    logged_after_stop: bool = False  # wrote output after the stop signal: it handled it, if slowly
    logs: LogFacts | None = None
    phase_seconds: dict[str, float] = field(default_factory=dict)
    deliberate_seconds: float = 0.0  # alive-window waiting and waiting for the stop signal to work
    injected: tuple[str, ...] = ()  # files and env the sandbox gave, as a runtime would
    sandbox: tuple[str, ...] = ()  # how the container was confined


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
        with interrupt.cancellable():  # a signal stops the run where it is; the finally cleans up
            sandbox = write_bundle(bundle, process, rootfs, options)
            obs.injected, obs.sandbox = sandbox.injected, sandbox.confinement
            progress("starting the container")
            container = runtime.start(runtime.new_id(), bundle, timeout=options.start_timeout_seconds)
            obs.start_seconds = container.ready - container.started
            obs.injected = _confirm_pod_network(obs.injected, container.pid)
            obs.phase_seconds["start"] = obs.start_seconds
            _observe_running(runtime, container, process=process, options=options, obs=obs, progress=progress)
            obs.logs = _read_logs(container, obs)
    finally:
        with interrupt.shielded():  # further Ctrl-C cannot leave the container or the bundle behind
            if container is not None:
                runtime.remove(container)
            shutil.rmtree(bundle, ignore_errors=True)
    return obs


def _confirm_pod_network(injected: tuple[str, ...], pid: int) -> tuple[str, ...]:
    """Keep the eth0 entry only when the container's network namespace has eth0 (the hook that
    adds it does not stop the run when it fails)."""
    if POD_NET_LABEL not in injected:
        return injected
    try:
        with open(f"/proc/{pid}/net/dev", encoding="ascii", errors="replace") as f:
            names = {line.split(":", 1)[0].strip() for line in f.read(1 << 16).splitlines() if ":" in line}
    except OSError:
        names = set()
    if "eth0" in names:
        return injected
    return tuple(
        "no eth0: the pod network could not be set up (loopback only)" if item == POD_NET_LABEL else item
        for item in injected
    )


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
    if obs.time_to_ready is not None:
        # Kubernetes probes liveness only once the startup probe passed: a service slower to become
        # ready than the window would otherwise never be probed. The window runs on from readiness.
        window_end = max(window_end, t0 + obs.time_to_ready + options.alive_seconds)

    t = time.monotonic()
    progress(f"staying alive for {options.alive_seconds:g}s")
    _alive_window(container, options, obs, window_end)
    obs.phase_seconds["alive"] = time.monotonic() - t
    obs.alive_seconds = min(time.monotonic(), window_end) - t0 if not obs.exited_early else obs.alive_seconds

    if container.running():
        obs.limits = _sample_limits(container, obs.limits)
        _record_listeners(obs, container.pid)  # ports opened late (after start-up) count too
        progress(f"SIGTERM, waiting up to {options.grace_seconds:g}s")
        _shutdown(runtime, container, options, obs)
    else:
        obs.shutdown_exit_code = container.exit_code


def _startup(
    container: Container, process: ContainerProcess, options: VerifyOptions, obs: RunObservation
) -> None:
    """Find the port, wait for it to open (startup probe), discover health paths, wait until ready."""
    netns = container.pid
    if options.port:
        obs.port, obs.port_source = options.port, "--port / goslim.yaml"
    elif process.exposed_ports:
        obs.port, obs.port_source = process.exposed_ports[0], "EXPOSE"
    startup = options.startup or DEFAULT_STARTUP
    if obs.port is None:
        obs.port = _discover_port(container, startup)
        obs.port_source = "listening socket" if obs.port else ""
    _record_listeners(obs, container.pid)
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
    _settle_listeners(container, obs)
    if not obs.startup.ok:
        return
    live_path, ready_path = options.health, options.readiness
    if not (live_path and ready_path):
        before = _log_offsets(container)
        obs.answers = _discover_paths(obs, netns)
        obs.probe_log_span = (
            (before[0], _log_offsets(container)[0]),
            (before[1], _log_offsets(container)[1]),
        )
        if obs.port_source == "listening socket":
            obs.port = _best_port(obs.answers, obs.port)
        found_live, found_ready = _pick_paths(obs.answers, obs.port)
        obs.discovered = _discovery_note(obs, found_live if not live_path else None)
        live_path = live_path or found_live
        ready_path = ready_path or found_ready
    ready_path = ready_path or live_path
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
    at_signal = _log_offsets(container)
    runtime.kill(container.id, obs.stop_signal)
    code = container.wait(options.grace_seconds)
    obs.shutdown_seconds = time.monotonic() - start
    obs.logged_after_stop = _log_offsets(container) != at_signal
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


def _discover_paths(obs: RunObservation, netns: int) -> tuple[ProbeAnswer, ...]:
    """What each conventional health path answers on each TCP port, with catch-all answers marked.

    A random path is asked first: no HTTP answer means the port does not speak HTTP (skipped). A
    path that answers as the random path does (same status, same body but for the path itself) is
    the catch-all speaking, and proves nothing; a path with its own answer is a handler of its own
    (node_exporter's landing page answers any path, its /metrics is still /metrics).
    """
    ports = [obs.port, *(p for p in _tcp_ports(obs.listeners, reachable_only=True) if p != obs.port)]
    answers: list[ProbeAnswer] = []
    for port in [p for p in ports if p is not None][:MAX_DISCOVERY_PORTS]:
        if speaks_first(port, netns):
            continue  # a banner protocol (NATS, SMTP, MySQL): a GET would only make it log an error
        random_path = f"/goslim-{secrets.token_hex(6)}"
        control = _ask(port, random_path, netns)
        if control.status is None:
            continue
        control_body = _comparable(control.body.replace(random_path, "PATH"))
        for path in HEALTH_PATHS:
            got = _ask(port, path, netns)
            same = (
                got.status is not None
                and got.status == control.status
                and got.status not in NOT_THERE
                and _comparable(got.body.replace(path, "PATH") if path != "/" else got.body) == control_body
            )
            answers.append(ProbeAnswer(port=port, path=path, status=got.status, catch_all=same))
        catch_all = 200 <= control.status < 400
        answers.append(ProbeAnswer(port=port, path=random_path, status=control.status, catch_all=catch_all))
    return tuple(answers)


def _comparable(body: str) -> str:
    """A body with its numbers blanked: an uptime or a timestamp does not make an answer its own."""
    return _DIGITS.sub("0", body)


def _ask(port: int, path: str, netns: int) -> ProbeResult:
    return probe_once(ProbeSpec("http", port, path, timeout_s=DISCOVERY_TIMEOUT), netns_pid=netns)


def _usable(answer: ProbeAnswer) -> bool:
    """A path that says something about health: served, not a catch-all, a success for generic paths."""
    if answer.catch_all or answer.status is None or answer.status in NOT_THERE:
        return False
    if answer.path in GENERIC_PATHS:
        return 200 <= answer.status < 400
    return answer.path in HEALTH_PATHS


def _pick_paths(answers: tuple[ProbeAnswer, ...], port: int | None) -> tuple[str | None, str | None]:
    """(liveness path, readiness path) on ``port`` from the discovery answers, by convention order."""
    usable = {a.path for a in answers if a.port == port and _usable(a)}
    live = next((p for p in LIVENESS_ORDER if p in usable), None)
    ready = next((p for p in READINESS_ORDER if p in usable), None)
    return live, ready


def _best_port(answers: tuple[ProbeAnswer, ...], current: int) -> int:
    """The port whose best health path ranks highest (ties: the one already chosen)."""

    def rank(port: int) -> int:
        live, _ready = _pick_paths(answers, port)
        return LIVENESS_ORDER.index(live) if live else len(LIVENESS_ORDER)

    ports = dict.fromkeys([current, *(a.port for a in answers)])
    return min(ports, key=rank)


def _discovery_note(obs: RunObservation, live: str | None) -> str:
    """One line a user can act on: what was found and the flags that pin it."""
    if obs.port is None:
        return ""
    others = [
        f"{li.port}/{li.proto}" for li in obs.listeners if not (li.proto == "tcp" and li.port == obs.port)
    ]
    also = f"; also listening: {', '.join(others)}" if others else ""
    catch_all = sorted({a.port for a in obs.answers if a.catch_all and a.path.startswith("/goslim-")})
    if catch_all:
        ports = ", ".join(map(str, catch_all))
        also += f"; port {ports} answers any path (only paths with an answer of their own count)"
    if live:
        status = next(a.status for a in obs.answers if a.port == obs.port and a.path == live)
        return (
            f"discovered: port {obs.port}, health GET {live} answered {status}; "
            f"pin with --port {obs.port} --health {live}{also}"
        )
    if catch_all:
        return (
            f"discovered: port {obs.port}, no health path of its own (TCP probes); pin with --port "
            f"{catch_all[0]} --health / if any answer there means healthy{also}"
        )
    return (
        f"discovered: port {obs.port}, no health path answered (TCP probes); pin with --port {obs.port}{also}"
    )


def _settle_listeners(container: Container, obs: RunObservation) -> None:
    """Record the listeners once they stop changing (a service opens its ports one after another)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    last = _record_listeners(obs, container.pid)
    while time.monotonic() < deadline and container.running():
        time.sleep(0.2)
        now = _record_listeners(obs, container.pid)
        if now == last:
            break
        last = now


def _record_listeners(obs: RunObservation, pid: int) -> tuple[Listener, ...]:
    now = listeners(pid)
    obs.listeners = tuple(sorted(set(obs.listeners) | set(now), key=lambda li: (li.proto, li.port)))
    obs.listening = _tcp_ports(obs.listeners) or obs.listening
    return now


def _tcp_ports(found: tuple[Listener, ...], *, reachable_only: bool = False) -> tuple[int, ...]:
    """TCP ports listened on; ``reachable_only``: not those bound to loopback alone, which the
    kubelet's probes and a Service cannot reach (they connect to the pod IP)."""
    tcp = [li for li in found if li.proto == "tcp" and not (reachable_only and li.loopback)]
    return tuple(dict.fromkeys(li.port for li in sorted(tcp, key=lambda li: li.port)))


def _log_offsets(container: Container) -> tuple[int, int]:
    def size(path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return 0

    return size(container.stdout_path), size(container.stderr_path)


def _read_logs(container: Container, obs: RunObservation) -> LogFacts:
    """The container's two streams, with what it wrote while goslim probed health paths apart."""
    probed = ""
    if obs.probe_log_span is not None:
        (o0, o1), (e0, e1) = obs.probe_log_span
        probed = read_span(container.stdout_path, o0, o1) + "\n" + read_span(container.stderr_path, e0, e1)
    return analyze_logs(read_stream(container.stdout_path), read_stream(container.stderr_path), probed)


def observed_facts(obs: RunObservation) -> Observed:
    """The run as facts for the run contract, k8s and the report (no verdicts)."""
    live = obs.liveness_spec
    ready = obs.readiness_spec
    live_ok = any(r.ok for r in obs.liveness) or bool(obs.readiness and obs.readiness.ok)
    return Observed(
        listening=obs.listeners,
        probes=obs.answers,
        port=obs.port,
        liveness=live.path if live and live.kind == "http" and live_ok else None,
        readiness=ready.path
        if ready and ready.kind == "http" and obs.readiness and obs.readiness.ok
        else None,
        startup_seconds=round(obs.time_to_ready, 3) if obs.time_to_ready is not None else None,
        shutdown_seconds=round(obs.shutdown_seconds, 3) if obs.shutdown_seconds is not None else None,
        needed_kill=obs.needed_kill,
        exit_code=obs.early_exit_code if obs.exited_early else obs.shutdown_exit_code,
        injected=obs.injected,
        sandbox=obs.sandbox,
    )


def _discover_port(container: Container, startup: ProbeSettings) -> int | None:
    deadline = time.monotonic() + startup.period_seconds * startup.failure_threshold
    while time.monotonic() < deadline and container.running():
        ports = _tcp_ports(listeners(container.pid), reachable_only=True)
        if ports:
            return ports[0]
        time.sleep(startup.period_seconds)
    return None


def listeners(pid: int) -> tuple[Listener, ...]:
    """TCP sockets in LISTEN and bound, unconnected UDP sockets in the network namespace of ``pid``."""
    found: set[Listener] = set()
    for name, proto, state in (
        ("tcp", "tcp", TCP_LISTEN),
        ("tcp6", "tcp", TCP_LISTEN),
        ("udp", "udp", UDP_UNCONNECTED),
        ("udp6", "udp", UDP_UNCONNECTED),
    ):
        try:
            rows = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) <= 3 or cols[3] != state or ":" not in cols[1]:
                continue
            addr, _, port_hex = cols[1].rpartition(":")
            try:
                port = int(port_hex, 16)
            except ValueError:
                continue
            if port:
                found.add(Listener(proto=proto, port=port, loopback=_is_loopback(addr)))  # type: ignore[arg-type]
    # One entry per proto and port: any address that is not loopback makes the port reachable.
    merged: dict[tuple[str, int], Listener] = {}
    for li in sorted(found, key=lambda li: li.loopback):
        merged.setdefault((li.proto, li.port), li)
    return tuple(sorted(merged.values(), key=lambda li: (li.proto, li.port)))


def _is_loopback(addr_hex: str) -> bool:
    """127.0.0.0/8, ::1 or ::ffff:127.x from /proc/net's hex (each 32-bit word in host byte order)."""
    addr = addr_hex.upper()
    if len(addr) == 8:
        return addr[6:8] == "7F"
    if len(addr) == 32:
        return addr == "0" * 24 + "01000000" or (
            addr[:24] == "0000000000000000FFFF0000" and addr[30:32] == "7F"
        )
    return False


def _ids(pid: int) -> tuple[int | None, int | None]:
    """Real uid and gid of ``pid`` inside its user namespace (the image's ids, not the host's)."""
    return container_ids(pid)
