"""Pure parts of discovery and log reading: error levels, bind errors, health-path choice, loopback."""

from __future__ import annotations

import pytest

from goslim.verify.logs import analyze_logs, is_error_line
from goslim.verify.models import ProbeAnswer
from goslim.verify.observe import _is_loopback, _pick_paths


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"level":"error","msg":"x"}', True),
        ('{"level":"info","msg":"error in the message only"}', False),
        ('{"severity":"CRITICAL","message":"x"}', True),
        ('ts=2024 caller=main.go:1 level=error msg="write: broken pipe"', True),
        ('ts=2024 level=info msg="error in the message only"', False),
        ("t=2024 lvl=eror msg=x", True),
        ("E1202 15:04:05.123456    1 controller.go:1] x", True),
        ("I1202 15:04:05.123456    1 controller.go:1] x", False),
        ("[1] 2024/01/01 00:00:00.000000 [ERR] x", True),
        ("[ERROR] plugin/errors: 2 example. A: read udp: i/o timeout", True),
        ("2024-01-01T00:00:00Z\tERROR\tx", True),
        ("Error: something happened (no level word)", False),
        ("starting server on :8080", False),
    ],
)
def test_error_level_lines(line: str, error: bool) -> None:
    assert is_error_line(line) is error


def test_errors_while_probed_are_counted_apart() -> None:
    facts = analyze_logs("level=info msg=up\nlevel=error msg=boom\n", "", probed="level=error msg=boom\n")
    assert facts.error_count == 1 and facts.probe_error_count == 1
    assert facts.error_lines == ("level=error msg=boom",)


def test_bind_permission_denied_names_the_ports() -> None:
    facts = analyze_logs(
        "",
        "listen tcp :80: bind: permission denied\nError: listen udp [::]:53: bind: permission denied\n"
        "listen tcp 0.0.0.0:443: bind: permission denied\n",
    )
    assert facts.bind_denied_ports == (80, 53, 443)
    assert facts.bind_denied_lines[0] == "listen tcp :80: bind: permission denied"


def test_health_paths_follow_convention_and_skip_catch_all() -> None:
    answers = (
        ProbeAnswer(port=9090, path="/metrics", status=200),
        ProbeAnswer(port=9090, path="/-/healthy", status=200),
        ProbeAnswer(port=9090, path="/-/ready", status=503),  # warming up still counts as the path
        ProbeAnswer(port=9090, path="/healthz", status=404),
        ProbeAnswer(port=8080, path="/healthz", status=200, catch_all=True),
        ProbeAnswer(port=9100, path="/", status=500),  # a generic path only counts with a success
    )
    assert _pick_paths(answers, 9090) == ("/-/healthy", "/-/ready")
    assert _pick_paths(answers, 8080) == (None, None)
    assert _pick_paths(answers, 9100) == (None, None)


@pytest.mark.parametrize(
    ("addr", "loopback"),
    [
        ("0100007F", True),  # 127.0.0.1
        ("00000000", False),  # 0.0.0.0
        ("0101A8C0", False),  # 192.168.1.1
        ("00000000000000000000000001000000", True),  # ::1
        ("00000000000000000000000000000000", False),  # ::
        ("0000000000000000FFFF00000100007F", True),  # ::ffff:127.0.0.1
    ],
)
def test_loopback_from_proc_net_hex(addr: str, loopback: bool) -> None:
    assert _is_loopback(addr) is loopback


def test_missing_config_file_is_named() -> None:
    line = (
        'level=error msg="Error loading config" '
        'err="error parsing config file: open blackbox.yml: no such file or directory"'
    )
    facts = analyze_logs("", line + "\n")
    assert facts.missing_files == ("blackbox.yml",)
