"""A top-10 table (movers or volume) that updates in place, keyed by symbol.

Rows are keyed by symbol: only rows whose cells changed are redrawn, and the cursor stays on
the symbol it was on. A symbol that just entered the table is highlighted for a while.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text

from ... import format as fmt
from ...queries import ScanRow
from ..messages import ChartRequested
from .fast_table import Column, FastTable

HIGHLIGHT_SECONDS = 90.0
COLUMNS = (
    Column("rank", "#", 2, "right"),
    Column("symbol", "Symbol", 6),
    Column("name", "Name", 8, flex=True),
    Column("price", "Price", 8, "right"),
    Column("change", "% Chg", 8, "right"),
    Column("volume", "Volume", 7, "right"),
    Column("rvol", "RVol", 5, "right"),
    Column("age", "Age", 3, "right"),
)


class ScanTable(FastTable):
    """Top movers or top volume."""

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
        self._known: set[str] | None = None
        self.stale = False

    def reset_tracking(self) -> None:
        """Forget what was shown: the next rows set a new baseline (a filter changed)."""
        self._known = None
        self._entered.clear()

    @property
    def selected_symbol(self) -> str | None:
        return self.selected_key

    def select_symbol(self, symbol: str) -> bool:
        return self.select_key(symbol)

    def _row_cells(self, rank: int, r: ScanRow, now: float) -> list[Text]:
        change = r.change_pct or 0.0
        colour = "green" if change > 0 else "red" if change < 0 else ""
        dim = "dim" if self.stale else ""
        fresh = now - self._entered.get(r.symbol, -1e9) < HIGHLIGHT_SECONDS
        return [
            Text(str(rank), style="dim"),
            Text(r.symbol, style="bold reverse magenta" if fresh else "bold"),
            Text(r.name, style=dim),
            Text(fmt.price(r.price), style=dim),
            Text(fmt.pct(r.change_pct), style=f"{colour} {dim}".strip()),
            Text(fmt.count(r.volume), style=dim),
            Text(fmt.ratio(r.rvol), style="bold" if (r.rvol or 0) >= 5 else dim),
            Text(fmt.age(r.age(self._market_clock())), style="dim"),
        ]

    def update_rows(
        self, rows: Sequence[ScanRow], *, stale: bool = False, track: bool = True
    ) -> list[ScanRow]:
        """Show `rows` (in rank order). Returns the rows that just entered the table.

        With `track` off (while the first sweep is still filling the store, when every batch
        reshuffles the top 10) nothing counts as entering: the first tracked call sets the
        baseline.
        """
        now = self._clock()
        self.stale = stale
        entered: list[ScanRow] = []
        if not track:
            self._known = None
        elif self._known is not None:
            for r in rows:
                if r.symbol not in self._known:
                    self._entered[r.symbol] = now
                    entered.append(r)
        self._known = {r.symbol for r in rows} if track else None
        for symbol in [s for s, at in self._entered.items() if now - at >= HIGHLIGHT_SECONDS]:
            del self._entered[symbol]
        self.set_rows([(r.symbol, self._row_cells(i, r, now)) for i, r in enumerate(rows, 1)])
        return entered

    def on_fast_table_cell_clicked(self, event: FastTable.CellClicked) -> None:
        if event.column == "symbol":
            event.stop()
            self.post_message(ChartRequested(event.key))
