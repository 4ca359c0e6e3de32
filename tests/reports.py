"""BinaryReports stated directly, for unit tests of the stages that read them (no Go, no ELF)."""

from __future__ import annotations

from pathlib import Path

from goslim.binary import BinaryReport, BuildInfo, ElfFacts, Module, Need, Needs
from goslim.binary.models import NeedAnswer

Answer = bool | NeedAnswer
CARRIERS = {"ca_roots": "roots (x509roots/fallback)", "zoneinfo": "zoneinfo (time/tzdata)"}
EVIDENCE = {
    "ca_roots": "crypto/x509.SystemCertPool",
    "zoneinfo": "time.LoadLocation",
    "passwd": "os/user.Current",
    "resolver": "net.dnsReadConfig",
}


def need(name: str, answer: Answer) -> Need:
    if isinstance(answer, bool):
        answer = NeedAnswer.NEEDED if answer else NeedAnswer.NOT_NEEDED
    linked = answer is not NeedAnswer.NOT_NEEDED
    return Need(
        answer=answer,
        evidence=[EVIDENCE.get(name, name)] if linked else [],
        carrier=CARRIERS.get(name, "") if answer is NeedAnswer.CARRIED else "",
    )


def make_report(
    architecture: str | None = "amd64",
    *,
    ca: Answer = False,
    tz: Answer = False,
    passwd: Answer = False,
    resolver: Answer = False,
    static: bool = True,
    interpreter: str | None = None,
    needed_libs: tuple[str, ...] | list[str] = (),
    libc: str | None = None,
    runpath: tuple[str, ...] = (),
    settings: dict[str, str] | None = None,
    main_path: str = "",
    main_version: str = "",
    is_go: bool = True,
    size: int = 1000,
) -> BinaryReport:
    """A report with the facts a test names and nothing else."""
    loader = (
        Need(answer=NeedAnswer.NOT_NEEDED)
        if static
        else Need(answer=NeedAnswer.NEEDED, evidence=[f"PT_INTERP {interpreter}"])
    )
    info = (
        BuildInfo(
            go_version="go1.26.0",
            path=main_path,
            main=Module(path=main_path, version=main_version),
            settings=settings or {},
        )
        if is_go
        else None
    )
    return BinaryReport(
        path=Path("/app/svc"),
        size=size,
        sha256="0" * 64,
        elf=ElfFacts(
            elf_class=64,
            machine="EM_X86_64" if architecture == "amd64" else "EM_AARCH64",
            goarch=architecture,
            static=static,
            interpreter=interpreter,
            needed=list(needed_libs),
            libc=libc,  # type: ignore[arg-type]
            pie=False,
            runpath=list(runpath),
            stripped=True,
            dwarf_bytes=0,
        ),
        build_info=info,
        packages=[],
        sections=[],
        needs=Needs(
            ca_roots=need("ca_roots", ca),
            zoneinfo=need("zoneinfo", tz),
            passwd=need("passwd", passwd),
            resolver=need("resolver", resolver),
            loader=loader,
        ),
        findings=[],
        upx_packed=False,
        analyzed_unpacked_copy=False,
        is_go=is_go,
    )
