"""Verdicts on one container run: pure functions from a ``RunObservation`` to check results."""

from __future__ import annotations

import signal

from goslim.verify.catalog import check_result as _r
from goslim.verify.models import CheckResult, CheckStatus, VerifyOptions
from goslim.verify.observe import RunObservation
from goslim.verify.process import ContainerProcess

P, W, F, S = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL, CheckStatus.SKIP
GO_SIGNAL_EXIT = 2  # a Go program as PID 1 exits 2 after a signal it has no handler for


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        return f"killed by {signal.Signals(code - 128).name} (status {code})"
    return f"exit code {code}"


PRIVILEGED_PORTS = 1024
SIGTERM_FIX = (
    "fix: stop on SIGTERM: ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt), "
    "then call http.Server.Shutdown(ctx) when ctx is done"
)


def bind_denied_hint(ports: tuple[int, ...], uid: int | None) -> list[str]:
    """Why a port below 1024 cannot be bound as a non-root user, and the ways out."""
    low = ", ".join(str(p) for p in ports)
    who = f"uid {uid}" if uid is not None else "a non-root user"
    return [
        f"port {low} is below {PRIVILEGED_PORTS}: {who} may not bind it without CAP_NET_BIND_SERVICE",
        "fix: move the port with the service's own flag (--arg, e.g. --arg=--listen=:8080), or in "
        "Kubernetes add securityContext.capabilities.add: [NET_BIND_SERVICE] or the sysctl "
        "net.ipv4.ip_unprivileged_port_start=0",
    ]


def check_starts(
    obs: RunObservation, options: VerifyOptions, process: ContainerProcess | None = None
) -> CheckResult:
    logs = obs.logs.last_lines if obs.logs else ()
    secs = obs.phase_seconds.get("start", 0.0) + obs.phase_seconds.get("alive", 0.0)
    denied = obs.logs.bind_denied_ports if obs.logs else ()
    if obs.exited_early and denied:
        assert obs.logs is not None
        uid = obs.uid if obs.uid is not None else process.uid if process else None
        return _r(
            "starts",
            F,
            f"exited with {describe_exit(obs.early_exit_code)}: cannot bind port "
            f"{', '.join(map(str, denied))} as uid {uid if uid is not None else '?'}",
            [*(f"log: {line}" for line in obs.logs.bind_denied_lines), *bind_denied_hint(denied, uid)],
            secs,
            exit_code=obs.early_exit_code,
            alive_seconds=round(obs.alive_seconds, 3),
            bind_denied=", ".join(map(str, denied)),
        )
    missing = obs.logs.missing_files if obs.logs else ()
    if obs.exited_early and missing:
        assert obs.logs is not None
        return _r(
            "starts",
            F,
            f"exited with {describe_exit(obs.early_exit_code)}: it needs {', '.join(missing)}, "
            "which the image does not have",
            [
                *(f"log: {line}" for line in obs.logs.missing_file_lines),
                "fix: a config file? point the service at one it can find (--arg) and mount it in "
                "Kubernetes from a ConfigMap, or add it to the image",
            ],
            secs,
            exit_code=obs.early_exit_code,
            alive_seconds=round(obs.alive_seconds, 3),
            missing_files=", ".join(missing),
        )
    if obs.exited_early:
        panic = obs.logs.panic_line if obs.logs else ""
        return _r(
            "starts",
            F,
            f"exited after {obs.alive_seconds:.1f}s with {describe_exit(obs.early_exit_code)}"
            + (f": {panic[:160]}" if panic else ""),
            [f"exit: {describe_exit(obs.early_exit_code)}", *(f"log: {line}" for line in logs)],
            secs,
            exit_code=obs.early_exit_code,
            alive_seconds=round(obs.alive_seconds, 3),
        )
    return _r(
        "starts",
        P,
        f"started in {obs.start_seconds * 1000:.0f} ms, alive for {options.alive_seconds:g}s",
        [f"runtime start: {obs.start_seconds * 1000:.0f} ms"],
        secs,
        start_ms=round(obs.start_seconds * 1000, 1),
        alive_seconds=options.alive_seconds,
    )


