"""A small on-disk cache of measured results, one JSON file per key, shared by runs and processes.

Entries are pydantic models written atomically; an entry that does not parse (another goslim
version, a torn disk) is a miss and is measured again. Computing one key is serialised across
threads and processes (a lock file), so services that share a key measure it once. The cache is
an optimisation: when it cannot be written, the run goes on and says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from goslim.cachedir import cache_root
from goslim.errors import OutputPathError
from goslim.fsutil import write_text_atomic

M = TypeVar("M", bound=BaseModel)
MAX_ENTRY_BYTES = 8 << 20  # a measured result is a few KB; anything larger is not ours
_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def cache_key(parts: dict[str, object]) -> str:
    """sha256 of the canonical JSON of everything a result depends on."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """Results of one kind (``ablation``, ``upx``) under ``root/kind/KEY.json``."""

    def __init__(self, kind: str, root: Path | None = None) -> None:
        self.dir = (root or cache_root()) / kind

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def load(self, key: str, model: type[M]) -> M | None:
        """The stored result for ``key``, or None when there is none or it does not parse."""
        path = self.path(key)
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            return None
        if len(data) > MAX_ENTRY_BYTES:
            return None
        try:
            return model.model_validate_json(data)
        except ValidationError:
            return None

    def store(self, key: str, value: BaseModel) -> str:
        """Write ``value`` for ``key``; '' when stored, else why not (the run goes on without it)."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path(key), value.model_dump_json())
        except (OSError, OutputPathError) as exc:
            return f"not cached ({exc})"
        return ""

    def clear(self, key: str) -> bool:
        """Forget the result for ``key``; True when there was one."""
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    @contextlib.contextmanager
    def computing(self, key: str) -> Iterator[None]:
        """Hold ``key`` while measuring it: other threads and processes wait, then find the result."""
        lock_path = self.dir / f"{key}.lock"
        with _THREAD_LOCKS_GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(lock_path, threading.Lock())
        with thread_lock:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                yield  # an unwritable cache: measure without the cross-process lock
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock
