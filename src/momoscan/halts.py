"""Trading halts and short-sale restrictions: the records the halts source makes, the store keeps
and the screens show, and what each halt reason code means.

Wire facts (see `sources/nasdaqtrader.py` for the parsers):
- Nasdaq Trader's trade halts RSS (`https://www.nasdaqtrader.com/rss.aspx?feed=tradehalts`) has one
  item per halt event; the resumption fields fill in on the same item, and a reason code can change
  in place (T1 -> T2 -> T3). Every date and time in it is US/Eastern, without an offset. A halt is
  therefore known by (symbol, halt day, halt time), not by its symbol.
- Rule 201 (SEC Release 34-61595): an intraday fall of 10% or more below the previous close
  restricts short sales for the rest of that day and all of the next trading day. Nasdaq Trader
  publishes the day's list (`shorthalts{YYYYMMDD}.txt`), which holds the triggers of D-1 and D.

Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

#: Halt codes and their meaning, from Nasdaq Trader's "Trade Halt Codes" legend
#: (https://www.nasdaqtrader.com/Trader.aspx?id=TradeHaltCodes).
HALT_CODES: dict[str, str] = {
    "T1": "news pending",
    "T2": "news released",
    "T5": "single stock trading pause",
    "T6": "extraordinary market activity",
    "T8": "ETF halt",
    "T12": "information requested by Nasdaq",
    "H4": "non-compliance",
    "H9": "not current in filings",
    "H10": "SEC trading suspension",
    "H11": "regulatory concern",
    "O1": "operations halt",
    "IPO1": "IPO not yet trading",
    "M1": "corporate action",
    "M2": "quotation not available",
    "LUDP": "LULD pause",
    "LUDS": "LULD pause, straddle",
    "MWC1": "market-wide circuit breaker level 1",
    "MWC2": "market-wide circuit breaker level 2",
    "MWC3": "market-wide circuit breaker level 3",
    "MWC0": "market-wide circuit breaker, carried over",
}

#: Resumption and status codes of the same legend.
RESUMPTION_CODES: dict[str, str] = {
    "T3": "news and resumption times",
    "T7": "quotation-only period",
    "R4": "qualifications resolved",
    "R9": "filings resolved",
    "C3": "news not forthcoming",
    "C4": "qualifications halt ended",
    "C9": "qualifications halt concluded",
    "C11": "halt concluded by another regulator",
    "R1": "new issue available",
    "R2": "issue available",
    "IPOQ": "IPO released for quotation",
    "IPOE": "IPO positioning window extended",
    "MWCQ": "market-wide circuit breaker resumption",
    "M": "LULD pause",  # the pause of a non-Nasdaq-listed issue (Market Category C)
    "D": "security deleted",
}

#: Short labels for a row, where a whole phrase does not fit.
SHORT_REASONS: dict[str, str] = {
    "LUDP": "LULD",
    "LUDS": "LULD",
    "M": "LULD",
    "T5": "pause",
    "T1": "news pend",
    "T2": "news out",
    "T3": "news",
    "T6": "activity",
    "T12": "info req",
    "H10": "SEC susp",
    "H11": "reg",
    "IPO1": "IPO",
    "MWC1": "MWCB L1",
    "MWC2": "MWCB L2",
    "MWC3": "MWCB L3",
    "MWC0": "MWCB",
}

MARKET_WIDE = frozenset({"MWC1", "MWC2", "MWC3", "MWC0"})


def reason_text(code: str) -> str:
    """What a reason code means, in a few words; an unknown code is shown as itself (the
    legend grows, and a halt must never be dropped for its code)."""
    return HALT_CODES.get(code) or RESUMPTION_CODES.get(code) or code


def short_reason(code: str) -> str:
    """The reason as a row shows it: `LULD`, `news pend`, or the code itself."""
    return SHORT_REASONS.get(code, code)


@dataclass(frozen=True, slots=True)
class Halt:
    """One halt event as the feed says it now (it may change: re-read and replace it).

    Times are Unix seconds (UTC), converted from the feed's US/Eastern wall clock.
    `halt_day` is the halt's US/Eastern date. `resume_trade_at` is when trading resumes (may be
    in the future, or None while unknown); `resume_quote_at` when quoting does. `threshold` is
    the LULD pause threshold price in dollars, when the feed gives one (usually it does not).
    """

    symbol: str
    halt_day: date
    halted_at: float
    reason: str  # the code as the feed gives it: LUDP, T1, M, MWC1, ...
    market: str = ""  # NASDAQ, NYSE, AMEX, NYSE Arca, ...
    name: str = ""
    resume_quote_at: float | None = None
    resume_trade_at: float | None = None
    threshold: float | None = None

    @property
    def key(self) -> tuple[str, date, float]:
        """What identifies the event across polls."""
        return (self.symbol, self.halt_day, self.halted_at)

    @property
    def market_wide(self) -> bool:
        return self.reason in MARKET_WIDE

    def halted(self, now: float) -> bool:
        """Whether trading is halted at `now` (Unix seconds)."""
        if now < self.halted_at:
            return False
        return self.resume_trade_at is None or now < self.resume_trade_at


@dataclass(frozen=True, slots=True)
class ShortSaleRestriction:
    """A Rule 201 restriction on one symbol.

    `trigger_day` is the US/Eastern day the price fell 10% below the previous close; the
    restriction holds for the rest of that day and all of the next trading day. `triggered_at`
    is Unix seconds when known. `source` is "list" (Nasdaq Trader's file) or "rule" (momoscan
    saw the fall in its own quotes).
    """

    symbol: str
    trigger_day: date
    triggered_at: float | None = None
    source: str = "list"
    name: str = ""
