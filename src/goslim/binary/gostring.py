"""Go's text encodings that build info uses: uvarint lengths and strconv.Quote'd strings."""

from __future__ import annotations


class GoStringError(ValueError):
    """A malformed varint or quoted string (callers turn it into their own GoslimError)."""


def uvarint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 varint at ``pos``; return (value, next position)."""
    value = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            raise GoStringError("varint runs past the end of the data")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos + i + 1
        shift += 7
    raise GoStringError("varint is longer than 10 bytes")


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def quoted_prefix(text: str) -> str:
    """The Go-quoted string (``"..."`` or backquoted) at the start of ``text``."""
    if not text or text[0] not in '"`':
        raise GoStringError("not a quoted string")
    quote = text[0]
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return text[: i + 1]
        if ch == "\\" and quote == '"':
            i += 2
            continue
        if ch == "\n" and quote == '"':
            break
        i += 1
    raise GoStringError("unterminated quoted string")


def unquote(text: str) -> str:
    """Go's strconv.Unquote for double- and back-quoted strings."""
    if len(text) < 2 or text[0] != text[-1] or text[0] not in '"`':
        raise GoStringError("not a quoted string")
    body = text[1:-1]
    if text[0] == "`":
        if "`" in body:
            raise GoStringError("backquote inside a raw string")
        return body.replace("\r", "")
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in ('"', "\n"):
            raise GoStringError("unescaped quote or newline in a quoted string")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise GoStringError("dangling backslash")
        esc = body[i + 1]
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc in "\"'":
            out.append(esc)
            i += 2
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise GoStringError(f"bad \\{esc} escape")
            code = int(digits, 16)
            if esc == "x":
                out.append(chr(code))  # a raw byte; build info is UTF-8 text in practice
            elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise GoStringError("escape is not a valid code point")
            else:
                out.append(chr(code))
            i += 2 + width
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise GoStringError("bad octal escape")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise GoStringError(f"unknown escape \\{esc}")
    return "".join(out)
