"""Load OSV entries: a local directory or zip (``--db PATH``), or vuln.go.dev when online.

A corrupt entry is skipped and named in ``VulnDb.notes``; it never stops the scan.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from goslim.scan.errors import VulnDbError
from goslim.scan.osv import OsvEntry, parse_entry

DEFAULT_DB_URL = "https://vuln.go.dev"
DOWNLOAD_TIMEOUT_S = 15.0
DB_HINT = "pass --db PATH: a directory or .zip of OSV JSON files, e.g. golang/vulndb's data/osv"
# vuln.go.dev's index files sit beside the entries and are not entries.
_INDEX_NAMES = {"db.json", "modules.json", "vulns.json"}


@dataclass
class VulnDb:
    """Entries by module path, where they came from, and what was skipped."""

    source: str
    entries: list[OsvEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def for_module(self, module: str) -> Iterator[tuple[OsvEntry, int]]:
        """(entry, index of its affected item) for every entry that names ``module``."""
        for entry in self.entries:
            for i, affected in enumerate(entry.affected):
                if affected.module == module:
                    yield entry, i


def load_vulndb(path: Path) -> VulnDb:
    """Read every OSV entry from a directory (recursively) or a zip file."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if _is_entry_name(p.relative_to(path).as_posix()))
        return _parse_all(str(path), ((p.relative_to(path).as_posix(), _read(p)) for p in files))
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if n.endswith(".json") and _is_entry_name(n))
            return _parse_all(str(path), ((n, zf.read(n)) for n in names))
    if path.exists():
        raise VulnDbError(f"{path} is neither a directory nor a zip file", hint=DB_HINT)
    raise VulnDbError(f"{path}: no such vulnerability database", hint=DB_HINT)


def fetch_vulndb(
    modules: Iterable[str], base_url: str = DEFAULT_DB_URL, client: httpx.Client | None = None
) -> VulnDb:
    """Download the entries that name ``modules`` from a vuln.go.dev-style server (index, then IDs)."""
    wanted = set(modules)
    own = client is None
    http = client or httpx.Client(timeout=DOWNLOAD_TIMEOUT_S, follow_redirects=True)
    try:
        index = _get_json(http, f"{base_url}/index/modules.json")
        ids = sorted({v["id"] for m in index if m.get("path") in wanted for v in m.get("vulns") or []})
        raw = [(f"ID/{i}.json", http.get(f"{base_url}/ID/{i}.json").raise_for_status().content) for i in ids]
    except (httpx.HTTPError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise VulnDbError(
            f"cannot download the Go vulnerability database from {base_url}: {_reason(exc)}", hint=DB_HINT
        ) from exc
    finally:
        if own:
            http.close()
    return _parse_all(base_url, raw)


def _get_json(http: httpx.Client, url: str) -> list[dict]:
    data = json.loads(http.get(url).raise_for_status().content)
    if not isinstance(data, list):
        raise ValueError("modules index is not a list")
    return data


def _parse_all(source: str, items: Iterable[tuple[str, bytes]]) -> VulnDb:
    db = VulnDb(source=source)
    for name, raw in items:
        try:
            db.entries.append(parse_entry(json.loads(raw)))
        except ValueError as exc:  # json.JSONDecodeError and pydantic errors are ValueErrors
            db.notes.append(f"skipped {name}: {_first_line(str(exc))}")
    return db


def _is_entry_name(name: str) -> bool:
    parts = name.split("/")
    return "index" not in parts[:-1] and parts[-1] not in _INDEX_NAMES


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        return f"unreadable: {exc.strerror}".encode()


def _reason(exc: Exception) -> str:
    return _first_line(str(exc)) or type(exc).__name__


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
