"""A small, fast mutation fuzzer: mutate real seeds, run a target, keep every non-goslim exception.

The property every target checks is the same: parsing hostile input may fail only with a
``GoslimError`` (one clear line for the user), never with any other exception. ``run_targets``
spreads a total execution budget over the targets by weight and returns per-target statistics;
crashing inputs are saved (pickled) so they can be replayed with ``replay``.
"""

from __future__ import annotations

import copy
import json
import pickle
import random
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goslim.errors import GoslimError

Range = tuple[int, int]
INTERESTING_INTS = (0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, 1 << 63,
                    (1 << 64) - 1, 16, 64, 4096)
INTERESTING_JSON: tuple[Any, ...] = (
    None, True, False, 0, -1, 1 << 64, -(1 << 63), 1.5, float("1e308"), "", "x", "sha256:",
    "sha256:" + "0" * 64,
    "sha512:" + "a" * 128, "../../etc/passwd", "/abs", "\u0000", "\udcff", [], {}, [None], {"": None},
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.layer.v1.tar+gzip", "linux", "amd64",
)


@dataclass(frozen=True)
class Target:
    """One fuzz target: ``generate`` makes an input from real seeds, ``execute`` feeds it to goslim."""

    name: str
    weight: float
    generate: Callable[[random.Random, Mutator], Any]
    execute: Callable[[Any], None]
    what: str = ""


@dataclass
class Crash:
    target: str
    kind: str  # exception type
    where: str  # last goslim frame
    message: str
    saved: str = ""
    count: int = 1


@dataclass
class TargetStats:
    name: str
    what: str
    executions: int = 0
    rejected: int = 0  # a GoslimError: refused cleanly
    accepted: int = 0  # parsed without error
    seconds: float = 0.0
    slowest: float = 0.0
    crashes: dict[tuple[str, str], Crash] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


