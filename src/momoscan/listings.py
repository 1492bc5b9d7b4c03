"""The listings momoscan knows without asking a source: the real US stocks and ADRs and the
option products (ETFs and indexes Cboe lists options on) bundled with the simulated market
(`simulated/data/universe.csv`, `option_products.csv`). They name a symbol that is outside the
universe (a mega cap when the tiers are small and mid, an index) for a card, a chart link or
the watchlist, and tell a mistyped symbol (`ZZZZ`) from a real one no source was asked about.
"""

from __future__ import annotations

import functools

from .models import Ticker


@functools.cache
def _builtin() -> dict[str, Ticker]:
    from .simulated.universe import option_products, real_stocks

    return {s.symbol: s.ticker() for s in (*real_stocks(), *option_products())}


def builtin(symbol: str) -> Ticker | None:
    """The bundled listing of `symbol` (momoscan's spelling, `BRK.B`), None when there is none."""
    return _builtin().get(symbol)
