"""Match a binary's modules (and the standard library) against OSV entries, with symbol evidence."""

from __future__ import annotations

from goslim.binary import BuildInfo
from goslim.scan.models import ScannedModule, Severity, Status, Vulnerability
from goslim.scan.osv import STDLIB, Affected, OsvEntry, VulnImport, fixed_in, is_affected
from goslim.scan.semver import go_to_semver, parse_semver
from goslim.scan.symbols import SymbolIndex
from goslim.scan.vulndb import VulnDb

_STATUS_ORDER = {"called": 0, "unknown": 1, "imported": 2, "not-linked": 3}
SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3, "critical": 4}
FAIL_ON_CHOICES = ("none", "low", "medium", "high", "critical")


def scanned_modules(info: BuildInfo) -> tuple[list[ScannedModule], list[str]]:
    """stdlib plus every dependency (replacements followed); notes for what cannot be compared."""
    notes: list[str] = []
    modules = [ScannedModule(path=STDLIB, version=info.go_version, semver=go_to_semver(info.go_version))]
    if modules[0].semver is None:
        notes.append(f"Go version {info.go_version!r} is not a release: the standard library was not matched")
    for dep in info.deps:
        mod = dep.replace if dep.replace is not None and dep.replace.version else dep
        if dep.replace is not None and not dep.replace.version:
            notes.append(f"{dep.path} is replaced by the local directory {dep.replace.path}: not matched")
            continue
        version = parse_semver(mod.version)
        modules.append(
            ScannedModule(path=mod.path, version=mod.version, semver=str(version) if version else None)
        )
    return modules, notes


def match_vulnerabilities(
    info: BuildInfo, db: VulnDb, index: SymbolIndex | None
) -> tuple[list[ScannedModule], list[Vulnerability], list[str]]:
    """Every (entry, module) pair where the module's version is affected, strongest evidence first.

    ``index`` None means the function table could not be read: status is "unknown".
    """
    modules, notes = scanned_modules(info)
    goos, goarch = info.settings.get("GOOS", ""), info.settings.get("GOARCH", "")
    found: list[Vulnerability] = []
    for module in modules:
        version = parse_semver(module.semver) if module.semver else None
        if version is None:
            continue
        for entry, i in db.for_module(module.path):
            affected = entry.affected[i]
            if not is_affected(affected, version):
                continue
            imports = [imp for imp in affected.imports if _applies(imp, goos, goarch)]
            if affected.imports and not imports:
                continue  # only vulnerable on other platforms
            status, hits, checked = _evidence(imports, index)
            found.append(
                _vulnerability(
                    entry=entry,
                    affected=affected,
                    module=module,
                    status=status,
                    hits=hits,
                    checked=checked,
                    fix=fixed_in(affected, version),
                )
            )
    found.sort(key=lambda v: (_STATUS_ORDER[v.status], v.module != STDLIB, v.id))
    return modules, found, notes


def policy_failures(vulns: list[Vulnerability], fail_on: str) -> list[Vulnerability]:
    """Findings that break ``--fail-on``: code present (or unknown) and severity at/above it, or unknown."""
    if fail_on == "none":
        return []
    threshold = SEVERITY_ORDER[fail_on]
    return [
        v
        for v in vulns
        if v.status in ("called", "unknown")
        and (v.severity == "unknown" or SEVERITY_ORDER[v.severity] >= threshold)
    ]


def _applies(imp: VulnImport, goos: str, goarch: str) -> bool:
    return (not imp.goos or not goos or goos in imp.goos) and (
        not imp.goarch or not goarch or goarch in imp.goarch
    )


def _evidence(imports: list[VulnImport], index: SymbolIndex | None) -> tuple[Status, list[str], list[str]]:
    checked = [f"{imp.path}.{s}" for imp in imports for s in imp.symbols]
    if index is None or not imports:
        return "unknown", [], checked
    hits = [f"{imp.path}.{s}" for imp in imports for s in imp.symbols if index.has(imp.path, s)]
    # An import without symbols means the whole package is vulnerable.
    whole = [imp.path for imp in imports if not imp.symbols and imp.path in index.packages]
    if hits or whole:
        return "called", hits + whole, checked
    if any(imp.path in index.packages for imp in imports):
        return "imported", [], checked
    return "not-linked", [], checked


def _vulnerability(
    *,
    entry: OsvEntry,
    affected: Affected,
    module: ScannedModule,
    status: Status,
    hits: list[str],
    checked: list[str],
    fix: str | None,
) -> Vulnerability:
    severity: Severity = entry.severity if entry.severity in SEVERITY_ORDER else "unknown"  # type: ignore[assignment]
    return Vulnerability(
        id=entry.id,
        aliases=list(entry.aliases),
        summary=entry.summary,
        url=entry.url,
        severity=severity,
        module=module.path,
        version=module.version,
        fixed_in=fix,
        affected=[f">={r.introduced}" + (f", <{r.fixed}" if r.fixed else "") for r in affected.ranges],
        status=status,
        symbols_found=hits,
        symbols_checked=checked,
    )
