"""The demo's past: a simulated month before the demo's first day, written into a new demo
database so that the signals' track records (`momoscan.signals`) and the options-or-price
lead marks (`momoscan.lead`) have a history from the first screen.

Made where the simulated market runs (its own process, as `simulated.history` is), from the
market's own generator: each past day's minute paths are `_day_paths` of that day's stories
(`SimMarket.movers_for`), started from the day's seeded closes and scaled, as
`SimMarket.session_before` does, so that each day closes where the next one opens and the last
one closes at the demo's first day's previous closes (it is that day's `session_before`).

What is written, labelled simulated as the whole demo is (rows in the demo database only):
- the signals those days raised, as momoscan would have raised them from 5-minute looks (one
  look per `BUCKET` minutes, at each bucket's last minute): top-10 entrants of the largest
  moves and of share volume (a name in the top 10 now and not at the look before, not again
  within 30 minutes), the top pre-market gappers at 09:25, trading halts, the daily options
  top 10's NEW entrants (announced at the next session's open, at its opening price), and the
  first unusual option contract of an options-led story (below);
- the intraday history (`quote_history`, the regular session's 5-minute buckets, the price at
  each bucket's last minute and the session's volume so far) of every name with a signal that
  day, the day before or the day after: enough for every outcome horizon, the next close
  included;
- the daily options top 10 (`option_leaders`) of each past day, ranked as `leaders.rank_days`
  ranks OCC's files (the engine ranks its own backfill the same way).

Planted rates, so that a bench can compare the records it measures with the truth:
- `NEW_RUN_RATE` of the NEW options entrants get a run the next session (a `RUNNER` story of
  +7 to +30 % starting 09:35-10:30, the way their calls or puts pointed): "NEW options entrants
  that run >= 5 % by the close: about 40 %" (`PastTruth.new_runs` has them; `bench/record.py`
  compares the record with it);
- one options-led story a day: a mid or large cap with no other story runs +10 to +30 % from
  10:00-14:00, its options activity (its first unusual contract) starting `LED_MINUTES` (20-40)
  minutes before its run (`PlantedLead`). The past's watch set sees every name's chain; a live
  run sees a chain only for the names in its options watch set.

The columns cross the process boundary as `PastColumns` (the history as `history.Columns`,
a few bytes a row). The market's process makes them on a thread of its own (the requests it
serves go on meanwhile), and the app writes them a day at a time (`past_steps`). Measured on
the 2-core VM (docs/benchmarks.md, "The demo's past"): the built-in 630 names take 1.1-1.7 s
to make and 0.4-0.7 s to write and measure (864 signals, 114,000 rows of history, 1.4 MB
pickled, 4 MB of database); 8,000 names 17-19 s and 1.0-1.5 s (1,268 signals, 213,000 rows).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from .. import leaders as leader_rules
from .. import market_hours as mh
from .halts import SimHalt
from .history import Columns
from .market import (
    OPEN_MINUTE,
    RUNNER,
    Mover,
    SimMarket,
    _day_bounds,
    _day_paths,
    _seed,
    _tick_round,
)

if TYPE_CHECKING:
    from ..models import Leader
    from ..store import Store

#: Trading days of the past (about a month).
PAST_DAYS = 20
#: Minutes between two of the past's looks: the store's history bucket in the session.
BUCKET = 5
#: A name on a board within this many minutes is not announced for it again (as
#: `entrants.REANNOUNCE_AFTER`).
REANNOUNCE_MINUTES = 30
TOP = 10
#: Gappers: the top `TOP` pre-market moves of at least this (a fraction) at 09:25.
GAP_MIN = 0.03
#: A run in price: a move from the previous close of at least this (a fraction).
RUN_MOVE = 0.05
#: Planted: the share of NEW options entrants given a run the next session.
NEW_RUN_RATE = 0.4
#: Planted: how many minutes an options-led story's options activity starts before its run.
LED_MINUTES = (20, 40)
#: The leaders' window (`[options] lookback_days`' default).
LOOKBACK = 20
SOURCE = "simulated past"
GAP_MINUTE = 325  # 09:25 ET, minutes from 04:00

#: (kind, symbol, at (Unix seconds), day ISO, price (dollars), direction, detail)
SignalRow = tuple[str, str, float, str, float, int, str]


@dataclass(frozen=True, slots=True)
class PlantedLead:
    """An options-led story of the past: its options activity began at `options_at` (Unix
    seconds, the first minute its unusual contracts traded) and its price ran at `price_at`
    (the first minute its true path was `RUN_MOVE` from the previous close)."""

    symbol: str
    day: date
    options_at: float
    price_at: float

    @property
    def gap_s(self) -> float:
        """Seconds from the options activity to the price run (positive: options first)."""
        return self.price_at - self.options_at


@dataclass
class PastTruth:
    """The past's ground truth, for tests and `bench/record.py` (never the engine): every
    stock's minute path (`paths[(day, symbol)]`: float32 dollars, minute 0 at 04:00 ET, scaled
    as stored), the planted NEW runs (day, symbol) and the planted leads."""

    paths: dict[tuple[date, str], np.ndarray] = field(default_factory=dict)
    new_runs: set[tuple[date, str]] = field(default_factory=set)
    leads: list[PlantedLead] = field(default_factory=list)


@dataclass
class PastColumns:
    """What the market's process sends: `history` one `history.Columns` a day, `signals`
    rows (`SignalRow`), `leaders` each day's top 10 (ISO day, leaders), `days` the past's
    trading days (ISO, oldest first), `leads` the planted leads, `seconds` the time it took
    to make."""

    days: list[str]
    history: list[Columns]
    signals: list[SignalRow]
    leaders: list[tuple[str, list[Leader]]]
    leads: list[PlantedLead]
    seconds: float = 0.0


def _top(values: np.ndarray, eligible: np.ndarray, k: int = TOP) -> set[int]:
    """Indexes of the `k` largest of `values` among `eligible` (ties: lower index)."""
    idx = np.flatnonzero(eligible)
    if idx.size == 0:
        return set()
    vals = values[idx]
    if idx.size > k:
        part = np.argpartition(-vals, k - 1)[:k]
        return set(idx[part].tolist())
    return set(idx.tolist())


def _leaders_by_day(
    market: SimMarket, days: Sequence[date], tiers_only: frozenset[str]
) -> dict[date, list[Leader]]:
    """Each of `days`' options top 10 from the market's daily volumes, ranked as the engine
    ranks OCC's files by default (`[options] include_etfs` off: ETFs and indexes left out)."""
    span = mh.trading_days_before(days[0], LOOKBACK) + list(days)
    history: dict[date, dict[str, tuple[int, int, int]]] = {}
    products = frozenset(s.symbol for s in market.products)
    for d in span:
        totals, call_share = market.options_volumes(d)
        calls = np.round(totals * call_share)
        history[d] = {
            market.securities[i].symbol: (int(totals[i]), int(calls[i]), int(totals[i] - calls[i]))
            for i in np.flatnonzero(totals > 0).tolist()
        }
    return leader_rules.rank_days(days, history, products, tiers_only, LOOKBACK)


