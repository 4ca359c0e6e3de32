"""Verdicts from observations and files, without running anything: logs, runtime checks, static checks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from goslim.binary import BinaryReport, NeedAnswer
from goslim.probe import ProbeResult, ProbeSpec, WaitResult
from goslim.verify import runtime_checks as rc
from goslim.verify.cgroups import LimitUsage
from goslim.verify.logs import analyze_logs
from goslim.verify.models import CheckStatus, VerifyOptions
from goslim.verify.observe import RunObservation
from goslim.verify.process import container_process
from goslim.verify.static_checks import STATIC_CHECKS, StaticContext, rootfs_size
from tests.reports import make_report

OPTS = VerifyOptions(alive_seconds=1, grace_seconds=2)
GO_STATIC = make_report("amd64", ca=True, tz=True)


def test_logs_structured_and_read_only_paths():
    out = (
        '{"level":"INFO","msg":"listening"}\n'
        '{"level":"ERROR","err":"open /var/cache/x.db: read-only file system"}\n'
    )
    err = (
        "OSError: [Errno 30] Read-only file system: '/srv/data'\nload zone: unknown time zone Mars/Olympus\n"
    )
    facts = analyze_logs(out, err)
    assert (facts.stdout_lines, facts.stderr_lines, facts.json_lines) == (2, 2, 2)
    assert facts.read_only_paths == ("/var/cache/x.db", "/srv/data")
    assert facts.zone_lines == ("load zone: unknown time zone Mars/Olympus",)


def test_logs_certificate_errors_and_empty():
    facts = analyze_logs("", "x509: certificate signed by unknown authority\n")
    assert facts.roots_lines and facts.read_only_paths == ()
    assert analyze_logs("", "\n\n").total == 0


def _obs(**kw: object) -> RunObservation:
    base = dict(
        start_seconds=0.05,
        port=8080,
        port_source="EXPOSE",
        uid=65532,
        gid=65532,
        logs=analyze_logs('{"msg":"hi"}\n', ""),
        limits=LimitUsage(5, 0, 4 << 20, 0),
    )
    base.update(kw)
    return RunObservation(**base)  # type: ignore[arg-type]


def test_exit_description():
    assert rc.describe_exit(137) == "killed by SIGKILL (status 137)"
    assert rc.describe_exit(3) == "exit code 3"
    assert rc.describe_exit(None) == "still running"


def test_starts_fail_carries_exit_code_and_logs():
    r = rc.check_starts(
        _obs(
            exited_early=True, early_exit_code=3, alive_seconds=1.0, logs=analyze_logs("", "fatal: no db\n")
        ),
        OPTS,
    )
    assert r.status is CheckStatus.FAIL and r.measured["exit_code"] == 3
    assert "log: fatal: no db" in r.evidence


def test_shutdown_verdicts():
    needed = rc.check_shutdown(_obs(shutdown_seconds=2.0, shutdown_exit_code=137, needed_kill=True), OPTS)
    assert needed.status is CheckStatus.FAIL and needed.summary.startswith("needed SIGKILL")
    bad_code = rc.check_shutdown(_obs(shutdown_seconds=0.1, shutdown_exit_code=1), OPTS)
    assert bad_code.status is CheckStatus.FAIL and "exit code 1" in bad_code.summary
    good = rc.check_shutdown(_obs(shutdown_seconds=0.1, shutdown_exit_code=0), OPTS)
    assert good.status is CheckStatus.PASS and good.measured["needed_sigkill"] is False
    gone = rc.check_shutdown(_obs(exited_early=True, shutdown_exit_code=2), OPTS)
    assert gone.status is CheckStatus.SKIP


def test_probe_verdicts():
    spec = ProbeSpec("http", 8080, "/readyz")
    fail = WaitResult(False, 5, 1.0, ProbeResult(False, "503 Service Unavailable", 503))
    r = rc.check_readiness(_obs(readiness=fail, readiness_spec=spec))
    assert r.status is CheckStatus.FAIL and "503" in r.summary
    ok = WaitResult(True, 3, 0.4, ProbeResult(True, "200 OK", 200))
    r = rc.check_readiness(_obs(readiness=ok, readiness_spec=spec, time_to_ready=0.5))
    assert r.status is CheckStatus.PASS and r.measured["time_to_ready_s"] == 0.5
    assert rc.check_startup(_obs(port=None)).status is CheckStatus.SKIP
    tcp = ProbeSpec("tcp", 9999)
    never = WaitResult(False, 10, 1.0, ProbeResult(False, "connection refused"))
    r = rc.check_startup(_obs(startup=never, startup_spec=tcp, listening=(8080,)))
    assert "port 9999 never opened" in r.summary and "listening: 8080" in r.evidence


def test_counts_are_plural_unless_one_and_an_exit_points_to_starts():
    tcp = ProbeSpec("tcp", 9094)
    once = WaitResult(False, 1, 0.1, ProbeResult(False, "connection refused"))
    r = rc.check_startup(_obs(startup=once, startup_spec=tcp, listening=(8080,)))
    assert "failed after 1 attempt:" in r.summary
    r = rc.check_readiness(_obs(readiness=once, readiness_spec=tcp))
    assert "failed 1 time (connection refused)" in r.summary
    exited = WaitResult(False, 1, 0.1, ProbeResult(False, "process exited"))
    r = rc.check_readiness(_obs(readiness=exited, readiness_spec=tcp))
    assert r.summary == "never ready: the process exited while TCP :9094 was probed (see starts)"


def test_liveness_threshold():
    spec = ProbeSpec("http", 8080, "/healthz")
    bad = ProbeResult(False, "500 Internal Server Error", 500)
    r = rc.check_liveness(_obs(liveness_spec=spec, liveness=[bad] * 3, liveness_failed_in_a_row=3), OPTS)
    assert r.status is CheckStatus.FAIL and "restart" in r.summary
    r = rc.check_liveness(
        _obs(
            liveness_spec=spec, liveness=[bad, ProbeResult(True, "200 OK", 200)], liveness_failed_in_a_row=1
        ),
        OPTS,
    )
    assert r.status is CheckStatus.WARN


def test_non_root_read_only_and_limits(tmp_path: Path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "svc").write_text("x")
    proc = container_process(tmp_path, {"Entrypoint": ["/app/svc"]})
    assert rc.check_non_root(_obs(uid=0), proc).status is CheckStatus.FAIL
    assert rc.check_non_root(_obs(uid=None), proc).measured["uid"] == 0  # falls back to the config
    ro = rc.check_read_only_root(_obs(logs=analyze_logs("mkdir /var/lib/app: read-only file system\n", "")))
    assert ro.status is CheckStatus.FAIL and "/var/lib/app" in ro.summary
    hit = rc.check_limits(_obs(limits=LimitUsage(256, 40, 10 << 20, 0)), OPTS)
    assert hit.status is CheckStatus.FAIL and "pids limit (256) 40 times" in hit.summary
    assert rc.check_limits(_obs(limits=None), OPTS).status is CheckStatus.SKIP


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "app").mkdir(parents=True)
    (root / "app" / "svc").write_bytes(b"\x7fELF" + b"\0" * 100)
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    return root


def _ctx(root: Path, facts: BinaryReport | None = GO_STATIC, **opts: object) -> StaticContext:
    proc = container_process(root, {"Entrypoint": ["/app/svc"], "User": "65532"})
    return StaticContext(
        root, proc, facts, 1000, OPTS.model_copy(update=opts), rootfs_size(root), "unpacked rootfs", None
    )


def run(check: str, ctx: StaticContext):
    return STATIC_CHECKS[check](ctx)


def test_static_checks_on_a_bare_rootfs(image_root: Path):
    ctx = _ctx(image_root)
    assert run("no-shell", ctx).status is CheckStatus.PASS
    assert run("libraries", ctx).status is CheckStatus.PASS
    assert run("ca-roots", ctx).status is CheckStatus.FAIL  # the binary calls SystemCertPool
    zone = run("zoneinfo", ctx)
    assert zone.status is CheckStatus.FAIL and "binary: needed" in zone.evidence[0]
    assert run("setuid", ctx).status is CheckStatus.PASS
    assert run("world-writable", ctx).status is CheckStatus.PASS


def test_static_checks_find_problems(image_root: Path):
    (image_root / "bin").mkdir()
    (image_root / "bin" / "sh").write_text("")
    (image_root / "bin" / "apk").write_text("")
    su = image_root / "bin" / "su"
    su.write_text("")
    su.chmod(0o4755)
    (image_root / "data").mkdir()
    (image_root / "data").chmod(0o777)
    ctx = _ctx(image_root, max_binary_mb=0.00001)
    shell = run("no-shell", ctx)
    assert shell.status is CheckStatus.FAIL and "a shell and a package manager" in shell.summary
    assert "/bin/su" in run("setuid", ctx).evidence[0]
    ww = run("world-writable", ctx)
    assert ww.status is CheckStatus.FAIL and ww.evidence[0].startswith("/data")
    assert run("size", ctx).status is CheckStatus.FAIL


def test_roots_and_zoneinfo_present_or_embedded(image_root: Path):
    certs = image_root / "etc" / "ssl" / "certs"
    certs.mkdir(parents=True)
    (certs / "ca-certificates.crt").write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    embedded = make_report("amd64", ca=True, tz=NeedAnswer.CARRIED)
    ctx = _ctx(image_root, facts=embedded)
    roots = run("ca-roots", ctx)
    assert roots.status is CheckStatus.PASS and roots.measured["certificates"] == 1
    zone = run("zoneinfo", ctx)
    assert zone.status is CheckStatus.PASS
    assert "not needed: the binary carries its own zoneinfo (time/tzdata)" in zone.summary


def test_carried_roots_pass_without_a_bundle_with_the_image_stages_words(image_root: Path):
    carried = make_report("amd64", ca=NeedAnswer.CARRIED)
    roots = run("ca-roots", _ctx(image_root, facts=carried))
    assert roots.status is CheckStatus.PASS
    verdict = carried.needs.ca_roots.verdict
    assert verdict == "not needed: the binary carries its own roots (x509roots/fallback)"
    assert verdict in roots.summary and f"binary: {verdict}" in roots.evidence


def test_a_script_entrypoint_has_unknown_needs(image_root: Path):
    ctx = _ctx(image_root, facts=None)
    assert run("libraries", ctx).status is CheckStatus.SKIP
    assert run("ca-roots", ctx).status is CheckStatus.SKIP


def test_dynamic_binary_needs_loader_and_libs(image_root: Path):
    dyn = make_report(
        "amd64", static=False, interpreter="/lib64/ld-linux-x86-64.so.2", needed_libs=["libc.so.6"]
    )
    r = run("libraries", _ctx(image_root, facts=dyn))
    assert r.status is CheckStatus.FAIL and "ld-linux-x86-64.so.2" in r.summary and "libc.so.6" in r.summary
    lib = image_root / "lib" / "x86_64-linux-gnu"
    lib.mkdir(parents=True)
    (lib / "libc.so.6").write_text("")
    (image_root / "lib64").mkdir()
    (image_root / "lib64" / "ld-linux-x86-64.so.2").write_text("")
    assert run("libraries", _ctx(image_root, facts=dyn)).status is CheckStatus.PASS


def test_setuid_walk_never_follows_symlinks(image_root: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "suid").write_text("")
    (outside / "suid").chmod(0o4755)
    (image_root / "link").symlink_to(outside)
    assert run("setuid", _ctx(image_root)).status is CheckStatus.PASS
    assert stat.S_IMODE((outside / "suid").stat().st_mode) == 0o4755
