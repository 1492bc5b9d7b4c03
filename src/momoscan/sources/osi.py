"""OCC/OSI option symbols: root, expiry, call or put, strike.

An OSI symbol is the root (1-6 characters, right-padded with spaces to 6 in the canonical
21-character form), the expiry as YYMMDD, C or P, and the strike times 1000 as 8 digits:
"AAPL  260918C00260000" or, as Cboe, Tradier and Twelve Data write it, "AAPL260918C00260000".
Parsing is plain slicing because a large chain calls it tens of thousands of times.
"""

from __future__ import annotations

from datetime import date

from momoscan.models import Right

#: Characters after the root: YYMMDD + C/P + 8-digit strike.
SUFFIX_LEN = 15
MAX_ROOT_LEN = 6

_RIGHTS = {"C": Right.CALL, "P": Right.PUT}


def parse_osi(symbol: str) -> tuple[str, date, Right, float]:
    """Split an OSI symbol, padded or not, into (root, expiry, right, strike).

    Raises:
        ValueError: the text is not an OSI symbol.
    """
    root = symbol[:-SUFFIX_LEN].strip()
    if not root or len(root) > MAX_ROOT_LEN or not root.isalnum() or not root.isascii():
        raise ValueError(f"{symbol!r} is not an OSI option symbol: bad root {root!r}.")
    ymd = symbol[-SUFFIX_LEN:-9]
    strike = symbol[-8:]
    right = _RIGHTS.get(symbol[-9])
    if right is None:
        raise ValueError(f"{symbol!r} is not an OSI option symbol: no C or P before the strike.")
    if not (ymd.isdigit() and strike.isdigit() and ymd.isascii() and strike.isascii()):
        raise ValueError(f"{symbol!r} is not an OSI option symbol: expiry or strike not digits.")
    try:
        expiry = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
    except ValueError:
        raise ValueError(f"{symbol!r} is not an OSI option symbol: no such date {ymd}.") from None
    return root, expiry, right, int(strike) / 1000
