"""What the image must supply at run time, proven by the functions the linker kept.

Go's linker drops unreachable functions, so a function in the pclntab means the code path
exists. Facts on which files each package reads: REFERENCE.md section 7.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from goslim.binary.elf import ElfImage
from goslim.binary.models import BuildInfo, Need, NeedAnswer, Needs
from goslim.binary.zones import LOAD_FROM_TZDATA, LOAD_LOCATION, ZoneCalls, valid_zone_name

NEEDED, NOT_NEEDED, CARRIED = NeedAnswer.NEEDED, NeedAnswer.NOT_NEEDED, NeedAnswer.CARRIED

MAX_EVIDENCE = 5

# Where Go's crypto/x509 looks for roots on Linux (files, then directories): the files a CA need asks for.
CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
)
CA_DIRS = ("/etc/ssl/certs", "/etc/pki/tls/certs")
# Where Go's time package looks for zoneinfo on Linux.
ZONEINFO_DIRS = ("/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo")

CA_FUNCS = (
    "crypto/x509.loadSystemRoots",
    "crypto/x509.initSystemRoots",
    "crypto/x509.systemRootsPool",
    "crypto/x509.SystemCertPool",
)
CA_FALLBACK_PKG = "golang.org/x/crypto/x509roots/fallback"
CA_FALLBACK_SET = "crypto/x509.SetFallbackRoots"
# Only the exported LoadLocation: time.loadLocation/loadTzinfo are linked into every program that
# uses time (initLocal reads $TZ through them), so they prove nothing about named zones.
ZONE_FUNCS = (LOAD_LOCATION,)
# Linked whenever a program uses local time: it reads $TZ or /etc/localtime, never a named zone.
LOCAL_TIME_FUNC = "time.initLocal"
LOCAL_TIME_NOTE = "local time falls back to UTC without /etc/localtime; set TZ and goslim will add the zone"
TZDATA_PKG = "time/tzdata"
USER_PKG = "os/user"
RESOLVER_FUNCS = {
    "net.dnsReadConfig": "/etc/resolv.conf",
    "net.(*resolverConfig).init": "/etc/resolv.conf",
    "net.readHosts": "/etc/hosts",
    "net.lookupStaticHost": "/etc/hosts",
    "net.parseNSSConfFile": "/etc/nsswitch.conf",
    "net.(*nsswitchConfig).init": "/etc/nsswitch.conf",
    "net.(*conf).hostLookupOrder": "/etc/nsswitch.conf",
    "net.cgoLookupHost": "libc resolver (getaddrinfo: /etc/resolv.conf, /etc/nsswitch.conf)",
    "net._C2func_getaddrinfo": "libc resolver (getaddrinfo: /etc/resolv.conf, /etc/nsswitch.conf)",
}


class LinkedFunctions:
    """The function names of a binary, with their packages (a set for lookups by name)."""

    def __init__(self, names: list[str], packages: list[str]) -> None:
        self.names = set(names)
        self._pairs = (names, packages)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def matching(self, wanted: Iterable[str]) -> list[str]:
        return sorted({n for n in wanted if n in self.names})

    def in_package(self, package: str) -> list[str]:
        names, packages = self._pairs
        return sorted({n for n, p in zip(names, packages, strict=True) if p == package})


def detect_needs(
    funcs: LinkedFunctions | None,
    elf: ElfImage | None,
    info: BuildInfo | None,
    zone_calls: Mapping[str, ZoneCalls] | None = None,
) -> Needs:
    """Derive each need from the linked function names, the ELF facts and the zone-loading call sites.

    ``funcs`` is None when there is no readable Go function table (not Go, packed, Go <= 1.15):
    then nothing proves a file is unneeded, so each file need is assumed, and says so.
    """
    if funcs is None:
        unknown = Need(answer=NEEDED, detail="unknown: no readable Go function table, so assumed needed")
        return Needs(
            ca_roots=unknown, zoneinfo=unknown, passwd=unknown, resolver=unknown, loader=_loader(elf)
        )
    return Needs(
        ca_roots=_ca_roots(funcs),
        zoneinfo=_zoneinfo(funcs, info, zone_calls or {}),
        passwd=_passwd(funcs),
        resolver=_resolver(funcs),
        loader=_loader(elf),
    )


def _ca_roots(funcs: LinkedFunctions) -> Need:
    evidence = funcs.matching(CA_FUNCS)
    if not evidence:
        return Need(answer=NOT_NEEDED, detail="crypto/x509 system root loading is not linked")
    fallback = funcs.in_package(CA_FALLBACK_PKG)
    if fallback:
        return Need(
            answer=CARRIED,
            evidence=(evidence + fallback)[:MAX_EVIDENCE],
            detail=f"system roots are loaded, but {CA_FALLBACK_PKG} embeds roots used when none are found",
            carrier="roots (x509roots/fallback)",
        )
    return Need(
        answer=NEEDED,
        evidence=evidence[:MAX_EVIDENCE],
        detail="TLS verification reads /etc/ssl/certs/ca-certificates.crt (or SSL_CERT_FILE / SSL_CERT_DIR)",
    )


def _zoneinfo(funcs: LinkedFunctions, info: BuildInfo | None, calls: Mapping[str, ZoneCalls]) -> Need:
    evidence = funcs.matching(ZONE_FUNCS)
    # time's own loadLocation passes file data to LoadLocationFromTZData; other callers bring their own.
    from_data = calls.get(LOAD_FROM_TZDATA, ZoneCalls())
    own_data = [c for c in from_data.callers if not c.startswith("time.")]
    if from_data.as_value:
        own_data.append("a func value")
    tzdata = funcs.in_package(TZDATA_PKG)
    tags = (info.settings.get("-tags", "") if info else "").split(",")
    if not evidence and not own_data:
        local = f"; {LOCAL_TIME_NOTE}" if LOCAL_TIME_FUNC in funcs else ""
        return Need(answer=NOT_NEEDED, detail=f"{LOAD_LOCATION} is not linked{local}")
    evidence += [f"{LOAD_FROM_TZDATA} called by {c}" for c in own_data]
    if tzdata or "timetzdata" in tags:
        return Need(
            answer=CARRIED,
            evidence=(evidence + (tzdata[:2] or ["build tag timetzdata"]))[:MAX_EVIDENCE],
            detail="time/tzdata is embedded: zone lookups work without /usr/share/zoneinfo",
            carrier="zoneinfo (time/tzdata)",
        )
    every = "so every zone file may be read; or build with -tags timetzdata"
    load = calls.get(LOAD_LOCATION)
    if own_data:
        callers = ", ".join(own_data[:3])
        detail = f"the program passes its own zone data to {LOAD_FROM_TZDATA} ({callers}), {every}"
    elif load is None or load.unreadable:
        why = load.unreadable if load is not None else "call sites not read"
        detail = f"{LOAD_LOCATION} reads /usr/share/zoneinfo; zone names not found ({why}), {every}"
    elif load.dynamic:
        callers = ", ".join(sorted(set(load.dynamic))[:3])
        detail = f"{LOAD_LOCATION} is given a name that is not a constant (in {callers}), {every}"
    else:
        names = sorted(n for n in load.constant if valid_zone_name(n))
        where = ", ".join(load.callers[:3])
        return Need(
            answer=NEEDED,
            evidence=[*evidence, f"{where} passes {', '.join(sorted(load.constant))}"][:MAX_EVIDENCE],
            detail=f"{LOAD_LOCATION} is called only with constant names, read at its call sites "
            f"({where}): {', '.join(names) or 'none but UTC/Local'}",
            names=names,
        )
    return Need(answer=NEEDED, evidence=evidence[:MAX_EVIDENCE], detail=detail)


def with_run_env(needs: Needs, env: Mapping[str, str]) -> Needs:
    """``needs`` for a run with ``env``: a TZ naming a zone makes that zone file needed.

    Go's time package reads $TZ at the first use of local time: "" and "UTC" mean UTC, a leading
    ':' is dropped, an absolute path is read as it is, anything else is a file under zoneinfo.
    The image stage, the Dockerfile and verify all call this, so they agree on the files.
    """
    zone = tz_zone(env)
    need = needs.zoneinfo
    if zone is None or need.answer is CARRIED:
        return needs
    why = f"TZ={zone} in the run's environment"
    if need.answer is NOT_NEEDED:
        local = need.detail.replace(f"; {LOCAL_TIME_NOTE}", "")
        updated = Need(answer=NEEDED, evidence=[why], detail=f"{why}: local time reads that zone ({local})",
                       names=[zone])
    else:
        names = None if need.names is None else sorted({*need.names, zone})
        evidence = [*need.evidence, why][: MAX_EVIDENCE + 1]
        updated = need.model_copy(update={"evidence": evidence, "names": names})
    return needs.model_copy(update={"zoneinfo": updated})


def tz_zone(env: Mapping[str, str]) -> str | None:
    """The zone file a TZ value asks for, None when it needs none (unset, empty, UTC, or a path)."""
    tz = env.get("TZ")
    if tz is None:
        return None
    tz = tz.removeprefix(":").removeprefix(ZONEINFO_DIRS[0] + "/")
    return tz if valid_zone_name(tz) else None


def _passwd(funcs: LinkedFunctions) -> Need:
    evidence = funcs.in_package(USER_PKG)
    if not evidence:
        return Need(answer=NOT_NEEDED, detail="os/user is not linked")
    via_libc = any("_C_get" in n or "_Cfunc_" in n for n in evidence)
    return Need(
        answer=NEEDED,
        evidence=([n for n in evidence if "_C" in n] + [n for n in evidence if "_C" not in n])[:MAX_EVIDENCE],
        detail="os/user looks users up through libc (NSS: /etc/nsswitch.conf, /etc/passwd, /etc/group)"
        if via_libc
        else "os/user reads /etc/passwd and /etc/group (user.Current falls back to $USER and $HOME)",
    )


def _resolver(funcs: LinkedFunctions) -> Need:
    evidence = funcs.matching(RESOLVER_FUNCS)
    if not evidence:
        return Need(answer=NOT_NEEDED, detail="the net package's name resolution is not linked")
    files = sorted({RESOLVER_FUNCS[n] for n in evidence})
    return Need(
        answer=NEEDED,
        evidence=evidence[:MAX_EVIDENCE],
        detail="name resolution reads " + ", ".join(files) + " (missing files fall back to defaults)",
    )


def _loader(elf: ElfImage | None) -> Need:
    if elf is None:
        return Need(answer=NOT_NEEDED, detail="unknown")
    interp = elf.interpreter
    needed = elf.needed
    if not interp and not needed:
        return Need(answer=NOT_NEEDED, detail="statically linked: no dynamic loader or shared libraries")
    evidence = ([f"PT_INTERP {interp}"] if interp else []) + [f"DT_NEEDED {n}" for n in needed]
    libc = elf.libc or "unknown libc"
    return Need(
        answer=NEEDED,
        evidence=evidence,
        detail=f"dynamically linked against {libc}: the image needs {interp or 'a loader'} and "
        + (", ".join(needed) if needed else "no libraries"),
    )
