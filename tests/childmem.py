"""The peak RSS of a Python child process, as the child's own VmHWM.

``os.wait4``'s ``ru_maxrss`` is not the child's own figure: Linux records the forking parent's RSS
(copied with its address space) into the child's maxrss at exec, so a test process that has grown
to 500 MiB would charge 500 MiB to every child it starts. A fresh address space's VmHWM starts at
zero; the child writes it to a file when it exits.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Runs sys.argv[1] ("-m MODULE" or "-c CODE" style, see below) in this process after an optional
# address-space limit, and writes VmHWM in KiB to the file named by sys.argv[2] at exit.
_WRAPPER = (
    "import atexit, resource, runpy, sys\n"
    "kind, report, limit, target, *rest = sys.argv[1:]\n"
    "if int(limit): resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))\n"
    "def _peak():\n"
    "    with open('/proc/self/status') as status, open(report, 'w') as out:\n"
    "        out.write(next(ln.split()[1] for ln in status if ln.startswith('VmHWM:')))\n"
    "atexit.register(_peak)\n"
    "if kind == 'm':\n"
    "    sys.argv = [target, *rest]\n"
    "    runpy.run_module(target, run_name='__main__', alter_sys=True)\n"
    "else:\n"
    "    sys.argv = ['-c', *rest]\n"
    "    exec(compile(target, '<child>', 'exec'), {'__name__': '__main__'})\n"
)


def goslim_argv(args: list[str], report: Path, *, as_limit: int = 0) -> list[str]:
    """argv for ``python -m goslim ARGS`` that writes its peak RSS (KiB) to ``report``."""
    return [sys.executable, "-c", _WRAPPER, "m", str(report), str(as_limit), "goslim", *args]


def code_argv(code: str, args: list[str], report: Path) -> list[str]:
    """argv for ``python -c CODE ARGS`` that writes its peak RSS (KiB) to ``report``."""
    return [sys.executable, "-c", _WRAPPER, "c", str(report), "0", code, *args]


def peak_kib(report: Path) -> int:
    """The peak RSS the child wrote, in KiB (0 when it died before writing it)."""
    try:
        return int(report.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def live_peak_kib(pid: int) -> int:
    """VmHWM of a running process in KiB (0 once it is gone), for children that may be killed."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(ln.split()[1]) for ln in status if ln.startswith("VmHWM:")), 0)
    except (OSError, ValueError):
        return 0
