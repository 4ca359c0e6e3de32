#!/usr/bin/env python3
"""Print the apt source line for CODENAME-backports, built from the machine's own Debian sources.

setup.sh needs bookworm-backports for upx-ucl. Rather than writing a mirror address into the
repository, take the URI and components of the configured source that serves CODENAME (deb822
`.sources` files or one-line `.list` files) and add the backports suite to it.
Usage: apt_backports.py CODENAME [SOURCES_DIR]; exit 1 when no configured source serves CODENAME.
"""

from __future__ import annotations

import sys
from pathlib import Path


def one_line_sources(text: str) -> list[tuple[str, list[str], list[str]]]:
    """(uri, suites, components) of each `deb URI SUITE COMP...` line."""
    found = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 4 or words[0] != "deb":
            continue
        words = [w for w in words[1:] if not (w.startswith("[") or w.endswith("]") or "=" in w)]
        if len(words) >= 3:
            found.append((words[0], [words[1]], words[2:]))
    return found


def deb822_sources(text: str) -> list[tuple[str, list[str], list[str]]]:
    """(uri, suites, components) of each stanza with Types: deb."""
    found = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        for uri in fields.get("uris", "").split():
            found.append((uri, fields.get("suites", "").split(), fields.get("components", "").split()))
    return found


def backports_line(codename: str, sources_dir: Path) -> str | None:
    candidates = []
    files = [sources_dir.parent / "sources.list", *sorted(sources_dir.glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            candidates += deb822_sources(text)
        elif path.suffix == ".list" or path.name == "sources.list":
            candidates += one_line_sources(text)
    for uri, suites, components in candidates:
        if codename in suites and "security" not in uri:
            return f"deb {uri} {codename}-backports {' '.join(components) or 'main'}"
    return None


def main() -> int:
    codename = sys.argv[1]
    sources_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/etc/apt/sources.list.d")
    line = backports_line(codename, sources_dir)
    if line is None:
        print(f"no configured apt source serves {codename}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