def check_logs(obs: RunObservation) -> CheckResult:
    facts = obs.logs
    if facts is None or facts.total == 0:
        return _r(
            "logs",
            W,
            "wrote nothing to stdout or stderr",
            ["a service that never logs cannot be debugged from `kubectl logs`"],
        )
    structured = facts.json_lines == facts.total
    kind = (
        "structured JSON"
        if structured
        else f"{facts.json_lines} of {facts.total} lines JSON"
        if facts.json_lines
        else "plain text"
    )
    evidence = [
        f"stdout: {_count(facts.stdout_lines)}, stderr: {_count(facts.stderr_lines)}",
        *(f"log: {line}" for line in facts.last_lines[:3]),
    ]
    measured = {
        "stdout_lines": facts.stdout_lines,
        "stderr_lines": facts.stderr_lines,
        "json_lines": facts.json_lines,
        "error_lines": facts.error_count,
        "error_lines_while_probed": facts.probe_error_count,
    }
    if facts.error_count:
        own = facts.error_count - facts.probe_error_count
        parts = []
        if own:
            parts.append(f"{_count(own, 'error-level line')} of its own")
        if facts.probe_error_count:
            parts.append(
                f"{_count(facts.probe_error_count, 'error-level line')} while goslim probed health paths"
            )
        return _r(
            "logs",
            W,
            f"{_count(facts.total)} ({kind}); {', '.join(parts)}",
            [
                *evidence[:1],
                *(f"error: {line}" for line in facts.error_lines[:3]),
                *(f"error while probed: {line}" for line in facts.probe_error_lines[:2]),
            ],
            **measured,
        )
    return _r("logs", P, f"{_count(facts.total)} ({kind}), no error-level lines", evidence, **measured)


def _count(n: int, what: str = "line") -> str:
    """``n`` and the word, plural unless n is 1 ("1 line", "3 attempts")."""
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _listening(obs: RunObservation) -> str:
    if obs.listeners:
        return ", ".join(
            f"{li.port}/{li.proto}" + (" (loopback)" if li.loopback else "") for li in obs.listeners
        )
    return ", ".join(map(str, obs.listening)) or "nothing"


def _pin_clause(note: str) -> str:
    """The discovery note up to the flags that pin it (the listeners and catch-alls stay in evidence)."""
    head, sep, rest = note.partition("; pin with ")
    return head + sep + rest.split(";", 1)[0] if sep else head


def _loopback_only(obs: RunObservation) -> list[int]:
    """TCP ports bound to 127.0.0.1 or ::1 alone: reachable inside the pod, not by the kubelet."""
    tcp = [li for li in obs.listeners if li.proto == "tcp"]
    reachable = {li.port for li in tcp if not li.loopback}
    return sorted({li.port for li in tcp if li.loopback and li.port not in reachable})


def _discovery(obs: RunObservation) -> list[str]:
    return [obs.discovered] if obs.discovered else []


def _no_port(check_id: str, obs: RunObservation) -> CheckResult:
    denied = obs.logs.bind_denied_ports if obs.logs else ()
    if denied:
        return _r(
            check_id,
            S,
            f"no port to probe: binding port {', '.join(map(str, denied))} was refused (see starts)",
            bind_denied_hint(denied, obs.uid)[:1],
        )
    if obs.exited_early and not obs.listening:
        return _r(
            check_id,
            S,
            f"not probed: exited with {describe_exit(obs.early_exit_code)} before it listened (see starts)",
        )
    loopback = _loopback_only(obs)
    if loopback:
        return _r(
            check_id,
            S,
            f"no port to probe: it listens on loopback only ({', '.join(f'{p}/tcp' for p in loopback)}), "
            "which the kubelet's probes and a Service cannot reach (they connect to the pod IP)",
            [
                f"listening: {_listening(obs)}",
                "fix: have the service listen on all interfaces (e.g. :8080, not localhost:8080) with "
                "its own flag (--arg), then pin it with --port",
            ],
        )
    udp = [str(li.port) for li in obs.listeners if li.proto == "udp"]
    if udp:
        return _r(
            check_id,
            S,
            f"no TCP port to probe: it listens on UDP {', '.join(udp)} only",
            ["HTTP and TCP probes need a TCP port; pin one with --port if the service has one"],
        )
    return _r(
        check_id,
        S,
        "no port to probe: the image has no EXPOSE and nothing listened; set --port",
        [f"listening: {', '.join(map(str, obs.listening)) or 'nothing'}"],
    )


def check_startup(obs: RunObservation) -> CheckResult:
    if obs.port is None:
        return _no_port("startup", obs)
    if obs.startup is None or obs.startup_spec is None:
        return _r("startup", S, "not probed")
    w, spec = obs.startup, obs.startup_spec
    evidence = [
        f"probe: {spec.describe()} ({obs.port_source})",
        f"attempts: {w.attempts}, last: {w.last.detail}",
        f"listening: {_listening(obs)}",
    ]
    if w.ok:
        return _r(
            "startup",
            P,
            f"{spec.describe()} answered after {w.seconds:.2f}s",
            evidence,
            w.seconds,
            seconds_to_start=round(w.seconds, 3),
        )
    why = (
        "the process exited"
        if w.last.detail == "process exited"
        else f"port {spec.port} never opened"
        if spec.kind == "tcp"
        else w.last.detail
    )
    return _r(
        "startup",
        F,
        f"{spec.describe()} failed after {_count(w.attempts, 'attempt')}: {why}",
        evidence,
        w.seconds,
    )


