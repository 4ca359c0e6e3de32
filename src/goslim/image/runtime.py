"""umoci and runc, the two programs the start check drives, each behind the runner seam."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from goslim.errors import ToolError
from goslim.runner import ProcessResult, Runner, SubprocessRunner, require

UNPACK_TIMEOUT_S = 120
RUNC_TIMEOUT_S = 30


class Umoci:
    """`umoci unpack`: an OCI layout tag -> a runtime bundle (rootfs + config.json)."""

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner = runner or SubprocessRunner()

    def unpack(self, layout: Path, tag: str, bundle: Path) -> Path:
        """Unpack ``layout:tag`` into ``bundle``; the config runs without a terminal."""
        exe = require(self.runner, "umoci")
        self.runner.run([exe, "unpack", "--image", f"{layout}:{tag}", str(bundle)], timeout=UNPACK_TIMEOUT_S)
        config_path = bundle / "config.json"
        config = json.loads(config_path.read_text())
        # A terminal needs a console socket; the check reads plain stdout instead.
        config["process"]["terminal"] = False
        config_path.write_text(json.dumps(config))
        return bundle


class Runc:
    """`runc run/kill/delete` for one container at a time."""

    def __init__(self, runner: Runner | None = None, program: str = "runc") -> None:
        self.runner = runner or SubprocessRunner()
        self.program = program

    def run(self, bundle: Path, container_id: str, pid_file: Path, timeout: float) -> ProcessResult:
        """Run in the foreground until the process exits; the result's returncode is the container's."""
        exe = require(self.runner, self.program)
        argv = [exe, "run", "--bundle", str(bundle), "--pid-file", str(pid_file), container_id]
        return self.runner.run(argv, timeout=timeout, check=False)

    def kill(self, container_id: str, signal: str = "TERM") -> None:
        self.runner.run([self.program, "kill", container_id, signal], timeout=RUNC_TIMEOUT_S, check=False)

    def delete(self, container_id: str) -> None:
        """Remove the container whatever its state; a container already gone is fine."""
        # Cleanup is best effort; the container id is unique per run.
        with contextlib.suppress(ToolError):
            self.runner.run([self.program, "delete", "--force", container_id], timeout=RUNC_TIMEOUT_S,
                            check=False)
