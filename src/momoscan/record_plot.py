"""Pictures of a signal kind's record: the distribution of its moves to the close, as terminal
text (plotext) for `momoscan record` and the record screen, and as an inline SVG for
`momoscan record --html`. No Textual; plotext is imported only when a plot is drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

#: How many bins a distribution gets at most (fewer for a small sample).
MAX_BINS = 12


def bins_for(moves: Sequence[float]) -> int:
    """A bin count for `moves`: about the square root of the sample, 4 to `MAX_BINS`."""
    return max(4, min(MAX_BINS, round(math.sqrt(len(moves))) + 1))


def text_histogram(moves: Sequence[float], *, width: int = 60, height: int = 9) -> str:
    """The moves (percent) as a plotext histogram, colourless text of `width` x `height`
    cells; "" when there are none. Runs on one thread at a time (plotext keeps one figure)."""
    if not moves:
        return ""
    import plotext

    fig = plotext.figure
    fig.clear()
    fig.plot_size(width, height)
    fig.theme("clear")
    fig.draw(fig.hist(list(moves), bins=bins_for(moves)))
    text: str = fig.build().string(colorless=True)
    fig.clear()
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)  # the title's row, empty: no title is set
    return "\n".join(lines)


def histogram(
    moves: Sequence[float], bins: int, edge: float | None = None
) -> tuple[float, float, list[int]]:
    """(low, bin width, counts) of `moves` in about `bins` equal bins; with `edge`, one bin
    starts exactly there (a hit's threshold: no bin straddles it)."""
    low, high = min(moves), max(moves)
    step = (high - low) / bins or 1.0
    if edge is not None:
        low = edge - math.ceil((edge - low) / step) * step
        bins = max(1, math.floor((high - low) / step) + 1)
    counts = [0] * bins
    for m in moves:
        counts[min(bins - 1, max(0, int((m - low) / step)))] += 1
    return low, step, counts


def svg_histogram(
    moves: Sequence[float], *, threshold: float, width: int = 480, height: int = 160
) -> str:
    """The moves (percent) as an inline SVG histogram: bars at or past `threshold` (a hit)
    in green, the others grey, a line at 0 and at the threshold, the axis in percent."""
    if not moves:
        return '<p class="none">No measured signal yet.</p>'
    low, step, counts = histogram(moves, bins_for(moves), threshold)
    bins = len(counts)
    top = max(counts)
    left, bottom, pad = 34, 22, 6
    plot_w, plot_h = width - left - pad, height - bottom - pad
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="distribution of moves">'
    ]

    def x_of(value: float) -> float:
        return left + (value - low) / (step * bins) * plot_w

    for i, n in enumerate(counts):
        x0 = left + i * plot_w / bins
        h = n / top * plot_h
        hit = low + i * step >= threshold - step * 1e-9
        out.append(
            f'<rect x="{x0 + 1:.1f}" y="{pad + plot_h - h:.1f}" width="{plot_w / bins - 2:.1f}" '
            f'height="{h:.1f}" fill="{"#2e9e5b" if hit else "#9aa3ad"}">'
            f"<title>{low + i * step:+.1f}% to {low + (i + 1) * step:+.1f}%: {n}</title></rect>"
        )
    for value, colour in ((0.0, "#555"), (threshold, "#2e9e5b")):
        if low <= value <= low + step * bins:
            x = x_of(value)
            out.append(
                f'<line x1="{x:.1f}" y1="{pad}" x2="{x:.1f}" y2="{pad + plot_h}" '
                f'stroke="{colour}" stroke-dasharray="3 2"/>'
            )
    base = pad + plot_h
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#333"/>')
    ticks = [(low, "start"), (low + step * bins, "end")]
    if low < threshold < low + step * bins:
        ticks.append((threshold, "middle"))
    for value, anchor in ticks:
        out.append(
            f'<text x="{x_of(value):.1f}" y="{height - 6}" font-size="10" '
            f'text-anchor="{anchor}">{escape(f"{value:+.1f}%")}</text>'
        )
    out.append(f'<text x="2" y="{pad + 10}" font-size="10">{top}</text>')
    out.append(f'<text x="2" y="{base}" font-size="10">0</text>')
    out.append("</svg>")
    return "".join(out)
