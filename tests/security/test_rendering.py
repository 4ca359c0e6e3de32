"""Strings from an image reach no terminal, report or CI file as markup or control codes.

One image carries attacker text everywhere its config allows (Env, created, author, labels,
history, Entrypoint, the program's own logs): ESC sequences with an OSC 8 hyperlink and an
OSC 0 title, rich markup, HTML, Markdown, NUL, C1, a bidi override, a lone surrogate and a
200,000-character value. The real CLI renders it (human and --json, verify's JUnit and
Markdown), and the report renderer renders a run quoting it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from goslim.oci import FileEntry, Image, Platform, build_layer, new_config, write_oci_layout
from goslim.oci.archive import write_docker_archive
from goslim.oci.image import history_entry
from goslim.report import SlimRun, StageOutcome
from goslim.report.models import Claim, JourneyStep
from goslim.report.render import to_html, to_junit, to_markdown
from goslim.verify.models import Checklist, CheckResult, CheckStatus
from tests.conftest import need_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

GOSLIM = [sys.executable, "-m", "goslim"]
TITLE = "\x1b]0;PWNED-TITLE\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\click here\x1b]8;;\x1b\\"
HOSTILE = (
    f"{TITLE}\x1b[2J\x1b[H{LINK}[/bold][link=http://evil.example/]x[/link]"
    "<script>alert(1)</script>|cell|`tick`**bold**\x00nul\x9b31mC1\u202eevil\ud800end"
)
RUNNABLE = HOSTILE.replace("\x00", "")  # what runc can pass to a process: no NUL in argv or environ
LONG = "A" * 200_000
# Anything a terminal or a parser acts on: C0 but tab/newline, DEL, C1 and bidi controls as UTF-8.
UNSAFE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]")
SGR = re.compile(rb"\x1b\[[0-9;]*m")  # the colours rich itself writes to a terminal
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")


def assert_inert(data: bytes, where: str, *, styled: bool = False) -> None:
    """No control byte in ``data`` (with ``styled``: none but rich's own colour codes)."""
    if styled:
        data = SGR.sub(b"", data)
    found = UNSAFE.search(data)
    assert found is None, f"{where}: control byte {found.group()!r} at {found.start()}: " + repr(
        data[max(0, found.start() - 60) : found.start() + 60]
    )
    assert b"Traceback" not in data, f"{where}: traceback"


def hostile_config(entrypoint: str = "/app", *, user: str = "65532:65532") -> dict[str, Any]:
    """An image config with HOSTILE in every string field; JSON-escaped, so the lone surrogate survives."""
    cfg = new_config(
        Platform(os="linux", architecture="amd64"),
        entrypoint=[entrypoint, RUNNABLE],
        env={"SAY": RUNNABLE, "LONG": LONG[:100_000]},  # one variable may hold 128 KiB
        user=user,
        workdir="/",
        labels={f"label{HOSTILE}": HOSTILE, "long": LONG},
    )
    cfg["created"] = HOSTILE
    cfg["author"] = HOSTILE
    cfg["history"] = [history_entry(HOSTILE), history_entry(LONG, empty_layer=True)]
    return cfg


def hostile_image(layer_files: list[FileEntry], *, user: str = "65532:65532") -> Image:
    layer = build_layer(layer_files)
    cfg = hostile_config(user=user)
    cfg["rootfs"] = {"type": "layers", "diff_ids": [str(layer.diff_id)]}
    return Image.from_config_bytes(json.dumps(cfg).encode(), [layer])


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*GOSLIM, *args], check=False, cwd=cwd, capture_output=True, timeout=240, env=env)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory, go_build) -> str:
    binary = go_build("says-hostile")
    image = hostile_image([FileEntry.from_path("app", binary.path, mode=0o755)])
    root = tmp_path_factory.mktemp("hostile-render")
    write_oci_layout(root / "layout", image, "t")
    write_docker_archive(root / "image.tar", image)
    return f"oci:{root / 'layout'}:t"


