"""Start a program on the host, wait until it is ready, measure it, stop it.

The one place goslim runs a user's binary outside a container: `upx` measures
start-up and memory with it, and `verify` may reuse it. A program that listens runs
in a private network namespace of its own (created in the child just before exec,
loopback brought up), so ports never clash and nothing is reachable from outside;
probes reach it with ``goslim.probe`` through ``netns_pid``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from goslim.errors import UserInputError
from goslim.probe import ProbeSpec, wait_until

CLONE_NEWNET = 0x40000000
PR_SET_MDWE = 65  # Linux 6.3+: memory-deny-write-execute for this process and its children
PR_MDWE_REFUSE_EXEC_GAIN = 1
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_POLL_S = 0.002  # output polling period: start-up figures are milliseconds
OUTPUT_TAIL_BYTES = 2048

_libc = ctypes.CDLL(None, use_errno=True)


class LaunchError(UserInputError):
    """goslim could not start the program the way it was asked to."""


@dataclass(frozen=True)
class Rss:
    """Resident memory of one process from /proc/PID/status, in KiB."""

    rss_kib: int
    anon_kib: int  # private pages: heap, stacks, and everything a packer decompressed
    file_kib: int  # pages backed by the executable's file, shareable between processes
    shmem_kib: int = 0


@dataclass(frozen=True)
class ExitRun:
    """A program run to its exit."""

    argv: tuple[str, ...]
    returncode: int | None  # None: killed after the timeout
    seconds: float  # exec to exit, or to the timeout
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def describe(self) -> str:
        return describe_exit(self.returncode)


@dataclass(frozen=True)
class ReadyRun:
    """A program started and watched until it was ready (or was not)."""

    ok: bool
    how: str  # what "ready" meant: the probe, the first output line, still running, exited 0
    seconds: float | None  # exec to ready
    detail: str  # why it was or was not ready
    rss: Rss | None = None
    returncode: int | None = None  # set when the program exited before it was stopped
    output_tail: str = ""
    env_count: int = 0
    env_bytes: int = 0


@dataclass(frozen=True)
class Sandbox:
    """How the child is confined before exec."""

    private_network: bool = False
    deny_write_exec: bool = False  # PR_SET_MDWE: what W^X policies enforce

    def preexec(self) -> Callable[[], None] | None:
        steps: list[Callable[[], None]] = []
        if self.private_network:
            steps.append(_enter_private_network)
        if self.deny_write_exec:
            steps.append(_deny_write_exec)
        if not steps:
            return None

        def run_steps() -> None:
            for step in steps:
                step()

        return run_steps


def describe_exit(returncode: int | None) -> str:
    """'exit 0', 'killed by SIGSEGV', 'timed out' — how a process ended, for evidence lines."""
    if returncode is None:
        return "timed out"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit {returncode}"


def env_size(env: Mapping[str, str]) -> int:
    """Bytes the environment takes on the new process's stack (NAME=value plus NUL)."""
    return sum(len(k.encode()) + len(v.encode()) + 2 for k, v in env.items())


def can_use_private_network() -> bool:
    return os.geteuid() == 0


def require_private_network() -> None:
    if not can_use_private_network():
        raise LaunchError(
            "running a binary in a private network namespace needs root",
            hint="run goslim as root (or in a container with CAP_SYS_ADMIN) to measure programs that listen",
        )


def run_to_exit(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout_s: float = 10.0,
    sandbox: Sandbox = Sandbox(),
) -> ExitRun:
    """Run ``argv`` with exactly ``env`` and return how it ended and how long it took."""
    if sandbox.private_network:
        require_private_network()
    start = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            preexec_fn=sandbox.preexec(),  # unshare/prctl must run in the child before exec
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return ExitRun(tuple(argv), None, time.monotonic() - start, _text(exc.stdout), _text(exc.stderr))
    except OSError as exc:
        raise LaunchError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    except subprocess.SubprocessError as exc:
        raise LaunchError(f"cannot confine {argv[0]}: {exc}") from exc
    seconds = time.monotonic() - start
    return ExitRun(tuple(argv), proc.returncode, seconds, _text(proc.stdout), _text(proc.stderr))


def run_then_signal(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    after_s: float,
    signum: int,
    timeout_s: float = 10.0,
    sandbox: Sandbox = Sandbox(private_network=True),
) -> ExitRun:
    """Start ``argv``, send ``signum`` after ``after_s`` if it is still running, and return how it ended.

    For signals that make a program report on itself, such as Go's SIGQUIT goroutine dump.
    """
    if sandbox.private_network:
        require_private_network()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                preexec_fn=sandbox.preexec(),  # noqa: PLW1509 - unshare/prctl run in the child
            )
        except OSError as exc:
            raise LaunchError(f"cannot run {argv[0]}: {exc.strerror}") from exc
        except subprocess.SubprocessError as exc:
            raise LaunchError(f"cannot confine {argv[0]}: {exc}") from exc
        try:
            time.sleep(after_s)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)
            returncode: int | None = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            if proc.poll() is None:  # timed out, or goslim was interrupted: the program goes too
                proc.kill()
                proc.wait()
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return ExitRun(tuple(argv), returncode, seconds, _text(out.read()), _text(err.read()))


