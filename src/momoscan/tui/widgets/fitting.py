"""Text made of parts that gives way whole: each part has a long form and shorter ones, and
how much it matters; `fit` lays them on one or more lines of a width, the most important first
in their shortest forms, then the others where they fit, then each grown to its longest form
that still fits, never cutting one in the middle (a number is shown whole or not at all). The
status bar and the options panel's title use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

#: How much a part matters: MUST parts are always placed (cut with an ellipsis only when even
#: they do not fit); the others are placed rank by rank where they fit.
MUST, HIGH, MID, LOW = 0, 1, 2, 3


@dataclass
class Part:
    """One part of a fitted text: its forms, longest first (each a Text; styles kept), how
    much it matters, and whether it is a badge (set off by a space, not by ` · `)."""

    forms: list[Text]
    rank: int
    badge: bool = False
    line: int = 0  # 0: either line; 2: starts the second line
    #: When its longer forms are tried, against the others' (lower first): its rank unless
    #: said (the DEMO badge's long form is worth less than a whole error message).
    grow: int = -1
    form: int = 0
    dropped: bool = False

    def __post_init__(self) -> None:
        if self.grow < 0:
            self.grow = self.rank

    @property
    def text(self) -> Text:
        return self.forms[self.form]


def flow(parts: Sequence[Part], width: int, lines_: int = 2) -> list[Text] | None:
    """The shown parts laid out on `lines_` lines of `width` cells, wrapping between parts;
    None when they do not fit."""
    lines: list[Text] = [Text() for _ in range(lines_)]
    row = 0
    for part in parts:
        if part.dropped:
            continue
        if part.line == 2 and row == 0 and lines_ > 1:
            row = 1
        text = part.text
        line = lines[row]
        sep = "" if not line.cell_len else (" " if part.badge else " · ")
        if line.cell_len and line.cell_len + len(sep) + text.cell_len > width:
            if row == lines_ - 1:
                return None
            row += 1
            line = lines[row]
            sep = ""
        if text.cell_len > width:
            return None
        line.append(sep)
        line.append_text(text)
    return lines


def fit(parts: list[Part], width: int, lines: int = 2) -> list[Text]:
    """`lines` lines of `width` cells. The must-see parts come first, in their shortest forms
    (cut with an ellipsis only if even they do not fit); then, level by level, most important
    first, the parts of that rank are added in their shortest forms where they fit, and the
    parts whose `grow` is that level take their longest form that still fits."""
    empty = [Text() for _ in range(lines)]
    for part in parts:
        part.form = len(part.forms) - 1
        part.dropped = part.rank != MUST
    if flow(parts, width, lines) is None:
        return flow(parts, 10**6, lines) or empty
    for level in (MUST, HIGH, MID, LOW):
        for part in parts:
            if part.dropped and part.rank == level:
                part.dropped = False
                if flow(parts, width, lines) is None:
                    part.dropped = True
        for part in parts:
            if part.dropped or part.grow != level:
                continue
            for form in range(len(part.forms) - 1):
                part.form = form
                if flow(parts, width, lines) is not None:
                    break
            else:
                part.form = len(part.forms) - 1
    return flow(parts, width, lines) or empty


def fit_line(parts: list[Part], width: int) -> Text:
    """`parts` on one line of `width` cells (`fit` with one line)."""
    return fit(parts, width, 1)[0]
