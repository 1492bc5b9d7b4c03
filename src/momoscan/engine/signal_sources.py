"""Signals derived from what the store already records, so every path (the TUI, headless,
serve, a cron `--once`) records the same signals, once per database (the store keeps each
once per (kind, symbol, at)):

- `alert_events`: the scanner's entrants (top movers, top volume, NEW options entrant) and
  every alert rule's alerts (kind "rule:" and its conditions);
- `halts`: each halt, and each resumption once trading has resumed (`RESUME_WAIT` later);
- the pre-market's top gappers (`queries.gappers`), once a symbol a day, while it is
  pre-market;
- the day's first unusual option contract of each name (`queries.unusual_contracts`);
- SEC filings (`filings`, once that table exists): "catalyst", or "offering" for one;
- the day's options-led names (`queries.lead.lead_signals`): "lead", once a name a day, at
  its price run (the later of the two signals; read from what is stored, so the job after
  the one that stored its options signal and its run records it).

Which way each points (`direction`, +1 up, -1 down):
- an entrant, and a rule whose conditions say no way (RVol, options share, halt, resume):
  the way the name has moved on the day (its change at the time; up when unknown);
- a rule's condition that says one: `*_above`, `new_high` up; `*_below`, `ssr` down;
  `pct_in_minutes` its X's sign;
- a NEW options entrant: up when its calls are at least its puts in the daily leaders;
- a halt: the way the price moved in the 15 minutes before it; a resumption: from the
  halt's price to the first after it; a gapper: its gap's; an unusual contract: a call up,
  a put down; a catalyst up, an offering down (dilution); a lead: the way its price ran.

The signal's price is the event's when it has one, else the newest stored price at most
`PRICE_MAX_AGE` before it, else the first within `PRICE_MAX_AGE` after it (a halt's: only
before it); a signal without one waits that long for it, then is stored unmeasurable.

Runs on the store's thread; each source owns its failure (logged, the others go on).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime

from .. import market_hours as mh
from .. import queries
from ..lead import LEAD_KIND
from ..models import Session
from ..queries import signals as found
from ..queries.lead import lead_signals, unusual_first_look_key
from ..signals import Signal, kind_of_event, rule_conditions
from ..store import HISTORY_BUCKET_OPEN, Store

log = logging.getLogger(__name__)

#: How far back (market seconds) events, halts and filings are looked at each time.
LOOKBACK = 2 * 86400.0
#: A signal without a price of its own takes the newest stored price at most this old.
PRICE_MAX_AGE = 1800.0
#: A resumption is recorded this long (market seconds) after trading resumed, with the
#: first price after it.
RESUME_WAIT = 900.0
#: The move into a halt is read over this many seconds before it.
HALT_RUNUP = 900.0
_UP = ("price_above", "pct_above", "new_high")
_DOWN = ("price_below", "pct_below", "ssr")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _day(at: float) -> date:
    return mh.current_trading_day(datetime.fromtimestamp(at, mh.ET))


def _sign(value: float | None) -> int:
    return -1 if value is not None and value < 0 else 1


def _priced(
    store: Store, symbol: str, at: float, *, after: bool = True
) -> tuple[float | None, float | None]:
    """The signal's price: the newest stored at most `PRICE_MAX_AGE` before `at`, else (with
    `after`) the first within `PRICE_MAX_AGE` after it (a filing before the pre-market's
    first quote); (price, its bucket's start) or (None, None)."""
    seen = found.price_before(store, symbol, at, at - PRICE_MAX_AGE)
    if seen is None and after:
        later = found.price_samples(
            store, symbol, at - at % HISTORY_BUCKET_OPEN, at + PRICE_MAX_AGE
        )
        seen = (later[0][1], later[0][0]) if later else None
    return (seen[0], seen[1]) if seen else (None, None)


def rule_direction(rule_key: str, change_pct: float | None) -> int:
    """Which way an alert rule's alert points (see the module docstring)."""
    for name, value in rule_conditions(rule_key):
        if name in _UP:
            return 1
        if name in _DOWN:
            return -1
        if name == "pct_in_minutes":
            number = _NUMBER.search(value)
            if number:
                return _sign(float(number.group()))
    return _sign(change_pct)


def from_events(store: Store, now: float) -> list[Signal]:
    """The scanner's entrants and the rules' alerts of the last `LOOKBACK`."""
    out = []
    for e in found.events_since(store, now - LOOKBACK):
        kind = kind_of_event(e.rule, e.name)
        price: float | None
        price_at: float | None
        if e.price is not None:
            price, price_at = e.price, e.at
        else:
            price, price_at = _priced(store, e.symbol, e.at)
        if kind == "options_new":
            flow = found.leader_flow(store, e.symbol, e.day)
            direction = 1 if flow is None or flow[0] >= flow[1] else -1
        elif e.rule == "scanner":
            direction = _sign(e.change_pct)
        else:
            direction = rule_direction(e.rule, e.change_pct)
        detail = e.name if e.rule == "scanner" else (e.name or e.rule)
        out.append(
            Signal(kind, e.symbol, e.at, e.day, price, direction, price_at, "alert_events", detail)
        )
    return out


def from_halts(store: Store, now: float) -> list[Signal]:
    """Halts of the last `LOOKBACK`, and their resumptions `RESUME_WAIT` after them."""
    out = []
    for symbol, at, reason, resume in found.halts_since(store, now - LOOKBACK):
        if at > now:
            continue
        price, price_at = _priced(store, symbol, at, after=False)
        before = found.price_before(store, symbol, at - HALT_RUNUP, at - 2 * HALT_RUNUP)
        direction = 1 if price is None or before is None else _sign(price - before[0])
        out.append(
            Signal("halt", symbol, at, _day(at), price, direction, price_at, "halts", reason)
        )
        if resume is None or now < resume + RESUME_WAIT:
            continue
        start = resume - resume % HISTORY_BUCKET_OPEN
        after = found.price_samples(store, symbol, start, resume + RESUME_WAIT)
        then, then_at = (after[0][1], after[0][0]) if after else (None, None)
        way = 1 if then is None or price is None else _sign(then - price)
        out.append(
            Signal("resume", symbol, resume, _day(resume), then, way, then_at, "halts", reason)
        )
    return out


def from_filings(store: Store, now: float) -> list[Signal]:
    """SEC filings of the last `LOOKBACK` (none before the `filings` table exists)."""
    out = []
    for symbol, at, form, kind, accession in found.filings_since(store, now - LOOKBACK):
        if at > now or kind == "other":
            continue
        price, price_at = _priced(store, symbol, at)
        offering = kind == "offering"
        out.append(
            Signal(
                "offering" if offering else "catalyst",
                symbol,
                at,
                _day(at),
                price,
                -1 if offering else 1,
                price_at,
                "filings",
                f"{form} {accession}",
            )
        )
    return out


def from_gappers(
    store: Store, now: float, *, tiers: Sequence[str], min_price: float
) -> list[Signal]:
    """The pre-market's top gappers now (while it is pre-market), once a symbol a day."""
    if mh.session_at(datetime.fromtimestamp(now, mh.ET)) != Session.PRE:
        return []
    day = _day(now)
    seen = store.signal_keys(["gapper"], day)
    return [
        Signal(
            "gapper",
            g.row.symbol,
            now,
            day,
            g.row.price,
            _sign(g.gap_pct),
            now,
            "quotes",
            f"gap {g.gap_pct:+.1f}%",
        )
        for g in queries.gappers(store, tiers, min_price, now=now)
        if ("gapper", g.row.symbol) not in seen and g.row.price
    ]


def from_unusual(store: Store, now: float, *, ratio: float, min_volume: int) -> list[Signal]:
    """Each name's first unusual contract of the day (the biggest when several show at
    once), at the time it is first seen."""
    day = _day(now)
    seen = store.signal_keys(["unusual"], day)
    first: dict[str, dict[str, object]] = {}
    for row in queries.unusual_contracts(
        store, day, unusual_ratio=ratio, unusual_min_volume=min_volume, limit=1000
    ):
        first.setdefault(str(row["underlying"]), row)
    look = unusual_first_look_key(day)
    if store.get_meta(look) is None and queries.latest_cboe_day(store) == day:
        # The day's first look at the chains: an unusual contract it finds could have traded
        # at any time before, so its time orders nothing (`queries.lead`).
        (store.put_meta if store.conn.in_transaction else store.set_meta)(look, repr(now))
    out = []
    for symbol, row in first.items():
        if ("unusual", symbol) in seen:
            continue
        price, price_at = _priced(store, symbol, now)
        way = -1 if row["right"] == "P" else 1
        out.append(
            Signal(
                "unusual", symbol, now, day, price, way, price_at, "options", str(row["contract"])
            )
        )
    return out


def from_leads(store: Store, now: float) -> list[Signal]:
    """The day's options-led names known by `now`, once a name a day: a lead found again
    later (an earlier stored price of its run, say) keeps the first recorded."""
    day = _day(now)
    seen = store.signal_keys([LEAD_KIND], day)
    return [
        s for s in lead_signals(store, day) if s.at <= now and (LEAD_KIND, s.symbol) not in seen
    ]


def derive(
    store: Store,
    now: float,
    *,
    tiers: Sequence[str],
    min_price: float,
    unusual_ratio: float,
    unusual_min_volume: int,
) -> list[Signal]:
    """Every source's signals as of `now` (the market clock's Unix seconds), those already
    stored included (the store keeps each once). A source that fails is logged and left
    out; a database error propagates."""
    import sqlite3

    sources: list[tuple[str, Callable[[], list[Signal]]]] = [
        ("alerts", lambda: from_events(store, now)),
        ("halts", lambda: from_halts(store, now)),
        ("filings", lambda: from_filings(store, now)),
        ("gappers", lambda: from_gappers(store, now, tiers=tiers, min_price=min_price)),
        (
            "unusual",
            lambda: from_unusual(store, now, ratio=unusual_ratio, min_volume=unusual_min_volume),
        ),
        ("lead", lambda: from_leads(store, now)),
    ]
    out: list[Signal] = []
    for name, source in sources:
        try:
            # One without a price yet waits `PRICE_MAX_AGE` for one (stored then, priced or not).
            out.extend(x for x in source() if x.price is not None or now >= x.at + PRICE_MAX_AGE)
        except sqlite3.Error:
            raise
        except Exception:
            log.exception("deriving the %s signals failed", name)
    return out
