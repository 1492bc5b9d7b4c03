"""How momoscan spells a symbol, and how each source spells the same one.

A share class has four spellings in the wild: `BRK.B` (Nasdaq Data Link's Sharadar tables,
Twelve Data, TradingView), `BRK-B` (Yahoo), `BRK/B` (some brokers' exports) and `BRKB` (OCC's
volume file and OSI option roots). momoscan keeps the dot form everywhere (`canonical`) and
converts at the edge (`occ_key`, `cboe_name`, `tradingview`).

A watchlist may also name a cash index the way charting sites do (`^SPX`, `$SPX`, `.SPX`,
`_SPX`); `watchlist_entry` reduces those to the bare root (`SPX`), which Cboe files under a
leading underscore (`cboe_name`). Stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A US stock or ETF symbol as users and feeds write it: 1-6 letters or digits starting with a
#: letter, then optionally a share class of 1-2 letters or digits after `.`, `-` or `/`.
SYMBOL_RE = re.compile(r"[A-Z][A-Z0-9]{0,5}(?:[.\-/][A-Z0-9]{1,2})?")

#: Cash indexes with listed options, whose chains Cboe serves under a leading underscore
#: (`_SPX.json`): the reference notes (market-data-apis.md §3.1) and OpenBB's exception list
#: name SPX, VIX, NDX and RUT; the rest are Cboe's other index option products (XSP and MRUT are
#: the mini SPX and RUT, OEX/XEO the S&P 100, DJX the Dow / 100).
INDEX_ROOTS: frozenset[str] = frozenset(
    {"SPX", "NDX", "RUT", "VIX", "XSP", "DJX", "OEX", "XEO", "MRUT"}
)

#: Option roots that differ from their underlying's symbol (weekly or PM-settled index series).
ROOT_UNDERLYINGS: dict[str, str] = {
    "SPXW": "SPX",
    "NDXP": "NDX",
    "RUTW": "RUT",
    "VIXW": "VIX",
}

#: Index spellings that are not the root itself: Yahoo's name for the S&P 500, and the weekly or
#: PM-settled option roots (`SPXW`), whose chains come inside their index's chain at Cboe.
INDEX_ALIASES: dict[str, str] = {"GSPC": "SPX", **ROOT_UNDERLYINGS}

#: Characters charting sites put before an index: Yahoo `^SPX`, thinkorswim and StockCharts
#: `$SPX`, Refinitiv `.SPX`, and Cboe's own `_SPX`.
INDEX_PREFIXES = "^$._"

_SEPARATORS = str.maketrans({"-": ".", "/": "."})
#: An OSI option symbol, padded or not ("AAPL  260918C00260000"), so a pasted contract gets a
#: message naming its underlying rather than "not a symbol".
_OSI_RE = re.compile(r"([A-Z][A-Z0-9]{0,5}) *\d{6}[CP]\d{8}")


def canonical(text: str) -> str:
    """The momoscan spelling of a US stock or ETF symbol: upper case, share class after a dot.

    `brk-b`, `BRK/B` and `BRK.B` all give `BRK.B`; surrounding whitespace is ignored.

    Raises:
        ValueError: the text is not shaped like a stock symbol (the message says why).
    """
    symbol = text.strip().upper()
    if not SYMBOL_RE.fullmatch(symbol):
        raise ValueError(
            f"{text.strip()!r} is not a stock symbol: write 1 to 6 letters or digits starting "
            "with a letter, and a share class after a dot if it has one (BRK.B)."
        )
    return symbol.translate(_SEPARATORS)


def watchlist_entry(text: str) -> str:
    """What a watchlist entry names: a canonical stock or ETF symbol, or a bare index root.

    `^SPX`, `$SPX`, `.SPX`, `_SPX`, `spx`, Yahoo's `^GSPC` and the option root `SPXW` all give
    `SPX`; `brk-b` gives `BRK.B`. Index roots are `INDEX_ROOTS`.

    Raises:
        ValueError: the text is empty, an unknown index, an option contract, or not a symbol;
            the message is one sentence saying what to write instead.
    """
    entry = text.strip().upper()
    if not entry:
        raise ValueError(
            "A watchlist entry is empty; write a stock symbol such as AAPL or an index such as "
            "^SPX, or remove it."
        )
    bare = entry.lstrip(INDEX_PREFIXES)
    root = INDEX_ALIASES.get(bare, bare)
    if root in INDEX_ROOTS:
        return root
    if bare != entry:
        raise ValueError(
            f"{text.strip()!r} names no index momoscan knows; use one of "
            f"{', '.join(sorted(INDEX_ROOTS))} (as ^SPX or SPX), or write a stock without the "
            f"{entry[0]!r}."
        )
    option = _OSI_RE.fullmatch(entry)
    if option:
        underlying = INDEX_ALIASES.get(option.group(1), option.group(1))
        raise ValueError(
            f"{text.strip()!r} is an option contract; watch its underlying {underlying} instead."
        )
    if len(entry.split()) > 1:
        raise ValueError(
            f"{text.strip()!r} holds spaces; write the bare symbol, such as "
            f"{entry.split()[0]!r}, or an index such as ^SPX."
        )
    try:
        return canonical(entry)
    except ValueError:
        raise ValueError(
            f"{text.strip()!r} is neither a US stock or ETF symbol (AAPL, BRK.B) nor an index "
            "(^SPX); momoscan cannot watch it, so remove or correct it."
        ) from None


def occ_key(symbol: str) -> str:
    """How OCC's volume file spells an underlying: the symbol without a share-class separator.

    `BRK.B`, `BRK-B` and `BRK/B` give `BRKB`; an index gives its root (`^SPX` gives `SPX`).
    Source: OCC's all-underlyings volume query writes `BRKB` in its `underlying` column
    (the OSI root convention; tests/test_occ.py and simulated/options.py `occ_symbol`).

    Raises:
        ValueError: as `watchlist_entry`.
    """
    return watchlist_entry(symbol).replace(".", "")


def occ_mapping(universe_symbols: Iterable[str]) -> dict[str, str]:
    """OCC spelling -> the universe's own spelling, for the symbols whose spellings differ.

    `["BRK.B", "AAPL"]` gives `{"BRKB": "BRK.B"}`; a universe written `BRK-B` gives
    `{"BRKB": "BRK-B"}`, so a lookup lands on the symbol the universe actually holds (the same
    as the canonical one for every source that stores canonical symbols). Symbols that are not
    stock symbols or index roots are left out, and so is an OCC spelling that is itself a
    universe symbol (`AB.C` must not take `ABC`'s volume); the first spelling of a class wins.
    Never raises.
    """
    held = list(universe_symbols)
    plain = {s.strip().upper() for s in held}
    mapping: dict[str, str] = {}
    for symbol in held:
        if symbol.isalnum() and symbol.isupper():
            continue  # a plain symbol is its own OCC name (most of a universe: skip quickly)
        try:
            key = occ_key(symbol)
        except ValueError:
            continue
        if key == symbol or key in mapping:
            continue
        if key in plain and key != symbol.strip().upper():
            continue  # another member is spelled that way: OCC's name is its, not this one's
        mapping[key] = symbol
    return mapping


def cboe_name(symbol: str) -> str:
    """The name Cboe's delayed-quotes CDN files a chain under (`.../options/{name}.json`).

    `_SPX` for an index root in any watchlist spelling (`^SPX`, `SPX`, `SPXW`), the canonical
    symbol for a stock or ETF (`AAPL`). Source for the underscore: market-data-apis.md §3.1
    (`_SPX.json`, `_VIX.json`; `SPY.json`, `CLX.json`). For a share class this returns the dot
    form (`BRK.B`): UNVERIFIED, no recording of a share-class chain exists in this repository
    or the reference notes (one third-party project's test expects `BRK.B.json` against a mock).

    Raises:
        ValueError: as `watchlist_entry`.
    """
    entry = watchlist_entry(symbol)
    return f"_{entry}" if entry in INDEX_ROOTS else entry


def tradingview(symbol: str) -> str:
    """The symbol part of a TradingView `EXCHANGE:SYMBOL`: the dot form (`BRK-B` gives `BRK.B`).

    Source: TradingView writes share classes with a dot, `NYSE:BRK.B` (market-data-apis.md §4).
    The exchange prefix, and the feeds of indexes, are `links.py`'s business.

    Raises:
        ValueError: as `canonical`.
    """
    return canonical(symbol)
