"""Options-led or price-led (`momoscan.lead`), read from the store: the day's first options
signal and first price run of each name, paired; and the `lead` signals for the track records.

Reads the `signals` table (what momoscan raised: `signals.py`) and the stored prices
(`quote_history`, one price a symbol a 5-minute bucket in the session).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .. import market_hours as mh
from ..lead import LEAD_KIND, OPTIONS_KINDS, RUN_MOVE_PCT, WINDOW_S, Lead, pair
from ..signals import Signal
from ..store import Store

#: A price run is read from the stored prices as of a bucket's sample: the bucket's start
#: plus this (seconds): the store keeps the latest price seen in each 5-minute bucket.
SAMPLE_OFFSET_S = 240.0
#: The previous close is the newest stored price at most this many days before the session.
PREV_CLOSE_DAYS = 5


def _session(day: date) -> tuple[float, float, float]:
    """(04:00, 09:30 and the close of `day`, ET) as Unix seconds."""
    pre, opens, closes, _ = mh.session_bounds(day)
    return pre.timestamp(), opens.timestamp(), closes.timestamp()


def unusual_first_look_key(day: date) -> str:
    """The meta key of the market time (Unix seconds) of trading day `day`'s first look at
    the option chains (set by the outcome job's signal sources)."""
    return f"unusual_first_look:{day.isoformat()}"


def options_activity(store: Store, day: date) -> dict[str, float]:
    """Each symbol's first options signal (`lead.OPTIONS_KINDS`) of trading day `day`: Unix
    seconds. Those of the day's first look at the chains are left out: a contract already
    unusual when momoscan first looked could have traded at any time before (a collector
    started at 11:30 would otherwise call every morning runner price-led)."""
    first_look = store.get_meta(unusual_first_look_key(day))
    after = float(first_look) if first_look is not None else float("-inf")
    out: dict[str, float] = {}
    for s in store.signals_of_day(day):
        if s.kind not in OPTIONS_KINDS or s.at <= after:
            continue
        if s.symbol not in out or s.at < out[s.symbol]:
            out[s.symbol] = s.at
    return out


def price_runs(
    store: Store, day: date, symbols: list[str] | None = None
) -> dict[str, tuple[float, int]]:
    """Each symbol's first run in price on trading day `day`: (Unix seconds, direction +1/-1),
    the earlier of its first "movers" signal and its first stored price of the regular session
    at least `lead.RUN_MOVE_PCT` from the previous close (the newest stored price before the
    day, else the previous close of its latest quote when that quote is of the day: a
    database started today has no price before it; as of the bucket's sample,
    `SAMPLE_OFFSET_S` after the bucket's start). With `symbols`, only those."""
    wanted = None if symbols is None else set(symbols)
    out: dict[str, tuple[float, int]] = {}
    for s in store.signals_of_day(day):
        if s.kind != "movers" or (wanted is not None and s.symbol not in wanted):
            continue
        if s.symbol not in out or s.at < out[s.symbol][0]:
            out[s.symbol] = (s.at, s.direction)
    pre, opens, closes = _session(day)
    ends = mh.session_bounds(day)[3].timestamp()
    names = sorted(wanted) if wanted is not None else _history_names(store, opens, closes)
    since = (datetime.fromtimestamp(pre, mh.ET) - timedelta(days=PREV_CLOSE_DAYS)).timestamp()
    for symbol in names:
        prev = store.conn.execute(
            "SELECT price FROM quote_history WHERE symbol = ? AND ts < ? AND ts >= ? "
            "ORDER BY ts DESC LIMIT 1",
            (symbol, pre, since),
        ).fetchone()
        if not prev or not prev[0]:
            prev = store.conn.execute(
                "SELECT prev_close FROM quotes WHERE symbol = ? AND quote_ts >= ? AND quote_ts < ?",
                (symbol, pre, ends),
            ).fetchone()
        if not prev or not prev[0]:
            continue
        base = float(prev[0])
        for ts, price in store.conn.execute(
            "SELECT ts, price FROM quote_history WHERE symbol = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts",
            (symbol, opens, closes),
        ):
            move = (float(price) - base) / base * 100.0
            if abs(move) >= RUN_MOVE_PCT:
                at = float(ts) + SAMPLE_OFFSET_S
                held = out.get(symbol)
                if held is None or at < held[0]:
                    out[symbol] = (at, 1 if move >= 0 else -1)
                break
    return out


def _history_names(store: Store, start: float, end: float) -> list[str]:
    return [
        str(r[0])
        for r in store.conn.execute(
            "SELECT DISTINCT symbol FROM quote_history WHERE ts >= ? AND ts < ?", (start, end)
        )
    ]


def leads(store: Store, day: date, *, window: float = WINDOW_S) -> dict[str, Lead]:
    """The names of trading day `day` (US/Eastern) that both ran in price and led in options
    activity within `window` seconds (`lead.WINDOW_S`: two hours), by symbol: which came first
    and by how long (`Lead.text`: "opt→px 35m", "px→opt 12m")."""
    options = options_activity(store, day)
    if not options:
        return {}
    runs = price_runs(store, day, sorted(options))
    return pair(options, runs, window)


def lead_signals(store: Store, day: date) -> list[Signal]:
    """The `lead` signals of trading day `day`: one for each name that became options-led
    (`leads`), at the moment it did (its price run, `Lead.at`), at the stored price of that
    moment, pointing the way the price ran; `detail` the lead ("opt→px 35m"). Names whose
    price at that moment is not stored are left out (they could not be measured)."""
    out = []
    for lead in leads(store, day).values():
        if not lead.options_led:
            continue
        row = store.conn.execute(
            "SELECT price, ts FROM quote_history WHERE symbol = ? AND ts <= ? AND ts > ? "
            "ORDER BY ts DESC LIMIT 1",
            (lead.symbol, lead.at, lead.at - 900.0),
        ).fetchone()
        if not row:
            continue
        out.append(
            Signal(
                kind=LEAD_KIND,
                symbol=lead.symbol,
                at=lead.at,
                day=day,
                price=float(row[0]),
                direction=lead.direction,
                price_at=float(row[1]),
                source="lead",
                detail=lead.text,
            )
        )
    return out
