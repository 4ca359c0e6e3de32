"""Verify on real services: discovery, probes that do not hurt, causes a user can act on.

The focused tests run `tests/fixtures/go/service-shapes` (one flag per shape the corpus showed);
the corpus tests run the three smallest services of bench/corpus.yaml through `goslim slim`,
with the module downloads cached between runs (GOMODCACHE plus a copy under ~/.cache/goslim-corpus).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from goslim.cli.app import main
from goslim.report.models import SlimRun
from goslim.verify import Checklist, CheckStatus, VerifyOptions, verify_rootfs
from goslim.verify.models import Listener
from tests.conftest import GO_FIXTURES, REPO, need_tool
from tests.integration.test_verify_runtime import config_for, make_rootfs

pytestmark = pytest.mark.timeout(300)

APP = "service-shapes"
QUICK = VerifyOptions(alive_seconds=2.0, grace_seconds=5.0)


@pytest.fixture
def run_shape(go_build, tmp_path):
    """Verify service-shapes with these program arguments and nothing pinned (no EXPOSE, no --port)."""

    def run(*args: str, options: VerifyOptions = QUICK, ports: tuple[int, ...] = ()) -> Checklist:
        binary = go_build(APP)
        rootfs = make_rootfs(tmp_path / f"rootfs-{len(list(tmp_path.iterdir()))}", Path(binary.path))
        return verify_rootfs(rootfs, config_for(APP, ports=ports, Cmd=list(args)), options)

    return run


def test_discovers_port_9090_and_prometheus_health_paths_without_any_flag(run_shape) -> None:
    cl = run_shape()
    obs = cl.observed
    assert obs is not None and obs.port == 9090
    assert obs.liveness == "/-/healthy" and obs.readiness == "/-/ready"
    assert Listener(proto="tcp", port=9090) in obs.listening
    answered = {(a.port, a.path): a.status for a in obs.probes}
    assert answered[(9090, "/-/healthy")] == 200 and answered[(9090, "/healthz")] == 404
    ready = cl.result("readiness")
    assert ready.status is CheckStatus.PASS
    assert (
        "discovered: port 9090, health GET /-/healthy answered 200; pin with --port 9090 --health /-/healthy"
        in (ready.evidence)
    )
    assert (
        cl.result("liveness").status is CheckStatus.PASS
        and "GET :9090/-/healthy" in cl.result("liveness").summary
    )


def test_catch_all_handler_is_not_taken_as_a_health_path(run_shape) -> None:
    cl = run_shape("-catch-all")
    obs = cl.observed
    assert obs is not None and obs.port == 9090
    assert obs.liveness is None and obs.readiness is None
    assert all(a.catch_all for a in obs.probes if a.port == 9090)
    assert "TCP :9090" in cl.result("readiness").summary
    assert any("answers any path" in e for e in cl.result("readiness").evidence)


def test_landing_page_on_every_path_leaves_metrics_as_the_health_path(run_shape) -> None:
    # node_exporter's shape: "/" answers any path with a landing page; /metrics has its own answer.
    cl = run_shape("-landing", "-listen", ":9100")
    obs = cl.observed
    assert obs is not None and obs.port == 9100 and obs.liveness == "/metrics"
    by_path = {a.path: a for a in obs.probes}
    assert by_path["/"].catch_all and by_path["/healthz"].catch_all and not by_path["/metrics"].catch_all
    assert (
        "discovered: port 9100, health GET /metrics answered 200; pin with --port 9100 --health /metrics"
        in (cl.result("readiness").summary)
    )


def test_metrics_as_health_path_logs_no_broken_pipe(run_shape) -> None:
    # What a user pins today for an exporter: the big /metrics body as the health path.
    options = QUICK.model_copy(update={"port": 9090, "health": "/metrics", "readiness": "/metrics"})
    cl = run_shape("-metrics-kb", "8192", options=options)
    logs = cl.result("logs")
    assert cl.result("liveness").status is CheckStatus.PASS
    assert logs.measured["error_lines"] == 0, logs.evidence
    assert logs.status is CheckStatus.PASS
    # Discovery drains /metrics too.
    cl = run_shape("-metrics-kb", "8192")
    assert cl.result("logs").measured["error_lines"] == 0, cl.result("logs").evidence


def test_udp_listener_is_recorded(run_shape) -> None:
    cl = run_shape("-udp", ":9125")
    obs = cl.observed
    assert obs is not None
    assert Listener(proto="udp", port=9125) in obs.listening and obs.port == 9090
    assert any("9125/udp" in e for e in cl.result("readiness").evidence)


def test_exit_2_after_sigterm_is_explained_with_the_fix(run_shape) -> None:
    cl = run_shape("-no-sigterm")
    shutdown = cl.result("shutdown")
    assert shutdown.status is CheckStatus.FAIL
    assert shutdown.measured["exit_code"] == 2 and shutdown.measured["no_handler"] is True
    assert "no SIGTERM handler" in shutdown.summary
    assert any("signal.NotifyContext" in e and "Shutdown" in e for e in shutdown.evidence)
    assert cl.observed is not None and cl.observed.exit_code == 2 and not cl.observed.needed_kill


def test_port_80_as_non_root_is_explained_with_the_fix(run_shape) -> None:
    cl = run_shape("-listen", ":80")
    starts = cl.result("starts")
    assert starts.status is CheckStatus.FAIL
    assert "cannot bind port 80 as uid 65532" in starts.summary
    assert any("bind: permission denied" in e for e in starts.evidence)
    assert any(
        "NET_BIND_SERVICE" in e and "ip_unprivileged_port_start" in e and "--arg" in e
        for e in starts.evidence
    )
    assert "binding port 80 was refused" in cl.result("readiness").summary


def test_compare_on_a_9100_service_starts_with_discovered_probes(go_build, tmp_path, capsys) -> None:
    binary = go_build(APP)
    given = tmp_path / APP
    shutil.copy2(binary.path, given)
    (tmp_path / "goslim.yaml").write_text(yaml.safe_dump({"image": {"args": ["-listen", ":9100"]}}))
    code = main(["compare", str(given), "--json"])
    assert code == 0, capsys.readouterr().err
    rows = {r["base"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    for base in ("static", "scratch"):
        start = rows[base]["start"]
        assert start["started"], start
        assert start["verdicts"]["readiness"] == "pass" and start["exit_code"] == 0
        assert "discovered: port 9100" in start["discovered"]
        assert "GET :9100/-/ready" in start["detail"]


def _bench_corpus():
    """bench/corpus as a module (a script without .py): the corpus data and the runner are defined once."""
    path = REPO / "bench" / "corpus"
    loader = importlib.machinery.SourceFileLoader("bench_corpus", str(path))
    spec = importlib.util.spec_from_loader("bench_corpus", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_corpus"] = module  # dataclasses look their module up while the class is made
    loader.exec_module(module)
    return module


# The three smallest binaries of the corpus: one passes with no flags, one with flags only (a data
# directory and a second port), one fails for a reason of its own that goslim must name.
SMALLEST = {
    "pushgateway": "pass, no flags",
    "nats-server": "pass, flags only",
    "node_exporter": "own failure, named",
}


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("name", list(SMALLEST))
def test_smallest_corpus_services_get_their_expected_verdicts(name: str, tmp_path) -> None:
    need_tool("go")
    need_tool("runc")
    corpus = _bench_corpus()
    service = next(s for s in corpus.load_corpus() if s.name == name)
    outcome = corpus.run_service(service, runs=tmp_path, with_floor=False)
    assert outcome.run is not None, outcome.error
    assert outcome.wrong == [], outcome.wrong
    assert outcome.verdict == SMALLEST[name]
    assert outcome.exit_code == service.expect["exit"]


def test_slow_handler_is_not_said_to_ignore_sigterm(go_build, tmp_path) -> None:
    fast_grace = QUICK.model_copy(update={"grace_seconds": 1.0, "alive_seconds": 1.0})
    slow = go_build("slow-stop")
    cl = verify_rootfs(
        make_rootfs(tmp_path / "slow", Path(slow.path)),
        config_for("slow-stop", env=("STOP_AFTER=4s",)),
        fast_grace,
    )
    assert "handled it but did not finish in time" in cl.result("shutdown").summary
    deaf = go_build("ignores-sigterm")
    cl = verify_rootfs(
        make_rootfs(tmp_path / "deaf", Path(deaf.path)), config_for("ignores-sigterm"), fast_grace
    )
    assert "no sign it handled the signal" in cl.result("shutdown").summary


def test_banner_protocol_port_is_recorded_but_not_sent_http(run_shape) -> None:
    cl = run_shape("-banner", ":4222")
    obs = cl.observed
    assert obs is not None and Listener(proto="tcp", port=4222) in obs.listening and obs.port == 9090
    assert not [a for a in obs.probes if a.port == 4222]
    assert cl.result("logs").measured["error_lines"] == 0, cl.result("logs").evidence


def test_sandbox_gives_eth0_with_a_private_address_like_a_pod(run_shape) -> None:
    # alertmanager's cluster listener exits without a private IP to advertise; a pod has one on eth0.
    cl = run_shape("-need-private-ip")
    assert cl.result("starts").status is CheckStatus.PASS, cl.result("starts").evidence
    assert cl.observed is not None
    assert any(item.startswith("eth0 (10.244.0.2/24") for item in cl.observed.injected), cl.observed.injected
    assert cl.result("readiness").status is CheckStatus.PASS


def _slim_shapes(tmp_path: Path, capsys, *program_args: str) -> tuple[int, str, Path]:
    """`goslim slim service-shapes --no-ablation --no-compare [-- ARGS]`: exit, terminal text, report dir."""
    need_tool("go")
    need_tool("runc")
    module = tmp_path / APP
    shutil.copytree(GO_FIXTURES / APP, module)
    (module / "goslim.yaml").write_text("verify:\n  alive_seconds: 1\n")  # how long verify watches only
    out = tmp_path / "report"
    argv = ["slim", str(module), "--report", str(out), "--no-ablation", "--no-compare"]
    code = main([*argv, "--", *program_args] if program_args else argv)
    seen = capsys.readouterr()
    return code, seen.out + seen.err, out


def test_without_any_flag_slim_discovers_9090_and_the_manifests_use_it(tmp_path: Path, capsys) -> None:
    code, terminal, out = _slim_shapes(tmp_path, capsys)
    run = json.loads((out / "report.json").read_text())
    SlimRun.model_validate(run)  # report.json reads back as the model it was written from
    assert code == 0, terminal
    observed = run["checklist"]["observed"]
    assert observed["port"] == 9090 and observed["liveness"] == "/-/healthy"
    assert "ports 9090 (discovered)" in terminal and "liveness GET :9090/-/healthy (discovered)" in terminal
    assert run["contract"]["ports"] == [9090] and run["contract"]["sources"]["ports"] == "discovered"
    documents = [d for d in yaml.safe_load_all((out / "deploy" / "k8s.yaml").read_text()) if d]
    container = documents[0]["spec"]["template"]["spec"]["containers"][0]
    port = container["ports"][0]
    assert port["containerPort"] == 9090
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": port["name"]}
    assert "EXPOSE 9090" in (out / "deploy" / "Dockerfile").read_text()


def test_port_80_terminal_output_names_the_bind_error_and_the_fix(tmp_path: Path, capsys) -> None:
    code, terminal, _ = _slim_shapes(tmp_path, capsys, "-listen", ":80")
    assert code == 1
    assert "bind: permission denied" in terminal  # the service's own log line, not only in report.json
    assert "NET_BIND_SERVICE" in terminal and "--arg" in terminal  # and the ways out
    assert "cannot bind port 80" in terminal
    assert "1 line (plain text)" in terminal and "1 lines" not in terminal  # plural forms


def test_module_that_needs_cgo_is_bad_input_with_the_fix_on_the_terminal(tmp_path: Path, capsys) -> None:
    # A reason of the module's own (cgo under CGO_ENABLED=0): exit 2, not "external tool failed" (3).
    need_tool("go")
    module = tmp_path / "cgo-required"
    shutil.copytree(GO_FIXTURES / "cgo-required", module)
    code = main(["slim", str(module), "--report", str(tmp_path / "report"), "--no-ablation"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "needs cgo" in err and "--profile default" in err  # the cause and the fix, not only in the report


def test_loopback_only_listener_is_not_taken_as_the_pods_port(run_shape) -> None:
    # caddy's shape: `caddy run` with no config serves only its admin API on localhost:2019.
    cl = run_shape("-listen", "127.0.0.1:9090")
    assert cl.observed is not None and cl.observed.port is None
    assert Listener(proto="tcp", port=9090, loopback=True) in cl.observed.listening
    ready = cl.result("readiness")
    assert ready.status is CheckStatus.SKIP and "loopback only (9090/tcp)" in ready.summary
    assert any(e.startswith("fix: have the service listen on all interfaces") for e in ready.evidence)
    # Pinned anyway: it answers inside the pod, but not where the kubelet's probes connect.
    cl = run_shape("-listen", "127.0.0.1:9090", options=QUICK.model_copy(update={"port": 9090}))
    ready = cl.result("readiness")
    assert ready.status is CheckStatus.WARN and "the kubelet probes the pod IP" in ready.summary
