"""The simulated market: prices, volume and options activity on the simulation's own clock.

Everything is a deterministic function of the seed and the simulated time. Each trading day is
generated whole when the clock first reaches it (minute paths for every security, vectorised with
numpy: 8,000 securities take about a tenth of a second), then read at the clock's minute.

What makes it look like a real tape:
- log-normal minute paths with tier-dependent volatility, more of it after the open;
- overnight gaps, a few of them news-sized;
- a few runners a session (+15% to +80%, some from the pre-market, some breaking out mid-day,
  some fading) and a few sharp losers, with 5-20x relative volume;
- U-shaped intraday volume, light pre-market and after-hours trading;
- options volume per underlying that is heavy-tailed (index products and a handful of mega caps
  dominate), jumps on news days and on runners, and concentrates near the money and in the front
  expiries, with the odd block far above open interest.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from .. import market_hours as mh
from ..clock import MarketClock
from .universe import SimSecurity, build_stocks, option_products

PRE_MINUTE = 0  # 04:00 ET
OPEN_MINUTE = 330  # 09:30 ET
DAY_MINUTES = 960  # 04:00 -> 20:00

_TIER_VOL = {  # annualised volatility by cap tier
    "nano": 1.10,
    "micro": 0.85,
    "small": 0.60,
    "mid": 0.42,
    "large": 0.30,
    "mega": 0.26,
    "": 0.22,
}
_RUNNER_TIER_WEIGHT = {
    "nano": 2.0,
    "micro": 3.0,
    "small": 3.0,
    "mid": 2.0,
    "large": 0.7,
    "mega": 0.1,
    "": 0.0,
}
_SQRT_MINUTES = math.sqrt(252 * 390)


def _seed(*parts: int | str) -> list[int]:
    """A numpy seed sequence entropy list from mixed parts (strings hashed stably)."""
    out: list[int] = []
    for part in parts:
        if isinstance(part, str):
            out.append(int.from_bytes(part.encode()[:16].ljust(16, b"\0"), "little") % (2**63))
        else:
            out.append(int(part) % (2**63))
    return out


@dataclass(frozen=True, slots=True)
class Mover:
    """A security with a story today: a runner, a faller or a news gap."""

    index: int
    log_move: float  # total move in log space
    start: int  # minute (from 04:00) the move starts
    duration: int  # minutes the move takes
    fade: float  # share of the move given back later in the day
    rvol: float  # today's volume over normal


def _volume_profile(close_minute: int, end_minute: int) -> np.ndarray:
    """Share of a day's share volume traded in each minute (sums to 1): light pre-market rising
    into the open, U-shaped session, thin after-hours decaying from the close."""
    m = np.arange(DAY_MINUTES, dtype=np.float64)
    w = np.zeros(DAY_MINUTES)
    pre = m < OPEN_MINUTE
    w[pre] = 0.02 + 0.25 * np.exp((m[pre] - OPEN_MINUTE) / 60.0)
    session = (m >= OPEN_MINUTE) & (m < close_minute)
    s = m[session] - OPEN_MINUTE
    length = close_minute - OPEN_MINUTE
    w[session] = 1.0 + 3.5 * np.exp(-s / 22.0) + 2.2 * np.exp(-(length - s) / 18.0)
    after = (m >= close_minute) & (m < end_minute)
    w[after] = 0.03 + 0.6 * np.exp(-(m[after] - close_minute) / 20.0)
    # Pre-market about 4 % of the day, after hours about 5 %, the session the rest.
    w[pre] *= 0.04 / w[pre].sum()
    w[after] *= 0.05 / max(w[after].sum(), 1e-9)
    w[session] *= 0.91 / w[session].sum()
    return w


def _vol_profile(close_minute: int) -> np.ndarray:
    """Relative price volatility per minute: quiet outside the session, hot after the open."""
    m = np.arange(DAY_MINUTES, dtype=np.float64)
    v = np.full(DAY_MINUTES, 0.35)
    session = (m >= OPEN_MINUTE) & (m < close_minute)
    s = m[session] - OPEN_MINUTE
    v[session] = (
        0.8 + 1.6 * np.exp(-s / 30.0) + 0.4 * np.exp(-(close_minute - OPEN_MINUTE - s) / 30.0)
    )
    return v


def options_fraction(minute: float, close_minute: int) -> float:
    """Share of the day's options volume traded by `minute` (options trade in the session only)."""
    if minute <= OPEN_MINUTE:
        return 0.0
    if minute >= close_minute:
        return 1.0
    length = close_minute - OPEN_MINUTE
    s = minute - OPEN_MINUTE

    # Integral of a U shape 1 + 2.5 e^(-s/25) + 1.5 e^(-(L-s)/25), normalised.
    def cum(x: float) -> float:
        return (
            x
            + 62.5 * (1 - math.exp(-x / 25))
            + 37.5 * (math.exp(-(length - x) / 25) - math.exp(-length / 25))
        )

    return cum(s) / cum(length)


