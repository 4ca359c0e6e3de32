"""Rendering at the edge: a human view with rich, or one JSON document on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from goslim.untrusted import clean


class SafeConsole(Console):
    """A rich Console that spells out control characters in any string it is given to render.

    The net under the renderers: values from images are still passed as ``Text`` (never
    markup), but a string that slips through cannot move the cursor or retitle the terminal.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:  # type: ignore[override]
        return super().render_str(clean(text, multiline=True, limit=None), **kwargs)


def safe_console(*, stderr: bool = False) -> SafeConsole:
    """The console every command writes through (no emoji codes: ``:x:`` in a label stays text)."""
    return SafeConsole(stderr=stderr, soft_wrap=True, emoji=False)


def plain(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """An untrusted value for rich: a ``Text``, never parsed as markup, control characters spelled out."""
    return Text(clean(value, multiline=multiline), style=style)


def line(*parts: object) -> Text:
    """One line from parts: ``(value, style)`` pairs, ``Text``, or plain values; none is read as markup."""
    out = Text()
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        elif isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], str):
            out.append(clean(part[0]), style=part[1])
        else:
            out.append(clean(part))
    return out


@dataclass
class Output:
    """Where a command writes: stdout for results, stderr for progress and errors."""

    json_mode: bool = False
    console: Console = field(default_factory=safe_console)
    err: Console = field(default_factory=lambda: safe_console(stderr=True))

    def emit(self, result: Any, human: Callable[[Console], None]) -> None:
        """Render ``result``: as JSON when asked, else through the human renderer."""
        if self.json_mode:
            sys.stdout.write(json.dumps(to_jsonable(result), indent=2, sort_keys=False) + "\n")
            sys.stdout.flush()
        else:
            human(self.console)

    def note(self, text: str | Text) -> None:
        """A side remark for people; never on stdout, so --json stays one document (a str is not markup)."""
        self.err.print(text if isinstance(text, Text) else plain(text), highlight=False)

    @contextmanager
    def progress(self, description: str) -> Iterator[Callable[[str], None]]:
        """A spinner with elapsed time on stderr; yields a function to update its text."""
        if self.json_mode or not self.err.is_terminal:
            yield lambda _text: None
            return
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),  # descriptions name files and images
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        ) as bar:
            task = bar.add_task(clean(description))
            yield lambda text: bar.update(task, description=clean(f"{description}: {text}"))


def to_jsonable(value: Any) -> Any:
    from pydantic import BaseModel  # noqa: PLC0415 (loaded by then for --json; not for --help)

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def human_bytes(n: int | float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def signed_pct(value: float) -> str:
    return f"{value:+.1f}%"
