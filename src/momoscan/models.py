"""Typed records that flow from the sources through the engine into the store.

Sources turn wire formats into these; nothing past a source sees a raw dict. Stdlib only, but
for msgspec, which `Quote` is built on (the Twelve Data and Cboe parsers' decoder too; it adds
1.4 MB to a process that would not otherwise load it, such as the simulated market's).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

import msgspec

#: Market-cap tiers, smallest first, in the words the config and the screen use. The Sharadar
#: strings ("3 - Small") map onto these in `sources/nasdaq.py`.
CAP_TIERS: tuple[str, ...] = ("nano", "micro", "small", "mid", "large", "mega")
DEFAULT_CAP_TIERS: tuple[str, ...] = ("small", "mid", "large")


class Right(enum.StrEnum):
    """Call or put, stored as the single letter OSI and OCC use."""

    CALL = "C"
    PUT = "P"


class Session(enum.StrEnum):
    """The US equity market's state at a moment."""

    PRE = "pre"
    OPEN = "open"
    AFTER = "after"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Ticker:
    """One member of the scan universe."""

    symbol: str
    name: str
    exchange: str = ""
    mic: str = ""
    cap_tier: str = ""
    sector: str = ""
    category: str = ""


# Quote and OptionContract are built by the thousand per second (8,000 a sweep, 30,000 a
# chain); a frozen dataclass's __init__ costs about five times a plain one's, so neither is
# frozen (nothing mutates them). Quote is a msgspec Struct: its __init__ runs in C, about a
# third of a slotted dataclass's (0.2 against 0.7 us on the 2-core machine), which is a tenth
# of parsing a sweep. It holds only scalars, so the garbage collector need not track it.
class Quote(msgspec.Struct, gc=False):
    """The latest quote of one symbol, as Twelve Data's /quote gives it.

    `change_pct` is in percent units (1.5 means +1.5 %). `quote_ts` is the provider's time of the
    last minute candle (Unix seconds) when it says, else the bar's timestamp.
    """

    symbol: str
    price: float
    open: float | None = None
    high: float | None = None
    low: float | None = None
    prev_close: float | None = None
    change_pct: float | None = None
    volume: int | None = None
    avg_volume: int | None = None
    market_open: bool | None = None
    quote_ts: int | None = None
    name: str = ""
    exchange: str = ""
    mic: str = ""
    source: str = "poll"  # "poll" (/quote), "stream" (the WebSocket) or "movers" (the probe)
    #: The price is a pre-market or after-hours one (Twelve Data's extended_price); the last
    #: regular session's close and % change are then kept beside it.
    extended: bool = False
    regular_price: float | None = None
    regular_change_pct: float | None = None

    @property
    def rvol_day(self) -> float | None:
        """The whole-day relative volume: today's volume over the average daily volume (at
        10:00 a name trading at its usual pace reads about 0.13). RVol at the time of day,
        what `quotes.rvol` holds, needs the usual volume by then: `momoscan.rvol`."""
        if self.volume is None or not self.avg_volume:
            return None
        return self.volume / self.avg_volume

    @property
    def rvol(self) -> float | None:
        """The whole-day figure, `rvol_day` (kept for callers of the old name)."""
        return self.rvol_day


@dataclass(frozen=True, slots=True)
class SymbolError:
    """A symbol the provider refused inside an otherwise good answer."""

    symbol: str
    code: int | None
    message: str


@dataclass(frozen=True, slots=True)
class QuoteBatch:
    """What one /quote request produced: the good quotes and, kept apart, the refused symbols."""

    quotes: list[Quote]
    errors: list[SymbolError] = field(default_factory=list)
    credits_used: int | None = None
    credits_left: int | None = None


@dataclass(frozen=True, slots=True)
class MoverRow:
    """One row of Twelve Data's /market_movers: a stock among the day's biggest gainers or
    losers. `percent_change` is in percent units; `prev_close` is `last - change`. `day` is
    the row's date and `quote_ts` its time (Unix seconds), None when the row says only the
    day's 09:30 bar open (what recorded answers carry) rather than when it traded."""

    symbol: str
    name: str
    exchange: str
    mic: str
    last: float
    change: float
    percent_change: float
    prev_close: float
    high: float | None
    low: float | None
    volume: int | None
    day: date | None
    quote_ts: int | None


@dataclass(frozen=True, slots=True)
class MoversAnswer:
    """A /market_movers answer: the usable rows, and the rows left out with why (one line
    each: a change that does not add up, no price)."""

    rows: list[MoverRow]
    dropped: list[str] = field(default_factory=list)


@dataclass(slots=True)
class OptionContract:
    """One option contract's day so far, from a delayed chain."""

    contract: str  # OSI symbol without padding, e.g. "CLX260821C00055000"
    underlying: str
    root: str
    expiry: date
    strike: float
    right: Right
    volume: int
    open_interest: int
    iv: float | None  # fraction (0.42 = 42 %); None where the source could not compute it
    last: float | None
    last_trade: datetime | None


