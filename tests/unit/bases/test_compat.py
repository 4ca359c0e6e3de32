"""The compatibility check refuses a binary that cannot run on a base, naming reason and fix."""

from __future__ import annotations

import pytest
from tests.reports import make_report

from goslim.bases.builtin import scratch_base, static_base
from goslim.bases.compat import IncompatibleBaseError, check_compatible
from goslim.bases.models import Base, LibcInfo
from goslim.platform import Platform

AMD64 = Platform(os="linux", architecture="amd64")
ARM64 = Platform(os="linux", architecture="arm64")
GLIBC_LOADER = "/lib64/ld-linux-x86-64.so.2"
MUSL_LOADER = "/lib/ld-musl-x86_64.so.1"

STATIC = make_report("amd64")
GLIBC = make_report("amd64", static=False, interpreter=GLIBC_LOADER,
                    needed_libs=["libc.so.6"], libc="glibc")


def remote(name: str, paths: set[str], symlinks: dict[str, str] | None = None, libc="glibc") -> Base:
    return Base(name=name, kind="remote", platform=AMD64, paths=frozenset(paths | {"/"}),
                symlinks=symlinks or {}, libc=LibcInfo(kind=libc))


def test_static_binary_runs_anywhere_of_its_arch() -> None:
    check_compatible(STATIC, scratch_base(AMD64))
    check_compatible(STATIC, static_base(STATIC, AMD64))


def test_dynamic_binary_refused_on_scratch_naming_the_interpreter() -> None:
    with pytest.raises(IncompatibleBaseError) as err:
        check_compatible(GLIBC, scratch_base(AMD64))
    assert GLIBC_LOADER in err.value.message and "scratch" in err.value.message
    assert "CGO_ENABLED=0" in (err.value.hint or "")


def test_arch_mismatch_refused() -> None:
    with pytest.raises(IncompatibleBaseError, match=r"amd64.*linux/arm64"):
        check_compatible(STATIC, scratch_base(ARM64))


def test_glibc_binary_on_musl_base_refused() -> None:
    alpine = remote("alpine", {"/lib", MUSL_LOADER, "/lib/libc.musl-x86_64.so.1"}, libc="musl")
    with pytest.raises(IncompatibleBaseError, match=r"glibc.*musl"):
        check_compatible(GLIBC, alpine)


def test_glibc_base_through_merged_usr_symlinks_is_accepted() -> None:
    debian = remote(
        "debian",
        {"/usr", "/usr/lib64", "/usr/lib64/ld-linux-x86-64.so.2", "/usr/lib", "/usr/lib/x86_64-linux-gnu",
         "/usr/lib/x86_64-linux-gnu/libc.so.6"},
        symlinks={"/lib64": "usr/lib64", "/lib": "usr/lib"},
    )
    check_compatible(GLIBC, debian)


def test_missing_library_named() -> None:
    base = remote("thin", {"/lib64", GLIBC_LOADER})
    with pytest.raises(IncompatibleBaseError, match=r"libc\.so\.6"):
        check_compatible(GLIBC, base)
