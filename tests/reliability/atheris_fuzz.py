"""Coverage-guided fuzzing of one target with atheris (libFuzzer), in a child process.

    python -m tests.reliability.atheris_fuzz TARGET RUNS CORPUS_PICKLE OUT_DIR

The child instruments goslim, loads the corpus bench/fuzz built (real seeds), writes the
target's seed inputs as libFuzzer's starting corpus, and lets libFuzzer mutate them for RUNS
executions. Only a ``GoslimError`` is swallowed; any other exception is a libFuzzer crash (its
input saved under OUT_DIR). atheris is optional: ``pip install -e '.[fuzz]'``.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["goslim"]):
    import goslim.bases.remote
    import goslim.binary.analyze
    import goslim.oci  # noqa: F401 - imported here so it is instrumented
    from goslim.binary.pclntab import decode_table, file_names

from goslim.errors import GoslimError
from goslim.oci import Index, mediatypes
from tests.reliability.fuzz_seeds import Corpus
from tests.reliability.fuzz_targets import make_targets, scratch_dir

MAX_LEN = {"pclntab": 4 << 20, "elf": 64 << 10, "buildinfo": 64 << 10}


def seed_inputs(name: str, corpus: Corpus) -> list[bytes]:
    """The real seeds of target ``name``, as raw bytes for libFuzzer's corpus."""
    image = corpus.image
    seeds: dict[str, list[bytes]] = {
        "elf": [corpus.elf.data],
        "buildinfo": [corpus.elf.data],
        "pclntab": [bytes(corpus.pclntab.table)],
        "manifest": [image.manifest_bytes],
        "index": [Index.build([image]).index_bytes],
        "descriptor": [json.dumps(d.to_dict()).encode()
                       for d in (image.config_descriptor, *(la.descriptor() for la in image.layers))],
        "reference": [r.encode() for r in corpus.references],
        "layout": [Index.build([corpus.small_image]).index_bytes],
        "base-tar": list(corpus.tars),
        "unpack": list(corpus.tars),
        "docker-archive": [corpus.docker_archive],
        "pull": [corpus.small_image.manifest_bytes],
    }
    return seeds[name]


def as_plan(name: str, data: bytes, corpus: Corpus) -> Any:
    """libFuzzer's bytes in the shape the target's ``execute`` takes."""
    if name == "pclntab":
        return [(0, b"")], None, data
    if name == "manifest":
        return data, corpus.image.config_bytes
    if name == "layout":
        return data, None, None
    if name in ("base-tar", "unpack"):
        return data, True
    if name == "pull":
        return data, mediatypes.OCI_MANIFEST, None
    return data


def main() -> None:
    name, runs, corpus_file, out_dir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    corpus: Corpus = pickle.loads(corpus_file.read_bytes())
    target = next(t for t in make_targets(corpus, scratch_dir()) if t.name == name)
    seeds_dir = out_dir / f"seeds-{name}"
    seeds_dir.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seed_inputs(name, corpus)):
        (seeds_dir / f"seed-{i}").write_bytes(seed)
    if name == "pclntab":
        def execute(plan: Any) -> None:
            header, _names, _entries = decode_table(plan[2], where="fuzz")
            file_names(plan[2], header)
    else:
        execute = target.execute

    def one(data: bytes) -> None:
        with contextlib.suppress(GoslimError):
            execute(as_plan(name, data, corpus))

    args = [sys.argv[0], f"-runs={runs}", f"-max_len={MAX_LEN.get(name, 1 << 20)}", "-timeout=30",
            "-rss_limit_mb=4096", f"-artifact_prefix={out_dir}/crash-{name}-", "-print_final_stats=1",
            str(seeds_dir)]
    atheris.Setup(args, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