def start_until_ready(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    probe: ProbeSpec | None = None,
    timeout_s: float = 10.0,
    settle_s: float = 2.0,
    stop_grace_s: float = 5.0,
    sandbox: Sandbox = Sandbox(private_network=True),
) -> ReadyRun:
    """Start ``argv``, wait until ready, sample its memory, then stop it (SIGTERM, then SIGKILL).

    Ready means: the probe succeeds when one is given; else the first line on stdout or
    stderr; else, for a silent program, that it is still running after ``settle_s``. A
    program that exits 0 first counts as ready without a memory sample.
    """
    if sandbox.private_network:
        require_private_network()
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=sandbox.preexec(),  # noqa: PLW1509 - unshare/prctl run in the child
            )
        except OSError as exc:
            raise LaunchError(f"cannot run {argv[0]}: {exc.strerror}") from exc
        except subprocess.SubprocessError as exc:
            raise LaunchError(f"cannot confine {argv[0]}: {exc}") from exc
        try:
            run = _watch(proc, out, start, probe, timeout_s, settle_s, sandbox.private_network)
        finally:
            returncode = _stop(proc, stop_grace_s)
        tail = _read_tail(out)
    if run.returncode is None and not run.ok:
        run = replace(run, returncode=returncode)  # how it ended once goslim gave up on it
    return replace(run, output_tail=tail, env_count=len(env), env_bytes=env_size(env))


def read_rss(pid: int) -> Rss | None:
    """RSS split of a live process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            values[key] = int(rest.split()[0])
    if "VmRSS" not in values:
        return None  # a zombie has no memory left to report
    return Rss(values["VmRSS"], values.get("RssAnon", 0), values.get("RssFile", 0), values.get("RssShmem", 0))


def _watch(
    proc: subprocess.Popen,
    out: object,
    start: float,
    probe: ProbeSpec | None,
    timeout_s: float,
    settle_s: float,
    in_netns: bool,
) -> ReadyRun:
    if probe is not None:
        waited = wait_until(
            probe,
            period_s=_POLL_S * 5,
            failure_threshold=max(1, int(timeout_s / (_POLL_S * 5))),
            netns_pid=proc.pid if in_netns else None,
            still_running=lambda: proc.poll() is None,
        )
        seconds = time.monotonic() - start
        how = f"probe {probe.describe()}"
        if waited.ok:
            return ReadyRun(True, how, seconds, waited.last.detail, rss=read_rss(proc.pid))
        return _not_ready(proc, how, f"{waited.last.detail} after {waited.attempts} attempts")
    deadline = start + timeout_s
    settle_at = start + settle_s
    while True:
        now = time.monotonic()
        if _has_line(out):
            return ReadyRun(True, "first output line", now - start, "wrote a line", rss=read_rss(proc.pid))
        code = proc.poll()
        if code is not None:
            if code == 0:
                return ReadyRun(True, "exited 0", time.monotonic() - start, "exited 0 before any output")
            return _not_ready(proc, "first output line", f"{describe_exit(code)} before any output")
        if now >= settle_at:
            rss = read_rss(proc.pid)
            return ReadyRun(True, f"still running after {settle_s:g}s", None, "silent but alive", rss=rss)
        if now >= deadline:
            return _not_ready(proc, "first output line", f"no output within {timeout_s:g}s")
        time.sleep(_POLL_S)


def _not_ready(proc: subprocess.Popen, how: str, detail: str) -> ReadyRun:
    return ReadyRun(False, how, None, detail, returncode=proc.poll())


def _has_line(out: object) -> bool:
    fd = out.fileno()  # type: ignore[attr-defined]
    size = os.fstat(fd).st_size
    if size == 0:
        return False
    return b"\n" in os.pread(fd, min(size, 65536), 0)


def _read_tail(out: object) -> str:
    fd = out.fileno()  # type: ignore[attr-defined]
    size = os.fstat(fd).st_size
    offset = max(0, size - OUTPUT_TAIL_BYTES)
    return os.pread(fd, size - offset, offset).decode(errors="replace").strip()


def _stop(proc: subprocess.Popen, grace_s: float) -> int | None:
    """SIGTERM, wait ``grace_s``, then SIGKILL; only this process, which goslim started."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=grace_s)


def _enter_private_network() -> None:
    """In the child: a new, empty network namespace with loopback up (127.0.0.1 and ::1)."""
    if _libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def _deny_write_exec() -> None:
    """In the child: refuse memory that is, or becomes, both writable and executable."""
    if _libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_MDWE): {os.strerror(err)}")


def write_exec_denial_supported() -> bool:
    """Whether this kernel has PR_SET_MDWE (checked in a throwaway child)."""
    try:
        proc = subprocess.run(["/bin/true"], preexec_fn=_deny_write_exec, check=False, timeout=10)
    except (subprocess.SubprocessError, OSError):
        return False
    return proc.returncode == 0


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


__all__ = [
    "ExitRun",
    "LaunchError",
    "ReadyRun",
    "Rss",
    "Sandbox",
    "can_use_private_network",
    "describe_exit",
    "env_size",
    "read_rss",
    "run_then_signal",
    "run_to_exit",
    "start_until_ready",
    "write_exec_denial_supported",
]
