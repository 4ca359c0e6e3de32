"""`goslim slim` over several services: concurrent runs, stable shards, one repository each in a shared
registry, base layers mounted from the first service instead of uploaded again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goslim.cli.app import main
from goslim.pipeline import select_shard
from tests.conftest import need_tool

SERVICE = """package main

import (
\t"net/http"
\t"os"
\t"os/signal"
\t"syscall"
)

func main() {
\thttp.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("NAME\\n")) })
\tsrv := &http.Server{Addr: ":8080"}
\tgo srv.ListenAndServe()
\tc := make(chan os.Signal, 1)
\tsignal.Notify(c, syscall.SIGTERM)
\t<-c
\tsrv.Close()
}
"""


def make_module(root: Path, names: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "go.mod").write_text("module example.com/mono\n\ngo 1.22\n")
    (root / "goslim.yaml").write_text(
        "image:\n  ports: [8080]\nverify:\n  port: 8080\n  health: /healthz\n  alive_seconds: 0.5\n"
        "  grace_seconds: 5\n"
    )
    for name in names:
        (root / "cmd" / name).mkdir(parents=True)
        (root / "cmd" / name / "main.go").write_text(SERVICE.replace("NAME", name))


def test_shards_are_stable_and_cover_every_service() -> None:
    services = [f"example.com/mono/cmd/svc{i:03d}" for i in range(200)]
    shards = [select_shard(services, (i, 4)) for i in range(1, 5)]
    assert sorted(p for shard in shards for p in shard) == sorted(services)
    assert all(20 < len(s) < 80 for s in shards)  # spread, not piled on one runner
    # Adding a service moves none of the others to another shard.
    grown = [select_shard([*services, "example.com/mono/cmd/new"], (i, 4)) for i in range(1, 5)]
    assert all(set(old) <= set(new) for old, new in zip(shards, grown, strict=True))


def test_many_services_share_the_registry(tmp_path: Path, registry, capsys) -> None:
    for tool in ("go", "runc"):
        need_tool(tool)
    module = tmp_path / "mono"
    make_module(module, ["alpha", "beta", "gamma"])
    out = tmp_path / "report"
    code = main(
        [
            "slim",
            str(module / "cmd") + "/...",
            "--report",
            str(out),
            "--to",
            f"{registry.host}/team",
            "--no-ablation",
            "--no-compare",
            "--jobs",
            "1",
            "--json",
        ]
    )
    runs = json.loads(capsys.readouterr().out)
    assert code == 0, [s for r in runs for s in r["stages"] if s["status"] == "failed"]
    assert [Path(r["package"]).name for r in runs] == ["alpha", "beta", "gamma"]
    pushed = {
        Path(r["package"]).name: next(s["message"] for s in r["stages"] if s["stage"] == "image")
        for r in runs
    }
    assert f"{registry.host}/team/alpha@sha256:" in pushed["alpha"] and "mounted" not in pushed["alpha"]
    # The static base layer is the same for all three: the later ones mount it from alpha's repository.
    assert "mounted" in pushed["beta"] and "mounted" in pushed["gamma"], pushed
    for name in ("alpha", "beta", "gamma"):
        assert (out / name / "report.html").is_file()


@pytest.mark.parametrize("shard", ["1/2", "2/2"])
def test_a_shard_runs_only_its_slice(tmp_path: Path, shard: str, capsys) -> None:
    need_tool("go")
    module = tmp_path / "mono"
    names = ["one", "two", "three", "four"]
    make_module(module, names)
    index, count = (int(x) for x in shard.split("/"))
    expected = select_shard(sorted(f"example.com/mono/cmd/{n}" for n in names), (index, count))
    code = main(
        [
            "slim",
            str(module / "cmd") + "/...",
            "--report",
            str(tmp_path / "r"),
            "--shard",
            shard,
            "--no-ablation",
            "--no-compare",
            "--json",
        ]
    )
    runs = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["package"] for r in runs] == expected


def test_services_with_the_same_name_are_refused(tmp_path: Path, capsys) -> None:
    need_tool("go")
    module = tmp_path / "mono"
    make_module(module, ["team-a/server", "team-b/server"])
    code = main(["slim", str(module / "cmd") + "/...", "--report", str(tmp_path / "r"), "--no-ablation"])
    err = capsys.readouterr().err
    assert code == 2
    assert "several main packages are named server" in err
    assert not (tmp_path / "r").exists()
