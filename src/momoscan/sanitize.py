"""Outside text is data: the one cleaning every string from a feed or a file goes through where
it is parsed, so that every output (the TUI, the headless text, JSON, notifications, the
desktop) gets clean text.

A company name, an exchange's message or a symbol in an error can hold terminal escape
sequences: OSC 52 writes the clipboard, OSC 0/2 sets the window title, OSC 8 plants a link,
`ESC[2J` blanks the screen. Rich's `Text` passes them through untouched, and so does the
headless output. `clean` removes:

- escape sequences, whole: CSI (`ESC [` ... final byte), OSC (`ESC ]` ... BEL or ST), DCS, SOS,
  PM and APC strings (`ESC P`/`X`/`^`/`_` ... ST), their 8-bit C1 forms (U+009B CSI, U+009D
  OSC, ...), and two-character escapes (`ESC 7`, `ESC c`);
- what is left of the C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F): tab and
  newline become a space unless the field keeps lines (`lines=True`), every other one goes;
- bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the bidi marks
  (U+200E, U+200F, U+061C), which can make a name read backwards or hide what follows it.

Stdlib only: every source imports it.
"""

from __future__ import annotations

import re

# ECMA-48: a CSI is ESC [ (or U+009B), parameter bytes 0x30-0x3F, intermediate bytes
# 0x20-0x2F, one final byte 0x40-0x7E. An unterminated one runs to the end of the text.
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
# OSC, DCS, SOS, PM, APC: a string up to the string terminator (ESC \ or U+009C), or BEL for
# OSC as xterm accepts; unterminated, it runs to the end of the text (a terminal would swallow
# what follows too).
_STRING = (
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])"
    r"[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c|$)"
)
# Any other escape: ESC, intermediates, one final byte (ESC 7, ESC ( B, ESC c).
_ESC = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_SEQUENCES = re.compile(f"{_STRING}|{_CSI}|{_ESC}")

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_CONTROLS = "".join(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)))
#: Removed outright (tab and newline are handled apart).
_DROP = {ord(c): None for c in _CONTROLS + _BIDI if c not in "\t\n"}
_FLAT = {**_DROP, ord("\t"): " ", ord("\n"): " "}
_LINES = {**_DROP, ord("\t"): " "}
# Text that needs no work: most names and messages. Checked first, as a fast path.
_NEEDS_WORK = re.compile(f"[{re.escape(_CONTROLS + _BIDI)}]")


def clean(text: str, *, lines: bool = False) -> str:
    """`text` without escape sequences, control characters or bidi controls.

    Args:
        text: a string from outside (a feed, a file, a server's message).
        lines: keep newlines (a multi-line message); otherwise a newline or tab becomes a
            space, so a field stays on one line.

    Returns:
        The cleaned text; the same object when there was nothing to remove.
    """
    if not _NEEDS_WORK.search(text):
        return text
    text = _SEQUENCES.sub("", text)
    return text.translate(_LINES if lines else _FLAT)


def is_clean(text: str) -> bool:
    """Whether `clean` would leave `text` as it is: for a parser that refuses a field holding
    control characters (a symbol) rather than mending it."""
    return not _NEEDS_WORK.search(text)


def clean_optional(text: str | None, *, lines: bool = False) -> str | None:
    """`clean` for a field that may be missing."""
    return None if text is None else clean(text, lines=lines)
