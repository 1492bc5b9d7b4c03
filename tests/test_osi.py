"""OSI option symbols: padded and unpadded, odd roots, decimal strikes, and what is refused."""

from __future__ import annotations

from datetime import date

import pytest

from momoscan.models import Right
from momoscan.sources.osi import parse_osi


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("AAPL  260918C00260000", ("AAPL", date(2026, 9, 18), Right.CALL, 260.0)),
        ("AAPL260918C00260000", ("AAPL", date(2026, 9, 18), Right.CALL, 260.0)),
        ("CLX260821C00055000", ("CLX", date(2026, 8, 21), Right.CALL, 55.0)),
        ("CLX260821P00115000", ("CLX", date(2026, 8, 21), Right.PUT, 115.0)),
        ("SPXW261218P05000000", ("SPXW", date(2026, 12, 18), Right.PUT, 5000.0)),
        ("SPX   261218C05125000", ("SPX", date(2026, 12, 18), Right.CALL, 5125.0)),
        ("AAPL1260918C00150000", ("AAPL1", date(2026, 9, 18), Right.CALL, 150.0)),
        ("AAPL1 260918C00150000", ("AAPL1", date(2026, 9, 18), Right.CALL, 150.0)),
        ("2SPX  261218C05000000", ("2SPX", date(2026, 12, 18), Right.CALL, 5000.0)),
        ("F     270115P00022500", ("F", date(2027, 1, 15), Right.PUT, 22.5)),
        ("F270115P00022500", ("F", date(2027, 1, 15), Right.PUT, 22.5)),
        ("SNDL270115C00000500", ("SNDL", date(2027, 1, 15), Right.CALL, 0.5)),
        ("GME260918C00012125", ("GME", date(2026, 9, 18), Right.CALL, 12.125)),
        ("BRKB  280121C99999999", ("BRKB", date(2028, 1, 21), Right.CALL, 99999.999)),
        ("GOOGL 260918P00180000", ("GOOGL", date(2026, 9, 18), Right.PUT, 180.0)),
        ("NVDA12260918C00100000", ("NVDA12", date(2026, 9, 18), Right.CALL, 100.0)),
    ],
)
def test_parse_osi(symbol: str, expected: tuple[str, date, Right, float]) -> None:
    root, expiry, right, strike = parse_osi(symbol)
    assert (root, expiry, right, strike) == expected
    assert right is expected[2]
    assert isinstance(strike, float)


@pytest.mark.parametrize(
    "symbol",
    [
        "",
        "AAPL",
        "260918C00260000",  # no root
        "      260918C00260000",  # blank root
        "AAPL  260918X00260000",  # neither C nor P
        "AAPL  260918c00260000",  # lower-case right
        "AAPL  26O918C00260000",  # letter O in the date
        "AAPL  261318C00260000",  # month 13
        "AAPL  260230C00260000",  # 30 February
        "AAPL  260918C0026000",  # 7-digit strike shifts everything
        "AAPL  260918C0026000A",
        "AAPL  260918C-0260000",
        "AAPL  260918C 0260000",
        "TOOLONG260918C00260000",  # 7-character root
        "AA PL260918C00260000",  # space inside the root
        "AA-L 260918C00260000",
        "AAPL  \uff1260918C00260000",  # a full-width digit 2
    ],
)
def test_parse_osi_refuses(symbol: str) -> None:
    with pytest.raises(ValueError, match="not an OSI option symbol"):
        parse_osi(symbol)


def test_error_names_the_symbol() -> None:
    with pytest.raises(ValueError, match="AAPL  261318C00260000"):
        parse_osi("AAPL  261318C00260000")
