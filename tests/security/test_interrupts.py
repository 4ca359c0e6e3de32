"""Ctrl-C, SIGTERM and SIGKILL at several points of `goslim slim` and `goslim verify`, with the real tools.

A signal sent to goslim's process group stands for a terminal's Ctrl-C (go, runc kill, ... get it
too); a signal to goslim alone stands for a service manager. Afterwards nothing may be left: no
runc container of that goslim, no guard process, no mount under its temp dir, no goslim temp dir.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from goslim.binary import analyze
from goslim.image import ImageOptions, assemble
from goslim.oci import write_oci_layout
from goslim.verify.runtime import GUARD_NAME, ID_PREFIX, OciRuntime
from tests.conftest import EXAMPLE_DIR, REPO, need_tool
from tests.integration.test_slim_many import make_module

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
GOSLIM = [sys.executable, "-m", "goslim"]
# In the order they start; the ablation starts after UPX (whose timings it would disturb) and runs alongside.
STAGES = ("build", "analyze", "upx", "ablation", "image", "verify", "scan", "sign", "gc", "deploy files",
          "claims")
SIGNAL_GAP = 0.005  # seconds between repeated signals, as from a user hitting Ctrl-C again
WAIT_LIMIT = 240.0  # generous bound for this busy machine; a bound on waiting, not an assertion on speed


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("go", "runc"):
        need_tool(tool)


@dataclass
class Ended:
    code: int
    stderr: str
    seconds_to_exit: float  # from the first signal; printed for the record, never asserted
    containers_gone: float | None  # likewise

    def show(self, label: str) -> None:
        gone = "-" if self.containers_gone is None else f"{self.containers_gone:.2f}s"
        print(f"{label}: exit {self.code} after {self.seconds_to_exit:.2f}s, no container after {gone}")


class Goslim:
    """One goslim child in its own session, with its own TMPDIR so its temp dirs can be counted."""

    def __init__(self, tmp_path: Path, *args: str, cold_go_cache: bool = False) -> None:
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(self.tmp), "PYTHONPATH": str(REPO / "src")}
        if cold_go_cache:  # a build long enough to be interrupted half-way
            env["GOCACHE"] = str(tmp_path / "gocache")
        self.stderr_path = tmp_path / "stderr.txt"
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [*GOSLIM, *args],
                cwd=tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        self.pid = self.proc.pid

    def wait_for(self, point: str) -> None:
        """Return once goslim is inside ``point``: build (a go compiler runs), verify (its container runs),
        scan (its scan temp dir exists)."""
        deadline = time.monotonic() + WAIT_LIMIT
        while not self._at(point):
            assert self.proc.poll() is None, f"goslim ended before {point}: {self.stderr_path.read_text()}"
            assert time.monotonic() < deadline, f"goslim never reached {point}"
            time.sleep(0.01)

    def _at(self, point: str) -> bool:
        if point == "build":
            return any(comm in ("compile", "link") for comm in descendants(self.pid).values())
        if point == "verify":
            return bool(containers_of(self.pid))
        if point == "scan":
            return any(self.tmp.glob("goslim-scan-*"))
        raise AssertionError(point)

    def send(self, signum: int, times: int, *, group: bool = True) -> float:
        sent = time.monotonic()
        for _ in range(times):
            if group:
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)
            time.sleep(SIGNAL_GAP)
        return sent

    def end(self, sent: float) -> Ended:
        deadline = sent + WAIT_LIMIT
        gone = None  # when its containers were gone, for the record
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, "goslim did not exit"
            if gone is None and not containers_of(self.pid):
                gone = time.monotonic() - sent
            time.sleep(0.02)
        return Ended(self.proc.returncode, self.stderr_path.read_text(), time.monotonic() - sent, gone)

    def assert_nothing_left(self) -> None:
        assert containers_of(self.pid) == []
        assert guards_of(self.pid) == []
        mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
        assert [line for line in mountinfo if str(self.tmp) in line] == []
        assert sorted(p.name for p in self.tmp.iterdir() if p.name.startswith("goslim-")) == []


def containers_of(pid: int) -> list[str]:
    return [c["id"] for c in OciRuntime("runc").list() if c["id"].startswith(f"{ID_PREFIX}{pid}-")]


def guards_of(pid: int) -> list[int]:
    """Guard processes watching containers of goslim ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if GUARD_NAME.encode() in argv and any(a.startswith(f"{ID_PREFIX}{pid}-".encode()) for a in argv):
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> dict[int, str]:
    """pid -> command name of every live descendant of ``pid``."""
    parent, comm = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name_end = stat.rindex(")")
        comm[int(entry.name)] = stat[stat.index("(") + 1 : name_end]
        parent[int(entry.name)] = int(stat[name_end + 2 :].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, ppid in parent.items():
            if ppid == current and child not in found:
                found[child] = comm[child]
                frontier.append(child)
    return found


# (where, how many signals, which signal, to the whole process group like a terminal)
CASES = [
    pytest.param("build", 1, signal.SIGINT, True, id="build-ctrl-c-1x"),
    pytest.param("verify", 1, signal.SIGINT, True, id="verify-ctrl-c-1x"),
    pytest.param("verify", 2, signal.SIGINT, True, id="verify-ctrl-c-2x"),
    pytest.param("verify", 3, signal.SIGINT, True, id="verify-ctrl-c-3x"),
    pytest.param("scan", 2, signal.SIGINT, True, id="scan-ctrl-c-2x"),
    pytest.param("verify", 1, signal.SIGTERM, False, id="verify-sigterm-to-goslim"),
]


@pytest.mark.parametrize(("where", "times", "signum", "group"), CASES)
def test_slim_stops_at_once_writes_its_report_and_leaves_nothing(
    tmp_path: Path, where: str, times: int, signum: int, group: bool
) -> None:
    report = tmp_path / "report"
    fast = ("--no-ablation", "--no-compare", "--upx", "off")
    args = ["slim", str(EXAMPLE_DIR), *fast, "--report", str(report)]
    goslim = Goslim(tmp_path, *args, cold_go_cache=where == "build")
    goslim.wait_for(where)
    ended = goslim.end(goslim.send(signum, times, group=group))
    ended.show(f"slim: {where} x{times} {signal.Signals(signum).name}")

    expected = 143 if signum == signal.SIGTERM else 130
    assert ended.code == expected, ended.stderr
    assert "Traceback" not in ended.stderr
    assert ended.stderr.count("error:") == 1 and signal.Signals(signum).name in ended.stderr
    run = json.loads((report / "report.json").read_text())
    assert run["exit_status"] == expected
    statuses = {s["stage"]: s["status"] for s in run["stages"]}
    assert [s["stage"] for s in run["stages"]] == [s for s in STAGES if s in statuses]  # each once, in order
    assert statuses["build"] in ("ok", "cancelled")
    first_cancelled = next(i for i, s in enumerate(run["stages"]) if s["status"] == "cancelled")
    before, after = run["stages"][:first_cancelled], run["stages"][first_cancelled:]
    assert all(s["status"] in ("ok", "skipped") for s in before), before
    assert all(s["status"] == "cancelled" for s in after), after
    if where in ("build", "verify"):
        # The stage that was running is the one stopped; nothing after it ran.
        assert run["stages"][first_cancelled]["stage"] == where
        assert "stopped after" in run["stages"][first_cancelled]["message"]
    else:
        # Scan is short: the signal lands in it or right after it ends.
        assert statuses["verify"] == "ok" and statuses["scan"] in ("ok", "cancelled")
    assert "| cancelled |" in (report / "report.md").read_text()
    goslim.assert_nothing_left()


@pytest.fixture(scope="module")
def hello_layout(go_build, tmp_path_factory: pytest.TempPathFactory) -> str:
    binary = go_build("hello-api")
    assembled = assemble(binary, analyze(binary.path), "static", ImageOptions(ports=[8080]))
    path = tmp_path_factory.mktemp("interrupt-image") / "layout"
    write_oci_layout(path, assembled.image, "t")
    return f"oci:{path}:t"


@pytest.mark.parametrize("times", [1, 3])
def test_verify_alone_cleans_up_after_any_number_of_ctrl_c(hello_layout: str, tmp_path: Path, times: int):
    goslim = Goslim(tmp_path, "verify", hello_layout, "--alive", "60")
    goslim.wait_for("verify")
    ended = goslim.end(goslim.send(signal.SIGINT, times))
    ended.show(f"verify: x{times} SIGINT")
    assert ended.code == 130, ended.stderr
    assert "interrupted by SIGINT" in ended.stderr and "Traceback" not in ended.stderr
    goslim.assert_nothing_left()


def test_sigkill_of_goslim_the_guard_removes_container_and_bundle(hello_layout: str, tmp_path: Path):
    goslim = Goslim(tmp_path, "verify", hello_layout, "--alive", "60")
    goslim.wait_for("verify")
    os.kill(goslim.pid, signal.SIGKILL)
    goslim.proc.wait(timeout=30)
    deadline = time.monotonic() + 60
    bundles = goslim.tmp.glob
    while containers_of(goslim.pid) or guards_of(goslim.pid) or any(bundles("goslim-verify-bundle-*")):
        assert time.monotonic() < deadline, "the guard did not remove the container"
        time.sleep(0.05)
    # What the guard does not know of, the rootfs, goes with the next verify's sweep.
    assert [p.name.split("-")[3] for p in goslim.tmp.glob("goslim-verify-rootfs-*")] == [str(goslim.pid)]
    _next_verify_sweeps(hello_layout, tmp_path)
    goslim.assert_nothing_left()


def test_sigkill_of_goslim_and_its_guard_next_verify_sweeps(hello_layout: str, tmp_path: Path):
    goslim = Goslim(tmp_path, "verify", hello_layout, "--alive", "60")
    goslim.wait_for("verify")
    for pid in guards_of(goslim.pid):
        os.kill(pid, signal.SIGKILL)
    os.kill(goslim.pid, signal.SIGKILL)
    goslim.proc.wait(timeout=30)
    assert containers_of(goslim.pid) != []  # nobody was left to clean up
    _next_verify_sweeps(hello_layout, tmp_path)
    goslim.assert_nothing_left()


def _next_verify_sweeps(layout: str, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run(
        [*GOSLIM, "verify", layout, "--alive", "1", "--check", "starts"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_LIMIT,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_several_services_in_worker_threads_stop_at_once(tmp_path: Path) -> None:
    """With --jobs 2 the stages run in worker threads: the signal reaches them through their waits."""
    module = tmp_path / "mono"
    make_module(module, ["alpha", "beta"])
    (module / "goslim.yaml").write_text(
        "image:\n  ports: [8080]\nverify:\n  port: 8080\n  health: /healthz\n  alive_seconds: 120\n"
    )
    report = tmp_path / "report"
    fast = ("--no-ablation", "--no-compare", "--upx", "off", "--jobs", "2")
    goslim = Goslim(tmp_path, "slim", f"{module}/cmd/...", *fast, "--report", str(report))
    goslim.wait_for("verify")
    ended = goslim.end(goslim.send(signal.SIGINT, 2))
    ended.show("slim --jobs 2: verify x2 SIGINT")
    assert ended.code == 130, ended.stderr
    assert "Traceback" not in ended.stderr
    for name in ("alpha", "beta"):
        run = json.loads((report / name / "report.json").read_text())
        assert run["exit_status"] == 130
        after = [s for s in run["stages"] if s["stage"] in ("verify", "scan", "deploy files", "claims")]
        assert after and all(s["status"] == "cancelled" for s in after), run["stages"]
    goslim.assert_nothing_left()
