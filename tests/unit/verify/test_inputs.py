"""Pure parts of verify: check selection, rootfs lookups, the image config process, the runtime spec."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from goslim.errors import UserInputError
from goslim.verify.catalog import CHECKS, GROUPS, select
from goslim.verify.process import container_process
from goslim.verify.rootfs import find_executable, resolve_in_rootfs, resolve_user
from goslim.verify.spec import runtime_spec


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "app").mkdir(parents=True)
    (root / "app" / "svc").write_bytes(b"\x7fELF")
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "tool").write_text("x")
    (root / "bin").symlink_to("usr/bin")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text(
        "root:x:0:0::/root:/sbin/nologin\napp:x:1000:2000::/:/sbin/nologin\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\nstaff:x:50:\n")
    (root / "escape").symlink_to("/etc/shadow")
    (root / "up").symlink_to("../../../../etc")
    return root


def test_select_groups_skip_and_order():
    assert select((), ()) == tuple(CHECKS)
    assert select(("probes",), ()) == GROUPS["probes"]
    assert select(("static", "starts"), ("size",)) == (
        "starts",
        *[c for c in GROUPS["static"] if c != "size"],
    )
    assert select(("shutdown,logs",), ()) == ("logs", "shutdown")
    with pytest.raises(UserInputError, match="unknown check 'nope'"):
        select(("nope",), ())


def test_symlinks_resolve_inside_the_rootfs(rootfs: Path):
    assert resolve_in_rootfs(rootfs, "/bin/tool") == rootfs / "usr" / "bin" / "tool"
    # An absolute link points into the rootfs, never at the host's file.
    assert resolve_in_rootfs(rootfs, "/escape") is None
    assert resolve_in_rootfs(rootfs, "/up/passwd") == rootfs / "etc" / "passwd"
    assert resolve_in_rootfs(rootfs, "/../../etc/passwd") == rootfs / "etc" / "passwd"
    assert resolve_in_rootfs(rootfs, "/missing") is None


def test_symlink_loop_is_missing(tmp_path: Path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    assert resolve_in_rootfs(tmp_path, "/a") is None


def test_find_executable_on_path(rootfs: Path):
    assert find_executable(rootfs, "tool", "/usr/local/bin:/bin") == "/bin/tool"
    assert find_executable(rootfs, "/app/svc", None) == "/app/svc"
    assert find_executable(rootfs, "nope", None) is None


@pytest.mark.parametrize(
    ("user", "uid", "gid"),
    [
        ("", 0, 0),
        ("1234", 1234, 1234),
        ("1234:5", 1234, 5),
        ("app", 1000, 2000),
        ("app:staff", 1000, 50),
        ("1000", 1000, 2000),
    ],
)
def test_resolve_user(rootfs: Path, user: str, uid: int, gid: int):
    r = resolve_user(rootfs, user)
    assert (r.uid, r.gid) == (uid, gid)


def test_unknown_user_and_group_are_bad_input(rootfs: Path):
    with pytest.raises(UserInputError, match="user 'ghost'"):
        resolve_user(rootfs, "ghost")
    with pytest.raises(UserInputError, match="group 'ghosts'"):
        resolve_user(rootfs, "app:ghosts")


def test_container_process_from_full_config(rootfs: Path):
    cfg = {
        "architecture": "amd64",
        "config": {
            "Entrypoint": ["/app/svc"],
            "Cmd": ["-v"],
            "Env": ["A=1", "PORT=80"],
            "User": "app",
            "WorkingDir": "/data",
            "ExposedPorts": {"8080/tcp": {}, "53/udp": {}, "9090": {}},
            "StopSignal": "SIGINT",
        },
    }
    p = container_process(rootfs, cfg, {"PORT": "8080"})
    assert p.args == ("/app/svc", "-v") and p.cwd == "/data" and (p.uid, p.gid) == (1000, 2000)
    assert p.env[0].startswith("PATH=") and "PORT=8080" in p.env and "PORT=80" not in p.env
    assert p.exposed_ports == (8080, 9090) and p.stop_signal == "INT"


def test_container_process_bad_inputs(rootfs: Path):
    with pytest.raises(UserInputError, match="no Entrypoint or Cmd"):
        container_process(rootfs, {"Env": []})
    with pytest.raises(UserInputError, match="entrypoint '/app/gone' does not exist"):
        container_process(rootfs, {"Entrypoint": ["/app/gone"]})
    with pytest.raises(UserInputError, match="StopSignal"):
        container_process(rootfs, {"Entrypoint": ["/app/svc"], "StopSignal": "SIGBOGUS"})


def test_runtime_spec_is_locked_down(rootfs: Path):
    p = container_process(rootfs, {"Entrypoint": ["/app/svc"], "User": "app"})
    spec = runtime_spec(p, rootfs, memory_mb=128, pids=32)
    proc = spec["process"]
    assert proc["user"]["uid"] == 1000 and proc["noNewPrivileges"] is True and proc["terminal"] is False
    assert all(caps == [] for caps in proc["capabilities"].values())
    assert spec["root"] == {"path": str(rootfs.resolve()), "readonly": True}
    namespaces = {n["type"] for n in spec["linux"]["namespaces"]}
    assert namespaces == {"pid", "network", "ipc", "uts", "mount", "cgroup"}
    assert all("path" not in n for n in spec["linux"]["namespaces"])  # new namespaces, never the host's
    res = spec["linux"]["resources"]
    assert res["memory"]["limit"] == 128 * 2**20 and res["pids"]["limit"] == 32
    assert res["cpu"] == {"quota": 100_000, "period": 100_000}
    tmp = next(m for m in spec["mounts"] if m["destination"] == "/tmp")
    assert tmp["type"] == "tmpfs" and "nosuid" in tmp["options"]
    assert "/proc/kcore" in spec["linux"]["maskedPaths"] and "/proc/sys" in spec["linux"]["readonlyPaths"]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert "ro" in sys_mount["options"]
    assert os.path.isabs(spec["root"]["path"])