def _led_story(market: SimMarket, day: date, taken: set[int]) -> tuple[Mover, int] | None:
    """The day's planted options-led story: a mid or large cap with no other story that day
    runs +10 to +30 % over 10-30 minutes from 10:00-14:00 ET, its options activity (its first
    unusual contract) starting `LED_MINUTES` before the run starts; and those minutes. None
    when no name fits. Drawn from a stream of its own: no other draw of the market changes."""
    rng = np.random.default_rng(_seed(market.seed, day.toordinal(), "options-led"))
    fits = [
        i
        for i, s in enumerate(market.stocks)
        if s.cap_tier in ("mid", "large") and i not in taken and s.options_volume > 0
    ]
    if not fits:
        return None
    index = fits[int(rng.integers(0, len(fits)))]
    taken.add(index)
    story = Mover(
        index,
        math.log1p(float(rng.uniform(0.10, 0.30))),
        int(rng.integers(360, 600)),
        int(rng.integers(10, 31)),
        0.0,
        float(rng.uniform(4.0, 8.0)),
        kind=RUNNER,
    )
    return story, int(rng.integers(LED_MINUTES[0], LED_MINUTES[1] + 1))


def _new_runs(
    market: SimMarket, day: date, entrants: Sequence[Leader], taken: set[int]
) -> list[Mover]:
    """The planted runs of `day` for yesterday's NEW options entrants: each gets one with
    probability `NEW_RUN_RATE`, the way its calls or puts pointed."""
    rng = np.random.default_rng(_seed(market.seed, day.toordinal(), "new-runs"))
    out = []
    for leader in entrants:
        index = market.index.get(leader.underlying)
        draw = rng.random()
        size = float(rng.uniform(0.07, 0.30))
        start = int(rng.integers(335, 390))
        duration = int(rng.integers(15, 90))
        if index is None or index in taken or draw >= NEW_RUN_RATE:
            continue
        up = leader.calls >= leader.puts
        taken.add(index)
        out.append(
            Mover(
                index,
                math.log1p(size if up else -size * 0.8),
                start,
                duration,
                0.0,
                float(rng.uniform(3.0, 6.0)),
                kind=RUNNER,
            )
        )
    return out


