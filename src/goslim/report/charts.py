"""Charts for the report, drawn with matplotlib into inline SVG (no external assets)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: render to files only
matplotlib.rcParams["svg.hashsalt"] = "goslim"  # stable element ids, so the same run renders the same bytes

import matplotlib.pyplot as plt  # noqa: E402 - must follow the backend choice
from matplotlib.figure import Figure  # noqa: E402

from goslim.report.models import BaseRow, JourneyStep  # noqa: E402
from goslim.untrusted import clean  # noqa: E402

MIB = 1024 * 1024
BLUE, GREEN, RED, GREY = "#3b6ea8", "#3a9a5b", "#c0504d", "#9a9a9a"


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog so it can sit inside HTML


def _label(text: str) -> str:
    """An axis label from a binary or a flag: control characters spelled out, ``$`` not read as TeX."""
    return clean(text, limit=80).replace("$", r"\$")


def waterfall(steps: list[JourneyStep]) -> str:
    """Size journey: each step's bar floats from the previous size to its own."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    prev = None
    for i, step in enumerate(steps):
        size = step.size / MIB
        if prev is None or step.what == "image pull":
            ax.bar(i, size, color=BLUE if step.what != "image pull" else GREEN)
        else:
            low, high = sorted((prev, size))
            ax.bar(i, high - low, bottom=low, color=GREEN if size <= prev else RED)
        ax.text(i, size, f"{size:.2f}", ha="center", va="bottom", fontsize=8)
        prev = size
    ax.set_xticks(range(len(steps)), [_label(s.label) for s in steps], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("MiB")
    ax.set_title("Size journey (green: smaller, red: larger than the step before)")
    return _svg(fig)


def pull_vs_disk(rows: list[BaseRow]) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    labels = [_label(r.base if r.upx == "off" else f"{r.base} + upx {r.upx}") for r in rows]
    xs = range(len(rows))
    ax.bar(
        [x - 0.2 for x in xs], [r.pull_size / MIB for r in rows], 0.4, label="pull (compressed)", color=BLUE
    )
    ax.bar(
        [x + 0.2 for x in xs], [r.disk_size / MIB for r in rows], 0.4, label="disk (uncompressed)", color=GREY
    )
    ax.set_xticks(list(xs), labels, rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("MiB")
    ax.set_title("Pull and disk size per base")
    ax.legend(fontsize=8)
    return _svg(fig)


def upx_levels(
    levels: list[str], startup_ms: list[float | None], rss_anon: list[float], rss_file: list[float]
) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.bar(levels, [s or 0 for s in startup_ms], color=BLUE)
    left.set_title("Start-up (ms, median)")
    left.tick_params(axis="x", labelrotation=20, labelsize=8)
    right.bar(levels, rss_anon, label="RssAnon", color=RED)
    right.bar(levels, rss_file, bottom=rss_anon, label="RssFile", color=GREY)
    right.set_title("RSS at ready (MiB)")
    right.tick_params(axis="x", labelrotation=20, labelsize=8)
    right.legend(fontsize=8)
    return _svg(fig)


def packages(names: list[str], sizes: list[int]) -> str:
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(names) + 1))
    ax.barh([_label(n) for n in reversed(names)], [s / 1024 for s in reversed(sizes)], color=BLUE)
    ax.set_xlabel("KiB of code")
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("Size by Go package (pclntab)")
    return _svg(fig)