def check_readiness(obs: RunObservation) -> CheckResult:
    if obs.port is None:
        return _no_port("readiness", obs)
    if obs.readiness is None or obs.readiness_spec is None:
        return _r("readiness", S, "not probed: the startup probe did not pass")
    w, spec = obs.readiness, obs.readiness_spec
    evidence = [
        *_discovery(obs),
        f"probe: {spec.describe()}",
        f"attempts: {w.attempts}, last: {w.last.detail}",
    ]
    if w.ok and obs.time_to_ready is not None and obs.port in _loopback_only(obs):
        return _r(
            "readiness",
            W,
            f"ready {obs.time_to_ready:.2f}s after start ({spec.describe()}), but on loopback only: "
            f"the kubelet probes the pod IP, where port {obs.port} is closed",
            [*evidence, f"listening: {_listening(obs)}"],
            w.seconds,
            time_to_ready_s=round(obs.time_to_ready, 3),
            attempts=w.attempts,
        )
    if w.ok and obs.time_to_ready is not None:
        return _r(
            "readiness",
            P,
            f"ready {obs.time_to_ready:.2f}s after start ({spec.describe()})"
            + (f"; {_pin_clause(obs.discovered)}" if obs.discovered else ""),
            evidence,
            w.seconds,
            time_to_ready_s=round(obs.time_to_ready, 3),
            attempts=w.attempts,
        )
    return _r(
        "readiness",
        F,
        (
            f"never ready: the process exited while {spec.describe()} was probed (see starts)"
            if w.last.detail == "process exited"
            else f"never ready: {spec.describe()} failed {_count(w.attempts, 'time')} ({w.last.detail})"
        ),
        evidence,
        w.seconds,
        attempts=w.attempts,
    )


def check_liveness(obs: RunObservation, options: VerifyOptions) -> CheckResult:
    if obs.port is None:
        return _no_port("liveness", obs)
    if obs.liveness_spec is None or not obs.liveness:
        return _r("liveness", S, "not probed: the service was not ready within the alive window")
    threshold = options.liveness.failure_threshold if options.liveness else 3
    ok = sum(1 for r in obs.liveness if r.ok)
    evidence = [
        *_discovery(obs),
        f"probe: {obs.liveness_spec.describe()}",
        f"{ok}/{len(obs.liveness)} probes passed",
        *{f"failure: {r.detail}" for r in obs.liveness if not r.ok},
    ]
    if obs.liveness_failed_in_a_row >= threshold:
        return _r(
            "liveness",
            F,
            f"{obs.liveness_failed_in_a_row} failures in a row (threshold {threshold}): "
            "Kubernetes would restart it",
            evidence,
        )
    status = P if ok == len(obs.liveness) else W
    return _r(
        "liveness",
        status,
        f"{ok}/{len(obs.liveness)} probes of {obs.liveness_spec.describe()} passed",
        evidence,
        probes=len(obs.liveness),
        passed=ok,
    )


