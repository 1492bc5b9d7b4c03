"""A symbol's day in the terminal: its price path, its volume and the previous close.

The price is a line of braille dots (each cell holds 2 x 4 of them, so a 70-cell wide chart
has 140 points across), green above the previous close and red below it; the previous close
is a dotted yellow line across, its price on the right axis beside the day's high and low on
record and the last price (after a gap larger than the day's range, the axis points to it
instead, so that the day's path keeps the chart's height). Under it, the volume traded
between samples as bars of eighth blocks, then the time of day (ET). The time axis spans
the regular session at least, and the extended hours the samples reach.

Drawn by hand on Textual's own widget base rather than with textual-plotext: plotext draws
axes and labels its own way (and in its own colours), which would not match the rest of the
screen nor mark the previous close as a trader reads it, its last release predates the Textual
this app pins, and the whole chart is a hundred lines here, exact at every size from 80x24 up,
and the same in every snapshot.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rich.text import Text
from textual.widget import Widget

from ... import format as fmt
from ... import market_hours as mh

#: Braille dot bits, by (column 0-1, row 0-3) inside a cell.
DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
BRAILLE = 0x2800
BLOCKS = " ▁▂▃▄▅▆▇█"
#: Rows of the time axis under the chart.
AXIS_ROWS = 1
UP, DOWN, FLAT, CLOSE_STYLE = "green", "red", "cyan", "yellow"


@dataclass(frozen=True, slots=True)
class ChartData:
    """What a chart is drawn from: samples (Unix seconds, oldest first), their prices and the
    volume traded since the sample before, the previous close, and the trading day."""

    times: tuple[int, ...]
    prices: tuple[float, ...]
    volumes: tuple[int, ...]
    prev_close: float | None
    day: date | None
    #: Halts of the day as (halted, resumed) Unix seconds (resumed None: still halted),
    #: drawn as bands behind the price.
    halts: tuple[tuple[float, float | None], ...] = ()

    def with_trade(self, price: float, ts: int, bucket: int = 300) -> ChartData:
        """After a streamed trade: the newest point moves when the trade is in its bucket,
        else the trade is a new point (its volume comes with the next read of the store)."""
        start = ts - ts % bucket
        if self.times and start < self.times[-1]:
            return self
        if self.times and start == self.times[-1]:
            return ChartData(
                self.times,
                (*self.prices[:-1], price),
                self.volumes,
                self.prev_close,
                self.day,
                self.halts,
            )
        return ChartData(
            (*self.times, start),
            (*self.prices, price),
            (*self.volumes, 0),
            self.prev_close,
            self.day,
            self.halts,
        )


def _span(data: ChartData) -> tuple[float, float]:
    """The time axis: the regular session at least, and whatever hours the samples reach."""
    first, last = data.times[0], data.times[-1]
    if data.day is not None and mh.is_trading_day(data.day):
        _, open_, close, _ = mh.session_bounds(data.day)
        first = min(first, int(open_.timestamp()))
        last = max(last, int(close.timestamp()))
    if last <= first:
        last = first + 300
    return float(first), float(last)


def _line(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """The dots from (x0, y0) to (x1, y1), Bresenham's way."""
    out = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    while True:
        out.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return out
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