def test_inspect_shows_hostile_config_as_inert_text(layout: str, tmp_path: Path) -> None:
    result = run(["inspect", layout], tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert_inert(result.stdout, "inspect stdout")
    assert_inert(result.stderr, "inspect stderr")
    out = result.stdout.decode()
    # Still visible, in escaped form: the control characters spelled out, the markup as text.
    assert "created \\x1b]0;PWNED-TITLE\\x07" in out
    assert "[/bold][link=http://evil.example/]x[/link]" in out
    assert "\\x00nul\\x9b31mC1\\u202eevil\\ud800end" in out
    assert "more characters)" in out  # the 200,000-character Env value is cut, not printed whole


def test_inspect_docker_archive_of_hostile_image(layout: str, tmp_path: Path) -> None:
    archive = Path(layout.removeprefix("oci:").rsplit(":", 1)[0]).parent / "image.tar"
    result = run(["inspect", f"docker-archive:{archive}"], tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert_inert(result.stdout + result.stderr, "inspect docker-archive")
    assert "PWNED-TITLE" in result.stdout.decode()


def test_inspect_on_a_terminal_writes_only_its_own_colours(layout: str, tmp_path: Path) -> None:
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    passed_on = {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME", "VIRTUAL_ENV")}
    result = run(["inspect", layout], tmp_path, env={**env, **passed_on})
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"\x1b[" in result.stdout  # colours are on
    assert b"\x1b]" not in result.stdout  # no OSC: no title, no hyperlink
    assert_inert(result.stdout, "inspect on a terminal", styled=True)


def test_inspect_json_is_one_document_with_escaped_strings(layout: str, tmp_path: Path) -> None:
    result = run(["inspect", "--json", layout], tmp_path)
    assert result.returncode == 0
    assert_inert(result.stdout + result.stderr, "inspect --json")
    data = json.loads(result.stdout)
    assert data["created"] == HOSTILE  # JSON carries the exact value, escaped by JSON itself
    assert f"SAY={RUNNABLE}" in data["config"]["Env"]


def test_verify_outputs_are_inert(layout: str, tmp_path: Path) -> None:
    need_tool("runc")
    junit, markdown = tmp_path / "junit.xml", tmp_path / "verify.md"
    result = run(["verify", layout, "--alive", "1", "--grace", "1", "--junit", str(junit),
                  "--markdown", str(markdown)], tmp_path)
    assert result.returncode == 1, result.stderr.decode(errors="replace")  # the program exits 3
    assert_inert(result.stdout, "verify stdout")
    assert_inert(result.stderr, "verify stderr")
    assert "PWNED-TITLE" in result.stdout.decode()  # the program's logs, quoted as evidence
    xml = junit.read_bytes()
    assert_inert(xml, "junit.xml")
    root = ET.fromstring(xml)
    assert b"<script>" not in xml
    assert "PWNED-TITLE" in ET.tostring(root, encoding="unicode")
    md = markdown.read_bytes()
    assert_inert(md, "verify.md")
    assert "<script>" not in outside_code_blocks(md.decode())  # inside a fence it is shown, not run
    assert "PWNED-TITLE" in md.decode()
    _assert_markdown_rows_intact(md.decode())


def test_image_on_a_hostile_base_is_inert(layout: str, tmp_path: Path, go_build) -> None:
    binary = go_build("says-hostile")
    result = run(["image", str(binary.path), "--base", layout, "--to", f"oci:{tmp_path / 'out'}:t"], tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")  # the lone surrogate is kept
    assert_inert(result.stdout + result.stderr, "image --base")
    assert "PWNED-TITLE" in result.stdout.decode()  # the base's history, in the layer table


def test_error_quoting_image_data_is_one_inert_line(tmp_path: Path) -> None:
    image = hostile_image([FileEntry.file("app", b"\x7fELF")], user=HOSTILE)
    write_oci_layout(tmp_path / "layout", image, "t")
    result = run(["verify", f"oci:{tmp_path / 'layout'}:t", "--check", "no-shell"], tmp_path)
    assert result.returncode == 2
    assert_inert(result.stdout + result.stderr, "verify error")
    lines = result.stderr.decode().splitlines()
    assert lines[0].startswith("error: ") and "PWNED-TITLE" in lines[0]
    assert all(line.startswith("  ") for line in lines[1:])


def test_report_renderers_escape_a_hostile_run() -> None:
    run_ = _hostile_run()
    html = to_html(run_)
    assert_inert(html.encode(), "report.html")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "PWNED-TITLE" in html
    md = to_markdown(run_)
    assert_inert(md.encode(), "report.md")
    assert "<script>" not in outside_code_blocks(md) and "PWNED-TITLE" in md
    _assert_markdown_rows_intact(md)
    xml = to_junit(run_)
    assert_inert(xml.encode(), "junit.xml")
    ET.fromstring(xml.encode())


def _hostile_run() -> SlimRun:
    checklist = Checklist(
        image=f"oci:/x{HOSTILE}",
        runtime="runc 1.1.5",
        platform="linux/amd64",
        seconds=1.0,
        results=(
            CheckResult(id="starts", title="starts and stays alive", status=CheckStatus.FAIL,
                        summary=f"exited: {HOSTILE}", evidence=(f"log: {HOSTILE}", LONG)),
            CheckResult(id="logs", title="writes logs", status=CheckStatus.PASS, summary=HOSTILE,
                        evidence=(HOSTILE,)),
        ),
    )
    return SlimRun(
        goslim_version="0",
        module_dir=f"/m{HOSTILE}",
        package=f"example.com/{HOSTILE}",
        started="2026-01-01T00:00:00+00:00",
        stages=[StageOutcome(stage="verify", status="failed", message=HOSTILE, hint=HOSTILE)],
        journey=[JourneyStep(label=f"base {HOSTILE} $\\frac{{", size=1000, what="image pull")],
        claims=[Claim(claim=HOSTILE, measured=HOSTILE, verdict="not measured")],
        checklist=checklist,
        outputs={"report": f"/out/{HOSTILE}"},
        exit_status=1,
    )


def outside_code_blocks(md: str) -> str:
    """The Markdown text without its code blocks and code spans (their content renders literally)."""
    kept, fence = [], ""
    for line in md.splitlines():
        run_ = re.match(r"`{3,}", line)
        if fence and line.strip() == fence:
            fence = ""
        elif not fence and run_:
            fence = run_.group()
        elif not fence:
            kept.append(CODE_SPAN.sub("", line))
    return "\n".join(kept)


def _assert_markdown_rows_intact(md: str) -> None:
    """Every row of every table has its header's column count: no value broke out of its cell."""
    tables: list[list[str]] = []
    previous_was_row = False
    for line in md.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous_was_row:
            tables.append([])
        if is_row:
            tables[-1].append(line)
        previous_was_row = is_row
    assert tables
    for rows in tables:
        width = len(UNESCAPED_PIPE.findall(rows[0]))
        for row in rows:
            assert len(UNESCAPED_PIPE.findall(row)) == width, row
