"""The one resolver of the run contract: flags, then goslim.yaml, then the image config, then what
verify discovered, each value recording where it came from."""

from __future__ import annotations

import pytest

from goslim.config import ServiceConfig
from goslim.contract_resolve import given_flags, name_from_package, parse_flags, resolve_contract, start_probe
from goslim.errors import UserInputError
from goslim.verify.models import Listener, Observed

IMAGE_CONFIG = {
    "config": {
        "Entrypoint": ["/app/exporter"],
        "Cmd": ["--listen", ":9100"],
        "Env": ["PATH=/usr/bin", "LOG=info"],
        "ExposedPorts": {"9100/tcp": {}, "53/udp": {}},
        "Volumes": {"/data": {}},
        "User": "1000:1000",
    }
}


def test_flags_win_over_goslim_yaml() -> None:
    service = ServiceConfig(name="from-yaml", args=["a"], env={"A": "1", "B": "2"}, ports=[8080], health="/h")
    flags = parse_flags(name="api", args=["serve"], env=["B=3"], ports=[9090])
    c = resolve_contract(flags, service, main_package="example.com/x/cmd/server")
    assert (c.name, c.args, c.ports) == ("api", ("serve",), (9090,))
    assert c.env == {"A": "1", "B": "3"}  # --env adds to and overrides goslim.yaml's env
    assert c.liveness is not None and (c.liveness.kind, c.liveness.port, c.liveness.path) == (
        "http",
        9090,
        "/h",
    )
    assert c.sources == {
        "name": "flag",
        "args": "flag",
        "env": "flag",
        "ports": "flag",
        "liveness": "goslim.yaml",
        "readiness": "goslim.yaml",
    }


def test_image_config_fills_what_nobody_said() -> None:
    c = resolve_contract(parse_flags(), ServiceConfig(), image_config=IMAGE_CONFIG)
    assert c.name == "exporter"  # the entrypoint, never a layout directory
    assert c.args == ("--listen", ":9100") and c.env == {"LOG": "info"}
    assert c.ports == (9100,) and c.writable == ("/data",) and c.user == "1000:1000"
    assert c.liveness is not None and c.liveness.kind == "tcp"  # a port, no path: TCP
    assert {c.source(f) for f in ("args", "env", "ports", "writable", "user")} == {"image config"}


def test_discovery_fills_last_and_only_for_the_probed_port() -> None:
    observed = Observed(
        listening=(Listener(proto="tcp", port=9100), Listener(proto="tcp", port=6060)),
        port=9100,
        liveness="/healthz",
        readiness="/readyz",
    )
    c = resolve_contract(parse_flags(), ServiceConfig(), main_package="x/exporter", observed=observed)
    assert c.ports == (9100, 6060) and c.source("ports") == "discovered"
    assert c.readiness is not None and c.readiness.path == "/readyz" and c.source("readiness") == "discovered"
    probe = start_probe(c)
    assert probe is not None and (probe.kind, probe.port, probe.path) == ("http", 9100, "/readyz")
    # The user said 8080: paths found on 9100 say nothing about it.
    pinned = resolve_contract(parse_flags(ports=[8080]), ServiceConfig(), observed=observed)
    assert pinned.liveness is not None and pinned.liveness.kind == "tcp" and pinned.liveness.port == 8080


def test_a_loopback_only_port_is_not_the_pods() -> None:
    # caddy's admin API on localhost:2019 beside its site on :8080: only 8080 is a containerPort.
    observed = Observed(
        listening=(Listener(proto="tcp", port=2019, loopback=True), Listener(proto="tcp", port=8080)),
        port=8080,
    )
    c = resolve_contract(parse_flags(), ServiceConfig(), main_package="x/caddy", observed=observed)
    assert c.ports == (8080,)
    alone = Observed(listening=(Listener(proto="tcp", port=2019, loopback=True),))
    assert resolve_contract(parse_flags(), ServiceConfig(), observed=alone).ports == ()


def test_nothing_known_means_no_probe() -> None:
    c = resolve_contract(parse_flags(), ServiceConfig(), package="./cmd/batch")
    assert c.name == "batch" and c.liveness is None and start_probe(c) is None
    assert c.source("ports") == "default"


def test_name_from_the_main_package() -> None:
    assert name_from_package("example.com/app/v2") == "app"
    assert name_from_package("github.com/acme/Big_Service") == "big-service"
    assert name_from_package(".") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "My_API"}, "--name 'My_API' is not a valid service name"),
        ({"env": ["NOEQUALS"]}, "--env 'NOEQUALS' is not KEY=VALUE"),
        ({"health": "healthz"}, "--health 'healthz' is not an HTTP path"),
        ({"writable": ["var/cache"]}, "--writable 'var/cache' is not an absolute"),
        ({"writable": ["/a/../etc"]}, "is not an absolute"),
        ({"ports": [0]}, "--port 0 is not a TCP port"),
    ],
)
def test_bad_flags_are_one_line(kwargs: dict, message: str) -> None:
    with pytest.raises(UserInputError, match=message.replace("(", r"\(")):
        parse_flags(**kwargs)


def test_a_recorded_contract_keeps_what_was_given() -> None:
    recorded = resolve_contract(
        parse_flags(args=["serve"], ports=[9090], health="/-/healthy", writable=["/cache"]),
        ServiceConfig(env={"A": "1"}),
        image_config=IMAGE_CONFIG,
    )
    again = resolve_contract(given_flags(recorded, parse_flags(ports=[9191])), ServiceConfig())
    assert again.args == ("serve",) and again.env == {"A": "1"} and again.writable == ("/cache",)
    assert again.ports == (9191,)  # a flag given now still wins
    assert again.liveness is not None and again.liveness.path == "/-/healthy"
    assert again.name == "app"  # the image config's name was not given, so it is not carried
