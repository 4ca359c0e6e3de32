"""docs/analyze-schema.md documents every field of the report, and the report round-trips through JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from goslim.binary import models
from goslim.binary.analyze import analyze_image
from tests.unit.binary.elfmaker import ElfSpec, Sec, inline_buildinfo, make_elf, make_pclntab

DOC = Path(__file__).resolve().parents[3] / "docs" / "analyze-schema.md"


@pytest.mark.parametrize(
    "model",
    [
        models.BinaryReport,
        models.ElfFacts,
        models.BuildInfo,
        models.Module,
        models.PackageSize,
        models.SectionSize,
        models.Needs,
        models.Need,
        models.Finding,
    ],
)
def test_every_field_is_documented(model: type) -> None:
    text = DOC.read_text()
    missing = [name for name in model.model_fields if f"`{name}`" not in text]
    assert missing == []


def test_synthetic_report_round_trips() -> None:
    funcs = [("runtime.main", 64), ("main.main", 32), ("time.LoadLocation", 16), ("os/user.Current", 8)]
    data = make_elf(
        ElfSpec(
            sections=[
                Sec(".text", b"\x90" * 120, addr=0x401000, flags=6),
                Sec(".gopclntab", make_pclntab(funcs, text_start=0x401000), addr=0x500000),
                Sec(
                    ".go.buildinfo",
                    inline_buildinfo("go1.26.1", "path\texample.com/a\nmod\texample.com/a\t(devel)\t\n"),
                    addr=0x600000,
                    flags=3,
                ),
            ]
        )
    )
    report = analyze_image(data, "synthetic")
    assert report.is_go and report.function_count == 4
    assert report.needs.zoneinfo.needed and report.needs.passwd.needed and not report.needs.ca_roots.needed
    assert sum(p.size for p in report.packages) + sum(s.size for s in report.sections) == report.size
    assert models.BinaryReport.model_validate_json(report.model_dump_json()) == report


def test_needs_are_assumed_when_there_is_no_function_table() -> None:
    data = make_elf(
        ElfSpec(
            sections=[Sec(".text", b"\x90" * 64, addr=0x401000, flags=6)], interp="/lib/ld-musl-x86_64.so.1"
        )
    )
    report = analyze_image(data, "c-program")
    assert not report.is_go and report.function_count == 0
    for name in ("ca_roots", "zoneinfo", "passwd", "resolver"):
        need = getattr(report.needs, name)
        assert need.needed and need.detail.startswith("unknown")
    assert report.needs.loader.needed and report.elf.libc == "musl"
    assert sum(s.size for s in report.sections) == report.size
