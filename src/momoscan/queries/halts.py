"""Trading halts and Rule 201 restrictions as the screens, the scheduler and the stream read
them: who is halted now (or resumed a moment ago), the day's halts, the restrictions in force,
and a market-wide circuit breaker.

Times are Unix seconds (UTC) on the market clock (the simulated market's in the demo); days
are US/Eastern trading days. A halt's resumption is its resume *trade* time (Nasdaq Trader's
ResumptionTradeTime; the quote time comes first and is not "resumed").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .. import market_hours as mh
from ..halts import MARKET_WIDE, Halt, ShortSaleRestriction, reason_text, short_reason
from ..store import HALTS_SEEN_AT, Store

#: A halt resumed within this many seconds is still told ("RESUMED 2m"): `halt_states`'s
#: default.
RECENT_RESUME = 600.0

#: Reason codes whose resumption fields are not a resumption: a deleted security shows
#: 00:00:01 on a later day (Nasdaq Trader's feed, recorded; public-feeds.md 1.3).
_NO_RESUMPTION = frozenset({"D"})

_HALT_SELECT = (
    "SELECT symbol, halt_day, halted_at, reason, market, name, resume_quote_at, "
    "resume_trade_at, threshold, last_seen FROM halts"
)


@dataclass(frozen=True, slots=True)
class HaltState:
    """One name's latest halt as of a moment.

    `reason` is the feed's code (LUDP, T1, M, MWC1, ...), `reason_text` its meaning in a few
    words ("LULD pause"), `short` the row's label ("LULD"). `halted_at`, `resume_trade_at`
    and `resumed_at` are Unix seconds; `resume_trade_at` may be in the future (the feed
    announces it) or None while unknown. `halted` is True while trading is halted;
    `resumed_at` is the resumption once it has passed (None while halted)."""

    symbol: str
    reason: str
    reason_text: str
    halted_at: float
    resume_trade_at: float | None
    halted: bool
    resumed_at: float | None
    short: str = ""
    resume_quote_at: float | None = None
    market: str = ""

    def near_resumption(self, now: float, before: float, after: float) -> bool:
        """Whether `now` is within `before` seconds ahead of the announced resumption, or
        `after` seconds past it (False when no resumption is announced)."""
        at = self.resume_trade_at
        return at is not None and at - before <= now <= at + after


def _halt(row: tuple[object, ...]) -> tuple[Halt, float]:
    symbol, day, halted_at, reason, market, name, rq, rt, threshold, last_seen = row
    halt = Halt(
        str(symbol),
        date.fromisoformat(str(day)),
        float(halted_at),  # type: ignore[arg-type]
        str(reason),
        str(market),
        str(name),
        None if rq is None or reason in _NO_RESUMPTION else float(rq),  # type: ignore[arg-type]
        None if rt is None or reason in _NO_RESUMPTION else float(rt),  # type: ignore[arg-type]
        None if threshold is None else float(threshold),  # type: ignore[arg-type]
    )
    return halt, float(last_seen)  # type: ignore[arg-type]


def _polled_at(store: Store) -> float:
    value = store.get_meta(HALTS_SEEN_AT)
    return float(value) if value else 0.0


def halts_polled_at(store: Store) -> float | None:
    """When the collector last read the halts feed (Unix seconds, market clock); None: never."""
    return _polled_at(store) or None


def _current(halt: Halt, last_seen: float, polled_at: float, now: float) -> bool | None:
    """True: halted at `now`; False: resumed by `now`; None: not known to be either (an
    open halt that left the feed without a resumption: corrected, or resolved unseen)."""
    if halt.resume_trade_at is not None:
        return now < halt.resume_trade_at
    return True if last_seen >= polled_at else None


def halt_states(store: Store, now: float, *, recent: float = RECENT_RESUME) -> dict[str, HaltState]:
    """Names halted at `now` (Unix seconds, market clock), or resumed within the last
    `recent` seconds, each with its latest halt (a name halted twice today: the second).

    An open halt (no resumption announced) counts while the latest poll of the feed still
    holds it; one that left the feed without a resumption is not told either way."""
    polled_at = _polled_at(store)
    rows = store.conn.execute(
        f"{_HALT_SELECT} WHERE halted_at <= ? AND (resume_trade_at IS NULL "
        "OR resume_trade_at >= ? OR reason IN ({})) ORDER BY halted_at".format(
            ",".join("?" for _ in _NO_RESUMPTION)
        ),
        (now, now - recent, *sorted(_NO_RESUMPTION)),
    ).fetchall()
    out: dict[str, HaltState] = {}
    for row in rows:
        halt, last_seen = _halt(row)
        halted = _current(halt, last_seen, polled_at, now)
        if halted is None:
            continue
        resumed_at = None if halted else halt.resume_trade_at
        if resumed_at is not None and now - resumed_at > recent:
            continue
        # Ordered by halt time: a later halt of the same name replaces an earlier one.
        out[halt.symbol] = HaltState(
            halt.symbol,
            halt.reason,
            reason_text(halt.reason),
            halt.halted_at,
            halt.resume_trade_at,
            halted,
            resumed_at,
            short_reason(halt.reason),
            halt.resume_quote_at,
            halt.market,
        )
    return out


def halts_on(store: Store, day: date) -> list[Halt]:
    """The halts of `day` (US/Eastern) and those that resumed on it (a halt of an earlier day
    resumed today), newest halt first: what the halts screen lists."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=mh.ET)
    end = start + timedelta(days=1)
    rows = store.conn.execute(
        f"{_HALT_SELECT} WHERE halt_day = ? OR (resume_trade_at >= ? AND resume_trade_at < ?) "
        "ORDER BY halted_at DESC, symbol",
        (day.isoformat(), start.timestamp(), end.timestamp()),
    ).fetchall()
    return [_halt(row)[0] for row in rows]