def _axis_labels(times: Sequence[tuple[int, str]], width: int) -> Text:
    """The time axis: each label at its column, left out where it would overlap another."""
    row = [" "] * width
    taken = -1
    for column, label in times:
        start = max(0, min(width - len(label), column - len(label) // 2))
        if start <= taken or start + len(label) > width:
            continue
        row[start : start + len(label)] = list(label)
        taken = start + len(label)
    return Text("".join(row), style="dim")


#: The background of a halt's band.
HALT_BAND = "on #5f0000"


def draw_chart(data: ChartData | None, width: int, height: int) -> list[Text]:
    """The chart as `height` lines of exactly `width` cells."""
    blank = [Text(" " * max(0, width)) for _ in range(max(0, height))]
    if data is None or not data.prices or width < 20 or height < 4:
        if height > 0 and width > 0:
            blank[0] = Text("No intraday prices on record yet."[:width].ljust(width), style="dim")
        return blank
    prices = list(data.prices)
    close = data.prev_close
    labels = [fmt.price(p) for p in (*prices, close or prices[-1])] + ["↓" + fmt.price(close or 0)]
    label_width = max(6, *(len(x) for x in labels)) + 2
    plot = width - label_width
    volume_rows = 0 if height < 10 else max(2, (height - AXIS_ROWS) // 5)
    price_rows = height - AXIS_ROWS - volume_rows
    # The previous close is drawn where it is within a span of the day's range; further off
    # (a gap of +60%), the day's path keeps the chart's height and the axis points to it.
    low, high = min(prices), max(prices)
    span = high - low
    off = None
    if close is not None:
        if low - span <= close <= high + span or span == 0:
            low, high = min(low, close), max(high, close)
        else:
            off = "↓" if close < low else "↑"
    if high == low:
        high, low = high * 1.001 + 0.01, low * 0.999 - 0.01
    first, last = _span(data)
    dots_x, dots_y = 2 * plot, 4 * price_rows

    def x_of(ts: float) -> int:
        return min(dots_x - 1, max(0, round((ts - first) / (last - first) * (dots_x - 1))))

    def y_of(price: float) -> int:
        return min(dots_y - 1, max(0, round((high - price) / (high - low) * (dots_y - 1))))

    cells: dict[tuple[int, int], int] = {}
    ys: dict[tuple[int, int], list[int]] = {}
    points = [(x_of(t), y_of(p)) for t, p in zip(data.times, prices, strict=True)]
    path = [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        path.extend(_line(x0, y0, x1, y1)[1:])
    for x, y in path:
        key = (y // 4, x // 2)
        cells[key] = cells.get(key, 0) | DOTS[x % 2][y % 4]
        ys.setdefault(key, []).append(y)
    close_y = y_of(close) if close is not None and off is None else None
    guide: dict[tuple[int, int], int] = {}
    if close_y is not None:
        for x in range(0, dots_x, 2):
            key = (close_y // 4, x // 2)
            guide[key] = guide.get(key, 0) | DOTS[x % 2][close_y % 4]

    # The right axis: high, low, previous close and the last price, each on its row; the
    # last price wins a row over the previous close, which wins over the high and the low.
    axis: dict[int, tuple[str, str]] = {
        0: (fmt.price(high), "dim"),
        price_rows - 1: (fmt.price(low), "dim"),
    }
    if close_y is not None and close is not None:
        axis[close_y // 4] = (fmt.price(close), CLOSE_STYLE)
    last_row = y_of(prices[-1]) // 4
    if off is not None and close is not None:
        # At the edge it is off, or the next row in when the last price is on the edge.
        edge = 0 if off == "↑" else price_rows - 1
        if edge == last_row:
            edge += 1 if off == "↑" else -1
        axis[edge] = (off + fmt.price(close), CLOSE_STYLE)
    last_style = FLAT if close is None else UP if prices[-1] >= close else DOWN
    axis[last_row] = (fmt.price(prices[-1]), f"bold reverse {last_style}")

    # The halts: a band behind the price from the halt to the resumption (or the chart's end).
    halted: set[int] = set()
    for start, end in data.halts:
        if (end if end is not None else last) < first or start > last:
            continue
        left, right = x_of(max(first, start)) // 2, x_of(min(last, end or last)) // 2
        halted.update(range(left, right + 1))

    lines: list[Text] = []
    for row in range(price_rows):
        line = Text(no_wrap=True, overflow="crop")
        for column in range(plot):
            key = (row, column)
            if column in halted:
                band = HALT_BAND
                bits = cells.get(key, 0)
                if bits:
                    line.append(chr(BRAILLE | bits), style=f"bold white {band}")
                else:
                    line.append("H" if row == 0 else " ", style=f"bold white {band}")
                continue
            bits = cells.get(key, 0)
            if bits:
                if close is None:
                    style = FLAT
                elif close_y is None:  # the previous close is off the chart
                    style = UP if off == "↓" else DOWN
                else:
                    mean = sum(ys[key]) / len(ys[key])
                    style = UP if mean <= close_y else DOWN
                line.append(chr(BRAILLE | bits | guide.get(key, 0)), style=style)
            elif key in guide:
                line.append(chr(BRAILLE | guide[key]), style=CLOSE_STYLE)
            else:
                line.append(" ")
        label, style = axis.get(row, ("", ""))
        line.append(" ")
        line.append(label.ljust(label_width - 1), style=style)
        lines.append(line)

    if volume_rows:
        columns = [0] * plot
        for ts, volume in zip(data.times, data.volumes, strict=True):
            columns[x_of(ts) // 2] += volume
        top = max(columns) or 1
        for row in range(volume_rows, 0, -1):
            line = Text(no_wrap=True, overflow="crop")
            for volume in columns:
                eighths = round(volume / top * volume_rows * 8)
                full = eighths // 8
                if full >= row:
                    block = "█"
                elif full == row - 1:
                    block = BLOCKS[eighths % 8]
                else:
                    block = " "
                line.append(block, style="blue")
            label = fmt.count(top) if row == volume_rows else ""
            line.append(" ")
            line.append(label[: label_width - 1].ljust(label_width - 1), style="dim")
            lines.append(line)

    ticks: list[tuple[int, str]] = []
    if data.day is not None:
        for hour, minute in ((4, 0), (6, 0), (8, 0), (9, 30), (12, 0), (14, 0), (16, 0), (18, 0)):
            day = data.day
            at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=mh.ET).timestamp()
            if first <= at <= last:
                ticks.append((x_of(at) // 2, f"{hour:02d}:{minute:02d}"))
    axis_line = _axis_labels(ticks, plot)
    axis_line.append(" " + "ET".ljust(label_width - 1), style="dim")
    lines.append(axis_line)
    return lines


class DayChart(Widget):
    """A symbol's day: `draw_chart` at the widget's size, redrawn when the data changes."""

    DEFAULT_CSS = """
    DayChart {
        height: 1fr;
    }
    """

    def __init__(self, data: ChartData | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.data = data

    def show(self, data: ChartData | None) -> None:
        if data != self.data:
            self.data = data
            self.refresh()

    def render(self) -> Text:
        width, height = self.size
        text = Text("\n").join(draw_chart(self.data, width, height))
        text.no_wrap = True
        text.overflow = "crop"
        return text