def _scaled_day(
    market: SimMarket, day: date, movers: tuple[Mover, ...], target: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, float]]]:
    """`day`'s stocks' minute paths from its seeded closes, scaled to close at `target`
    (float64 [stocks]): (price float32 [stocks x minutes], cumulative volume float32, the
    scaled previous closes float64, halts as (symbol, Unix seconds))."""
    n = len(market.stocks)
    start = market._seeded_close(day)
    _, close_minute, end_minute = _day_bounds(day)
    halts: list[SimHalt] = []
    price = np.empty((n, end_minute), dtype=np.float32)
    volume = np.empty((n, end_minute), dtype=np.float32)
    ratio = np.ones(n, dtype=np.float64)
    for r0, r1, path, cum in _day_paths(
        market, day, start, close_minute, end_minute, movers, halts=halts
    ):
        if r0 >= n:
            continue
        r1 = min(r1, n)
        rows = path[: r1 - r0, :end_minute].astype(np.float64)
        ratio[r0:r1] = target[r0:r1] / rows[:, close_minute - 1]
        rows *= ratio[r0:r1, None]
        rows += (target[r0:r1] - rows[:, close_minute - 1])[:, None]
        price[r0:r1] = _tick_round(rows)
        volume[r0:r1] = cum[: r1 - r0, :end_minute]
    prev = start[:n] * ratio
    stops = [(h.symbol, h.halted_at.timestamp()) for h in halts]
    return price, volume, prev, stops