def check_shutdown(obs: RunObservation, options: VerifyOptions) -> CheckResult:
    sig = f"SIG{obs.stop_signal}" if not obs.stop_signal.isdigit() else f"signal {obs.stop_signal}"
    if obs.exited_early or obs.shutdown_seconds is None:
        return _r(
            "shutdown",
            S,
            "not tested: the process had already exited",
            [f"exit: {describe_exit(obs.shutdown_exit_code)}"],
        )
    lines = list(obs.logs.last_lines[-3:]) if obs.logs else []
    evidence = [
        f"{sig} sent, waited {obs.shutdown_seconds:.2f}s (grace {options.grace_seconds:g}s)",
        f"exit: {describe_exit(obs.shutdown_exit_code)}",
        *(f"log: {line}" for line in lines),
    ]
    measured = {
        "shutdown_s": round(obs.shutdown_seconds, 3),
        "exit_code": obs.shutdown_exit_code,
        "needed_sigkill": obs.needed_kill,
    }
    if obs.needed_kill:
        return _r(
            "shutdown",
            F,
            f"needed SIGKILL: still running {options.grace_seconds:g}s after {sig}"
            + (
                " (it logged after the signal: it handled it but did not finish in time)"
                if obs.logged_after_stop
                else " (no sign it handled the signal)"
            ),
            [*evidence, "fix: handle SIGTERM and finish within terminationGracePeriodSeconds", SIGTERM_FIX],
            obs.shutdown_seconds,
            **measured,
        )
    if obs.shutdown_exit_code == GO_SIGNAL_EXIT and obs.stop_signal == "TERM" and not obs.logged_after_stop:
        # Go's default action for SIGTERM re-raises it; PID 1 ignores signals it has no handler for,
        # so the runtime falls through to exit(2). The process did not shut down, it was dropped.
        return _r(
            "shutdown",
            F,
            f"no SIGTERM handler: exit code 2 {obs.shutdown_seconds * 1000:.0f} ms after {sig} is the Go "
            "runtime's default action as PID 1, so in-flight requests are cut off",
            [*evidence, SIGTERM_FIX],
            obs.shutdown_seconds,
            no_handler=True,
            **measured,
        )
    if obs.shutdown_exit_code != 0 and obs.logged_after_stop:
        # It handled the signal (logged its way out) and chose a non-zero status, as nats-server does.
        return _r(
            "shutdown",
            W,
            f"shut down {obs.shutdown_seconds:.2f}s after {sig} (it logged its shutdown) but exited with "
            f"{describe_exit(obs.shutdown_exit_code)}: harmless for a Deployment, a failure for a Job",
            evidence,
            obs.shutdown_seconds,
            **measured,
        )
    if obs.shutdown_exit_code != 0:
        return _r(
            "shutdown",
            F,
            f"stopped in {obs.shutdown_seconds:.2f}s but with {describe_exit(obs.shutdown_exit_code)}",
            evidence,
            obs.shutdown_seconds,
            **measured,
        )
    return _r(
        "shutdown",
        P,
        f"exited 0 in {obs.shutdown_seconds * 1000:.0f} ms after {sig}",
        evidence,
        obs.shutdown_seconds,
        **measured,
    )


def check_non_root(obs: RunObservation, process: ContainerProcess) -> CheckResult:
    uid, source = obs.uid, "/proc/PID/status of the running process"
    if uid is None:
        uid, source = process.uid, "image config User (the process was gone before it could be read)"
    evidence = [
        f"uid {uid}, gid {obs.gid if obs.gid is not None else process.gid} from {source}",
        f"image config User: {process.user or '(unset: root)'}",
    ]
    if uid == 0:
        return _r(
            "non-root",
            F,
            "runs as root (uid 0)",
            [*evidence, "hint: set image.user, e.g. 65532:65532"],
            uid=0,
        )
    return _r("non-root", P, f"runs as uid {uid}", evidence, uid=uid)


def check_read_only_root(obs: RunObservation) -> CheckResult:
    facts = obs.logs
    if facts is not None and facts.read_only_lines:
        paths = ", ".join(facts.read_only_paths) or "an unknown path"
        return _r(
            "read-only-root",
            F,
            f"tried to write {paths} on the read-only root",
            [
                *(f"log: {line}" for line in facts.read_only_lines),
                "hint: write under /tmp or mount a volume there",
            ],
            paths=paths,
        )
    return _r(
        "read-only-root",
        P,
        "ran on a read-only root with a tmpfs /tmp; no write errors logged",
        ["root mounted read-only, /tmp tmpfs"],
    )


def check_limits(obs: RunObservation, options: VerifyOptions) -> CheckResult:
    u = obs.limits
    if u is None or u.pids_current is None:
        return _r("limits", S, "not measured: the process exited before its cgroup could be read")
    mem = f"{u.memory_peak_bytes / 2**20:.1f} MiB" if u.memory_peak_bytes is not None else "unknown"
    evidence = [
        f"pids now {u.pids_current} (limit {options.pids}), refused forks: {u.pids_limit_hits}",
        f"peak memory {mem} (limit {options.memory_mb} MiB), limit hits: {u.memory_limit_hits}",
    ]
    measured = {
        "pids_current": u.pids_current,
        "pids_limit_hits": u.pids_limit_hits,
        "memory_peak_bytes": u.memory_peak_bytes,
        "memory_limit_hits": u.memory_limit_hits,
    }
    hits = []
    if u.pids_limit_hits:
        hits.append(f"hit the pids limit ({options.pids}) {_count(u.pids_limit_hits, 'time')}")
    if u.memory_limit_hits:
        hits.append(f"hit the memory limit ({options.memory_mb} MiB) {_count(u.memory_limit_hits, 'time')}")
    if hits:
        return _r("limits", F, "; ".join(hits), evidence, **measured)
    return _r("limits", P, f"peak memory {mem}, {u.pids_current} tasks", evidence, **measured)