class Mutator:
    """Byte-level and JSON-aware mutations driven by one seeded ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def position(self, size: int, hot: Sequence[Range] = ()) -> int:
        """A byte offset, inside a hot range (headers, tables) most of the time."""
        if hot and self.rng.random() < 0.8:
            lo, hi = self.rng.choice(hot)
            hi = min(hi, size)
            if hi > lo:
                return self.rng.randrange(lo, hi)
        return self.rng.randrange(size) if size else 0

    def overwrite_ops(self, size: int, hot: Sequence[Range] = (),
                      max_ops: int = 8) -> list[tuple[int, bytes]]:
        """Overwrites that keep the length: (offset, new bytes) pairs."""
        out = []
        for _ in range(self.rng.randint(1, max_ops)):
            pos = self.position(size, hot)
            kind = self.rng.random()
            if kind < 0.4:
                out.append((pos, bytes([self.rng.randrange(256)])))
            elif kind < 0.6:
                out.append((pos, bytes([self.rng.choice((0, 0xFF, 0x7F, 0x80, 0x2F, 0x2E))])))
            else:
                width = self.rng.choice((2, 4, 8))
                value = self.rng.choice(INTERESTING_INTS) & ((1 << (8 * width)) - 1)
                order = self.rng.choice(("little", "big"))
                out.append((pos, value.to_bytes(width, order)))
        return [(p, b[: max(size - p, 0)]) for p, b in out if p < size]

    def mutate_bytes(self, data: bytes, hot: Sequence[Range] = ()) -> bytes:
        """Overwrites, plus sometimes an insertion, a deletion, a duplicated chunk or a truncation."""
        buf = bytearray(data)
        for pos, new in self.overwrite_ops(len(buf), hot):
            buf[pos : pos + len(new)] = new
        roll = self.rng.random()
        if buf and roll < 0.1:
            pos = self.position(len(buf), hot)
            buf[pos:pos] = self.rng.randbytes(self.rng.randint(1, 16))
        elif buf and roll < 0.2:
            pos = self.position(len(buf), hot)
            del buf[pos : pos + self.rng.randint(1, 64)]
        elif buf and roll < 0.25:
            pos = self.position(len(buf), hot)
            chunk = buf[pos : pos + self.rng.randint(1, 512)]
            at = self.position(len(buf), hot)
            buf[at:at] = chunk
        elif roll < 0.32:
            del buf[self.position(len(buf) + 1, hot) :]
        return bytes(buf)

    def mutate_json(self, doc: Any) -> Any:
        """A deep copy of ``doc`` with one to three nodes replaced, deleted or duplicated."""
        doc = json.loads(json.dumps(doc))
        for _ in range(self.rng.randint(1, 3)):
            doc = self._mutate_node(doc, depth=0)
        return doc

    def _mutate_node(self, node: Any, depth: int) -> Any:
        descend = isinstance(node, dict | list) and node and self.rng.random() < 0.75 and depth < 8
        if not descend:
            return self._replacement(node)
        if isinstance(node, dict):
            key = self.rng.choice(list(node))
            roll = self.rng.random()
            if roll < 0.1:
                del node[key]
            elif roll < 0.15:
                node[self.rng.choice(("mediaType", "digest", "size", "annotations", "platform", "urls",
                                      "manifests", "layers", "config", "rootfs", "diff_ids", "x"))] = \
                    self._replacement(None)
            else:
                node[key] = self._mutate_node(node[key], depth + 1)
            return node
        i = self.rng.randrange(len(node))
        roll = self.rng.random()
        if roll < 0.1:
            del node[i]
        elif roll < 0.2:
            node.insert(i, json.loads(json.dumps(node[i])))
        else:
            node[i] = self._mutate_node(node[i], depth + 1)
        return node

    def _replacement(self, old: Any) -> Any:
        roll = self.rng.random()
        if isinstance(old, str) and old and roll < 0.3:
            pos = self.rng.randrange(len(old))
            return old[:pos] + self.rng.choice(("", "x", "/", ":", "..", "\u00e9", "0", "A")) + old[pos + 1 :]
        if isinstance(old, int) and not isinstance(old, bool) and roll < 0.3:
            return old + self.rng.choice((-1, 1, -old - 1, 1 << 40))
        value = self.rng.choice(INTERESTING_JSON)
        if value == float("1e308") and self.rng.random() < 0.5:
            return [[[[[]]]]]
        # A fresh copy: later mutations edit nodes in place and must never touch the shared constants
        # (that once made a list contain itself).
        return copy.deepcopy(value)

    def json_bytes(self, doc: Any) -> bytes:
        """Serialise a (possibly mutated) document, sometimes in a non-canonical but valid way."""
        if self.rng.random() < 0.8:
            return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        text = json.dumps(doc, indent=self.rng.choice((None, 1)), ensure_ascii=self.rng.random() < 0.5)
        return text.encode("utf-8", "surrogatepass")


def run_targets(targets: Sequence[Target], executions: int, *, seed: int = 0, crash_dir: Path | None = None,
                progress: Callable[[TargetStats], None] | None = None) -> list[TargetStats]:
    """Spread ``executions`` over ``targets`` by weight and fuzz each; returns one stats row per target."""
    total_weight = sum(t.weight for t in targets)
    results = []
    for i, target in enumerate(targets):
        budget = max(1, round(executions * target.weight / total_weight))
        stats = fuzz_one(target, budget, seed=seed * 1000 + i, crash_dir=crash_dir)
        results.append(stats)
        if progress:
            progress(stats)
    return results


def fuzz_one(target: Target, executions: int, *, seed: int = 0, crash_dir: Path | None = None) -> TargetStats:
    """Run ``target`` ``executions`` times with a deterministic random stream."""
    rng = random.Random(seed)
    mutator = Mutator(rng)
    stats = TargetStats(target.name, target.what)
    clock = time.perf_counter
    start = clock()
    for _ in range(executions):
        data = target.generate(rng, mutator)
        t0 = clock()
        try:
            target.execute(data)
        except GoslimError:
            stats.rejected += 1
        except Exception as exc:
            _record(stats, target, data, exc, crash_dir)
        else:
            stats.accepted += 1
        spent = clock() - t0
        stats.slowest = max(stats.slowest, spent)
        stats.executions += 1
    stats.seconds = clock() - start
    return stats


def replay(path: Path, targets: Sequence[Target]) -> None:
    """Run one saved crashing input again (raises the original exception if it still crashes)."""
    saved = pickle.loads(path.read_bytes())
    by_name = {t.name: t for t in targets}
    by_name[saved["target"]].execute(saved["input"])


def _record(stats: TargetStats, target: Target, data: Any, exc: Exception, crash_dir: Path | None) -> None:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/goslim/" in f.filename] or frames
    last = ours[-1] if ours else None
    where = f"{Path(last.filename).name}:{last.lineno}" if last else "?"
    key = (type(exc).__name__, where)
    if key in stats.crashes:
        stats.crashes[key].count += 1
        return
    crash = Crash(target.name, type(exc).__name__, where, str(exc).splitlines()[0][:200] if str(exc) else "")
    if crash_dir is not None:
        crash_dir.mkdir(parents=True, exist_ok=True)
        out = crash_dir / f"{target.name}-{type(exc).__name__}-{where.replace(':', '_')}.pickle"
        out.write_bytes(pickle.dumps({"target": target.name, "input": data, "error": repr(exc)}))
        crash.saved = str(out)
    stats.crashes[key] = crash
