"""One spelling rule for symbols (symbols.py): canonical BRK.B, OCC's BRKB, Cboe's _SPX."""

from __future__ import annotations

import pytest

from momoscan.symbols import (
    INDEX_ROOTS,
    canonical,
    cboe_name,
    occ_key,
    occ_mapping,
    tradingview,
    watchlist_entry,
)

#: Berkshire class B as Nasdaq/Sharadar and Twelve Data, Yahoo, brokers' exports and users write it.
BRK_B = ["BRK.B", "BRK-B", "BRK/B", "brk-b", " brk.b ", "Brk/b"]


@pytest.mark.parametrize("spelling", BRK_B)
def test_every_spelling_of_a_share_class_agrees_in_every_function(spelling: str) -> None:
    assert canonical(spelling) == "BRK.B"
    assert watchlist_entry(spelling) == "BRK.B"
    assert occ_key(spelling) == "BRKB"
    assert cboe_name(spelling) == "BRK.B"
    assert tradingview(spelling) == "BRK.B"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("aapl", "AAPL"), (" NVDA\n", "NVDA"), ("BF.B", "BF.B"), ("X", "X"), ("GOOGL", "GOOGL")],
)
def test_canonical_stocks(text: str, expected: str) -> None:
    assert canonical(text) == expected
    assert occ_key(text) == expected.replace(".", "")


@pytest.mark.parametrize(
    "text", ["", "12$$", "1AAPL", "TOOLONGX", "BRK.BBB", "EUR/USD", "AAPL US", "^SPX", "BRK..B"]
)
def test_canonical_refuses_what_is_not_a_stock_symbol(text: str) -> None:
    with pytest.raises(ValueError) as info:
        canonical(text)

    message = str(info.value)
    assert message.startswith(f"{text.strip()!r} is not a stock symbol:")
    assert message.endswith("(BRK.B).")


# -- OCC -------------------------------------------------------------------------------------


def test_brk_dash_b_in_a_universe_matches_occs_brkb() -> None:
    universe = ["AAPL", "BRK-B", "SPY"]
    occ_names = ["AAPL", "BRKB", "SPY", "SPX"]

    mapping = occ_mapping(universe)

    assert mapping == {"BRKB": "BRK-B"}
    assert [
        mapping.get(name, name) for name in occ_names if mapping.get(name, name) in universe
    ] == [
        "AAPL",
        "BRK-B",
        "SPY",
    ]


def test_occ_mapping_of_a_canonical_universe() -> None:
    assert occ_mapping(["BRK.B", "BF.B", "AAPL", "SPX"]) == {"BRKB": "BRK.B", "BFB": "BF.B"}


def test_occ_mapping_skips_non_symbols_and_never_steals_another_members_name() -> None:
    # OCC's "ABC" is ABC's; AB.C cannot claim it. The first spelling of a class wins.
    assert occ_mapping(["ABC", "AB.C", "12$$", "", "BRK/B", "BRK.B"]) == {"BRKB": "BRK/B"}
    assert occ_mapping([]) == {}


# -- indexes ---------------------------------------------------------------------------------


def test_index_roots_keep_cboes_set() -> None:
    assert isinstance(INDEX_ROOTS, frozenset)
    assert {"SPX", "NDX", "RUT", "VIX", "XSP", "DJX", "OEX", "XEO", "MRUT"} == INDEX_ROOTS
    assert "SPY" not in INDEX_ROOTS


@pytest.mark.parametrize(
    "spelling", ["^SPX", "$SPX", "SPX", ".SPX", "_SPX", " spx ", "^spx", "^GSPC", "SPXW", "$SPXW"]
)
def test_every_spelling_of_spx_is_the_root_and_cboes_underscore_name(spelling: str) -> None:
    assert watchlist_entry(spelling) == "SPX"
    assert cboe_name(spelling) == "_SPX"
    assert occ_key(spelling) == "SPX"


@pytest.mark.parametrize("root", sorted(INDEX_ROOTS))
def test_every_index_root_is_underscored_at_cboe(root: str) -> None:
    assert watchlist_entry(f"^{root}") == root
    assert cboe_name(f"^{root}") == cboe_name(f"${root}") == cboe_name(root) == f"_{root}"


@pytest.mark.parametrize(("symbol", "name"), [("AAPL", "AAPL"), ("spy", "SPY"), ("QQQ", "QQQ")])
def test_stocks_and_etfs_keep_their_symbol_at_cboe(symbol: str, name: str) -> None:
    assert cboe_name(symbol) == name


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "A watchlist entry is empty; write a stock symbol such as AAPL or an index"),
        ("   ", "A watchlist entry is empty"),
        ("12345", "'12345' is neither a US stock or ETF symbol (AAPL, BRK.B) nor an index (^SPX)"),
        ("EUR/USD", "'EUR/USD' is neither a US stock or ETF symbol"),
        ("AAPL US Equity", "'AAPL US Equity' holds spaces; write the bare symbol, such as 'AAPL'"),
        ("AAPL260918C00260000", "is an option contract; watch its underlying AAPL instead."),
        ("SPXW  260918C05000000", "is an option contract; watch its underlying SPX instead."),
        ("^AAPL", "'^AAPL' names no index momoscan knows; use one of DJX, MRUT, NDX, OEX, RUT"),
        ("$", "'$' names no index momoscan knows"),
        ("^DJI", "'^DJI' names no index"),
    ],
)
def test_invalid_watchlist_entries_say_what_to_write(text: str, says: str) -> None:
    with pytest.raises(ValueError) as info:
        watchlist_entry(text)

    message = str(info.value)
    assert says in message
    assert message.endswith(".") and "\n" not in message
    with pytest.raises(ValueError):
        cboe_name(text)
    with pytest.raises(ValueError):
        occ_key(text)


def test_tradingview_refuses_an_index_prefix() -> None:
    # An index's TradingView feed is links.py's business; this function only spells stocks.
    with pytest.raises(ValueError):
        tradingview("^SPX")
