"""goslim verify under the real runc: each failure fixture is caught by its check, the example passes all.

Images here are plain rootfs directories (a go_build() binary plus the few files it needs) and an
OCI image config dict, so these tests need only Go and runc.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from goslim.errors import ToolError, ToolMissingError, UserInputError
from goslim.verify import Checklist, CheckStatus, ProbeSettings, VerifyOptions, verify_rootfs
from goslim.verify.runtime import ID_PREFIX, OciRuntime
from tests.conftest import need_tool

pytestmark = pytest.mark.timeout(120)

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_ZONEINFO = Path("/usr/share/zoneinfo")
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
FAST = VerifyOptions(alive_seconds=1.0, grace_seconds=2.0)


def make_rootfs(
    dest: Path, binary: Path, *, certs: bool = True, zoneinfo: bool = True, dirs: tuple[str, ...] = ()
) -> Path:
    """A distroless-like rootfs: /app/<binary>, /etc/passwd with nonroot, CA roots and zoneinfo on request."""
    (dest / "app").mkdir(parents=True)
    shutil.copy2(binary, dest / "app" / binary.name)
    (dest / "etc").mkdir()
    (dest / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
    )
    (dest / "etc" / "group").write_text("root:x:0:\nnonroot:x:65532:\n")
    tmp = dest / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    if certs:
        (dest / "etc" / "ssl" / "certs").mkdir(parents=True)
        src = HOST_CA if HOST_CA.is_file() else Path(__import__("certifi").where())
        shutil.copy2(src, dest / "etc" / "ssl" / "certs" / "ca-certificates.crt")
    if zoneinfo:
        for zone in ZONES:
            target = dest / "usr" / "share" / "zoneinfo" / zone
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(HOST_ZONEINFO / zone, target)
    for d in dirs:
        (dest / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return dest


def config_for(
    name: str,
    *,
    user: str = "nonroot",
    env: tuple[str, ...] = (),
    ports: tuple[int, ...] = (8080,),
    **extra: object,
) -> dict:
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": user,
            "Entrypoint": [f"/app/{name}"],
            "Env": ["PORT=8080", *env],
            "WorkingDir": "/",
            "ExposedPorts": {f"{p}/tcp": {} for p in ports},
            **extra,
        },
    }


def our_containers() -> list[str]:
    """runc containers started by this test process (ids embed the goslim pid)."""
    return [c["id"] for c in OciRuntime("runc").list() if c["id"].startswith(f"{ID_PREFIX}{os.getpid()}-")]


@pytest.fixture(autouse=True)
def _no_leftovers():
    need_tool("runc")
    yield
    assert our_containers() == []
    assert "goslim-verify" not in Path("/proc/self/mounts").read_text()  # no mount left on the host


@pytest.fixture
def rootfs_of(go_build, tmp_path):
    def make(app: str, profile: str = "slim", **kwargs: object) -> Path:
        binary = go_build(app, profile=profile)
        return make_rootfs(tmp_path / f"rootfs-{app}", Path(binary.path), **kwargs)

    return make


def status(checklist: Checklist, check_id: str) -> CheckStatus:
    return checklist.result(check_id).status


def test_example_passes_every_check(rootfs_of):
    rootfs = rootfs_of("hello-api")
    cl = verify_rootfs(rootfs, config_for("hello-api"), FAST)
    bad = {r.id: r.summary for r in cl.results if r.status is not CheckStatus.PASS}
    assert bad == {}
    assert cl.ok and cl.runtime.startswith("runc")
    assert len(cl.results) == 17
    assert cl.result("non-root").measured["uid"] == 65532
    assert cl.result("readiness").measured["time_to_ready_s"] > 0
    assert "structured JSON" in cl.result("logs").summary
    assert cl.result("shutdown").measured["exit_code"] == 0
    assert cl.result("ca-roots").measured["certificates"] > 0
    assert cl.deliberate_wait_seconds > 0
    json.dumps(cl.model_dump(mode="json"))  # serialisable for the report stage


def test_exits_early_is_caught_by_starts(rootfs_of):
    cl = verify_rootfs(
        rootfs_of("exits-early"),
        config_for("exits-early", ports=()),
        FAST.model_copy(update={"alive_seconds": 2.5}),
    )
    starts = cl.result("starts")
    assert starts.status is CheckStatus.FAIL
    assert starts.measured["exit_code"] == 3
    assert any("cannot reach the database" in e for e in starts.evidence)
    assert status(cl, "shutdown") is CheckStatus.SKIP


def test_ignores_sigterm_needs_sigkill(rootfs_of):
    cl = verify_rootfs(
        rootfs_of("ignores-sigterm"),
        config_for("ignores-sigterm"),
        FAST.model_copy(update={"grace_seconds": 1.0}),
    )
    shutdown = cl.result("shutdown")
    assert shutdown.status is CheckStatus.FAIL
    assert "needed SIGKILL" in shutdown.summary
    assert shutdown.measured["needed_sigkill"] is True
    assert shutdown.measured["exit_code"] == 137
    assert status(cl, "starts") is CheckStatus.PASS


def test_slow_stop_is_caught_past_the_grace_period(rootfs_of):
    cl = verify_rootfs(
        rootfs_of("slow-stop"),
        config_for("slow-stop", env=("STOP_AFTER=4s",)),
        FAST.model_copy(update={"grace_seconds": 1.0}),
    )
    shutdown = cl.result("shutdown")
    assert shutdown.status is CheckStatus.FAIL and shutdown.measured["needed_sigkill"] is True
    assert any("draining" in e for e in shutdown.evidence)


def test_slow_stop_within_a_longer_grace_period_passes(rootfs_of):
    cl = verify_rootfs(
        rootfs_of("slow-stop"),
        config_for("slow-stop", env=("STOP_AFTER=300ms",)),
        FAST.model_copy(update={"grace_seconds": 3.0}),
    )
    shutdown = cl.result("shutdown")
    assert shutdown.status is CheckStatus.PASS
    assert shutdown.measured["shutdown_s"] >= 0.3


def test_never_logs_is_caught_by_logs(rootfs_of):
    cl = verify_rootfs(rootfs_of("never-logs"), config_for("never-logs"), FAST)
    assert status(cl, "logs") is CheckStatus.WARN
    assert "nothing" in cl.result("logs").summary
    assert status(cl, "shutdown") is CheckStatus.PASS


def test_needs_zoneinfo_is_caught_by_zoneinfo(rootfs_of):
    cl = verify_rootfs(rootfs_of("needs-zoneinfo", zoneinfo=False), config_for("needs-zoneinfo"), FAST)
    zone = cl.result("zoneinfo")
    assert zone.status is CheckStatus.FAIL
    assert any(e.startswith("binary: needed") for e in zone.evidence)  # goslim.binary's answer
    assert any("unknown time zone" in e and "America/New_York" in e for e in zone.evidence)  # the run's log
    assert status(cl, "starts") is CheckStatus.FAIL


def test_needs_roots_is_caught_by_ca_roots(rootfs_of):
    cl = verify_rootfs(rootfs_of("needs-roots", certs=False), config_for("needs-roots"), FAST)
    assert status(cl, "ca-roots") is CheckStatus.FAIL
    assert status(cl, "starts") is CheckStatus.FAIL


def test_writes_var_is_caught_by_read_only_root(rootfs_of):
    cl = verify_rootfs(rootfs_of("writes-var", dirs=("/var/cache",)), config_for("writes-var"), FAST)
    ro = cl.result("read-only-root")
    assert ro.status is CheckStatus.FAIL
    assert "/var/cache/writes-var" in ro.summary
    assert any("read-only file system" in e for e in ro.evidence)
    assert status(cl, "starts") is CheckStatus.PASS  # it carried on: only the read-only check catches it


def test_slow_ready_measures_time_to_ready(rootfs_of):
    cl = verify_rootfs(
        rootfs_of("slow-ready"),
        config_for("slow-ready", env=("READY_AFTER=1500ms",)),
        FAST.model_copy(update={"alive_seconds": 2.5}),
    )
    ready = cl.result("readiness")
    assert ready.status is CheckStatus.PASS
    assert ready.measured["time_to_ready_s"] >= 1.5
    assert ready.measured["attempts"] > 1
    assert "/readyz" in ready.summary


def test_slow_ready_fails_a_short_readiness_budget(rootfs_of):
    startup = ProbeSettings(kind="tcp", period_seconds=0.1, failure_threshold=5)
    cl = verify_rootfs(
        rootfs_of("slow-ready"),
        config_for("slow-ready", env=("READY_AFTER=3s",)),
        FAST.model_copy(update={"startup": startup}),
    )
    ready = cl.result("readiness")
    assert ready.status is CheckStatus.FAIL
    assert "503" in ready.summary


def test_cgo_dynamic_binary_on_scratch_is_caught_by_libraries(go_build, tmp_path):
    binary = go_build("cgo-required", profile="default")
    rootfs = tmp_path / "scratch"
    (rootfs / "app").mkdir(parents=True)
    shutil.copy2(binary.path, rootfs / "app" / "cgo-required")
    cl = verify_rootfs(rootfs, config_for("cgo-required", user="65532", ports=()), FAST)
    libs = cl.result("libraries")
    assert libs.status is CheckStatus.FAIL
    assert "ld-linux" in libs.summary and "libc.so.6" in libs.summary
    assert status(cl, "starts") is CheckStatus.FAIL and "interpreter" in cl.result("starts").summary


def test_root_user_is_caught_by_non_root(rootfs_of):
    cl = verify_rootfs(
        rootfs_of("hello-api"),
        config_for("hello-api", user=""),
        FAST.model_copy(update={"checks": ("non-root",)}),
    )
    assert [r.id for r in cl.results] == ["non-root"]
    assert status(cl, "non-root") is CheckStatus.FAIL
    assert cl.result("non-root").measured["uid"] == 0


def test_port_found_without_expose_from_listening_socket(rootfs_of):
    cl = verify_rootfs(
        rootfs_of("hello-api"),
        config_for("hello-api", ports=()),
        FAST.model_copy(update={"checks": ("probes",)}),
    )
    assert status(cl, "startup") is CheckStatus.PASS
    assert any("listening socket" in e for e in cl.result("startup").evidence)


def test_port_that_never_opens_fails_startup_naming_the_open_one(rootfs_of):
    startup = ProbeSettings(kind="tcp", period_seconds=0.1, failure_threshold=10)
    cl = verify_rootfs(
        rootfs_of("hello-api"),
        config_for("hello-api"),
        FAST.model_copy(update={"port": 9999, "startup": startup, "checks": ("runtime",)}),
    )
    s = cl.result("startup")
    assert s.status is CheckStatus.FAIL
    assert "port 9999 never opened" in s.summary
    assert any("listening: 8080" in e for e in s.evidence)


def test_hostile_fixture_is_contained_and_reported(rootfs_of, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    rootfs = rootfs_of("hostile")
    before = sorted(str(p.relative_to(rootfs)) for p in rootfs.rglob("*"))
    try:
        cl = verify_rootfs(
            rootfs,
            config_for("hostile", env=(f"HOSTILE_TARGET=127.0.0.1:{port}",)),
            FAST.model_copy(update={"alive_seconds": 2.0, "pids": 64}),
        )
    finally:
        stop.set()
        thread.join(2)
        listener.close()
    assert accepted == []  # nothing reached the host's loopback
    assert not Path("/hostile-was-here").exists()
    after = sorted(str(p.relative_to(rootfs)) for p in rootfs.rglob("*"))
    # Only the runtime's mountpoints appear: /dev, /proc, /sys and the injected /etc files.
    mountpoints = ("dev", "etc/hostname", "etc/hosts", "etc/resolv.conf", "proc", "sys")
    assert [p for p in after if p not in before] == [d for d in mountpoints if d not in before]
    ro = cl.result("read-only-root")
    assert ro.status is CheckStatus.FAIL and "/hostile-was-here" in ro.summary
    limits = cl.result("limits")
    assert limits.status is CheckStatus.FAIL and "pids limit" in limits.summary
    evidence = " ".join(e for r in cl.results for e in r.evidence)
    assert "hostile: dial" in evidence or "hostile: write" in evidence
    assert not cl.ok


def test_missing_entrypoint_is_bad_input(rootfs_of):
    cfg = config_for("hello-api")
    cfg["config"]["Entrypoint"] = ["/app/nope"]
    with pytest.raises(UserInputError, match="entrypoint '/app/nope' does not exist"):
        verify_rootfs(rootfs_of("hello-api"), cfg, FAST)


def test_image_for_another_architecture_is_bad_input(rootfs_of):
    cfg = config_for("hello-api")
    cfg["architecture"] = "arm64"
    with pytest.raises(UserInputError, match="linux/arm64 but this machine is linux/amd64"):
        verify_rootfs(rootfs_of("hello-api"), cfg, FAST)


def test_static_checks_alone_need_no_runtime(rootfs_of):
    cfg = config_for("hello-api")
    cfg["architecture"] = "arm64"  # no container runs, so a foreign image is fine
    cl = verify_rootfs(rootfs_of("hello-api"), cfg, FAST.model_copy(update={"checks": ("static",)}))
    assert cl.runtime == "" and len(cl.results) == 8


def test_crun_on_hybrid_cgroups_says_so(rootfs_of):
    need_tool("crun")
    try:
        verify_rootfs(
            rootfs_of("hello-api"), config_for("hello-api"), FAST.model_copy(update={"runtime": "crun"})
        )
    except ToolError as exc:
        assert "hybrid" in exc.message and "runc" in (exc.hint or "")
    else:
        pytest.skip("crun works on this machine's cgroups")


def test_no_runtime_installed_says_how_to_install(rootfs_of, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissingError) as err:
        verify_rootfs(rootfs_of("hello-api"), config_for("hello-api"), FAST)
    assert "runc" in err.value.message and "apt-get install runc" in (err.value.hint or "")


def test_entrypoint_the_user_cannot_execute_is_bad_input(rootfs_of):
    rootfs = rootfs_of("hello-api")
    (rootfs / "app" / "hello-api").chmod(0o700)
    with pytest.raises(UserInputError, match="not executable by the image's user"):
        verify_rootfs(rootfs, config_for("hello-api"), FAST)
