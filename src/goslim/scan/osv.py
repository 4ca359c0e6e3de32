"""OSV entries in the Go vulnerability database format, parsed strictly enough to trust.

Only what the scanner uses is kept: id, aliases, summary, severity, and per affected
module its SEMVER ranges and the vulnerable symbols (``ecosystem_specific.imports``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from goslim.models import Frozen
from goslim.scan.cvss import cvss3_base_score, severity_of
from goslim.scan.semver import Version, parse_semver

GO_ECOSYSTEM = "Go"
STDLIB = "stdlib"
SEVERITY_LEVELS = ("low", "medium", "high", "critical")


class VulnImport(Frozen):
    """A vulnerable package and the symbols in it (empty = the whole package)."""

    path: str
    symbols: tuple[str, ...] = ()
    goos: tuple[str, ...] = ()
    goarch: tuple[str, ...] = ()


class Range(Frozen):
    """One affected interval: introduced <= v < fixed (fixed None = not fixed yet)."""

    introduced: str
    fixed: str | None = None


class Affected(Frozen):
    module: str
    ranges: tuple[Range, ...]
    imports: tuple[VulnImport, ...] = ()


class OsvEntry(Frozen):
    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    severity: str = "unknown"  # low | medium | high | critical | unknown
    url: str = ""
    affected: tuple[Affected, ...] = Field(default_factory=tuple)

    @property
    def cves(self) -> list[str]:
        return [a for a in self.aliases if a.startswith("CVE-")]


def parse_entry(data: Any) -> OsvEntry:
    """Parse one OSV JSON object; ValueError (with the reason) when it is not usable."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    entry_id = data.get("id")
    if not isinstance(entry_id, str) or not entry_id:
        raise ValueError("no id")
    affected_raw = data.get("affected")
    if not isinstance(affected_raw, list):
        raise ValueError("no affected list")
    affected = tuple(_affected(a) for a in affected_raw if _is_go(a))
    db = data.get("database_specific") if isinstance(data.get("database_specific"), dict) else {}
    summary = data.get("summary") or ""
    details = data.get("details") or ""
    return OsvEntry(
        id=entry_id,
        aliases=tuple(str(a) for a in data.get("aliases") or ()),
        summary=str(summary) or str(details).split("\n", 1)[0][:200],
        details=str(details),
        severity=_severity(data, db),
        url=str(db.get("url") or f"https://osv.dev/vulnerability/{entry_id}"),
        affected=affected,
    )


def is_affected(affected: Affected, version: Version) -> bool:
    """Whether ``version`` lies in one of the affected ranges."""
    for r in affected.ranges:
        lo = parse_semver(r.introduced)
        hi = parse_semver(r.fixed) if r.fixed else None
        if lo is not None and lo <= version and (hi is None or version < hi):
            return True
    return False


def fixed_in(affected: Affected, version: Version) -> str | None:
    """The first fixed version above ``version`` (what to upgrade to), or None when unfixed."""
    candidates = [v for r in affected.ranges if r.fixed and (v := parse_semver(r.fixed)) and version < v]
    return str(min(candidates)) if candidates else None


def _is_go(affected: Any) -> bool:
    pkg = affected.get("package") if isinstance(affected, dict) else None
    return isinstance(pkg, dict) and pkg.get("ecosystem") == GO_ECOSYSTEM and isinstance(pkg.get("name"), str)


def _affected(raw: dict) -> Affected:
    ranges: list[Range] = []
    for rng in raw.get("ranges") or []:
        if not isinstance(rng, dict) or rng.get("type") != "SEMVER":
            continue
        ranges.extend(_intervals(rng.get("events") or []))
    eco = raw.get("ecosystem_specific") if isinstance(raw.get("ecosystem_specific"), dict) else {}
    imports = tuple(
        VulnImport(
            path=str(i["path"]),
            symbols=tuple(str(s) for s in i.get("symbols") or ()),
            goos=tuple(str(s) for s in i.get("goos") or ()),
            goarch=tuple(str(s) for s in i.get("goarch") or ()),
        )
        for i in eco.get("imports") or []
        if isinstance(i, dict) and isinstance(i.get("path"), str)
    )
    return Affected(module=raw["package"]["name"], ranges=tuple(ranges), imports=imports)


def _intervals(events: list) -> list[Range]:
    """OSV events (sorted introduced/fixed pairs) → intervals; a bad version is an error, not a guess."""
    out: list[Range] = []
    start: str | None = None
    for ev in events:
        if not isinstance(ev, dict):
            raise ValueError("range event is not an object")
        if "introduced" in ev:
            start = str(ev["introduced"])
            if parse_semver(start) is None:
                raise ValueError(f"bad introduced version {start!r}")
        elif "fixed" in ev and start is not None:
            fixed = str(ev["fixed"])
            if parse_semver(fixed) is None:
                raise ValueError(f"bad fixed version {fixed!r}")
            out.append(Range(introduced=start, fixed=fixed))
            start = None
    if start is not None:
        out.append(Range(introduced=start))
    return out


def _severity(data: dict, db: dict) -> str:
    """A severity word where the entry gives one (GHSA-style database_specific or a CVSS score)."""
    word = str(db.get("severity") or "").lower()
    word = {"moderate": "medium"}.get(word, word)
    if word in SEVERITY_LEVELS:
        return word
    for sev in data.get("severity") or []:
        score_text = str(sev.get("score", "")) if isinstance(sev, dict) else ""
        score = cvss3_base_score(score_text)
        if score is None:
            try:
                score = float(score_text)
            except ValueError:
                continue
        return severity_of(score)
    return "unknown"
