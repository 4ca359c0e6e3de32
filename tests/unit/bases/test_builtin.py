"""The built-in bases: scratch is empty, static carries what the binary needs and says why."""

from __future__ import annotations

import dataclasses

from tests.reports import make_report

from goslim.bases.builtin import CA_BUNDLE_PATH, StaticOptions, scratch_base, static_base
from goslim.bases.sources import load_ca_bundle, load_zoneinfo, zone_group
from goslim.binary import BinaryReport
from goslim.image.assemble import layer_entry
from goslim.oci import build_layer
from goslim.platform import Platform

AMD64 = Platform(os="linux", architecture="amd64")


def facts(ca: bool = False, tz: bool = False) -> BinaryReport:
    return make_report(ca=ca, tz=tz)


def by_path(base):
    return {f.path: f for f in base.files}


def provision(base, item):
    return next(p for p in base.provisions if p.item == item)


def test_scratch_has_nothing() -> None:
    base = scratch_base(AMD64)
    assert base.files == [] and base.name == "scratch" and base.env == []


def test_static_always_has_users_and_dirs() -> None:
    files = by_path(static_base(facts(), AMD64))
    passwd = files["/etc/passwd"].data.decode()
    for line in ("root:x:0:0:", "nobody:x:65534:65534:", "nonroot:x:65532:65532:"):
        assert line in passwd
    assert "nonroot:x:65532:" in files["/etc/group"].data.decode()
    home = files["/home/nonroot"]
    assert (home.kind, home.mode, home.uid, home.gid) == ("dir", 0o700, 65532, 65532)
    assert files["/tmp"].mode == 0o1777
    assert "hosts: files dns" in files["/etc/nsswitch.conf"].data.decode()
    assert "ID=goslim-static" in files["/etc/os-release"].data.decode()


def test_no_needs_no_bundle_no_zoneinfo() -> None:
    base = static_base(facts(), AMD64)
    paths = set(by_path(base))
    assert CA_BUNDLE_PATH not in paths
    assert not any(p.startswith("/usr/share/zoneinfo") for p in paths)
    assert base.env == []
    assert not provision(base, "ca-bundle").included and not provision(base, "zoneinfo").included


def test_roots_needed_gets_bundle_with_source_and_version() -> None:
    base = static_base(facts(ca=True), AMD64)
    bundle = by_path(base)[CA_BUNDLE_PATH]
    assert b"-----BEGIN CERTIFICATE-----" in bundle.data
    p = provision(base, "ca-bundle")
    assert p.included and p.source and p.version and "SystemCertPool" in p.reason
    assert f"SSL_CERT_FILE={CA_BUNDLE_PATH}" in base.env


def test_zoneinfo_needed_gets_tree() -> None:
    base = static_base(facts(tz=True), AMD64)
    files = by_path(base)
    berlin = base.resolve("/usr/share/zoneinfo/Europe/Berlin")
    assert berlin is not None and files[berlin].data.startswith(b"TZif")
    assert not any("/posix/" in p or "/right/" in p for p in files)
    p = provision(base, "zoneinfo")
    assert p.included and p.files > 300 and p.version.startswith("tzdata 20")


def test_tz_embed_leaves_files_out_even_when_needed() -> None:
    base = static_base(facts(tz=True), AMD64, StaticOptions(tz="embed"))
    assert not any(p.startswith("/usr/share/zoneinfo") for p in by_path(base))
    assert "timetzdata" in provision(base, "zoneinfo").reason


def test_package_sources_work_without_the_host(tmp_path) -> None:
    bundle = load_ca_bundle("auto", system_bundle=tmp_path / "absent.crt")
    assert bundle.source.startswith("certifi") and bundle.certificates > 50
    tree = load_zoneinfo("auto", system_dir=tmp_path / "absent")
    assert tree.source.startswith("tzdata") and tree.files > 300


def test_static_base_is_deterministic() -> None:
    a = static_base(facts(ca=True, tz=True), AMD64)
    b = static_base(facts(ca=True, tz=True), AMD64)
    assert a.files == b.files


def with_zone_names(report: BinaryReport, names: list[str]) -> BinaryReport:
    zone = report.needs.zoneinfo.model_copy(update={"names": names, "detail": "constant names"})
    return report.model_copy(update={"needs": report.needs.model_copy(update={"zoneinfo": zone})})


def test_named_zones_get_only_those_files_and_utc() -> None:
    base = static_base(with_zone_names(facts(tz=True), ["Asia/Shanghai", "US/Pacific"]), AMD64)
    zones = {p.removeprefix("/usr/share/zoneinfo/"): f for p, f in by_path(base).items()
             if p.startswith("/usr/share/zoneinfo/") and f.kind != "dir"}
    assert {"Asia/Shanghai", "US/Pacific", "UTC"} <= set(zones) and len(zones) <= 6
    for name, f in zones.items():  # every alias resolves to a file that is in the image
        if f.kind == "symlink":
            assert base.resolve(f"/usr/share/zoneinfo/{name}") in by_path(base), name
    p = provision(base, "zoneinfo")
    assert p.included and p.reason.startswith("only Asia/Shanghai, US/Pacific, UTC") and p.files <= 4


def test_unknown_zone_name_is_reported_not_shipped() -> None:
    base = static_base(with_zone_names(facts(tz=True), ["Mars/Olympus_Mons"]), AMD64)
    assert "not in tzdata" in provision(base, "zoneinfo").reason
    assert "/usr/share/zoneinfo/Mars/Olympus_Mons" not in by_path(base)


def test_copied_aliases_become_symlinks_to_the_zone() -> None:
    tree = load_zoneinfo("tzdata")
    files = [e for e in tree.entries if e.kind == "file"]
    assert len({e.data for e in files}) == len(files)  # no content twice
    links = {e.path: e.target for e in tree.entries if e.kind == "symlink"}
    assert links["/usr/share/zoneinfo/US/Pacific"] == "../America/Los_Angeles"


def test_zones_under_one_rule_are_one_layer_group() -> None:
    groups = {e.path.removeprefix("/usr/share/zoneinfo/"): e.group
              for e in load_zoneinfo("tzdata").entries if e.kind == "file"}
    assert groups["Europe/Berlin"] == groups["Europe/Paris"] == "zoneinfo CET-1CEST,M3.5.0,M10.5.0/3"
    assert groups["America/New_York"] == "zoneinfo EST5EDT,M3.2.0,M11.1.0"
    assert groups["Etc/UTC"] == "zoneinfo UTC0"
    assert zone_group(b"TZif\0" + bytes(40)) == "zoneinfo "  # version 1: no rule, still a zone


def test_grouped_zones_make_a_smaller_gzip_layer() -> None:
    tree = load_zoneinfo("tzdata")
    grouped = [layer_entry(e) for e in tree.entries]
    by_size = [dataclasses.replace(e, group="") for e in grouped]
    gz, gz_by_size = (build_layer(entries, "gzip", mtime=0).size for entries in (grouped, by_size))
    zs, zs_by_size = (build_layer(entries, "zstd", mtime=0).size for entries in (grouped, by_size))
    assert gz < 0.95 * gz_by_size  # tzdata 2026f: 60,517 against 65,747 bytes
    assert zs < 1.03 * zs_by_size  # zstd's window holds the whole tree: 46,406 against 45,580 bytes
