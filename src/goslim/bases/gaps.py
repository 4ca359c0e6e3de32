"""What a base fails to carry that the binary needs: warnings, since some programs cope without."""

from __future__ import annotations

from goslim.bases.models import Base
from goslim.bases.needs import BinaryFacts

# Files crypto/x509 tries on Linux, then the directories it scans.
CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
)
ZONEINFO_DIRS = ("/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo")


def missing_needs(facts: BinaryFacts, base: Base) -> list[str]:
    """One sentence per need the base leaves unmet, naming the evidence and the fix."""
    gaps: list[str] = []
    env = {e.partition("=")[0]: e.partition("=")[2] for e in base.env}
    if facts.ca_roots.needed:
        has_bundle = any(base.contains(p) for p in CA_FILES) or (
            env.get("SSL_CERT_FILE") and base.contains(env["SSL_CERT_FILE"])
        )
        if not has_bundle:
            why = facts.ca_roots.evidence[0] if facts.ca_roots.evidence else "TLS verification"
            gaps.append(f"the binary loads CA roots ({why}) but base '{base.name}' has no CA bundle; "
                        "TLS connections will fail (use --base static)")
    if facts.zoneinfo.needed and not any(base.contains(d) for d in ZONEINFO_DIRS):
        why = facts.zoneinfo.evidence[0] if facts.zoneinfo.evidence else "time zone loading"
        gaps.append(f"the binary loads time zones ({why}) but base '{base.name}' has no zoneinfo; "
                    "named zones will fail (use --base static, or --tz embed)")
    if facts.passwd.needed and not base.contains("/etc/passwd"):
        why = facts.passwd.evidence[0] if facts.passwd.evidence else "os/user"
        gaps.append(f"the binary looks up users ({why}) but base '{base.name}' has no /etc/passwd; "
                    "user.Current needs $USER and $HOME then (use --base static)")
    return gaps
