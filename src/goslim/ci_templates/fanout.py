"""Sharded CI pipelines: N runners each run `goslim slim --shard I/N`, a last job merges the reports.

Every value that reaches the YAML or a shell line is checked here first (plain relative paths, a registry
prefix that parses, a shard count the CI system accepts), so the templates never need to quote user text.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

import jinja2

from goslim import __version__
from goslim.errors import UserInputError
from goslim.oci import ImageReference
from goslim.oci.errors import InvalidReferenceError

FANOUT_TEMPLATES = {"github": "github-fanout.yaml.j2", "gitlab": "gitlab-fanout.yaml.j2"}
# GitHub runs at most 256 jobs per matrix; GitLab's `parallel` takes 1..200.
MAX_SHARDS = {"github": 256, "gitlab": 200}
# What `goslim slim` accepts as a target, kept to characters that need no quoting in YAML or a shell.
_TARGET = re.compile(r"^[A-Za-z0-9_.@+-]+(/[A-Za-z0-9_.@+-]+)*$")
_REPORT_DIR = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
# Where each system's shard index and count come from, as text the shell sees.
SHARD_EXPR = {"github": "${{ matrix.shard }}/{n}", "gitlab": '"$CI_NODE_INDEX/$CI_NODE_TOTAL"'}
KEY_PATH = {"github": '"$RUNNER_TEMP/cosign.key"', "gitlab": '"$COSIGN_PRIVATE_KEY"'}
REPORT_FILES = ("report.json", "report.md", "report.html", "junit.xml")  # not bin/ or the image layout
SUMMARY_DIR = "goslim-summary"


@dataclass(frozen=True)
class FanOut:
    """A sharded pipeline: the services (targets of `goslim slim`), how many runners, where the images go."""

    targets: tuple[str, ...]  # ./cmd/..., services/api, ... (relative to the repository root)
    shards: int
    to: ImageReference  # a registry prefix: each service goes to TO/NAME:latest
    report_dir: str = "goslim-report"
    sign: bool = True  # sign and attest with the CI's cosign key, and reuse attestations of unchanged images
    ablation: bool = True
    compare: bool = True

    def report_dir_of(self, target: str) -> str:
        """Where a target's reports go: the report folder, or a subfolder per target if several."""
        if len(self.targets) == 1:
            return self.report_dir
        return f"{self.report_dir}/{_slug(target)}"


def parse_fanout(
    system: str,
    services: list[str],
    *,
    shards: int,
    to: str | None,
    report_dir: str = "goslim-report",
    sign: bool = True,
    ablation: bool = True,
    compare: bool = True,
) -> FanOut:
    """Check what `goslim ci --services` was given; one clear line for each mistake."""
    if to is None:
        raise UserInputError(
            "--services needs --to REGISTRY/PREFIX: each shard pushes its services there",
            hint="e.g. --to ghcr.io/acme (each service goes to ghcr.io/acme/NAME:latest)",
        )
    limit = MAX_SHARDS[system]
    if not 1 <= shards <= limit:
        raise UserInputError(f"--shards {shards} is out of range", hint=f"{system} runs 1 to {limit} shards")
    targets = tuple(_target(s) for s in services)
    slugs = [_slug(t) for t in targets]
    if len(set(slugs)) != len(slugs):
        raise UserInputError(f"--services names the same place twice: {', '.join(services)}")
    if not _REPORT_DIR.match(report_dir) or ".." in report_dir.split("/"):
        raise UserInputError(
            f"bad report folder '{report_dir}'", hint="use a plain relative path: goslim-report"
        )
    return FanOut(
        targets=targets,
        shards=shards,
        to=_prefix(to),
        report_dir=report_dir,
        sign=sign,
        ablation=ablation,
        compare=compare,
    )


def _target(text: str) -> str:
    path = text.removeprefix("./")
    parts = path.split("/")
    if not _TARGET.match(path) or ".." in parts or any(p.startswith("-") for p in parts):
        raise UserInputError(
            f"--services '{text}' is not a plain path in the repository",
            hint="use paths relative to the repository root: ./cmd/..., services/api, services/api/...",
        )
    return "." if path == "." else "./" + path


def _slug(target: str) -> str:
    """A folder name for a target: ./services/api/... -> services-api, ./... or . -> root."""
    base = str(PurePosixPath(target.removesuffix("...").rstrip("/") or "."))
    return base.replace("/", "-") if base != "." else "root"


def _prefix(text: str) -> ImageReference:
    try:
        ref = ImageReference.parse(text.rstrip("/"))
    except InvalidReferenceError as exc:
        raise UserInputError(f"--to: {exc.message}", hint="a registry prefix: ghcr.io/acme") from None
    if ref.tag or ref.digest:
        raise UserInputError(
            f"--to {text} has a tag or digest",
            hint="give a prefix without one: each service goes to PREFIX/NAME:latest",
        )
    return ref


def slim_commands(system: str, fanout: FanOut) -> list[str]:
    """The shell lines one shard runs: `goslim slim` per target on this shard's slice; the worst exit wins."""
    run_as = (
        'sudo --preserve-env=COSIGN_PASSWORD env "PATH=$PATH" "HOME=$HOME" ' if system == "github" else ""
    )
    shard = SHARD_EXPR[system].replace("{n}", str(fanout.shards))
    lines = []
    for target in fanout.targets:
        words = [
            f"{run_as}goslim slim {shlex.quote(target)}",
            f"--shard {shard}",
            '--to "$GOSLIM_TO"',
            f"--report {shlex.quote(fanout.report_dir_of(target))}",
        ]
        if fanout.sign:
            words += [f"--key {KEY_PATH[system]}", "--reuse-attestation"]
        if not fanout.ablation:
            words.append("--no-ablation")
        if not fanout.compare:
            words.append("--no-compare")
        lines.append(" ".join(words))
    if len(lines) == 1:
        return lines
    # Every target runs even when an earlier one fails; the job then exits with the last failure.
    return ["rc=0", *(f"{line} || rc=$?" for line in lines), 'exit "$rc"']


def merge_command(fanout: FanOut) -> str:
    """The last job's command: every shard's reports (unpacked under the report folder) as one summary."""
    return f"goslim report merge {shlex.quote(fanout.report_dir)} --out {SUMMARY_DIR}"


def render_fanout(system: str, fanout: FanOut, *, pip_spec: str = "goslim", go_mod: str = "go.mod") -> str:
    """The CI file text for a sharded pipeline on ``system`` (github or gitlab)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("goslim.ci_templates", "."),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # YAML, not HTML; every value below was checked or goes through tojson
    )
    ghcr = fanout.to.registry == "ghcr.io"
    return env.get_template(FANOUT_TEMPLATES[system]).render(
        version=__version__,
        shards=fanout.shards,
        shard_list=list(range(1, fanout.shards + 1)),
        to=fanout.to.name,
        registry=fanout.to.registry,
        login_secrets=not ghcr,  # ghcr.io takes the workflow's own token
        username="github.actor" if ghcr else "secrets.REGISTRY_USERNAME",
        password="secrets.GITHUB_TOKEN" if ghcr else "secrets.REGISTRY_PASSWORD",
        gh=lambda expression: "${{ " + expression + " }}",
        sign=fanout.sign,
        pip_spec=pip_spec,
        go_mod=go_mod,
        commands=slim_commands(system, fanout),
        report_dir=fanout.report_dir,
        report_files=[f"{fanout.report_dir}/**/{name}" for name in REPORT_FILES],
        merge_command=merge_command(fanout),
        summary_dir=SUMMARY_DIR,
    )
