"""Which symbols get this cycle's credits, in which order.

Today: the hot set first (the watchlist and the symbols on screen), then the rest of the
universe stalest first, so with N symbols and C credits a minute every quote is at most about
N/C minutes old.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import queries
from ..models import Ticker
from ..store import Store
from .context import StepContext


class Scheduler:
    """Orders a sweep: hot symbols first, then the stalest; symbols streaming live are left
    out (`skip`), so the credits go further."""

    def __init__(self, ctx: StepContext, skip: Callable[[], set[str]] = set):
        self.ctx = ctx
        self._skip = skip

    async def order(self, tickers: Sequence[Ticker], *, full: bool, window: int) -> list[str]:
        """Symbols to quote this cycle, in order.

        Args:
            full: the whole universe; else the hot set plus as many of the stalest symbols as
                `window` credits (one minute's) cover.
        """
        ctx = self.ctx
        streaming = self._skip()
        symbols = [t.symbol for t in tickers if t.symbol not in streaming]
        known = set(symbols)
        hot = [s for s in ctx.watched() if s in known]
        hot += await ctx.store.call(
            queries.hot_symbols, ctx.settings.universe.cap_tiers, ctx.settings.universe.min_price
        )
        ages = await ctx.store.call(Store.quote_ages)
        ordered = [s for s in dict.fromkeys(hot) if s in known]
        seen = set(ordered)
        # Stalest first; equally stale ones alphabetically, so a batch is a run of neighbouring
        # symbols and its rows land on neighbouring pages of the database.
        rest = sorted((s for s in symbols if s not in seen), key=lambda s: (ages.get(s, 0.0), s))
        ordered += rest
        if full:
            return ordered
        return ordered[: max(len(seen), window)]
