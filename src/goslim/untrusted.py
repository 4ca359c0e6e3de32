"""Strings from an image, a registry or a binary, made inert for each place goslim shows them.

Such strings may hold terminal control sequences (ESC, OSC 8 hyperlinks, OSC 0 titles),
C1 controls, NUL, lone surrogates (JSON "\\ud800"), bidi overrides, rich markup, HTML,
Markdown or characters XML cannot carry. Every renderer passes them through one of the
functions here; the text stays visible, its control characters spelled ``\\x1b``-style.
"""

from __future__ import annotations

import re

# C0 controls but tab/newline, DEL, C1, lone surrogates, bidi embeddings/overrides/isolates,
# and the Unicode line/paragraph separators: none may reach a terminal or a file as itself.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_NEWLINE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
# What XML 1.0 cannot hold at all (after ``clean`` only \r, U+FFFE and U+FFFF can remain).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Enough to keep a value inside its cell: no table break, code span, link, image, HTML or emphasis.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_|<>\[\]])")
DEFAULT_LIMIT = 4096  # characters shown of one value; a hostile config may hold megabytes


def _spell(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object, *, multiline: bool = False, limit: int | None = DEFAULT_LIMIT) -> str:
    """``value`` as text with every control character spelled out (``\\x1b``); newlines kept if ``multiline``.

    Longer than ``limit`` characters: cut, with a note of how much was left out.
    """
    text = value if isinstance(value, str) else str(value)
    cut = ""
    if limit is not None and len(text) > limit:
        cut = f"… ({len(text) - limit} more characters)"
        text = text[:limit]
    pattern = _UNSAFE_KEEP_NEWLINE if multiline else _UNSAFE
    return pattern.sub(_spell, text) + cut


def clean_json(value: object) -> object:
    """A JSON-ready value with every string in it cleaned (multi-line, not cut): for SARIF and the like."""
    if isinstance(value, str):
        return clean(value, multiline=True, limit=None)
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def xml_text(value: object, *, limit: int | None = DEFAULT_LIMIT) -> str:
    """Text for an XML attribute or element: cleaned, and nothing XML 1.0 forbids."""
    return _NOT_XML.sub(_spell, clean(value, multiline=True, limit=limit))


def markdown_cell(value: object, *, limit: int | None = DEFAULT_LIMIT) -> str:
    """One Markdown table cell: one line, pipes, backticks, brackets and HTML escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean(value, limit=limit))


def markdown_code(value: object, *, limit: int | None = DEFAULT_LIMIT) -> str:
    """An inline code span that no backtick or pipe in ``value`` can end or break out of."""
    text = clean(value, limit=limit).replace("|", "\\|")
    fence = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_block(lines: list[str] | tuple[str, ...], *, limit: int | None = DEFAULT_LIMIT) -> list[str]:
    """A fenced code block around ``lines``: the fence is longer than any backtick run inside."""
    body = [clean(line, limit=limit) for line in lines]
    fence = "`" * max(3, max((_longest_backtick_run(b) for b in body), default=0) + 1)
    return [fence, *body, fence]


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)
