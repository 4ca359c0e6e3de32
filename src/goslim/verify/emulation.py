"""Running another architecture's image under qemu-user, without binfmt_misc.

The emulator (Debian's qemu-user-static: one static binary per guest architecture) is
bind-mounted read-only into the container and put before the entrypoint in the runtime spec;
nothing else of the spec changes. ``-0`` keeps the program's own argv[0].
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from goslim.errors import ToolError
from goslim.runner import Runner, SubprocessRunner
from goslim.verify.process import ContainerProcess

# GOARCH -> qemu's name for the guest architecture (qemu-<name>-static).
QEMU_ARCH = {"arm64": "aarch64", "arm": "arm", "amd64": "x86_64", "386": "i386", "ppc64le": "ppc64le",
             "s390x": "s390x", "riscv64": "riscv64"}
SEARCH_DIRS = (Path("/usr/bin"), Path("/usr/local/bin"))
# Under /dev (a tmpfs the spec already mounts), so no mount point is ever created in the image's rootfs.
INSIDE_DIR = "/dev/.goslim-emulator"
VERSION_TIMEOUT = 10.0


class Emulator(BaseModel):
    """A qemu-user emulator for one guest architecture, found on this machine."""

    model_config = ConfigDict(frozen=True)

    architecture: str  # GOARCH of the guest
    host_path: str
    version: str  # first line of --version: "qemu-aarch64 version 7.2.22 (Debian ...)"

    @property
    def inside_path(self) -> str:
        return f"{INSIDE_DIR}/{Path(self.host_path).name}"

    def mount(self) -> dict[str, object]:
        """The read-only bind mount that puts the emulator into the container."""
        return {"destination": self.inside_path, "type": "bind", "source": self.host_path,
                "options": ["rbind", "ro", "nosuid", "nodev"]}

    def wrap(self, process: ContainerProcess) -> ContainerProcess:
        """``process`` started through the emulator: ``qemu -0 ARGV0 EXECUTABLE ARGS...``."""
        args = (self.inside_path, "-0", process.args[0], process.executable, *process.args[1:])
        return replace(process, args=args)


class NoEmulator(BaseModel):
    """Why an architecture cannot be emulated here."""

    model_config = ConfigDict(frozen=True)

    architecture: str
    reason: str


def find_emulator(architecture: str, runner: Runner | None = None) -> Emulator | NoEmulator:
    """The qemu-user-static emulator for ``architecture`` (GOARCH), or why there is none."""
    name = QEMU_ARCH.get(architecture)
    if name is None:
        return NoEmulator(architecture=architecture,
                          reason=f"no qemu-user emulator is known for {architecture}")
    program = f"qemu-{name}-static"
    found = next((d / program for d in SEARCH_DIRS if (d / program).is_file()), None)
    if found is None:
        return NoEmulator(architecture=architecture,
                          reason=f"{program} is not installed (apt-get install qemu-user-static)")
    if not os.access(found, os.X_OK):
        return NoEmulator(architecture=architecture, reason=f"{found} is not executable")
    try:
        out = (runner or SubprocessRunner()).run([str(found), "--version"], timeout=VERSION_TIMEOUT,
                                                 check=False)
    except ToolError as exc:
        return NoEmulator(architecture=architecture, reason=f"{found} --version failed: {exc.message}")
    first = out.stdout.splitlines()[0].strip() if out.stdout.strip() else ""
    if out.returncode != 0 or not first:
        return NoEmulator(architecture=architecture, reason=f"{found} --version failed: {out.stderr_tail}")
    return Emulator(architecture=architecture, host_path=str(found), version=first)
