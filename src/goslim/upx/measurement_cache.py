"""UPX measurements kept between runs: keyed by the binary's sha256, the levels and how they ran.

A measurement is every row of one evaluation (the unpacked baseline and each level, measured
interleaved in one run, so the ratios stay same-run ratios) and the packed files themselves,
stored by sha256, so a re-run neither packs nor launches again. The decision is not cached: it is
made again from the rows (and the previous decision) by the run that reads them.
"""

from __future__ import annotations

import hashlib
import os
import platform as host_platform
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from pydantic import Field

from goslim import gzipstream
from goslim.errors import OutputPathError
from goslim.fsutil import atomic_path
from goslim.gobuild.models import Binary
from goslim.models import Frozen
from goslim.probe import ProbeSpec
from goslim.resultcache import ResultCache, cache_key
from goslim.upx.models import LevelRow

CACHE_KIND = "upx"
SCHEMA = 1  # bump when LevelRow or how a level is measured changes


class UpxMeasurement(Frozen):
    """Every row of one evaluation of a binary at some levels, before any decision."""

    binary_sha256: str
    upx_version: str
    levels: list[str]
    repetitions: int
    startup_method: str
    ready_method: str
    size_method: str
    rows: list[LevelRow]  # the unpacked baseline first, then one per level
    env_count: int  # the large-environment smoke run's size, for the risks
    env_bytes: int
    packed_sha256: dict[str, str] = Field(default_factory=dict)  # level -> packed file's sha256


def measurement_key(
    binary_sha256: str,
    levels: tuple[str, ...] | list[str],
    upx_version: str,
    probe: ProbeSpec | None,
    *,
    env: Mapping[str, str] | None,
    args: tuple[str, ...],
    repetitions: int,
    steering: object = None,
) -> str:
    """The key of one evaluation: the binary, the levels, UPX, how it is started, and this host;
    ``steering``: what decides how many rounds are run (policy and budget)."""
    return cache_key(
        {
            "schema": SCHEMA,
            "binary": binary_sha256,
            "levels": list(levels),
            "upx": upx_version,
            "probe": asdict(probe) if probe else None,
            "env": sorted((env or {}).items()),
            "args": list(args),
            "repetitions": repetitions,
            "steering": steering,
            "host": [os.uname().machine, os.uname().release, *host_platform.libc_ver()],
            "gzip": gzipstream.backend(),
        }
    )


class UpxMeasurementCache:
    """Measurements under ``upx/KEY.json`` and packed files under ``upx/packed/SHA256``."""

    def __init__(self, results: ResultCache | None = None) -> None:
        self.results = results or ResultCache(CACHE_KIND)
        self.packed_dir = self.results.dir / "packed"

    def find(self, key: str) -> UpxMeasurement | None:
        """The stored measurement for ``key`` as it was written (row paths from that run), or None."""
        return self.results.load(key, UpxMeasurement)

    def restore(self, key: str, binary: Binary, out_dir: Path) -> UpxMeasurement | None:
        """The measurement for ``key`` with its packed files copied into ``out_dir`` (sha256 checked);
        None when there is none or a packed file is gone or changed."""
        found = self.find(key)
        if found is None or found.binary_sha256 != binary.sha256:
            return None
        rows = []
        for row in found.rows:
            if not row.packed:
                rows.append(row.model_copy(update={"path": binary.path}))
                continue
            dest = out_dir / f"{binary.path.name}.{row.level}"
            if not self._copy_out(found.packed_sha256.get(row.level, ""), dest):
                return None
            rows.append(row.model_copy(update={"path": dest}))
        return found.model_copy(update={"rows": rows})

    def save(self, key: str, measurement: UpxMeasurement) -> str:
        """Store the rows and the packed files; '' when stored, else why not."""
        packed = {}
        try:
            self.packed_dir.mkdir(parents=True, exist_ok=True)
            for row in measurement.rows:
                if row.packed:
                    packed[row.level] = row.sha256
                    target = self.packed_dir / row.sha256
                    if not target.exists():
                        with atomic_path(target) as tmp:
                            tmp.write_bytes(row.path.read_bytes())
        except (OSError, OutputPathError) as exc:
            return f"not cached ({exc})"
        return self.results.store(key, measurement.model_copy(update={"packed_sha256": packed}))

    def clear(self, key: str) -> bool:
        """Forget one measurement (its packed files stay, shared by sha256); True when there was one."""
        return self.results.clear(key)

    def _copy_out(self, sha256: str, dest: Path) -> bool:
        source = self.packed_dir / sha256
        try:
            data = source.read_bytes()
        except OSError:
            return False
        if not sha256 or hashlib.sha256(data).hexdigest() != sha256:
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp:
            tmp.write_bytes(data)
            os.chmod(tmp, 0o755)
        return True
