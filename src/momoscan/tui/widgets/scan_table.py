"""A movers or volume table that updates in place, keyed by symbol, with ages that tick.

Rows are keyed by symbol: only rows whose cells changed are redrawn, and the cursor stays on
the symbol it was on. A symbol that just entered the table is highlighted for a while. Each
row's Age is measured from its quote's own time against the market clock, and ticks every
second between reads of the store (`tick`).

Which names just entered the top 10 is the engine's to say (`entrants.detect`, from the
store's rankings, whatever the table shows); the table only highlights them (`mark_entered`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.text import Text

from ... import format as fmt
from ...marks import Mark
from ...models import Tick
from ...queries import ScanRow, Spark
from ...rowfacts import RowFacts, scaled_rvol
from ..messages import ChartRequested
from .fast_table import Column, FastTable
from .spark import SPARK_WIDTH, SparkData, spark_text

HIGHLIGHT_SECONDS = 90.0
#: How each kind of mark is drawn: a halt must be seen at once.
MARK_STYLES = {
    "halt": "bold white on red",
    "resumed": "bold green",
    "ssr": "bold yellow",
    "hod": "bold cyan",
    "catalyst": "bold magenta",
    "lead": "bold blue",
}
#: Left out from the lowest priority up when the table is too narrow: the rank first, then
#: SI%, float rotation, volume (RVol and float rotation say more of it), the name, the day's
#: sparkline, the age, float, RVol, the marks (HALT, SSR, HOD, 8-K), price; % change and the
#: symbol last. A left-out column comes back where it fits.
#: The name and the sparkline share the width the others leave (the sparkline up to
#: `SPARK_WIDTH`), so that at 120 columns, side by side, both still show.
COLUMNS = (
    Column("rank", "#", 2, "right", priority=0),
    Column("symbol", "Symbol", 6, priority=12),
    Column("name", "Name", 6, flex=True, priority=4),
    Column("trend", "Today", 5, flex=True, priority=5, most=SPARK_WIDTH),
    # "!" and not "Marks": two cells that let names and marks share 120 columns side by side.
    Column("marks", "!", 3, priority=9, hide_empty=True),
    Column("price", "Price", 5, "right", priority=10),
    Column("change", "% Chg", 7, "right", priority=11),
    Column("volume", "Volume", 6, "right", priority=3),
    # RVol at the time of day (rvol.py): today's volume against the usual volume by now.
    Column("rvol", "RVol", 5, "right", priority=8),
    # The float (shares), float rotation (today's volume / float) and short interest / float:
    # "-" where no figure is known, never 0.
    Column("float", "Float", 5, "right", priority=7),
    Column("rotation", "Rot.", 4, "right", priority=2),
    Column("si", "SI%", 4, "right", priority=1),
    Column("age", "Age", 3, "right", priority=6),
)


COLUMN_INDEX = {column.key: i for i, column in enumerate(COLUMNS)}


class ScanTable(FastTable):
    """Top movers (gainers, losers or the largest moves) or top volume."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        market_clock: Callable[[], float] | None = None,
        **kwargs: Any,
    ) -> None:
        """`clock` times the highlights (wall clock); `market_clock` the quotes' ages (the
        source's clock, which in demo is the simulated market's)."""
        super().__init__(COLUMNS, **kwargs)
        self._clock = clock
        self._market_clock = market_clock or clock
        self._entered: dict[str, float] = {}
        self._rows: list[ScanRow] = []
        self._sparks: dict[str, SparkData] = {}
        self.stale = False
        #: Cells of the sparklines drawn (the Today column's width).
        self._spark_width = SPARK_WIDTH
        #: Each row's marks (HALT, RESUMED, SSR, HOD, 8-K), by symbol.
        self._marks: dict[str, list[Mark]] = {}
        #: Each row's float, float rotation and SI%, by symbol.
        self._facts: dict[str, RowFacts] = {}

    def mark_entered(self, symbols: Sequence[str]) -> None:
        """Highlight `symbols` for `HIGHLIGHT_SECONDS`: the engine found them entering the top
        10 (shown now or later, while the highlight lasts)."""
        now = self._clock()
        for symbol in symbols:
            self._entered[symbol] = now
            if symbol in self.keys:
                self.update_cell(symbol, "symbol", Text(symbol, style="bold reverse magenta"))

    @property
    def rows(self) -> list[ScanRow]:
        """The rows shown, in rank order."""
        return list(self._rows)

    @property
    def selected_symbol(self) -> str | None:
        return self.selected_key

    def select_symbol(self, symbol: str) -> bool:
        return self.select_key(symbol)

    def spark(self, symbol: str) -> SparkData | None:
        """The sparkline drawn on `symbol`'s row."""
        return self._sparks.get(symbol)

    def oldest_age(self, now: float) -> float | None:
        """Seconds since the oldest shown quote's own time, at market-clock time `now`."""
        return max((r.age(now) for r in self._rows), default=None)

    def _age_cell(self, r: ScanRow, now: float) -> Text:
        return Text(fmt.age(r.age(now)), style="dim" if r.current else "yellow")

    def _marks_cell(self, symbol: str) -> Text:
        text = Text(no_wrap=True)
        for mark in self._marks.get(symbol, ()):
            if text:
                text.append(" ")
            text.append(mark.text, style=MARK_STYLES.get(mark.kind, "bold"))
        return text

    def marks(self, symbol: str) -> list[Mark]:
        """The marks on `symbol`'s row."""
        return list(self._marks.get(symbol, ()))

    def _row_cells(self, rank: int, r: ScanRow, now: float, market_now: float) -> list[Text]:
        change = r.change_pct or 0.0
        colour = "green" if change > 0 else "red" if change < 0 else ""
        dim = "dim" if self.stale else ""
        fresh = now - self._entered.get(r.symbol, -1e9) < HIGHLIGHT_SECONDS
        spark = self._sparks.get(r.symbol)
        return [
            Text(str(rank), style="dim"),
            Text(r.symbol, style="bold reverse magenta" if fresh else "bold"),
            Text(r.name, style=dim),
            spark_text(spark.prices, spark.prev_close, self._spark_width)
            if spark
            else Text(" " * self._spark_width),
            self._marks_cell(r.symbol),
            Text(fmt.price(r.price), style=dim),
            Text(fmt.pct(r.change_pct), style=f"{colour} {dim}".strip()),
            Text(fmt.count(r.volume), style=dim),
            Text(fmt.ratio(r.rvol), style="bold" if (r.rvol or 0) >= 5 else dim),
            *self._fact_cells(r.symbol, dim),
            self._age_cell(r, market_now),
        ]

    def _fact_cells(self, symbol: str, dim: str) -> list[Text]:
        facts = self._facts.get(symbol) or RowFacts()
        return [
            Text(facts.float_text, style=dim),
            Text(
                facts.rotation_text,
                style="bold" if (facts.float_rotation or 0) >= 1 else dim,
            ),
            Text(facts.si_text, style="bold" if (facts.si_pct or 0) >= 20 else dim),
        ]

    def update_rows(
        self,
        rows: Sequence[ScanRow],
        *,
        stale: bool = False,
        sparks: Mapping[str, Spark] | None = None,
        marks: Mapping[str, list[Mark]] | None = None,
        facts: Mapping[str, RowFacts] | None = None,
    ) -> None:
        """Show `rows` (in rank order), each with its sparkline from `sparks`, its marks from
        `marks` and its float figures from `facts` (None: those drawn already)."""
        if marks is not None:
            self._marks = {r.symbol: list(m) for r in rows if (m := marks.get(r.symbol))}
        if facts is not None:
            self._facts = {r.symbol: f for r in rows if (f := facts.get(r.symbol))}
        now = self._clock()
        market_now = self._market_clock()
        self.stale = stale
        for symbol in [s for s, at in self._entered.items() if now - at >= HIGHLIGHT_SECONDS]:
            del self._entered[symbol]
        self._rows = list(rows)
        if sparks is not None:
            self._sparks = {
                r.symbol: SparkData(tuple(spark.prices), spark.last_ts, spark.prev_close)
                for r in rows
                if (spark := sparks.get(r.symbol)) is not None
            }
        self.set_rows(
            [(r.symbol, self._row_cells(i, r, now, market_now)) for i, r in enumerate(rows, 1)]
        )

    def apply_ticks(self, ticks: Sequence[Tick], market_now: float) -> None:
        """The price stream's newest trades onto the rows shown, at once: price, % change,
        volume, RVol, age and the sparkline's newest point (their ranks move at the next read
        of the store)."""
        for tick in ticks:
            index = next((i for i, r in enumerate(self._rows) if r.symbol == tick.symbol), None)
            if index is None:
                continue
            old = self._rows[index]
            volume = tick.volume if tick.volume is not None else old.volume
            new = dataclasses.replace(
                old,
                price=tick.price,
                change_pct=tick.change_pct if tick.change_pct is not None else old.change_pct,
                volume=volume,
                rvol=scaled_rvol(old.rvol, old.volume, volume),
                rvol_day=volume / old.avg_volume if volume and old.avg_volume else old.rvol_day,
                quote_ts=tick.ts,
                source="stream",
                current=True,
            )
            self._rows[index] = new
            facts = self._facts.get(new.symbol)
            if facts is not None and facts.float_shares and volume is not None:
                self._facts[new.symbol] = dataclasses.replace(
                    facts, float_rotation=volume / facts.float_shares
                )
            spark = self._sparks.get(new.symbol)
            if spark is not None:
                self._sparks[new.symbol] = spark.with_trade(tick.price, tick.ts)
            cells = self._row_cells(index + 1, new, self._clock(), market_now)
            for column in ("trend", "price", "change", "volume", "rvol", "rotation", "age"):
                self.update_cell(new.symbol, column, cells[COLUMN_INDEX[column]])

    def tick(self, market_now: float) -> None:
        """Age every row to market-clock time `market_now` (called once a second); only the
        rows whose Age text changed are redrawn. A symbol's "just entered" highlight ends on
        time too, not at the next read."""
        now = self._clock()
        for symbol in [s for s, at in self._entered.items() if now - at >= HIGHLIGHT_SECONDS]:
            del self._entered[symbol]
            if symbol in self.keys:
                self.update_cell(symbol, "symbol", Text(symbol, style="bold"))
        for r in self._rows:
            self.update_cell(r.symbol, "age", self._age_cell(r, market_now))

    def layout_changed(self) -> None:
        # The Today column changed width: draw the sparklines again to fill it.
        width = self.column_width("trend")
        if width is not None and width != self._spark_width:
            self._spark_width = width
            if self._rows:
                self.update_rows(self._rows, stale=self.stale)

    def on_fast_table_cell_clicked(self, event: FastTable.CellClicked) -> None:
        if event.column == "symbol":
            event.stop()
            self.post_message(ChartRequested(event.key))
