"""The watchlist screen (`l`): your symbols in the order you added them, each with its day's
sparkline, quote and options share, live. `+` adds a typed symbol, `-` removes the highlighted
one; both are kept in the database (the config's `[scan] watchlist` only seeds it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ... import format as fmt
from ... import listings, queries
from ...models import Tick
from ...queries import Spark, WatchRow
from ...rowfacts import scaled_rvol
from ...store import Store
from ...symbols import INDEX_ROOTS
from ..widgets.fast_table import Column, FastTable
from ..widgets.spark import SPARK_WIDTH, SparkData, spark_text

if TYPE_CHECKING:
    from ..app import MomoscanApp

#: The screen reads the store again this often (seconds).
RELOAD_EVERY = 2.0

COLUMNS = (
    Column("rank", "#", 2, "right", priority=0),
    Column("symbol", "Symbol", 6, priority=9),
    Column("name", "Name", 8, flex=True, priority=1),
    Column("trend", "Today", SPARK_WIDTH, priority=2),
    Column("price", "Price", 8, "right", priority=7),
    Column("change", "% Chg", 7, "right", priority=8),
    Column("volume", "Volume", 6, "right", priority=5),
    Column("rvol", "RVol", 5, "right", priority=4),
    Column("options", "Options", 7, "right", priority=6),
    Column("age", "Age", 3, "right", priority=3),
)


def read_watchlist(store: Store, now: float) -> tuple[list[WatchRow], dict[str, Spark]]:
    """The watchlist's rows and their sparklines, in one go on the reader thread."""
    rows = queries.watchlist_rows(store, now)
    start = queries.session_start(store, now)
    return rows, queries.sparklines(store, [r.symbol for r in rows], start=start)


