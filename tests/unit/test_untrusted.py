"""goslim.untrusted and the CLI's console: hostile text stays visible and inert in every form."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from goslim.cli.output import SafeConsole, line, plain
from goslim.untrusted import clean, clean_json, markdown_block, markdown_cell, markdown_code, xml_text

EVIL = "a\x1b]0;title\x07b\x00c\x9bd\u202ee\ud800f\rg"


def test_clean_spells_out_controls() -> None:
    assert clean(EVIL) == "a\\x1b]0;title\\x07b\\x00c\\x9bd\\u202ee\\ud800f\\x0dg"
    assert clean("one\ntwo\tthree") == "one\\x0atwo\tthree"
    assert clean("one\ntwo", multiline=True) == "one\ntwo"
    assert clean("x" * 10, limit=4) == "xxxx… (6 more characters)"
    assert clean(42) == "42"


def test_markdown_cell_stays_in_its_cell() -> None:
    cell = markdown_cell("a|b`c`<script>[x](http://e)\n*y*")
    assert cell == "a\\|b\\`c\\`\\<script\\>\\[x\\](http://e)\\\\x0a\\*y\\*"


def test_markdown_code_outlasts_backticks() -> None:
    assert markdown_code("plain") == "`plain`"
    assert markdown_code("a``b") == "```a``b```"
    assert markdown_code("`x") == "`` `x ``"
    assert markdown_block(["```", "ok"]) == ["````", "```", "ok", "````"]


def test_xml_text_parses() -> None:
    element = ET.Element("t", message=xml_text(EVIL))
    element.text = xml_text(EVIL + "\ufffe")
    ET.fromstring(ET.tostring(element))


def test_clean_json_cleans_keys_and_values() -> None:
    assert clean_json({"k\x1b": ["v\x07", 1, None]}) == {"k\\x1b": ["v\\x07", 1, None]}


def test_console_never_writes_control_or_markup() -> None:
    buffer = io.StringIO()
    console = SafeConsole(file=buffer, force_terminal=False, width=200, emoji=False)
    console.print(line(("error:", "bold red"), " ", "[/bold] [link=http://e]x[/link] " + EVIL))
    console.print(plain(":x: [b]y[/b]"))
    console.print(f"stray {EVIL}")  # a str that slipped past the renderers is still spelled out
    text = buffer.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "[/bold] [link=http://e]x[/link]" in text and ":x: [b]y[/b]" in text
