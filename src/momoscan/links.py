"""TradingView chart links, with the exchange prefix TradingView needs for US listings.

A bare ticker can resolve to another company on another exchange (TradingView picks one), so
momoscan always sends `EXCHANGE:SYMBOL`, deriving the prefix from the listing's MIC: NASDAQ for
the Nasdaq markets, NYSE, AMEX for both NYSE American and NYSE Arca (TradingView has no ARCA
prefix), CBOE for Cboe's equity exchanges. Share classes are spelled by `symbols.tradingview`
(BRK.B, whatever spelling the universe used).
"""

from __future__ import annotations

from urllib.parse import quote

from . import symbols
from .models import Ticker

CHART_URL = "https://www.tradingview.com/chart/?symbol={}"

MIC_PREFIX = {
    "XNAS": "NASDAQ",
    "XNGS": "NASDAQ",
    "XNMS": "NASDAQ",
    "XNCM": "NASDAQ",
    "XNYS": "NYSE",
    "XASE": "AMEX",  # NYSE American
    "ARCX": "AMEX",  # NYSE Arca
    "BATS": "CBOE",  # Cboe BZX
    "BATY": "CBOE",
    "EDGX": "CBOE",
    "EDGA": "CBOE",
}
#: The same, from the exchange names Sharadar and Twelve Data use when the MIC is missing.
EXCHANGE_PREFIX = {
    "NASDAQ": "NASDAQ",
    "NYSE": "NYSE",
    "NYSEMKT": "AMEX",
    "NYSE AMERICAN": "AMEX",
    "AMEX": "AMEX",
    "NYSEARCA": "AMEX",
    "NYSE ARCA": "AMEX",
    "ARCA": "AMEX",
    "BATS": "CBOE",
    "CBOE": "CBOE",
}
#: Index underlyings live under TradingView's index feeds, not an exchange listing.
INDEX_SYMBOLS = {
    "SPX": "SP:SPX",
    "NDX": "NASDAQ:NDX",
    "RUT": "TVC:RUT",
    "VIX": "CBOE:VIX",
    "XSP": "CBOE:XSP",
    "DJX": "DJ:DJX",
}


class NoChart(ValueError):
    """There is no TradingView chart to open (a simulated symbol, an unknown listing)."""


def tradingview_symbol(symbol: str, mic: str = "", exchange: str = "") -> str:
    """`EXCHANGE:SYMBOL` for TradingView (`NYSE:BRK.B` for BRK-B; `SP:SPX` for ^SPX).

    Raises:
        NoChart: the listing is unknown, or the text is not a stock symbol or known index.
    """
    try:
        entry = symbols.watchlist_entry(symbol)
    except ValueError:
        raise NoChart(
            f"{symbol.strip()!r} is not a US stock symbol or index, so it has no TradingView chart."
        ) from None
    if entry in INDEX_SYMBOLS:
        return INDEX_SYMBOLS[entry]
    prefix = MIC_PREFIX.get(mic.strip().upper()) or EXCHANGE_PREFIX.get(exchange.strip().upper())
    if not prefix:
        raise NoChart(f"No exchange is known for {entry}, so its chart cannot be opened safely.")
    return f"{prefix}:{symbols.tradingview(entry)}"


def chart_url(ticker: Ticker) -> str:
    """The TradingView chart of a universe member. Raises NoChart for simulated symbols."""
    if ticker.category.startswith("Synthetic"):
        raise NoChart(f"{ticker.symbol} is a simulated symbol: there is no real chart for it.")
    return CHART_URL.format(
        quote(tradingview_symbol(ticker.symbol, ticker.mic, ticker.exchange), safe=":.")
    )
