"""`goslim report merge`: the report.json files of many services (from CI shards) as one summary.

Every report file is untrusted input: its size, the number of files and the folder depth searched are
bounded, a file that is not a goslim report is listed as unreadable (never guessed at), and the
renderers escape every value taken from it.
"""

from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, ValidationError

from goslim import __version__
from goslim.errors import UserInputError
from goslim.models import Frozen
from goslim.report.models import SlimRun
from goslim.report.render import report_paths
from goslim.untrusted import clean

REPORT_NAME = report_paths(Path())["json"].name  # what `goslim slim` names the file a folder is searched for
MAX_REPORT_BYTES = 16 << 20  # one service's report.json; real ones are tens of KiB
MAX_REPORTS = 5000  # report files in one merge
MAX_DEPTH = 8  # folders below each given folder: shard artifact / module / service
MAX_VALUE = 1024  # characters kept of one value from a report: thousands of rows stay a readable page
MAX_FAILED = 20  # reasons kept per service


def _bounded(text: str) -> str:
    return (
        text if len(text) <= MAX_VALUE else f"{text[:MAX_VALUE]}… ({len(text) - MAX_VALUE} more characters)"
    )


class ServiceRow(Frozen):
    """One service in the merged report, as its own report.json tells it."""

    source: str  # the report.json it came from, as found
    package: str
    module_dir: str
    goslim_version: str
    started: str
    exit_status: int
    seconds: float
    image: str  # where the image went: the registry when pushed, else the OCI layout ("" without one)
    digest: str  # the image digest ("" without an image)
    pull_size: int | None  # bytes a pull transfers
    checks: dict[str, int]  # verify results by status; empty when verify did not run
    failed: list[str]  # what did not pass: stages, verify checks, broken policies
    report_html: str | None = None  # the service's own HTML report, relative to the merged one

    @classmethod
    def from_run(cls, run: SlimRun, source: Path, out_dir: Path) -> ServiceRow:
        """The row for ``run``, read from ``source``; links the sibling report.html when there is one."""
        html = source.with_name(report_paths(Path())["html"].name)
        link = None
        if html.is_file() and not html.is_symlink():
            # A URL path (quoted: a folder named "javascript:..." stays a relative path).
            link = quote(posixpath.join(*Path(os.path.relpath(html, out_dir)).parts), safe="/")
        failed = run.what_failed() if run.exit_status else []
        return cls(
            source=str(source),
            package=_bounded(run.package or run.module_dir),
            module_dir=_bounded(run.module_dir),
            goslim_version=_bounded(run.goslim_version),
            started=_bounded(run.started),
            exit_status=run.exit_status,
            seconds=run.seconds,
            image=_bounded(run.published or run.image_location or ""),
            digest=_bounded(run.image.digest if run.image else ""),
            pull_size=run.image.stats.pull_size if run.image else None,
            checks=run.checklist.counts() if run.checklist else {},
            failed=[_bounded(f) for f in failed[:MAX_FAILED]]
            + ([f"and {len(failed) - MAX_FAILED} more"] if len(failed) > MAX_FAILED else []),
            report_html=link,
        )


class Unreadable(Frozen):
    """A file given (or found) that is not a goslim report: where, and why."""

    source: str
    why: str


class MergedReport(Frozen):
    """All services of a fan-out: one row each, plus the files that could not be read."""

    goslim_version: str = __version__
    services: list[ServiceRow] = Field(default_factory=list)
    duplicates: list[str] = Field(default_factory=list)  # reports of a service already seen (older runs)
    unreadable: list[Unreadable] = Field(default_factory=list)

    @property
    def exit_status(self) -> int:
        """The worst exit status among the services (0 when all passed)."""
        return max((s.exit_status for s in self.services), default=0)

    @property
    def not_passed(self) -> list[ServiceRow]:
        return [s for s in self.services if s.exit_status != 0]


def find_reports(inputs: list[Path]) -> list[Path]:
    """The report files among ``inputs``: a file as given, a folder searched for report.json (bounded)."""
    found: list[Path] = []
    for given in inputs:
        if given.is_file():
            found.append(given)
        elif given.is_dir():
            found.extend(_search(given))
        else:
            raise UserInputError(
                f"{given}: no such file or folder", hint="pass report.json files or folders that hold them"
            )
        if len(found) > MAX_REPORTS:
            raise UserInputError(
                f"more than {MAX_REPORTS} report files under {given}",
                hint="merge fewer at a time, or point at the shards' report folders only",
            )
    if not found:
        raise UserInputError(
            f"no {REPORT_NAME} in {', '.join(map(str, inputs))}",
            hint="pass the report folders the shards wrote (goslim slim --report DIR)",
        )
    return found


def _search(root: Path) -> list[Path]:
    found: list[Path] = []
    base_depth = len(root.parts)
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        if len(here.parts) - base_depth >= MAX_DEPTH:
            dirs.clear()  # deeper than any shard layout: not searched
        dirs.sort()
        candidate = here / REPORT_NAME
        # A regular file only: a link may point anywhere, and opening a FIFO would block.
        if REPORT_NAME in names and not candidate.is_symlink() and candidate.is_file():
            found.append(candidate)
            if len(found) > MAX_REPORTS:
                break
    return found


def read_report(path: Path) -> SlimRun | Unreadable:
    """One report.json as a ``SlimRun``, or why it is not one (too large, unreadable, not a goslim report)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        return Unreadable(source=str(path), why=clean(exc.strerror or exc, limit=200))
    if len(data) > MAX_REPORT_BYTES:
        return Unreadable(source=str(path), why=f"larger than {MAX_REPORT_BYTES >> 20} MiB")
    try:
        # Python's parser, not pydantic's: goslim's own reports may carry lone surrogates ("\\ud800").
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return Unreadable(source=str(path), why=clean(f"not a goslim report (not JSON: {exc})", limit=300))
    try:
        return SlimRun.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        why = f"not a goslim report ({where}: {first['msg']}; {exc.error_count()} problem(s))"
        return Unreadable(source=str(path), why=clean(why, limit=300))


def merge_reports(paths: list[Path], out_dir: Path) -> MergedReport:
    """Read every report: one row per service (its newest run if it appears twice), sorted by package."""
    rows: dict[str, ServiceRow] = {}
    duplicates: list[str] = []
    unreadable: list[Unreadable] = []
    for path in paths:
        read = read_report(path)
        if isinstance(read, Unreadable):
            unreadable.append(read)
            continue
        row = ServiceRow.from_run(read, path, out_dir)
        seen = rows.get(row.package)
        if seen is None:
            rows[row.package] = row
            continue
        newer, older = (row, seen) if row.started > seen.started else (seen, row)
        rows[row.package] = newer
        duplicates.append(older.source)
    return MergedReport(
        services=[rows[k] for k in sorted(rows)], duplicates=sorted(duplicates), unreadable=unreadable
    )