def restrictions_on(store: Store, day: date) -> dict[str, ShortSaleRestriction]:
    """The Rule 201 restrictions in force on `day` (US/Eastern): those triggered that day or
    on the trading day before (the rule holds for the rest of the trigger day and all of the
    next trading day; SEC Release 34-61595). One a symbol: the latest trigger day (it holds
    longest), the list's over momoscan's own, the earliest trigger time."""
    before = mh.previous_trading_day(day)
    rows = store.conn.execute(
        "SELECT symbol, trigger_day, triggered_at, source, name FROM ssr "
        "WHERE trigger_day IN (?, ?) "
        "ORDER BY symbol, trigger_day DESC, source = 'rule', triggered_at IS NULL, triggered_at",
        (day.isoformat(), before.isoformat()),
    ).fetchall()
    out: dict[str, ShortSaleRestriction] = {}
    for symbol, trigger_day, triggered_at, source, name in rows:
        if symbol not in out:
            out[symbol] = ShortSaleRestriction(
                symbol,
                date.fromisoformat(trigger_day),
                None if triggered_at is None else float(triggered_at),
                source,
                name,
            )
    return out


def market_wide_halt(store: Store, now: float) -> Halt | None:
    """The market-wide circuit breaker halt in force at `now` (Unix seconds, market clock):
    a halt with an MWC code (MWC1-3, or MWC0 carried over from the day before), the latest
    if several; None when none holds."""
    polled_at = _polled_at(store)
    codes = sorted(MARKET_WIDE)
    marks = ",".join("?" for _ in codes)
    rows = store.conn.execute(
        f"{_HALT_SELECT} WHERE reason IN ({marks}) AND halted_at <= ? "
        "AND (resume_trade_at IS NULL OR resume_trade_at > ?) ORDER BY halted_at DESC",
        (*codes, now, now),
    ).fetchall()
    for row in rows:
        halt, last_seen = _halt(row)
        if _current(halt, last_seen, polled_at, now):
            return halt
    return None
