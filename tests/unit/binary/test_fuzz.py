"""Fuzz the ELF, build-info and pclntab parsers: only goslim's own errors may escape.

The total example count comes from GOSLIM_FUZZ_EXAMPLES (default 4000, split over the tests).
The full run documented in docs/analyze-schema.md uses 100000:
    GOSLIM_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest tests/unit/binary/test_fuzz.py -q -s
"""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goslim.binary.analyze import analyze_image
from goslim.binary.buildinfo import parse_build_info, parse_modinfo
from goslim.binary.elf import ElfImage
from goslim.binary.gostring import GoStringError
from goslim.binary.pclntab import decode_table, read_table
from goslim.errors import GoslimError
from tests.unit.binary.elfmaker import (
    ElfSpec,
    Sec,
    inline_buildinfo,
    make_elf,
    make_pclntab,
    pointer_buildinfo_elf,
)

TOTAL = int(os.environ.get("GOSLIM_FUZZ_EXAMPLES", "4000"))
TARGETS = 5
PER_TEST = max(TOTAL // TARGETS, 10)
RUNS: dict[str, int] = {}

FUZZ = settings(
    max_examples=PER_TEST,
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MODINFO = (
    "path\texample.com/a\nmod\texample.com/a\t(devel)\t\ndep\tgolang.org/x/text\tv0.1.0\th1:x=\n"
    '=>\t../text\t\t\nbuild\t-ldflags="-s -w"\nbuild\tCGO_ENABLED=0\n'
)
FUNCS = [("runtime.main", 64), ("main.main", 32), ("net/http.(*Server).Serve", 48), ("type:.eq.main.T", 8)]


def _go_like_elf(elf_class: int = 64, big: bool = False) -> bytes:
    ptr = 8 if elf_class == 64 else 4
    return make_elf(
        ElfSpec(
            sections=[
                Sec(".text", b"\x90" * 152, addr=0x401000, flags=6),
                Sec(".gopclntab", make_pclntab(FUNCS, ptr_size=ptr, big_endian=big), addr=0x500000),
                Sec(
                    ".go.buildinfo",
                    inline_buildinfo("go1.26.1", MODINFO, ptr_size=ptr),
                    addr=0x600000,
                    flags=3,
                ),
                Sec(".rodata", b"AKIAIOSFODNN7EXAMPLEpostgres://u:s3cretpw@db/x", addr=0x700000),
            ],
            elf_class=elf_class,
            big_endian=big,
            interp="/lib64/ld-linux-x86-64.so.2",
        )
    )


SEEDS = [
    _go_like_elf(),
    _go_like_elf(32),
    _go_like_elf(64, True),
    pointer_buildinfo_elf("go1.17.1", MODINFO),
    pointer_buildinfo_elf("go1.16", MODINFO, big_endian=True),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed file with random bytes overwritten, a random truncation, or random junk appended."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 12))):
        # Half the hits go to the ELF and program headers, where one byte changes the most.
        pos = draw(st.one_of(st.integers(0, min(len(data), 176) - 1), st.integers(0, len(data) - 1)))
        width = draw(st.sampled_from([1, 1, 1, 2, 4, 8]))
        data[pos : pos + width] = draw(st.binary(min_size=width, max_size=width))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _count(name: str) -> None:
    RUNS[name] = RUNS.get(name, 0) + 1


def _exercise_elf(elf: ElfImage) -> None:
    _ = (elf.interpreter, elf.needed, elf.pie, elf.libc, elf.goarch, elf.dwarf_bytes(), elf.symbols())
    for sec in elf.sections:
        elf.section_data(sec)
    elf.read_va(0x401000, 16)
    elf.cstring_at_va(0x700000)


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated()))
def test_fuzz_elf_reader(data: bytes) -> None:
    _count("elf")
    with contextlib.suppress(GoslimError):
        _exercise_elf(ElfImage(data))


@FUZZ
@given(mutated())
def test_fuzz_build_info(data: bytes) -> None:
    _count("buildinfo")
    with contextlib.suppress(GoslimError):
        parse_build_info(ElfImage(data))


@FUZZ
@given(st.text(alphabet=st.sampled_from(list('\t\n="`\\ab=>pathmoddepbuild0x')), max_size=200))
def test_fuzz_modinfo_text(text: str) -> None:
    _count("modinfo")
    with contextlib.suppress(GoStringError):
        parse_modinfo("go1.26.1", text)


@FUZZ
@given(st.data())
def test_fuzz_pclntab(data: st.DataObject) -> None:
    _count("pclntab")
    tab = bytearray(make_pclntab(FUNCS, layout=data.draw(st.sampled_from(["go1.20", "go1.18", "go1.16"]))))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(tab) - 1))
        tab[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        tab = tab[: data.draw(st.integers(0, len(tab)))]
    with contextlib.suppress(GoslimError):
        decode_table(bytes(tab))


@FUZZ
@given(mutated())
def test_fuzz_whole_analysis(data: bytes) -> None:
    _count("analyze")
    try:
        elf = ElfImage(data)
        read_table(elf)
    except GoslimError:
        pass
    with contextlib.suppress(GoslimError):
        analyze_image(data, "fuzz.bin")


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> None:
    yield
    total = sum(RUNS.values())
    print(f"\nfuzzed inputs: {total} ({', '.join(f'{k} {v}' for k, v in sorted(RUNS.items()))})")
