"""`sanitize.clean`: escape sequences go whole, control characters and bidi controls go, text
stays text."""

from __future__ import annotations

import pytest

from momoscan.sanitize import clean, clean_optional, is_clean

#: What must never reach a terminal: C0 but tab and newline, DEL, C1, the bidi controls.
FORBIDDEN = {
    *map(chr, range(0x00, 0x20)),
    "\x7f",
    *map(chr, range(0x80, 0xA0)),
    *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
}


def assert_inert(text: str) -> None:
    assert not FORBIDDEN & set(text), repr(text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # OSC 52 writes the clipboard; OSC 0/2 set the title; BEL or ST end them.
        ("Apple\x1b]52;c;aGVsbG8=\x07 Inc", "Apple Inc"),
        ("Apple\x1b]0;pwned\x1b\\ Inc", "Apple Inc"),
        ("\x1b]2;title\x07Apple", "Apple"),
        # OSC 8: a link around the name leaves the name.
        ("\x1b]8;;https://evil.example/\x1b\\Apple\x1b]8;;\x1b\\", "Apple"),
        # CSI: clear screen, cursor home, colours, private modes.
        ("\x1b[2J\x1b[HApple", "Apple"),
        ("\x1b[31;1mApple\x1b[0m", "Apple"),
        ("\x1b[?1049hApple\x1b[?25l", "Apple"),
        # Two-character escapes and charset designations.
        ("\x1bcApple\x1b7\x1b8", "Apple"),
        ("\x1b(BApple", "Apple"),
        # DCS, SOS, PM, APC strings.
        ("\x1bPq#0;2;0;0;0\x1b\\Apple", "Apple"),
        ("\x1b_Gf=100;AAAA\x1b\\Apple", "Apple"),
        ("\x1bXsos\x1b\\\x1b^pm\x1b\\Apple", "Apple"),
        # 8-bit C1 forms: CSI U+009B, OSC U+009D ended by ST U+009C, DCS U+0090.
        ("\x9b2JApple", "Apple"),
        ("\x9d0;pwned\x9cApple", "Apple"),
        ("\x90qdata\x9cApple", "Apple"),
        # Bidi overrides, embeddings, isolates and marks.
        ("\u202eelppA\u202c", "elppA"),
        ("\u2066Apple\u2069\u200f\u061c", "Apple"),
        # Bare controls: gone; tab and newline become spaces in a one-line field.
        ("Ap\x00p\x08l\x7fe", "Apple"),
        ("Apple\tInc\nCorp", "Apple Inc Corp"),
        ("Apple\rInc", "AppleInc"),
        ("Apple\x85Inc", "AppleInc"),
    ],
)
def test_sequences_and_controls_are_removed(raw: str, expected: str) -> None:
    assert clean(raw) == expected
    assert_inert(clean(raw))
    assert is_clean(clean(raw))


@pytest.mark.parametrize(
    "raw",
    [
        "Apple\x1b]52;c;aGVsbG8=",  # an OSC never terminated swallows the rest, as a terminal
        "Apple\x1b]8;;https://evil.example/",
        "Apple\x1b[",  # a CSI cut before its final byte
        "Apple\x1b[38;5",
        "Apple\x1bP",
        "Apple\x9b",
        "Apple\x9d0;title",
        "Apple\x1b",
    ],
)
def test_unterminated_sequences_end_the_text(raw: str) -> None:
    assert clean(raw) == "Apple"


def test_lines_keeps_newlines_but_not_tabs_or_carriage_returns() -> None:
    assert clean("one\ntwo\tthree\r\n\x1b[2Jfour", lines=True) == "one\ntwo three\nfour"


def test_clean_text_is_returned_as_is() -> None:
    for text in ("", "Apple Inc.", "Société Générale", "日本電信電話", "Zoë — ünïcode ✓"):
        assert clean(text) is text
        assert is_clean(text)
    assert clean_optional(None) is None
    assert clean_optional("\x1b[1mA") == "A"
    assert not is_clean("A\tB")  # a tab would become a space


def test_nothing_forbidden_survives_any_mix() -> None:
    # Every forbidden character, alone and after ESC or CSI, in one string.
    pieces = [c + "x" for c in sorted(FORBIDDEN)] + ["\x1b" + c for c in sorted(FORBIDDEN)]
    text = "".join(pieces) + "\x1b[" + "".join(sorted(FORBIDDEN))
    assert_inert(clean(text))
    assert_inert(clean(text, lines=True).replace("\n", ""))
