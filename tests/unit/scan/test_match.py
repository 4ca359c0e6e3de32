"""Matching modules and the stdlib against OSV entries, with symbol evidence from function names."""

from __future__ import annotations

from pathlib import Path

from goslim.binary import BuildInfo, GoFunction, Module
from goslim.scan.match import match_vulnerabilities, policy_failures
from goslim.scan.osv import parse_entry
from goslim.scan.symbols import index_functions, symbol_names
from goslim.scan.vulndb import VulnDb, load_vulndb

OSV_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "osv"


def fn(name: str, package: str) -> GoFunction:
    return GoFunction(name=name, package=package, size=16, entry=0x401000)


FUNCTIONS = [
    fn("net/http/internal.(*chunkedReader).Read", "net/http/internal"),
    fn("net/http/internal.readChunkLine", "net/http/internal"),
    fn("net/netip.Addr.IsLoopback-fm", "net/netip"),
    fn("golang.org/x/text/language.ParseAcceptLanguage.func1", "golang.org/x/text/language"),
    fn("golang.org/x/text/language.Parse", "golang.org/x/text/language"),
    fn("main.main", "main"),
]


def info(go: str = "go1.21.0", text: str = "v0.3.7", **kw: object) -> BuildInfo:
    return BuildInfo(
        go_version=go,
        path="example.com/app",
        main=Module(path="example.com/app", version="(devel)"),
        deps=[Module(path="golang.org/x/text", version=text, sum="h1:x")],
        settings={"GOOS": "linux", "GOARCH": "amd64"},
        **kw,
    )


def test_symbol_names() -> None:
    assert symbol_names("net/http/internal.(*chunkedReader).Read", "net/http/internal") == [
        "chunkedReader.Read"
    ]
    assert symbol_names("pkg.Map[go.shape.int,go.shape.string].Get", "pkg") == ["Map.Get"]
    assert symbol_names("net/netip.Addr.IsLoopback-fm", "net/netip") == ["Addr.IsLoopback"]
    assert symbol_names("a/b.F.func1.2", "a/b") == ["F.func1.2", "F.func1", "F"]
    assert symbol_names("a/b.(*T).M.gowrap1", "a/b") == ["T.M.gowrap1", "T.M"]
    assert symbol_names("type:.eq.x", "") == []


def test_old_go_is_flagged_with_evidence() -> None:
    db = load_vulndb(OSV_FIXTURE)
    modules, vulns, notes = match_vulnerabilities(info(), db, index_functions(FUNCTIONS))
    assert [m.path for m in modules] == ["stdlib", "golang.org/x/text"]
    assert modules[0].semver == "1.21.0" and notes == []
    by_id = {v.id: v for v in vulns}
    assert by_id["GO-2023-2382"].status == "called"
    assert by_id["GO-2023-2382"].symbols_found == [
        "net/http/internal.chunkedReader.Read",
        "net/http/internal.readChunkLine",
    ]
    assert by_id["GO-2023-2382"].fixed_in == "1.21.5"
    assert by_id["GO-2023-2382"].affected == [">=0, <1.20.12", ">=1.21.0-0, <1.21.5"]
    assert by_id["GO-2024-2887"].symbols_found == ["net/netip.Addr.IsLoopback"]
    assert by_id["GO-2022-1059"].symbols_found == ["golang.org/x/text/language.ParseAcceptLanguage"]
    assert by_id["GO-2023-2043"].status == "not-linked"  # html/template is not in the binary
    assert [v.status for v in vulns] == ["called", "called", "called", "not-linked"]
    assert vulns[-1].id == "GO-2023-2043"


def test_current_go_and_fixed_module_are_clean() -> None:
    db = load_vulndb(OSV_FIXTURE)
    _, vulns, _ = match_vulnerabilities(info(go="go1.26.8", text="v0.3.8"), db, index_functions(FUNCTIONS))
    assert vulns == []


def test_package_linked_but_symbol_absent_is_imported() -> None:
    db = load_vulndb(OSV_FIXTURE)
    funcs = [f for f in FUNCTIONS if "ParseAcceptLanguage" not in f.name]
    _, vulns, _ = match_vulnerabilities(info(go="go1.26.8"), db, index_functions(funcs))
    assert [(v.id, v.status) for v in vulns] == [("GO-2022-1059", "imported")]
    assert policy_failures(vulns, "low") == []


def test_no_function_table_is_unknown_and_fails_policy() -> None:
    db = load_vulndb(OSV_FIXTURE)
    _, vulns, _ = match_vulnerabilities(info(go="go1.26.8"), db, None)
    assert [(v.id, v.status) for v in vulns] == [("GO-2022-1059", "unknown")]
    assert [v.id for v in policy_failures(vulns, "critical")] == ["GO-2022-1059"]
    assert policy_failures(vulns, "none") == []


def test_replaced_module_uses_the_replacement_version() -> None:
    db = load_vulndb(OSV_FIXTURE)
    bi = BuildInfo(
        go_version="go1.26.8",
        deps=[
            Module(
                path="golang.org/x/text",
                version="v0.3.7",
                replace=Module(path="golang.org/x/text", version="v0.3.8"),
            ),
            Module(path="example.com/local", version="v1.0.0", replace=Module(path="../local")),
        ],
    )
    modules, vulns, notes = match_vulnerabilities(bi, db, index_functions(FUNCTIONS))
    assert vulns == []
    assert [m.version for m in modules] == ["go1.26.8", "v0.3.8"]
    assert notes == ["example.com/local is replaced by the local directory ../local: not matched"]


def test_platform_specific_imports_and_severity_policy() -> None:
    entry = parse_entry(
        {
            "id": "GO-TEST-1",
            "aliases": ["CVE-1"],
            "database_specific": {"severity": "MODERATE"},
            "affected": [
                {
                    "package": {"name": "stdlib", "ecosystem": "Go"},
                    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
                    "ecosystem_specific": {
                        "imports": [
                            {"path": "net/netip", "goos": ["windows"], "symbols": ["Addr.IsLoopback"]}
                        ]
                    },
                }
            ],
        }
    )
    db = VulnDb(source="test", entries=[entry])
    _, vulns, _ = match_vulnerabilities(info(), db, index_functions(FUNCTIONS))
    assert vulns == []  # windows-only, the binary is linux
    db.entries[0] = entry.model_copy(
        update={
            "affected": tuple(
                a.model_copy(update={"imports": tuple(i.model_copy(update={"goos": ()}) for i in a.imports)})
                for a in entry.affected
            )
        }
    )
    _, vulns, _ = match_vulnerabilities(info(), db, index_functions(FUNCTIONS))
    assert [(v.id, v.severity, v.status, v.fixed_in) for v in vulns] == [
        ("GO-TEST-1", "medium", "called", None)
    ]
    assert policy_failures(vulns, "medium") == vulns
    assert policy_failures(vulns, "high") == []


def test_devel_go_version_is_noted() -> None:
    _, vulns, notes = match_vulnerabilities(info(go="devel go1.27-abcdef"), load_vulndb(OSV_FIXTURE), None)
    assert all(v.module != "stdlib" for v in vulns)
    assert "not a release" in notes[0]