class WatchTable(FastTable):
    """The watchlist, a row per symbol; a symbol without quotes says why."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(COLUMNS, **kwargs)  # type: ignore[arg-type]
        self.rows: list[WatchRow] = []
        self.sparks: dict[str, SparkData] = {}
        self.market_now = 0.0

    def _cells(self, rank: int, w: WatchRow) -> list[Text]:
        spark = self.sparks.get(w.symbol) if w.row is not None else None
        trend = spark_text(spark.prices, spark.prev_close) if spark else Text(" " * SPARK_WIDTH)
        share = Text(fmt.pct(w.options_share, sign=False) if w.options_share is not None else "")
        r = w.row
        if r is None:
            unknown = (
                not w.in_universe
                and w.symbol not in INDEX_ROOTS
                and listings.builtin(w.symbol) is None
            )
            why = (
                "index: options only"
                if w.symbol in INDEX_ROOTS
                else "unknown: no source knows it (- removes it)"
                if unknown
                else "outside your cap tiers"
                if not w.in_universe
                else "no quote yet"
            )
            blank = Text("-", style="dim")
            return [
                Text(str(rank), style="dim"),
                Text(w.symbol, style="bold yellow" if unknown else "bold"),
                Text(why, style="yellow" if unknown else "dim italic"),
                trend,
                blank,
                blank,
                blank,
                blank,
                share,
                blank,
            ]
        change = r.change_pct or 0.0
        colour = "green" if change > 0 else "red" if change < 0 else ""
        return [
            Text(str(rank), style="dim"),
            Text(w.symbol, style="bold"),
            Text(r.name),
            trend,
            Text(fmt.price(r.price)),
            Text(fmt.pct(r.change_pct), style=colour),
            Text(fmt.count(r.volume)),
            Text(fmt.ratio(r.rvol), style="bold" if (r.rvol or 0) >= 5 else ""),
            share,
            Text(fmt.age(r.age(self.market_now)), style="dim" if r.current else "yellow"),
        ]

    def show(
        self, rows: Sequence[WatchRow], sparks: Mapping[str, Spark], market_now: float
    ) -> None:
        self.rows = list(rows)
        self.market_now = market_now
        self.sparks = {
            s: SparkData(tuple(spark.prices), spark.last_ts, spark.prev_close)
            for s, spark in sparks.items()
        }
        self._draw()

    def _draw(self) -> None:
        self.set_rows([(w.symbol, self._cells(i, w)) for i, w in enumerate(self.rows, 1)])

    def apply_ticks(self, ticks: Sequence[Tick], market_now: float) -> None:
        """Streamed trades onto their rows at once."""
        self.market_now = market_now
        index = {w.symbol: i for i, w in enumerate(self.rows)}
        changed = False
        for tick in ticks:
            i = index.get(tick.symbol)
            if i is None:
                continue
            w = self.rows[i]
            if w.row is not None:
                volume = tick.volume if tick.volume is not None else w.row.volume
                row = dataclasses.replace(
                    w.row,
                    price=tick.price,
                    change_pct=tick.change_pct if tick.change_pct is not None else w.row.change_pct,
                    volume=volume,
                    rvol=scaled_rvol(w.row.rvol, w.row.volume, volume),
                    rvol_day=volume / w.row.avg_volume
                    if volume and w.row.avg_volume
                    else w.row.rvol_day,
                    quote_ts=tick.ts,
                    current=True,
                )
                self.rows[i] = dataclasses.replace(w, row=row)
            spark = self.sparks.get(tick.symbol)
            if spark is not None:
                self.sparks[tick.symbol] = spark.with_trade(tick.price, tick.ts)
            changed = True
        if changed:
            self._draw()


class WatchlistScreen(Screen[None]):
    """Your watchlist, live; `+` and `-` edit it."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back", tooltip="back"),
        Binding("plus", "add", "Add", id="add", tooltip="add a symbol you type"),
        Binding("minus", "remove", "Remove", id="remove", tooltip="remove the highlighted symbol"),
        Binding("c", "day_chart", "Day chart", id="day", tooltip="the highlighted symbol's day"),
        Binding("o", "chart", "TradingView", id="chart", tooltip="the symbol's TradingView chart"),
    ]
    HELP_EXTRA = (("↑ ↓", "another symbol"),)

    def __init__(
        self, rows: Sequence[WatchRow], sparks: Mapping[str, Spark], market_now: float
    ) -> None:
        super().__init__()
        self._initial = (list(rows), dict(sparks), market_now)

    @property
    def momo(self) -> MomoscanApp:
        return cast("MomoscanApp", self.app)

    @property
    def table(self) -> WatchTable:
        return self.query_one(WatchTable)

    def compose(self) -> ComposeResult:
        yield Static(self._title(len(self._initial[0])), id="watch-title", markup=False)
        yield WatchTable(id="watchlist")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.table.show(*self._initial)
        self.table.focus()
        self.set_interval(RELOAD_EVERY, self.reload)

    @staticmethod
    def _title(count: int) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" Watchlist ", style="bold reverse")
        text.append(
            f" {count} symbol{'s' if count != 1 else ''} · refreshed first in every sweep, "
            "streamed first, always in the options watch set"
        )
        text.append(
            "\n kept in the database ([scan] watchlist only seeds it) · + add · - remove",
            style="dim",
        )
        return text

    def show(
        self, rows: Sequence[WatchRow], sparks: Mapping[str, Spark], market_now: float
    ) -> None:
        self.table.show(rows, sparks, market_now)
        self.query_one("#watch-title", Static).update(self._title(len(rows)), layout=False)

    async def reload(self) -> None:
        reader = self.momo.reader
        if reader is None:
            return
        now = self.momo.market_epoch()
        rows, sparks = await reader.call(read_watchlist, now)
        self.show(rows, sparks, now)

    def apply_ticks(self, ticks: Sequence[Tick], market_now: float) -> None:
        self.table.apply_ticks(ticks, market_now)

    def action_add(self) -> None:
        self.momo.ask_watch("")

    def action_remove(self) -> None:
        symbol = self.table.selected_key
        if symbol is None:
            self.notify("The watchlist is empty: + adds a symbol.", markup=False)
        else:
            self.momo.unwatch_soon(symbol)

    def action_day_chart(self) -> None:
        symbol = self.table.selected_key
        if symbol is not None:
            self.momo.open_day_chart_soon(symbol)

    def action_chart(self) -> None:
        symbol = self.table.selected_key
        if symbol is not None:
            self.momo.open_chart_soon(symbol)
