"""A row's sparkline: the day's price path in one line of eighth blocks.

A cell of a line-API table (`FastTable`) is a `rich.text.Text`, so the sparkline is one too,
exactly `width` cells: each block is the last price of its share of the samples (one sample
per stored history bucket: five minutes in the session, thirty outside it), scaled between
the day's low and high on record, green at or above the previous close and red below it.
Drawn here rather than with Textual's `Sparkline` widget, which is a widget of its own and
cannot be a cell of a table, and which colours by height, not by the previous close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich.text import Text

#: Block heights, lowest first.
BLOCKS = "▁▂▃▄▅▆▇█"
#: Cells of a row's sparkline.
SPARK_WIDTH = 10
#: Streamed trades are stored one point per this many seconds (the store's bucket in the
#: session): a trade in the newest point's bucket moves that point, a later one adds one.
STREAM_BUCKET = 300


@dataclass(frozen=True, slots=True)
class SparkData:
    """What a sparkline is drawn from: the prices, oldest first, the newest point's bucket
    (Unix seconds) and the previous close."""

    prices: tuple[float, ...]
    last_ts: int | None
    prev_close: float | None

    def with_trade(self, price: float, ts: int) -> SparkData:
        """The sparkline after a streamed trade at `ts`: the newest point moves when the
        trade falls in its bucket, else the trade is a new point (an older trade is ignored,
        as the store ignores it)."""
        bucket = ts - ts % STREAM_BUCKET
        if self.last_ts is not None and bucket < self.last_ts:
            return self
        if self.last_ts is not None and bucket == self.last_ts and self.prices:
            return replace(self, prices=(*self.prices[:-1], price))
        return replace(self, prices=(*self.prices, price), last_ts=bucket)


def sample(prices: Sequence[float], width: int) -> list[float]:
    """At most `width` points of `prices`: each the last price of its share of them."""
    n = len(prices)
    if n <= width:
        return list(prices)
    return [prices[min(n, (i + 1) * n // width) - 1] for i in range(width)]


def spark_text(prices: Sequence[float], prev_close: float | None, width: int = SPARK_WIDTH) -> Text:
    """`prices` as exactly `width` cells of blocks (left-aligned; blank without prices)."""
    points = sample(prices, width)
    text = Text(no_wrap=True, overflow="crop")
    if points:
        low, high = min(points), max(points)
        span = high - low
        run_style = ""
        run = ""
        for price in points:
            level = round((price - low) / span * (len(BLOCKS) - 1)) if span > 0 else 3
            style = "cyan" if prev_close is None else "green" if price >= prev_close else "red"
            if style != run_style and run:
                text.append(run, style=run_style)
                run = ""
            run_style = style
            run += BLOCKS[level]
        text.append(run, style=run_style)
    if len(points) < width:
        text.append(" " * (width - len(points)))
    return text
