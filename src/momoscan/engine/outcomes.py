"""The collector's outcome job: record the signals momoscan raised (engine/signal_sources.py)
and measure what followed each (signals.py's `Outcome`), off the event loop on the store's
writer thread, every `EVERY` seconds of the market clock (never the wall's).

How a signal is measured (`measure`), from `quote_history` (the latest price seen in each
5-minute bucket of the regular session, 30 minutes outside it, keyed by the bucket's start):
- **+15 min, +1 h.** The price of the bucket holding the horizon's time, or of the first
  after it, at most `MAX_LATE` later; `age` is how far that bucket's start is from the
  horizon. None by then: unmeasured.
- **The close.** The last price of the first regular close after the signal (16:00 ET, 13:00
  on a half day), among the buckets from the signal's on; `age` how long before the close
  its bucket starts. **The next close**: the same for the session after that one.
- **Best and worst.** The most favourable and the most adverse move among the prices from
  the signal's bucket to the close; `age` the longest gap between two of those prices.
A horizon is pending until its time (plus `MAX_LATE` for the short ones) has passed; a
signal without a price is unmeasured at every horizon. A signal is final (never looked at
again) once nothing is pending.
"""

from __future__ import annotations

import itertools
import logging
from datetime import datetime

from .. import market_hours as mh
from ..queries import signals as found
from ..signals import (
    MEASURED,
    PENDING,
    UNMEASURED,
    Outcome,
    Signal,
    directed_move,
)
from ..store import HISTORY_BUCKET_OPEN, Store
from .context import RefreshReport, StepContext, owned
from .signal_sources import derive

log = logging.getLogger(__name__)

#: Market seconds between two runs of the job.
EVERY = 300.0
#: A +15 min or +1 h horizon takes a price at most this many seconds after its time.
MAX_LATE = 1800.0
#: Signals older than this (market seconds) are no longer measured (their next close has
#: long passed: whatever is not measured by then stays unmeasured).
OPEN_FOR = 10 * 86400.0
_SHORT = {"15m": 900.0, "1h": 3600.0}


def _closes(at: float) -> tuple[float, float, float]:
    """(the first regular close after `at`, the next session's open, its close), Unix s."""
    day = mh.current_trading_day(datetime.fromtimestamp(at, mh.ET))
    close = mh.session_bounds(day)[2].timestamp()
    while close <= at:
        day = mh.next_trading_day(day)
        close = mh.session_bounds(day)[2].timestamp()
    _, open2, close2, _ = mh.session_bounds(mh.next_trading_day(day))
    return close, open2.timestamp(), close2.timestamp()


def window(signal: Signal) -> tuple[float, float]:
    """The span of bucket starts `measure` reads for `signal`: [start, end) Unix seconds."""
    _, _, close2 = _closes(signal.at)
    return signal.at - signal.at % HISTORY_BUCKET_OPEN, close2


def measure(
    signal: Signal, samples: list[tuple[float, float]], now: float
) -> tuple[list[Outcome], bool]:
    """The outcomes of `signal` at `now` (the market clock, Unix seconds) from `samples`
    ((bucket start, price), oldest first, within `window(signal)`), and whether they are
    final (nothing pending)."""
    assert signal.id is not None
    sid = signal.id
    if signal.price is None or signal.price <= 0:
        horizons = ("15m", "1h", "close", "next_close", "best", "worst")
        return [Outcome(sid, h, UNMEASURED) for h in horizons], True
    p0, way = signal.price, signal.direction
    close, open2, close2 = _closes(signal.at)
    start = signal.at - signal.at % HISTORY_BUCKET_OPEN
    out: list[Outcome] = []

    def done(horizon: str, ts: float, price: float, age: float) -> None:
        move = round(directed_move(p0, price, way), 4)
        out.append(Outcome(sid, horizon, MEASURED, move, price, ts, round(age, 1)))

    for horizon, ahead in _SHORT.items():
        due = signal.at + ahead
        hit = next(
            ((ts, p) for ts, p in samples if due - HISTORY_BUCKET_OPEN < ts <= due + MAX_LATE),
            None,
        )
        if hit is not None:
            done(horizon, hit[0], hit[1], abs(hit[0] - due))
        else:
            out.append(Outcome(sid, horizon, PENDING if now < due + MAX_LATE else UNMEASURED))
    for horizon, begin, end in (("close", start, close), ("next_close", open2, close2)):
        last = [(ts, p) for ts, p in samples if begin <= ts < end]
        if now < end:
            out.append(Outcome(sid, horizon, PENDING))
        elif last:
            done(horizon, last[-1][0], last[-1][1], end - last[-1][0])
        else:
            out.append(Outcome(sid, horizon, UNMEASURED))
    path = [(ts, p) for ts, p in samples if start <= ts < close]
    if now < close:
        out += [Outcome(sid, "best", PENDING), Outcome(sid, "worst", PENDING)]
    elif not path:
        out += [Outcome(sid, "best", UNMEASURED), Outcome(sid, "worst", UNMEASURED)]
    else:
        times = [signal.at, *(ts for ts, _ in path), close]
        gap = max(b - a for a, b in itertools.pairwise(times))
        moves = [(directed_move(p0, p, way), ts, p) for ts, p in path]
        best, worst = max(moves), min(moves)
        done("best", best[1], best[2], gap)
        done("worst", worst[1], worst[2], gap)
    return out, all(o.status != PENDING for o in out)


def update(
    store: Store,
    *,
    now: float,
    tiers: list[str] | tuple[str, ...],
    min_price: float,
    unusual_ratio: float = 1.25,
    unusual_min_volume: int = 500,
) -> tuple[int, int]:
    """Record the signals raised up to `now` (the market clock, Unix seconds) and measure
    every open one, in one transaction; on the store's thread. Returns (new signals,
    signals measured)."""
    with store.transaction():
        new = store.record_signals(
            derive(
                store,
                now,
                tiers=tiers,
                min_price=min_price,
                unusual_ratio=unusual_ratio,
                unusual_min_volume=unusual_min_volume,
            )
        )
        outcomes: list[Outcome] = []
        final: list[int] = []
        opened = store.open_signals(now - OPEN_FOR)
        for signal in opened:
            if signal.at > now or signal.id is None:
                continue
            begin, end = window(signal)
            samples = found.price_samples(store, signal.symbol, begin, min(end, now + 1))
            measured, is_final = measure(signal, samples, now)
            outcomes += measured
            if is_final:
                final.append(signal.id)
        store.store_outcomes(outcomes, final)
    return new, len(opened)


class OutcomeStep:
    """Runs `update` after a cycle once `EVERY` market seconds have passed since the last
    run (the first cycle of a process runs it). A collector's only: viewers never run
    cycles. A failure is the report's line, never the cycle's end."""

    def __init__(self, ctx: StepContext):
        self.ctx = ctx
        self._last: float | None = None

    async def run(self, report: RefreshReport) -> None:
        now = self.ctx.clock.now().timestamp()
        # A clock set back (the demo started again) runs it at once too.
        if self._last is not None and 0 <= now - self._last < EVERY:
            return
        self._last = now
        settings = self.ctx.settings

        async def work() -> tuple[int, int]:
            return await self.ctx.store.call(
                update,
                now=now,
                tiers=tuple(settings.universe.cap_tiers),
                min_price=settings.universe.min_price,
                unusual_ratio=settings.options.unusual_volume_oi,
                unusual_min_volume=settings.options.unusual_min_volume,
            )

        done = await owned(report, "records", "outcomes", work)
        if done is not None:
            log.debug("outcomes: %d new signals, %d measured", *done)
