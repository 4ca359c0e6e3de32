"""`goslim analyze` on real Go builds: build info against `go version -m`, sizes, needs, findings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from goslim.binary import BinaryReport, Module, analyze, read_build_info, read_functions
from goslim.binary.errors import CorruptElfError, NotElfError
from goslim.cli.app import main
from tests.conftest import BuildFixture, app_dir, need_tool

# (fixture, go_build keyword arguments): every fixture the analysis is checked on.
BUILDS = {
    "hello-slim": ("hello-api", {}),
    "hello-default": ("hello-api", {"profile": "default"}),
    "hello-arm64": ("hello-api", {"platform": "linux/arm64"}),
    "hello-386": ("hello-api", {"platform": "linux/386"}),
    "leaky": ("leaky", {"profile": "default"}),
    "cgo-dynamic": ("cgo-dynamic", {"profile": "default", "cgo": True}),
}


@pytest.fixture(scope="module")
def binaries(go_build: BuildFixture) -> dict[str, Path]:
    return {key: go_build(app, **kw).path for key, (app, kw) in BUILDS.items()}


@pytest.fixture(scope="module")
def reports(binaries: dict[str, Path]) -> dict[str, BinaryReport]:
    return {key: analyze(path, top=10) for key, path in binaries.items()}


def _go_module(m: Module | None) -> dict:
    """Our Module in the shape `go version -m -json` prints (empty fields omitted)."""
    if m is None:
        return {}
    out = {k: v for k, v in (("Path", m.path), ("Version", m.version), ("Sum", m.sum)) if v}
    if m.replace is not None:
        out["Replace"] = _go_module(m.replace)
    return out


@pytest.mark.parametrize("key", list(BUILDS))
def test_build_info_matches_go_version_m(binaries: dict[str, Path], key: str) -> None:
    go = json.loads(
        subprocess.run(
            ["go", "version", "-m", "-json", str(binaries[key])],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    ours = read_build_info(binaries[key])
    assert ours.go_version == go["GoVersion"]
    assert ours.path == go["Path"]
    assert _go_module(ours.main) == go.get("Main", {})
    assert [_go_module(d) for d in ours.deps] == go.get("Deps", [])
    assert list(ours.settings.items()) == [(s["Key"], s.get("Value", "")) for s in go.get("Settings", [])]


@pytest.mark.parametrize("key", list(BUILDS))
def test_sizes_add_up_to_the_file(reports: dict[str, BinaryReport], key: str) -> None:
    r = reports[key]
    total = sum(p.size for p in r.packages) + sum(s.size for s in r.sections)
    assert abs(total - r.size) <= 0.01 * r.size
    assert r.function_count > 1000
    assert sum(p.functions for p in r.packages) == r.function_count
    assert len(r.packages) == 11  # top 10 + "(other N packages)"


@pytest.mark.parametrize("key", ["hello-default", "leaky", "cgo-dynamic"])
def test_function_entries_match_the_symbol_table(binaries: dict[str, Path], key: str) -> None:
    """Go 1.26 writes 0 as the pclntab text start; entries must still land on the real addresses."""
    with open(binaries[key], "rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        addrs: dict[str, set[int]] = defaultdict(set)
        for sym in symtab.iter_symbols():
            addrs[sym.name].add(sym["st_value"])
    funcs = read_functions(binaries[key])
    checked = [f for f in funcs if f.name in addrs]
    assert len(checked) > 0.9 * len(funcs)
    # An assembly function and its ABI wrapper share a name in pclntab; the ELF symbol table
    # suffixes the assembly one with ".abi0".
    assert [f.name for f in checked if f.entry not in addrs[f.name] | addrs[f.name + ".abi0"]] == []


def test_slim_hello(reports: dict[str, BinaryReport]) -> None:
    r = reports["hello-slim"]
    assert r.is_go and r.elf.static and r.elf.stripped and r.elf.dwarf_bytes == 0
    assert r.elf.interpreter is None and r.elf.libc is None
    assert r.needs.ca_roots.needed and "crypto/x509.loadSystemRoots" in r.needs.ca_roots.evidence
    assert r.needs.zoneinfo.needed and "time.LoadLocation" in r.needs.zoneinfo.evidence
    assert r.needs.resolver.needed and not r.needs.passwd.needed and not r.needs.loader.needed
    assert r.findings == []
    assert r.packages[0].module == "std"


def test_default_build_has_debug_findings(reports: dict[str, BinaryReport]) -> None:
    kinds = {f.kind: f for f in reports["hello-default"].findings}
    assert kinds["dwarf"].bytes == reports["hello-default"].elf.dwarf_bytes > 0
    assert kinds["symtab"].bytes > 0
    assert "build-path" in kinds


def test_cgo_dynamic(reports: dict[str, BinaryReport]) -> None:
    r = reports["cgo-dynamic"]
    assert not r.elf.static
    assert r.elf.interpreter and "ld-linux" in r.elf.interpreter
    assert "libc.so.6" in r.elf.needed and r.elf.libc == "glibc"
    assert r.needs.loader.needed and any("libc.so.6" in e for e in r.needs.loader.evidence)
    assert r.needs.passwd.needed and r.needs.resolver.needed
    assert r.build_info.settings["CGO_ENABLED"] == "1"


def test_leaky_secrets_and_paths(reports: dict[str, BinaryReport]) -> None:
    r = reports["leaky"]
    secrets = [f for f in r.findings if f.kind == "secret"]
    found = {f.message.split(" embedded ")[1].split(" ")[0] for f in secrets}
    assert found == {"aws-access-key-id", "github-token", "private-key", "url-password", "dsn-password"}
    dump = r.model_dump_json()
    for raw in (
        "IOSFODNN7EXAMPLE",
        "N0tARealPassw0rd",
        "Fake-DSN-Pass-42",
        "FAKEfakeFAKEfake",
        "MIIEowIBAAKC",
    ):
        assert raw not in dump, f"{raw} leaked into the report"
    paths = next(f for f in r.findings if f.kind == "build-path")
    assert str(app_dir("leaky")) in paths.evidence
    assert not r.needs.zoneinfo.needed and "time/tzdata" in r.needs.zoneinfo.detail
    assert r.needs.passwd.needed
    dep = r.build_info.deps[0]
    assert dep.path == "example.com/fakevault" and dep.replace.path == "./fakevault"
    assert any(p.module == "example.com/fakevault" for p in analyze(Path(r.path), top=500).packages)


def test_no_secret_false_positives_in_the_go_tool() -> None:
    go = (
        Path(
            subprocess.run(
                ["go", "env", "GOROOT"], capture_output=True, text=True, check=True, timeout=60
            ).stdout.strip()
        )
        / "bin"
        / "go"
    )
    r = analyze(go)
    assert [f for f in r.findings if f.kind == "secret"] == []
    assert r.build_info.path == "cmd/go"


@pytest.mark.parametrize(
    ("key", "machine", "goarch", "bits"),
    [
        ("hello-arm64", "EM_AARCH64", "arm64", 64),
        ("hello-386", "EM_386", "386", 32),
    ],
)
def test_other_architectures(
    reports: dict[str, BinaryReport], key: str, machine: str, goarch: str, bits: int
) -> None:
    r = reports[key]
    assert (r.elf.machine, r.elf.goarch, r.elf.elf_class) == (machine, goarch, bits)
    assert r.build_info.settings["GOARCH"] == goarch
    assert r.needs.ca_roots.needed and r.needs.zoneinfo.needed
    assert r.packages[0].package in ("runtime", "net/http")


def test_upx_packed(binaries: dict[str, Path], tmp_path: Path) -> None:
    upx = need_tool("upx")
    packed = tmp_path / "hello-packed"
    subprocess.run(
        [upx, "-1", "-q", "-o", str(packed), str(binaries["hello-slim"])],
        check=True,
        capture_output=True,
        timeout=300,
    )
    r = analyze(packed)
    assert r.upx_packed and r.analyzed_unpacked_copy and r.is_go
    assert r.build_info == read_build_info(binaries["hello-slim"])
    assert r.unpacked_size == binaries["hello-slim"].stat().st_size
    assert r.size == packed.stat().st_size < r.unpacked_size
    assert any(f.kind == "upx" for f in r.findings) and any("upx -d" in n for n in r.notes)
    total = sum(p.size for p in r.packages) + sum(s.size for s in r.sections)
    assert abs(total - r.unpacked_size) <= 0.01 * r.unpacked_size

    class NoUpx:
        def which(self, program: str) -> str | None:
            return None

        def run(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("nothing may run")

    blind = analyze(packed, runner=NoUpx())  # type: ignore[arg-type]
    assert blind.upx_packed and not blind.analyzed_unpacked_copy and not blind.is_go
    assert any("upx is not installed" in n for n in blind.notes)

    # The command line without upx on PATH: the packed file's facts, then exit 3 with a hint.
    goslim = Path(sys.executable).parent / "goslim"
    proc = subprocess.run(
        [str(goslim), "analyze", str(packed), "--json"],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["upx_packed"] is True
    assert "UPX-packed" in proc.stderr and "hint" in proc.stderr and "Traceback" not in proc.stderr


# -- the command line -------------------------------------------------------------------------------


def test_cli_json_is_one_document(binaries: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(binaries["hello-slim"]), "--top", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["is_go"] and doc["schema_version"] == 1 and len(doc["packages"]) == 4
    BinaryReport.model_validate(doc)


def test_cli_human_view(binaries: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(binaries["leaky"]), "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "run-time needs" in out and "aws-access-key-id" in out and "N0tARealPassw0rd" not in out


def test_cli_non_go_elf_prints_facts_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    true = Path(shutil.which("true") or "/bin/true").resolve()
    assert main(["analyze", str(true), "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["is_go"] is False and doc["elf"]["machine"]
    assert doc["notes"] == ["not a Go binary (no Go build info found)"]  # said once
    assert "not a Go binary" in captured.err and "Traceback" not in captured.err


def test_cli_bad_inputs(
    binaries: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    truncated = tmp_path / "truncated"
    truncated.write_bytes(binaries["hello-slim"].read_bytes()[:5000])
    for path, words in (
        (text, "not an ELF file"),
        (truncated, "truncated"),
        (tmp_path / "missing", "no such file"),
        (tmp_path, "directory"),
    ):
        assert main(["analyze", str(path)]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err
    with pytest.raises(NotElfError):
        analyze(text)
    with pytest.raises(CorruptElfError):
        analyze(truncated)


def test_without_section_headers(binaries: dict[str, Path], tmp_path: Path) -> None:
    """What sstrip-like tools leave: no section headers. Build info and functions are still found."""
    raw = bytearray(binaries["hello-slim"].read_bytes())
    raw[0x28:0x30] = b"\0" * 8  # e_shoff
    raw[0x3A:0x40] = b"\0" * 6  # e_shentsize, e_shnum, e_shstrndx
    bare = tmp_path / "bare"
    bare.write_bytes(bytes(raw))
    r = analyze(bare)
    assert r.elf.section_count == 0 and r.is_go
    assert r.build_info == read_build_info(binaries["hello-slim"])
    before = read_functions(binaries["hello-slim"])
    after = read_functions(bare)
    assert [(f.name, f.entry) for f in after] == [(f.name, f.entry) for f in before]
    assert r.needs.ca_roots.needed and r.needs.zoneinfo.needed
