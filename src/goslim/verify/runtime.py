"""The one wrapper around the OCI runtime (runc by default, crun on request).

A container runs as `runc run` in the foreground of its own session: runc stays its parent,
so its exit status is the container's, and its stdout/stderr go straight to files. Every
container id starts with `goslim-verify-<our pid>-`, so leftovers of a goslim that was killed
can be told apart from those of one still running and swept on the next run.

Cleanup (kill, delete, bundle removal) runs shielded from further signals. Each container also
gets a guard: a tiny shell in its own session holding a pipe from goslim. If goslim dies without
removing the container (SIGKILL, OOM killer), the pipe closes and the guard deletes the container
and its bundle at once; killing the runtime process instead would not help, since a container
outlives a killed `runc run`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from goslim import interrupt
from goslim.errors import GoslimError, ToolError, UserInputError
from goslim.runner import Runner, SubprocessRunner, require, tail

ID_PREFIX = "goslim-verify-"
BUNDLE_PREFIX = "goslim-verify-bundle-"
ROOTFS_PREFIX = "goslim-verify-rootfs-"
_TEMP_RE = re.compile(rf"^(?:{BUNDLE_PREFIX}|{ROOTFS_PREFIX})(\d+)-")
STEP_TIMEOUT = 15.0  # seconds for kill/delete/state/list
WAIT_SLICE = 0.1  # seconds between looks for an interrupt while waiting on a container
_ID_RE = re.compile(rf"^{ID_PREFIX}(\d+)-[0-9a-f]+$")
HYBRID_CGROUPS = "cgroups in hybrid mode not supported"
GUARD_NAME = "goslim-verify-guard"
GUARD_DONE = b"done\n"
# Waits for goslim to say "done"; end of file instead means goslim died with the container up.
# Ignores the signals that stopped goslim, so it outlives it; arguments are never parsed as shell.
GUARD_SCRIPT = """trap '' INT TERM HUP QUIT
IFS= read -r word
[ "$word" = done ] && exit 0
"$1" delete --force "$2" >/dev/null 2>&1
rm -rf -- "$3"
"""


class RuntimeStartError(ToolError):
    """The runtime could not create or start the container."""


@dataclass
class Container:
    """A running container: its id, init pid, and the files its output goes to."""

    id: str
    pid: int
    bundle: Path
    stdout_path: Path
    stderr_path: Path
    started: float  # time.monotonic() just before the runtime was started
    ready: float  # when the runtime reported the init pid
    proc: subprocess.Popen[bytes] = field(repr=False)
    guard: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def running(self) -> bool:
        """Whether the container still runs; a cancellation point, as every wait on a container polls it."""
        interrupt.check()
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int | None:
        """The exit status (128+N when killed by signal N), or None if still running after ``timeout``.

        A cancellation point: raises ``Interrupted`` as soon as goslim is interrupted.
        """
        deadline = time.monotonic() + timeout
        while True:
            interrupt.check()
            try:
                return self.proc.wait(timeout=max(0.0, min(WAIT_SLICE, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    return None

    @property
    def exit_code(self) -> int | None:
        return self.proc.poll()


class OciRuntime:
    """runc or crun, driven through the runner seam (and Popen for the long-lived `run`)."""

    def __init__(self, name: str = "runc", runner: Runner | None = None) -> None:
        if name not in ("runc", "crun"):
            raise UserInputError(f"unknown OCI runtime '{name}'", hint="use runc or crun")
        self.name = name
        self.runner = runner or SubprocessRunner()
        self.path = require(self.runner, name)

    def version(self) -> str:
        out = self.runner.run([self.path, "--version"], timeout=STEP_TIMEOUT, check=False).stdout
        first = out.splitlines()[0] if out else self.name
        return first.replace(" version ", " ")

    def new_id(self) -> str:
        return f"{ID_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"

    def start(self, container_id: str, bundle: Path, *, timeout: float) -> Container:
        """Run the bundle's container in the background; return once its init pid is known."""
        stdout_path, stderr_path = bundle / "stdout.log", bundle / "stderr.log"
        pid_file = bundle / "container.pid"
        argv = [self.path, "run", "--bundle", str(bundle), "--pid-file", str(pid_file), container_id]
        proc = guard = None
        try:
            # The guard exists before the container, and no signal comes between them.
            with interrupt.shielded():
                guard = self._start_guard(container_id, bundle)
                started = time.monotonic()
                with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
                    # Own session: the user's Ctrl-C reaches goslim (which cleans up), not the container.
                    proc = subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
                    )
            deadline = started + timeout
            while time.monotonic() < deadline:
                interrupt.check()
                text = pid_file.read_text().strip() if pid_file.exists() else ""
                if text:
                    return Container(
                        container_id,
                        int(text),
                        bundle,
                        stdout_path,
                        stderr_path,
                        started,
                        time.monotonic(),
                        proc,
                        guard,
                    )
                if proc.poll() is not None:
                    raise self._start_error(proc.returncode, stderr_path.read_text(errors="replace"))
                time.sleep(0.01)
            raise RuntimeStartError(
                f"{self.name} did not start the container within {timeout:.0f}s", tool=self.name
            )
        except BaseException:
            # Interrupted or failed half-way: nothing may outlive this call.
            with interrupt.shielded():
                if proc is not None:
                    self.kill(container_id, "KILL")
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=STEP_TIMEOUT)
                self.delete(container_id)
                _release(guard)
            raise

    def _start_guard(self, container_id: str, bundle: Path) -> subprocess.Popen[bytes] | None:
        """The process that deletes the container and its bundle if goslim dies before it does."""
        try:
            return subprocess.Popen(
                ["/bin/sh", "-c", GUARD_SCRIPT, GUARD_NAME, self.path, container_id, str(bundle)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # out of reach of the terminal's Ctrl-C
            )
        except OSError:
            return None  # no /bin/sh: the sweep on the next run is the only backstop left

    def _start_error(self, code: int, stderr: str) -> GoslimError:
        if HYBRID_CGROUPS in stderr:
            return RuntimeStartError(
                f"{self.name} refuses this machine's hybrid cgroup setup (v1 controllers with a v2 mount)",
                tool=self.name,
                returncode=code,
                stderr_tail=tail(stderr, 3),
                hint="use --runtime runc, which supports hybrid cgroups",
            )
        if "exec format error" in stderr:
            return UserInputError(
                "the entrypoint cannot run here (exec format error): an image for another architecture?",
                hint="verify on a machine of the image's architecture",
            )
        if "permission denied" in stderr and "exec" in stderr:
            return UserInputError(
                "the entrypoint is not executable by the image's user (exec: permission denied)",
                hint="make the binary world-executable (mode 0755) or run as its owner",
            )
        if "no such file or directory" in stderr and "exec" in stderr:
            return UserInputError(
                "the entrypoint (or its ELF interpreter) does not exist in the image",
                hint="check the Entrypoint/Cmd and, for a dynamic binary, that its loader is in the image",
            )
        return RuntimeStartError(
            f"{self.name} could not start the container (exit {code})",
            tool=self.name,
            returncode=code,
            stderr_tail=tail(stderr, 8),
        )

    def kill(self, container_id: str, signal: str) -> bool:
        """Send ``signal`` (TERM, KILL, ...) to the container's init; False when it is already gone."""
        res = self.runner.run([self.path, "kill", container_id, signal], timeout=STEP_TIMEOUT, check=False)
        return res.returncode == 0

    def delete(self, container_id: str) -> None:
        self.runner.run([self.path, "delete", "--force", container_id], timeout=STEP_TIMEOUT, check=False)

    def list(self) -> list[dict]:
        """Containers the runtime knows (id, pid, status, bundle)."""
        res = self.runner.run([self.path, "list", "--format", "json"], timeout=STEP_TIMEOUT, check=False)
        if res.returncode != 0 or not res.stdout.strip():
            return []
        try:
            return json.loads(res.stdout) or []
        except json.JSONDecodeError:
            return []

    def remove(self, container: Container) -> None:
        """Make sure the container, its runtime state and its bundle are gone; signals wait until then."""
        with interrupt.shielded():
            try:
                if container.proc.poll() is None:
                    self.kill(container.id, "KILL")
                    if container.wait(STEP_TIMEOUT) is None:
                        container.proc.kill()
                        container.wait(STEP_TIMEOUT)
            finally:
                self.delete(container.id)
                shutil.rmtree(container.bundle, ignore_errors=True)
                _release(container.guard)

    def sweep_leftovers(self) -> list[str]:
        """Remove goslim-verify containers whose goslim process is gone; returns their ids."""
        with interrupt.shielded():
            return self._sweep()

    def _sweep(self) -> list[str]:
        swept = []
        for c in self.list():
            m = _ID_RE.match(str(c.get("id", "")))
            if not m or _alive(int(m.group(1))):
                continue
            self.kill(c["id"], "KILL")
            self.delete(c["id"])
            bundle = Path(str(c.get("bundle", "")))
            if bundle.name.startswith(BUNDLE_PREFIX):
                shutil.rmtree(bundle, ignore_errors=True)
            swept.append(c["id"])
        sweep_temp_dirs()
        return swept


def _release(guard: subprocess.Popen[bytes] | None) -> None:
    """Tell the guard the container is gone, so it exits without touching anything."""
    if guard is None or guard.stdin is None:
        return
    with contextlib.suppress(OSError):
        guard.stdin.write(GUARD_DONE)
    with contextlib.suppress(OSError):
        guard.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        guard.wait(timeout=STEP_TIMEOUT)


def sweep_temp_dirs(temp_dir: Path | None = None) -> list[Path]:
    """Remove bundle and rootfs temp dirs left by goslim processes that no longer exist."""
    removed = []
    root = Path(temp_dir or tempfile.gettempdir())
    for entry in root.iterdir():
        m = _TEMP_RE.match(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and not _alive(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
