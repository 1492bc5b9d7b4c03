"""The chart screen (`c`): a symbol's day, its price path and volume as momoscan stored them,
with the previous close marked; streamed trades move its newest point as they come."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ... import format as fmt
from ... import market_hours as mh
from ... import queries
from ...engine.store_thread import StoreThread
from ...models import Tick, Ticker
from ...queries import ScanRow, Series
from ..widgets.chart import ChartData, DayChart

if TYPE_CHECKING:
    from ..app import MomoscanApp

#: The chart reads the store again this often (seconds), for the sweep's new samples.
RELOAD_EVERY = 2.0


def chart_data(series: Series) -> ChartData:
    """What the chart draws, from a symbol's stored samples."""
    day = None
    if series.session_start is not None:
        day = datetime.fromtimestamp(series.session_start, mh.ET).date()
    return ChartData(
        tuple(series.times),
        tuple(series.prices),
        tuple(series.volume_bars()),
        series.prev_close,
        day,
    )


async def read_chart(
    reader: StoreThread, symbol: str, now: float
) -> tuple[ChartData, ScanRow | None]:
    """`symbol`'s day as the chart draws it (its samples, and its halts as bands) and its
    latest quote, at market-clock `now` (Unix seconds)."""
    series = await reader.call(queries.intraday_series, symbol, now)
    row = await reader.call(queries.scan_row, symbol, now)
    data = chart_data(series)
    if data.day is not None:
        halts = await reader.call(queries.halts_on, data.day)
        spans = tuple((h.halted_at, h.resume_trade_at) for h in halts if h.symbol == symbol)
        data = dataclasses.replace(data, halts=spans)
    return data, row


def chart_title(ticker: Ticker | None, symbol: str, data: ChartData, row: ScanRow | None) -> Text:
    """Two lines: the symbol, its listing and where the samples come from; the last price,
    the change, the previous close, the day's range on record and the volume."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f" {symbol} ", style="bold reverse")
    if ticker is not None:
        text.append(f" {ticker.name}", style="bold")
        listing = " · ".join(x for x in (ticker.exchange, ticker.cap_tier) if x)
        if listing:
            text.append(f" · {listing}")
    for halted, resumed in data.halts:
        # The band's legend: the halt first, where a narrow title still shows it.
        start = fmt.et_time(halted, seconds=False)
        end = fmt.et_time(resumed, seconds=False) if resumed else "now"
        text.append(f" HALTED {start}-{end} (the red band) ", style="bold white on #5f0000")
    points = len(data.prices)
    text.append(
        f" · {points} sample{'s' if points != 1 else ''} as stored (5 min in the session, "
        "30 min outside; streamed trades live)",
        style="dim",
    )
    text.append("\n ")
    if data.prices:
        last = data.prices[-1]
        close = data.prev_close
        change = (last - close) / close * 100 if close else None
        colour = "green" if (change or 0) > 0 else "red" if (change or 0) < 0 else ""
        text.append(f"{fmt.price(last)} ", style="bold")
        text.append(fmt.pct(change), style=colour)
        if close is not None:
            text.append(" · prev close ")
            text.append(fmt.price(close), style="yellow")
        text.append(
            f" · range on record {fmt.price(min(data.prices))}-{fmt.price(max(data.prices))}"
        )
    if row is not None:
        text.append(f" · volume {fmt.count(row.volume)} (RVol {fmt.ratio(row.rvol)})")
    if data.times:
        newest = datetime.fromtimestamp(data.times[-1], mh.ET).strftime("%H:%M")
        text.append(f" · newest sample {newest} ET", style="dim")
    return text


class ChartScreen(Screen[None]):
    """A symbol's day: price (green above the previous close, red below), the previous close
    as a dotted line, volume bars and the time of day."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back", tooltip="back"),
        Binding("o", "chart", "TradingView", id="chart", tooltip="the symbol's TradingView chart"),
    ]

    def __init__(
        self, symbol: str, ticker: Ticker | None, data: ChartData, row: ScanRow | None
    ) -> None:
        super().__init__()
        self.symbol = symbol
        self.ticker = ticker
        self.data = data
        self.row = row

    @property
    def momo(self) -> MomoscanApp:
        return cast("MomoscanApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="chart-title", markup=False)
        yield DayChart(self.data, id="chart")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.set_interval(RELOAD_EVERY, self.reload)

    def _title(self) -> Text:
        return chart_title(self.ticker, self.symbol, self.data, self.row)

    def show(self, data: ChartData, row: ScanRow | None = None) -> None:
        self.data = data
        if row is not None:
            self.row = row
        self.query_one(DayChart).show(data)
        self.query_one("#chart-title", Static).update(self._title(), layout=False)

    async def reload(self) -> None:
        """The store's samples again (the sweep's, and the stream's every five minutes)."""
        reader = self.momo.reader
        if reader is None:
            return
        data, row = await read_chart(reader, self.symbol, self.momo.market_epoch())
        if data.prices:
            self.show(data, row)

    def apply_ticks(self, ticks: Sequence[Tick]) -> None:
        """Streamed trades of this symbol move the newest point at once."""
        for tick in ticks:
            if tick.symbol == self.symbol:
                self.show(self.data.with_trade(tick.price, tick.ts))

    def action_chart(self) -> None:
        self.momo.open_chart_soon(self.symbol)
