"""Rendering at the edge: a human view with rich, or one JSON document on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


@dataclass
class Output:
    """Where a command writes: stdout for results, stderr for progress and errors."""

    json_mode: bool = False
    console: Console = field(default_factory=lambda: Console(soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))

    def emit(self, result: Any, human: Callable[[Console], None]) -> None:
        """Render ``result``: as JSON when asked, else through the human renderer."""
        if self.json_mode:
            sys.stdout.write(json.dumps(to_jsonable(result), indent=2, sort_keys=False) + "\n")
            sys.stdout.flush()
        else:
            human(self.console)

    def note(self, text: str) -> None:
        """A side remark for people; never on stdout, so --json stays one document."""
        self.err.print(text, highlight=False)

    @contextmanager
    def progress(self, description: str) -> Iterator[Callable[[str], None]]:
        """A spinner with elapsed time on stderr; yields a function to update its text."""
        if self.json_mode or not self.err.is_terminal:
            yield lambda _text: None
            return
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        ) as bar:
            task = bar.add_task(description)
            yield lambda text: bar.update(task, description=f"{description}: {text}")


def to_jsonable(value: Any) -> Any:
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
