"""What a base fails to carry that the binary needs: warnings, since some programs cope without."""

from __future__ import annotations

from goslim.bases.models import Base
from goslim.binary import BinaryReport
from goslim.binary.needs import CA_FILES, ZONEINFO_DIRS


def missing_needs(report: BinaryReport, base: Base) -> list[str]:
    """One sentence per need the base leaves unmet, naming the evidence and the fix."""
    gaps: list[str] = []
    needs = report.needs
    env = {e.partition("=")[0]: e.partition("=")[2] for e in base.env}
    if needs.ca_roots.needed:
        has_bundle = any(base.contains(p) for p in CA_FILES) or (
            env.get("SSL_CERT_FILE") and base.contains(env["SSL_CERT_FILE"])
        )
        if not has_bundle:
            why = needs.ca_roots.evidence[0] if needs.ca_roots.evidence else "TLS verification"
            gaps.append(f"the binary loads CA roots ({why}) but base '{base.name}' has no CA bundle; "
                        "TLS connections will fail (use --base static)")
    if needs.zoneinfo.needed and not any(base.contains(d) for d in ZONEINFO_DIRS):
        why = needs.zoneinfo.evidence[0] if needs.zoneinfo.evidence else "time zone loading"
        gaps.append(f"the binary loads time zones ({why}) but base '{base.name}' has no zoneinfo; "
                    "named zones will fail (use --base static, or --tz embed)")
    if needs.passwd.needed and not base.contains("/etc/passwd"):
        why = needs.passwd.evidence[0] if needs.passwd.evidence else "os/user"
        gaps.append(f"the binary looks up users ({why}) but base '{base.name}' has no /etc/passwd; "
                    "user.Current needs $USER and $HOME then (use --base static)")
    return gaps
