"""The built-in bases, made locally with no network: ``scratch`` and ``static``.

``static`` is the distroless-static equivalent (users, /tmp, nsswitch.conf, os-release,
CA bundle, zoneinfo), but need-driven: the CA bundle and zoneinfo go in only when the
binary needs them, and the output records why each thing went in or stayed out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from goslim import __version__
from goslim.bases.models import Base, BaseFile, LibcInfo, Provision
from goslim.bases.sources import CaSource, TzSource, load_ca_bundle, load_zoneinfo
from goslim.binary import BinaryReport
from goslim.platform import Platform

BUILTIN_BASES = ("static", "scratch")
CA_BUNDLE_PATH = "/etc/ssl/certs/ca-certificates.crt"
NONROOT_UID = 65532
NOBODY_UID = 65534

PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
# Go's pure resolver reads only the hosts: line; files then dns is also its default.
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"


class StaticOptions(BaseModel):
    """How the need-driven static base decides what to carry."""

    model_config = ConfigDict(frozen=True)

    ca: Literal["auto", "always", "never"] = "auto"
    # auto: files when needed; files: always; embed: the binary carries time/tzdata; none: never.
    tz: Literal["auto", "files", "embed", "none"] = "auto"
    ca_source: CaSource = "auto"
    tz_source: TzSource = "auto"


def scratch_base(platform: Platform) -> Base:
    """The empty base: no files at all."""
    return Base(name="scratch", kind="builtin", platform=platform, libc=LibcInfo(kind="none"))


def static_base(facts: BinaryReport, platform: Platform, options: StaticOptions | None = None) -> Base:
    """The distroless-static equivalent, carrying the CA bundle and zoneinfo only when needed."""
    options = options or StaticOptions()
    files: list[BaseFile] = [
        _dir("/etc"),
        _dir("/home"),
        _dir("/home/nonroot", mode=0o700, owner=NONROOT_UID),
        _dir("/root", mode=0o700),
        _dir("/tmp", mode=0o1777),
        _file("/etc/passwd", PASSWD),
        _file("/etc/group", GROUP),
        _file("/etc/nsswitch.conf", NSSWITCH),
        _file("/etc/os-release", _os_release()),
    ]
    passwd = facts.needs.passwd
    passwd_reason = "; ".join(passwd.evidence) if passwd.needed else "always: non-root user 65532"
    provisions = [
        Provision(
            item="passwd",
            included=True,
            reason=passwd_reason,
            source="goslim",
            paths=["/etc/passwd", "/etc/group", "/home/nonroot", "/tmp"],
            files=2,
            bytes=len(PASSWD) + len(GROUP),
        ),
        Provision(item="nsswitch", included=True, reason="hosts: files dns for the Go resolver",
                  source="goslim", paths=["/etc/nsswitch.conf"], files=1, bytes=len(NSSWITCH)),
    ]
    ca_in = options.ca == "always" or (options.ca == "auto" and facts.needs.ca_roots.needed)
    if ca_in:
        bundle = load_ca_bundle(options.ca_source)
        files += [_dir("/etc/ssl"), _dir("/etc/ssl/certs"), BaseFile(path=CA_BUNDLE_PATH, kind="file",
                                                                      mode=0o644, data=bundle.data)]
        reason = _why(facts.needs.ca_roots.evidence, "the binary verifies TLS certificates")
        if options.ca == "always":
            reason = "asked for (ca: always)"
        provisions.append(Provision(
            item="ca-bundle", included=True, reason=reason, source=bundle.source, version=bundle.version,
            paths=[CA_BUNDLE_PATH], files=1, bytes=len(bundle.data),
        ))
    else:
        why = "ca: never" if options.ca == "never" else facts.needs.ca_roots.verdict
        provisions.append(Provision(item="ca-bundle", included=False, reason=why))
    zone_need = facts.needs.zoneinfo
    tz_in = options.tz == "files" or (options.tz == "auto" and zone_need.needed)
    if tz_in:
        tree = load_zoneinfo(options.tz_source)
        reason = "asked for (tz: files)" if options.tz == "files" else _why(
            zone_need.evidence, "the binary loads named time zones")
        if options.tz == "auto" and zone_need.names is not None:
            tree, missing = tree.select(zone_need.names)
            reason = f"only {', '.join([*zone_need.names, 'UTC'])}: {zone_need.detail}"
            if missing:
                reason += f"; not in {tree.version}: {', '.join(missing)}"
        files += [_dir("/usr"), _dir("/usr/share"), *tree.entries]
        provisions.append(Provision(
            item="zoneinfo", included=True, reason=reason, source=tree.source, version=tree.version,
            paths=["/usr/share/zoneinfo"], files=tree.files, bytes=tree.bytes,
        ))
    else:
        why = {
            "embed": "tz: embed, the binary carries time/tzdata (-tags timetzdata)",
            "none": "tz: none",
        }.get(options.tz, facts.needs.zoneinfo.verdict)
        provisions.append(Provision(item="zoneinfo", included=False, reason=why))
    provisions.append(Provision(item="os-release", included=True, reason="identifies the base to scanners",
                                source="goslim", paths=["/etc/os-release"], files=1))
    files = _dedupe_sorted(files)
    return Base(
        name="static",
        kind="builtin",
        platform=platform,
        files=files,
        paths=frozenset(f.path for f in files) | {"/"},
        symlinks={f.path: f.target for f in files if f.kind == "symlink"},
        libc=LibcInfo(kind="none"),
        env=[f"SSL_CERT_FILE={CA_BUNDLE_PATH}"] if ca_in else [],
        provisions=provisions,
    )


def _why(evidence: list[str], default: str) -> str:
    return "; ".join(evidence[:3]) if evidence else default


def _os_release() -> str:
    return (
        'PRETTY_NAME="goslim static"\n'
        "NAME=goslim-static\n"
        "ID=goslim-static\n"
        f"VERSION_ID={__version__}\n"
        'HOME_URL="https://github.com/goslim/goslim"\n'
    )


def _dir(path: str, mode: int = 0o755, owner: int = 0) -> BaseFile:
    return BaseFile(path=path, kind="dir", mode=mode, uid=owner, gid=owner)


def _file(path: str, text: str, mode: int = 0o644) -> BaseFile:
    return BaseFile(path=path, kind="file", mode=mode, data=text.encode())


def _dedupe_sorted(files: list[BaseFile]) -> list[BaseFile]:
    by_path: dict[str, BaseFile] = {}
    for f in files:
        by_path.setdefault(f.path, f)
    return [by_path[p] for p in sorted(by_path)]