@dataclass(frozen=True, slots=True)
class OptionChain:
    """An underlying's delayed chain, as columns: one list per field, a position per contract.

    Columns rather than 30,000 objects: the chain is parsed in a worker process and crosses to
    the app as plain lists (cheap to unpickle), is summed and stored straight from the lists,
    and only the drill-down ever wants contract objects (`contracts`).
    """

    underlying: str
    as_of: datetime | None
    underlying_price: float | None
    symbols: list[str]  # OSI symbols without padding, e.g. "CLX260821C00055000"
    roots: list[str]
    expiries: list[date]
    strikes: list[float]
    rights: list[str]  # "C" or "P"
    volumes: list[int]
    open_interest: list[int]
    ivs: list[float | None]  # fraction; None where the source could not compute it
    lasts: list[float | None]
    last_trades: list[int | None]  # Unix seconds
    call_volume: int = 0
    put_volume: int = 0
    skipped: int = 0  # records the parser had to leave out

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def contracts(self) -> list[OptionContract]:
        from zoneinfo import ZoneInfo

        eastern = ZoneInfo("America/New_York")
        return [
            OptionContract(
                symbol,
                self.underlying,
                root,
                expiry,
                strike,
                Right(right),
                volume,
                oi,
                iv,
                last,
                None if traded is None else datetime.fromtimestamp(traded, eastern),
            )
            for symbol, root, expiry, strike, right, volume, oi, iv, last, traded in zip(
                self.symbols,
                self.roots,
                self.expiries,
                self.strikes,
                self.rights,
                self.volumes,
                self.open_interest,
                self.ivs,
                self.lasts,
                self.last_trades,
                strict=True,
            )
        ]

    @classmethod
    def from_contracts(
        cls,
        underlying: str,
        as_of: datetime | None,
        underlying_price: float | None,
        contracts: list[OptionContract],
    ) -> OptionChain:
        calls = sum(c.volume for c in contracts if c.right is Right.CALL)
        return cls(
            underlying,
            as_of,
            underlying_price,
            [c.contract for c in contracts],
            [c.root for c in contracts],
            [c.expiry for c in contracts],
            [c.strike for c in contracts],
            [c.right.value for c in contracts],
            [c.volume for c in contracts],
            [c.open_interest for c in contracts],
            [c.iv for c in contracts],
            [c.last for c in contracts],
            [None if c.last_trade is None else int(c.last_trade.timestamp()) for c in contracts],
            call_volume=calls,
            put_volume=sum(c.volume for c in contracts) - calls,
        )


@dataclass(frozen=True, slots=True)
class UnderlyingVolume:
    """One underlying's options volume for a day (contracts, not OCC's two sides)."""

    day: date
    underlying: str
    total: int
    calls: int
    puts: int
    source: str  # "occ" (end of day, market wide) or "cboe" (intraday, the watch set)


@dataclass(frozen=True, slots=True)
class Leader:
    """A member of a day's options top 10, with what makes it interesting."""

    day: date
    rank: int
    underlying: str
    total: int
    calls: int
    puts: int
    is_new: bool
    streak: int  # consecutive days in the top 10, today included
    rank_change: int | None  # positive = moved up; None when it was not ranked the day before
    volume_ratio: float | None  # today's volume over its own average of the previous days
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Progress:
    """A refresh step's progress, handed to the engine's callback."""

    step: str  # "universe", "quotes", "options", "done"
    done: int = 0
    total: int = 0
    credits_used: int = 0
    errors: int = 0
    message: str = ""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert rule that fired for a symbol: what crossed, when (the market clock's Unix
    seconds; `day` its trading day), and the values at the time."""

    rule: str  # the rule's key (its symbol and conditions)
    name: str  # the rule's name, "" when it has none
    symbol: str
    message: str  # one sentence: what crossed, with the values
    at: float
    day: date
    price: float | None = None
    change_pct: float | None = None
    rvol: float | None = None
    options_share: float | None = None  # percent

    @property
    def title(self) -> str:
        """A notification's title: the rule's name (the scanner's board: "Top movers"),
        else the symbol."""
        return self.name or f"Alert: {self.symbol}"


@dataclass(frozen=True, slots=True)
class Tick:
    """One symbol's latest streamed trade, as the screen shows it: price, % change from the
    previous close (None when no close is stored), day volume in shares, Unix seconds."""

    symbol: str
    price: float
    change_pct: float | None
    volume: int | None
    ts: int


@dataclass(frozen=True, slots=True)
class DayHigh:
    """A name's high of the session: `high` in dollars, `count` new highs made today (the
    first print of the session is not one), `at` Unix seconds of the latest."""

    symbol: str
    high: float
    count: int
    at: float