def make_past(
    market: SimMarket,
    tiers: Sequence[str],
    min_price: float,
    *,
    days: int = PAST_DAYS,
    truth: PastTruth | None = None,
) -> PastColumns:
    """The `days` trading days before the market's first day, as columns (see the module's
    docstring). `tiers` are the scan's cap tiers (`[universe] cap_tiers`) and `min_price` its
    floor (dollars): the boards the signals are judged on. With `truth`, the ground truth is
    filled in too (every stock's minute paths: for the bench, not the demo)."""
    import time

    began = time.perf_counter()
    first = market.first_day
    past = mh.trading_days_before(first, days)
    stocks = market.stocks
    n = len(stocks)
    symbols = [s.symbol for s in stocks]
    in_tiers = np.array([s.cap_tier in tiers for s in stocks])
    universe = frozenset(symbols)
    leaders = _leaders_by_day(market, past, universe)
    new_by_day = {d: [x for x in rows if x.is_new] for d, rows in leaders.items()}

    # Extra stories of each day: the planted runs of yesterday's NEW options entrants.
    extras: dict[date, list[Mover]] = {}
    planted_new: set[tuple[date, str]] = set()
    led_by_day: dict[date, tuple[Mover, int]] = {}
    for k, d in enumerate(past):
        taken = {mv.index for mv in market.movers_for(d)}
        runs = _new_runs(market, d, new_by_day.get(past[k - 1], []), taken) if k else []
        planted_new.update((d, symbols[mv.index]) for mv in runs)
        led = _led_story(market, d, taken)
        if led is not None:
            led_by_day[d] = led
            runs.append(led[0])
        extras[d] = runs

    signals: list[SignalRow] = []
    signalled: dict[date, set[int]] = {d: set() for d in past}
    planted_leads: list[PlantedLead] = []
    # Each day's 5-minute buckets (prices, session volumes: [stocks x buckets]); a day's
    # minute paths are dropped once its signals are found (20 days of 8,000 names' paths
    # would be 1.2 GB), kept for the truth only.
    buckets: dict[date, tuple[np.ndarray, np.ndarray]] = {}
    # Newest first: each day closes where the next one opened.
    target = market._seeded_close(first)[:n]
    for k in reversed(range(len(past))):
        d = past[k]
        movers = market.movers_for(d) + tuple(extras.get(d, ()))
        price, volume, prev, halts = _scaled_day(market, d, movers, target)
        target = prev
        buckets[d] = _buckets(d, price, volume)
        if truth is not None:
            for i in range(n):
                truth.paths[(d, symbols[i])] = price[i]
        base, close_minute, _ = _day_bounds(d)
        base_ts = base.timestamp()
        key = d.isoformat()

        def add(
            kind: str,
            i: int,
            minute: int,
            direction: int,
            detail: str = "",
            *,
            price: np.ndarray = price,
            base_ts: float = base_ts,
            key: str = key,
            mine: set[int] = signalled[d],
        ) -> None:
            at = base_ts + minute * 60.0
            signals.append((kind, symbols[i], at, key, float(price[i, minute]), direction, detail))
            mine.add(i)

        change = price / prev[:, None].astype(np.float32) - 1.0
        opened = volume[:, OPEN_MINUTE - 1]
        looks = list(range(OPEN_MINUTE + BUCKET - 1, close_minute, BUCKET))
        last_seen: dict[tuple[str, int], int] = {}
        before: dict[str, set[int]] = {}
        for minute in looks:
            ok = in_tiers & (price[:, minute] >= min_price)
            boards = {
                "movers": _top(np.abs(change[:, minute]), ok),
                "volume": _top(volume[:, minute] - opened, ok),
            }
            for board, now in boards.items():
                if board in before:
                    for i in sorted(now - before[board]):
                        seen = last_seen.get((board, i))
                        if seen is None or minute - seen >= REANNOUNCE_MINUTES:
                            direction = 1 if change[i, minute] >= 0 else -1
                            add(board, i, minute, direction)
                for i in now:
                    last_seen[(board, i)] = minute
                before[board] = now
        gap = change[:, GAP_MINUTE]
        gap_ok = in_tiers & (price[:, GAP_MINUTE] >= min_price) & (np.abs(gap) >= GAP_MIN)
        for i in sorted(_top(np.abs(gap), gap_ok)):
            add("gapper", i, GAP_MINUTE, 1 if gap[i] >= 0 else -1)
        index = {s: i for i, s in enumerate(symbols)}
        for symbol, at in halts:
            row = index.get(symbol)
            if row is not None and in_tiers[row]:
                minute = max(0, min(close_minute - 1, int((at - base_ts) // 60)))
                add("halt", row, minute, 1 if change[row, minute] >= 0 else -1)
        if k > 0:
            for leader in new_by_day.get(past[k - 1], []):
                row = index.get(leader.underlying)
                if row is not None:
                    way = 1 if leader.calls >= leader.puts else -1
                    add("options_new", row, OPEN_MINUTE, way)
        led = led_by_day.get(d)
        if led is not None and in_tiers[led[0].index]:
            mv, lead_minutes = led
            i = mv.index
            jump = mv.start - lead_minutes
            # The first look after its first unusual contract traded.
            look = next(m for m in looks if m >= jump)
            add("unusual", i, look, 1, "options-led (simulated)")
            ran = _run_minute(change, i, close_minute)
            if ran is not None:
                planted_leads.append(
                    PlantedLead(symbols[i], d, base_ts + jump * 60.0, base_ts + ran * 60.0)
                )

        del price, volume, change
    history: list[Columns] = []
    for k, d in enumerate(past):
        names = set(signalled[d])
        if k > 0:
            names |= signalled[past[k - 1]]
        if k + 1 < len(past):
            names |= signalled[past[k + 1]]
        history.append(_bucket_columns(d, sorted(names), symbols, *buckets[d]))
    if truth is not None:
        truth.new_runs |= planted_new
        truth.leads.extend(planted_leads)
    return PastColumns(
        days=[d.isoformat() for d in past],
        history=history,
        signals=sorted(signals, key=lambda s: (s[2], s[0], s[1])),
        leaders=[(d.isoformat(), rows) for d, rows in leaders.items()],
        leads=planted_leads,
        seconds=time.perf_counter() - began,
    )


def _run_minute(change: np.ndarray, i: int, close_minute: int) -> int | None:
    """The first session minute name `i`'s true path was at least `RUN_MOVE` from the
    previous close, either way; None if it never was."""
    moved = np.flatnonzero(np.abs(change[i, OPEN_MINUTE:close_minute]) >= RUN_MOVE)
    return OPEN_MINUTE + int(moved[0]) if moved.size else None


def _bucket_starts(day: date) -> range:
    """The minutes (from 04:00) each regular-session bucket of `day` starts at."""
    _, close_minute, _ = _day_bounds(day)
    return range(OPEN_MINUTE, close_minute - BUCKET + 1, BUCKET)


def _buckets(day: date, price: np.ndarray, volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every stock's regular-session buckets of `day`: the price at each bucket's last
    minute (float32 dollars) and the session's volume through it (int64 shares), each
    [stocks x buckets]."""
    ends = [s + BUCKET - 1 for s in _bucket_starts(day)]
    opened = volume[:, OPEN_MINUTE - 1]
    volumes = (volume[:, ends] - opened[:, None]).astype(np.int64)
    return price[:, ends].astype(np.float32), volumes


def _bucket_columns(
    day: date, rows: list[int], symbols: list[str], prices: np.ndarray, volumes: np.ndarray
) -> Columns:
    """`rows`' regular-session buckets of `day` (`_buckets`) as `history.Columns`."""
    if not rows:
        return [], [], b"", b""
    base, _, _ = _day_bounds(day)
    stamps = [int((base + timedelta(minutes=s)).timestamp()) for s in _bucket_starts(day)]
    sel = np.array(rows)
    by_bucket = np.ascontiguousarray(prices[sel].T, dtype=np.float32)
    vols = np.ascontiguousarray(volumes[sel].T, dtype=np.int64)
    names = [symbols[i] for i in rows]
    return names, stamps, by_bucket.tobytes(), vols.tobytes()


#: The `meta` key of a database whose past is written, and its value (`past_label`).
PAST_META = "demo_past"


def store_past(store: Store, past: PastColumns, label: str, *, now: float | None = None) -> int:
    """Write `past` into `store` (see `past_steps`) unless a past is written already (`meta`
    `PAST_META`). Returns the signals written (0 when a past was there already)."""
    if store.get_meta(PAST_META):
        return 0
    return sum(step(store) for step in past_steps(past, label, now=now))


def has_past(store: Store) -> bool:
    """Whether the database's past is written (`meta` `PAST_META`)."""
    return bool(store.get_meta(PAST_META))


def past_steps(
    past: PastColumns, label: str, *, now: float | None = None
) -> list[Callable[[Store], int]]:
    """The writes of `past`, each a function of the store to run on its thread (the one
    writer) and each short (tens of milliseconds), so that a cycle's writes go between them:
    a day at a time, its prices (and those of the days beside it: the previous close and the
    next close), its signals and its `lead` signals (`queries.lead.lead_signals`, read from
    what was just written), measured at once at `now` (the market clock's Unix seconds; not
    when None) as the outcome job measures (`measure_past`); last the daily options top 10
    and the mark `label` in `meta`. Every step can be done again (rows are kept once), so a
    run stopped half-way writes the rest next time. Each returns the signals it wrote."""
    by_day: dict[str, list[SignalRow]] = {key: [] for key in past.days}
    for row in past.signals:
        by_day.setdefault(row[3], []).append(row)
    steps: list[Callable[[Store], int]] = [
        functools.partial(_store_day, past=past, k=k, signals=by_day[key], now=now)
        for k, key in enumerate(past.days)
    ]
    steps.append(functools.partial(_store_end, past=past, label=label))
    return steps


def _store_day(
    store: Store, *, past: PastColumns, k: int, signals: list[SignalRow], now: float | None
) -> int:
    from ..queries.lead import lead_signals
    from ..signals import Signal
    from .history import expand

    # Each day's prices are written once, the day after's with each day; those of the day
    # before and of this day again only if the store's retention pruned them in between.
    history = past.history
    first = max(0, k - 1)
    if k > 0 and all(_stored(store, columns) for columns in history[first : k + 1]):
        first = k + 1
    near = history[first : k + 2]
    store.add_history([row for columns in near for row in expand(columns)])
    day = date.fromisoformat(past.days[k])
    rows = [
        Signal(
            kind=kind,
            symbol=symbol,
            at=at,
            day=day,
            price=price,
            direction=direction,
            price_at=at,
            source=SOURCE,
            detail=detail,
        )
        for kind, symbol, at, _, price, direction, detail in signals
    ]
    with store.transaction():
        written = store.record_signals(rows)
    leads = [dataclasses.replace(s, source=SOURCE) for s in lead_signals(store, day)]
    with store.transaction():
        written += store.record_signals(leads)
    if now is not None:
        measure_past(store, day, now)
    return written


def _stored(store: Store, columns: Columns) -> bool:
    """Whether the first row of `columns` is in the store (the day was not pruned)."""
    from ..queries.signals import price_before

    symbols, stamps, _, _ = columns
    if not symbols:
        return True
    return price_before(store, symbols[0], stamps[0], stamps[0] - 1) is not None


def _store_end(store: Store, *, past: PastColumns, label: str) -> int:
    from ..queries.options import leaders_history

    # The engine ranks the OCC days it backfills itself, with the user's settings (ETFs in or
    # out): a day it ranked already keeps its ranking.
    ranked = set(leaders_history(store, len(past.days) + LOOKBACK))
    for key, leaders in past.leaders:
        day = date.fromisoformat(key)
        if day not in ranked:
            store.store_leaders(day, leaders)
    store.set_meta(PAST_META, label)
    return 0


def measure_past(store: Store, day: date, now: float) -> int:
    """Measure the past's signals of `day` at once, as the collector's outcome job measures
    every signal (`engine.outcomes.measure`, from the stored prices), at `now` (the market
    clock, Unix seconds): the job looks back `engine.outcomes.OPEN_FOR` only, and the
    store's retention (`[store] history_days`) drops the older days' prices at its next
    prune. Returns the signals measured."""
    from ..engine.outcomes import measure, window
    from ..queries.signals import price_samples

    signals = [s for s in store.signals_of_day(day) if s.source == SOURCE and s.at <= now]
    outcomes = []
    final = []
    for signal in signals:
        if signal.id is None:
            continue
        begin, end = window(signal)
        samples = price_samples(store, signal.symbol, begin, min(end, now + 1))
        measured, is_final = measure(signal, samples, now)
        outcomes += measured
        if is_final:
            final.append(signal.id)
    with store.transaction():
        store.store_outcomes(outcomes, final)
    return len(signals)
