"""The README's 80x24 picture, as text, from the snapshot test's drawing of the main screen.

    .venv/bin/python scripts/readme_screen.py            # print it
    .venv/bin/python scripts/readme_screen.py --write    # put it in README.md

The snapshot (tests/__snapshots__/test_snapshots/test_main_screen[80x24].svg) is what
`pytest tests/test_snapshots.py` draws on the simulated market with a fixed seed and clocks;
tests/test_readme.py checks that the README shows the same text. Each SVG text run has its
column (x / the cell width) and row (y / the line height); cells between runs are blank.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests/__snapshots__/test_snapshots/test_main_screen[80x24].svg"
README = ROOT / "README.md"
CELL_WIDTH = 12.2  # Textual's SVG export: 12.2 px a cell, 24.4 px a line
LINE_HEIGHT = 24.4
_RUN = re.compile(r'<text class="[^"]*" x="([0-9.]+)" y="([0-9.]+)"[^>]*>(.*?)</text>')
#: The README's block: the line that introduces it, then a ``` fence.
_BLOCK = re.compile(r"(At 80x24 [^\n]*\n\n```\n)(.*?)(\n```)", re.S)


def screen_text(svg: str, width: int = 80, height: int = 24) -> str:
    """The terminal's text as `height` lines (trailing blanks cut), from an SVG screenshot."""
    rows = [[" "] * width for _ in range(height)]
    for x, y, text in _RUN.findall(svg):
        row = round((float(y) - 20) / LINE_HEIGHT)
        column = round(float(x) / CELL_WIDTH)
        for n, char in enumerate(html.unescape(text).replace("\xa0", " ")):
            if 0 <= row < height and 0 <= column + n < width:
                rows[row][column + n] = char
    return "\n".join("".join(r).rstrip() for r in rows).rstrip("\n")


def readme_block(readme: str) -> str:
    match = _BLOCK.search(readme)
    if match is None:
        raise SystemExit("README.md has no 80x24 picture block")
    return match.group(2)


def main(argv: list[str]) -> int:
    text = screen_text(SNAPSHOT.read_text(encoding="utf-8"))
    if "--write" in argv:
        readme = README.read_text(encoding="utf-8")
        README.write_text(
            _BLOCK.sub(lambda m: m.group(1) + text + m.group(3), readme, count=1),
            encoding="utf-8",
        )
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