class SimDay:
    """One simulated trading day: minute paths of price and cumulative volume."""

    def __init__(self, market: SimMarket, day: date, prev_close: np.ndarray):
        self.day = day
        self.market = market
        _, _, close_at, end_at = mh.session_bounds(day)
        base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
        self.base = base
        self.close_minute = int((close_at - base).total_seconds() // 60)
        self.end_minute = int((end_at - base).total_seconds() // 60)
        secs = market.securities
        n = len(secs)
        rng = np.random.default_rng(_seed(market.seed, day.toordinal(), "paths"))
        self.prev_close = prev_close.astype(np.float64)

        sigma = (
            np.array(
                [
                    _TIER_VOL.get(s.cap_tier, 0.3)
                    if s.kind == "stock"
                    else (0.2 if s.symbol != "VIX" else 0.9)
                    for s in secs
                ]
            )
            / _SQRT_MINUTES
        )
        steps = rng.standard_normal((n, DAY_MINUTES), dtype=np.float32)
        steps *= (sigma[:, None] * _vol_profile(self.close_minute)[None, :]).astype(np.float32)
        # Overnight: an ordinary gap for everyone, applied at the first pre-market minute.
        steps[:, 0] += (rng.standard_normal(n) * sigma * 20).astype(np.float32)
        # Nothing trades after the after-hours end (early-close days end at 17:00).
        steps[:, self.end_minute :] = 0.0
        log_path = np.cumsum(steps, axis=1, dtype=np.float32)

        rvol = np.exp(rng.normal(0.0, 0.3, n))
        self.movers = market.movers_for(day)
        minutes = np.arange(DAY_MINUTES, dtype=np.float64)
        extra_volume = np.zeros((len(self.movers), DAY_MINUTES))
        for k, mv in enumerate(self.movers):
            center = mv.start + mv.duration / 2
            ramp = 1.0 / (1.0 + np.exp(-(minutes - center) / max(mv.duration / 8, 1.0)))
            component = mv.log_move * ramp
            if mv.fade:
                fade_center = mv.start + mv.duration + 60
                component -= mv.log_move * mv.fade / (1.0 + np.exp(-(minutes - fade_center) / 20.0))
            component[self.end_minute :] = component[self.end_minute - 1]
            log_path[mv.index] += component.astype(np.float32)
            rvol[mv.index] = mv.rvol
            density = np.exp(-0.5 * ((minutes - center) / max(mv.duration / 2, 5.0)) ** 2)
            density[self.end_minute :] = 0.0
            extra_volume[k] = density / density.sum()

        price = np.exp(log_path, dtype=np.float32) * self.prev_close[:, None].astype(np.float32)
        # Tick size: a cent above $1, a hundredth of a cent below.
        self.price = np.where(price >= 1.0, np.round(price, 2), np.round(price, 4)).astype(
            np.float32
        )

        avg = np.array([s.avg_volume for s in secs], dtype=np.float64)
        self.avg_volume = avg
        total = avg * rvol
        profile = _volume_profile(self.close_minute, self.end_minute)
        noise = rng.gamma(4.0, 0.25, (n, DAY_MINUTES)).astype(np.float32)
        per_minute = (total[:, None] * profile[None, :]).astype(np.float32) * noise
        for k, mv in enumerate(self.movers):
            # Half a runner's volume comes with its move.
            per_minute[mv.index] *= 0.5
            per_minute[mv.index] += (0.5 * total[mv.index] * extra_volume[k]).astype(np.float32)
        self.cum_volume = np.cumsum(per_minute, axis=1, dtype=np.float64).astype(np.float32)
        self.open_index = OPEN_MINUTE

    def minute_of(self, at: datetime) -> int:
        """The last completed minute index at `at`, clipped to the day."""
        minutes = int((at - self.base).total_seconds() // 60)
        return max(0, min(DAY_MINUTES - 1, minutes))

    def at_minute(self, minute: int) -> datetime:
        return self.base + timedelta(minutes=minute)

    def last_price(self) -> np.ndarray:
        """The regular session's close (16:00, 13:00 on half days): the next day's previous
        close, as every quote and chain reckons it (after-hours trades do not move it)."""
        return self.price[:, self.close_minute - 1].astype(np.float64)


class SimMarket:
    """The whole simulated market. Thread-safe for reads once a day is built (numpy arrays are
    only replaced, never mutated); `day_for` builds days under the GIL in one call."""

    def __init__(self, seed: int, size: int, clock: MarketClock, *, start_day: date | None = None):
        self.seed = seed
        self.clock = clock
        self.stocks = build_stocks(size, seed)
        self.products = list(option_products())
        self.securities: list[SimSecurity] = self.stocks + self.products
        self.index = {s.symbol: i for i, s in enumerate(self.securities)}
        self.ref_price = np.array([s.price for s in self.securities], dtype=np.float64)
        first = start_day or mh.last_trading_day(clock.now().astimezone(mh.ET).date())
        self.first_day = first if mh.is_trading_day(first) else mh.last_trading_day(first)
        self._days: dict[date, SimDay] = {}
        self._aside: SimDay | None = None  # a day before the first, for `session_before`
        self._aside_lock = threading.Lock()
        self._options_base = np.array(
            [max(s.options_volume, 0) for s in self.securities], dtype=np.float64
        )

    # -- days --------------------------------------------------------------------------------

    def trading_day_at(self, at: datetime) -> tuple[date, bool]:
        """The trading day whose data is current at `at`, and whether `at` falls in it (from
        04:00 on); otherwise the data is that day's final state."""
        day = mh.current_trading_day(at)
        return day, day == at.astimezone(mh.ET).date()

    def day_for(self, day: date) -> SimDay:
        """The simulated day `day`, building it (and any days between) on first use."""
        if day in self._days:
            return self._days[day]
        if day <= self.first_day:
            # The first simulated day (or an earlier one asked for by a backfill) starts from
            # the reference prices moved by a seeded random walk, so that every day differs.
            rng = np.random.default_rng(_seed(self.seed, day.toordinal(), "prev"))
            prev = self.ref_price * np.exp(rng.normal(0.0, 0.04, len(self.securities)))
            prev = np.where(prev >= 1.0, np.round(prev, 2), np.round(prev, 4))
        else:
            prev = self.day_for(mh.previous_trading_day(day)).last_price()
        built = SimDay(self, day, prev)
        # Keep the current day and the one before (for a chain's previous close).
        keep = {day, mh.previous_trading_day(day)}
        self._days = {d: v for d, v in self._days.items() if d in keep}
        self._days[day] = built
        return built

    def session_before(self, day: date) -> SimDay:
        """The trading day before `day` as it ended, consistent with `day`'s previous closes.

        That is the simulated day itself once `day` was built from it. Before the first simulated
        day there is none, so one is simulated aside (the market's day cache is left as it is)
        and scaled to end at `day`'s previous closes.
        """
        prev = mh.previous_trading_day(day)
        target = self.day_for(day).prev_close
        built = self._days.get(prev)
        if built is not None and np.array_equal(built.last_price(), target):
            return built
        with self._aside_lock:
            aside = self._aside
            if aside is not None and aside.day == prev:
                return aside
            rng = np.random.default_rng(_seed(self.seed, prev.toordinal(), "prev"))
            start = self.ref_price * np.exp(rng.normal(0.0, 0.04, len(self.securities)))
            start = np.where(start >= 1.0, np.round(start, 2), np.round(start, 4))
            aside = SimDay(self, prev, start)
            ratio = target / aside.last_price()
            price = aside.price.astype(np.float64) * ratio[:, None]
            price += (target - price[:, aside.close_minute - 1])[:, None]
            aside.price = np.where(price >= 1.0, np.round(price, 2), np.round(price, 4)).astype(
                np.float32
            )
            aside.prev_close = aside.prev_close * ratio
            self._aside = aside
            return aside

    def now_state(self) -> tuple[SimDay, int, datetime]:
        """The day, minute index and simulated time of 'now' on the market clock."""
        now = self.clock.now()
        day, started = self.trading_day_at(now)
        sim_day = self.day_for(day)
        minute = sim_day.minute_of(now) if started else DAY_MINUTES - 1
        return sim_day, minute, now

    # -- stories -----------------------------------------------------------------------------

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one market per process, bounded cache
    def movers_for(self, day: date) -> tuple[Mover, ...]:
        """Today's runners, fallers and news gaps: a deterministic function of seed and day."""
        rng = np.random.default_rng(_seed(self.seed, day.toordinal(), "movers"))
        n_stocks = len(self.stocks)
        weights = np.array([_RUNNER_TIER_WEIGHT.get(s.cap_tier, 0.0) for s in self.stocks])
        if weights.sum() == 0:
            return ()
        weights = weights / weights.sum()
        n_runners = max(3, round(n_stocks * 0.009))
        n_fallers = max(2, round(n_stocks * 0.004))
        n_gaps = max(3, round(n_stocks * 0.012))
        picks = rng.choice(
            n_stocks, size=min(n_stocks, n_runners + n_fallers + n_gaps), replace=False, p=weights
        )
        movers: list[Mover] = []
        for k, index in enumerate(picks.tolist()):
            if k < n_runners:
                gain = rng.uniform(0.15, 0.80)
                premarket = rng.random() < 0.4
                start = int(rng.integers(120, 300)) if premarket else int(rng.integers(335, 620))
                movers.append(
                    Mover(
                        index,
                        math.log1p(gain),
                        start,
                        int(rng.integers(15, 120)),
                        float(rng.choice([0.0, 0.0, 0.2, 0.35])),
                        float(rng.uniform(5.0, 20.0)),
                    )
                )
            elif k < n_runners + n_fallers:
                loss = rng.uniform(0.10, 0.35)
                start = int(rng.choice([int(rng.integers(200, 330)), int(rng.integers(335, 650))]))
                movers.append(
                    Mover(
                        index,
                        math.log1p(-loss),
                        start,
                        int(rng.integers(5, 60)),
                        0.0,
                        float(rng.uniform(3.0, 8.0)),
                    )
                )
            else:
                size = rng.uniform(0.03, 0.12) * rng.choice([-1.0, 1.0])
                movers.append(
                    Mover(
                        index,
                        math.log1p(size),
                        int(rng.integers(150, 320)),
                        10,
                        0.0,
                        float(rng.uniform(1.8, 4.5)),
                    )
                )
        return tuple(movers)

    # -- options activity --------------------------------------------------------------------

    def options_volumes(self, day: date) -> tuple[np.ndarray, np.ndarray]:
        """(total contracts, call share) per security for the whole of `day`."""
        rng = np.random.default_rng(_seed(self.seed, day.toordinal(), "options"))
        n = len(self.securities)
        noise = np.exp(rng.normal(0.0, 0.28, n))
        news = rng.random(n) < 0.005
        spike = np.where(news, rng.uniform(2.0, 6.0, n), 1.0)
        call_share = np.clip(0.56 + rng.normal(0.0, 0.06, n), 0.2, 0.85)
        for mv in self.movers_for(day):
            spike[mv.index] = max(spike[mv.index], mv.rvol * 0.8)
            call_share[mv.index] = 0.72 if mv.log_move > 0 else 0.35
        # A name without listed options gains none from news.
        total = np.round(self._options_base * noise * spike)
        return total, call_share

    def trading_days_published(self, now: datetime) -> date:
        """The newest day OCC would have published at `now` (it publishes the next day)."""
        return mh.previous_trading_day(now.astimezone(mh.ET).date())
