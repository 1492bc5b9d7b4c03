"""The universe's writes: its tickers, swapped whole, and the members still without a name,
exchange or MIC (which their quotes fill in)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..models import Ticker
from .connection import StoreBase


class UniverseMixin(StoreBase):
    def replace_universe(
        self, tickers: Sequence[Ticker], *, source: str, as_of: date, fetched_at: float
    ) -> None:
        """Swap the whole universe in one transaction, with where and when it came from."""
        self._unnamed = None
        with self.transaction() as conn:
            conn.execute("DELETE FROM tickers")
            conn.executemany(
                "INSERT OR REPLACE INTO tickers (symbol, name, exchange, mic, cap_tier, sector, "
                "category, source, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        t.symbol,
                        t.name,
                        t.exchange,
                        t.mic,
                        t.cap_tier,
                        t.sector,
                        t.category,
                        source,
                        fetched_at,
                    )
                    for t in tickers
                ],
            )
            conn.execute("DELETE FROM quotes WHERE symbol NOT IN (SELECT symbol FROM tickers)")
            self._set_meta("universe_source", source)
            self._set_meta("universe_date", as_of.isoformat())
            self._set_meta("universe_size", str(len(tickers)))
            self._set_meta("universe_fetched_at", repr(fetched_at))

    def universe_symbols(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT symbol FROM tickers ORDER BY symbol")]

    def _unnamed_symbols(self) -> set[str]:
        """Universe members still without a name, exchange or MIC (kept in memory: usually
        none, and the quote path must not look every symbol up)."""
        if self._unnamed is None:
            self._unnamed = {
                row[0]
                for row in self.conn.execute(
                    "SELECT symbol FROM tickers WHERE name = '' OR name = symbol "
                    "OR COALESCE(mic, '') = '' OR COALESCE(exchange, '') = ''"
                )
            }
        return self._unnamed
