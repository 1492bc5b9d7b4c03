"""The simulated market: prices, volume and options activity on the simulation's own clock.

Everything is a deterministic function of the seed and the simulated time. Each trading day is
generated when the clock first reaches it (minute paths for every security, vectorised with
numpy in blocks of a few hundred securities: 8,000 securities take under a second), then read
at the clock's minute. Only one day's paths are kept (float32, 123 MB at 16,000 securities);
a finished day is kept as its session's bar, which is all a quote or chain asks of it.

What makes it look like a real tape:
- log-normal minute paths with tier-dependent volatility, more of it after the open;
- overnight gaps, a few of them news-sized;
- a few stories a session, each with 5-20x relative volume: runners that build (their volume
  comes before the move), news jumps at any minute (the volume comes with the move), pre-market
  gappers that keep running after the open, slow grinders, false starts that fade, sympathy
  moves of a runner's sector peers, sharp fallers (see `SimMarket.movers_for`);
- a knob (`runners="surprise"`) where every story is a jump from a name with no prior signal:
  any tier, no volume or options activity before it, no pre-market hint, no peers;
- U-shaped intraday volume, light pre-market and after-hours trading;
- options volume per underlying that is heavy-tailed (index products and a handful of mega caps
  dominate), jumps on news days and on runners, and concentrates near the money and in the front
  expiries, with the odd block far above open interest.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from .. import market_hours as mh
from ..clock import MarketClock
from .halts import OPENER_NEWS_MINUTE, SimHalt, apply_halts, fall_minutes, plan_news_halts
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


#: The kinds of story `SimMarket.movers_for` plants.
RUNNER = "runner"  # builds over 15-120 minutes, its volume first; some fade later
NEWS = "news"  # a jump within a few minutes at any time of day; the volume comes with it
GAPPER = "gapper"  # gaps on pre-market news, then runs again after the open
GRINDER = "grinder"  # a slow, steady climb over hours
FALSE_START = "false_start"  # a quick pop that fades back within the hour
FALLER = "faller"  # a sharp drop
GAP = "gap"  # a small pre-market news gap (3-12 %), up or down
SYMPATHY = "sympathy"  # a runner's sector peer, following it minutes later with less
STORY_KINDS = (RUNNER, NEWS, GAPPER, GRINDER, FALSE_START, FALLER, GAP, SYMPATHY)
#: `SimMarket(runners=...)`: the realistic mix, or jumps from names with no prior signal.
RUNNER_MODES = ("mixed", "surprise")


@dataclass(frozen=True, slots=True)
class Mover:
    """A security with a story today (see `SimMarket.movers_for`).

    Its move is one or two legs in log space, each a sigmoid: the first starts at `start`
    (minutes from 04:00 ET) and takes about `duration` minutes; a gapper's second leg
    (`second`, after the open) starts at `second_start`. `fade` is the share of the first leg
    given back, centred `fade_after` minutes after it ends and taking about `fade_minutes`.
    `rvol` is the day's volume over normal; with `precursor` half of that volume builds up
    before and during the move (a name being accumulated), without it the volume comes with
    the move and after it (news nobody saw coming)."""

    index: int
    log_move: float  # the first leg's move in log space
    start: int  # minute (from 04:00) the move starts
    duration: int  # minutes the move takes
    fade: float  # share of the move given back later in the day
    rvol: float  # today's volume over normal
    kind: str = RUNNER
    fade_after: int = 60
    fade_minutes: float = 20.0
    second: float = 0.0
    second_start: int = 0
    second_duration: int = 0
    precursor: bool = True
    leader: int = -1  # a sympathy move's leader (an index into the securities), else -1
    #: An options-led story's: the minute its unusual option contracts trade, before the
    #: move (`simulated.options.options_led_story`); else -1.
    options_minute: int = -1

    @property
    def peak_log_move(self) -> float:
        """Both legs in log space: the planted move at its fullest."""
        return self.log_move + self.second


@dataclass(frozen=True, slots=True)
class PlantedMove:
    """The ground truth of one planted story, for tests and benchmarks (never the engine).

    `size_pct` is the planted move at its fullest, in percent of the price it started from
    (both of a gapper's legs; before any fade); `start` is the minute the move begins, on
    the market's clock, and `duration` about how long its (first) leg takes; `leader` is
    the symbol a sympathy move follows ("" otherwise)."""

    symbol: str
    kind: str
    direction: int  # +1 up, -1 down
    size_pct: float
    start: datetime
    minute: int  # `start` in minutes from 04:00 ET
    duration: int  # minutes the (first) move takes
    precursor: bool  # volume built before the move (a signal a scanner could read)
    leader: str = ""


def _heavy_tail(rng: np.random.Generator, least: float, alpha: float, most: float) -> float:
    """A story's size (a fraction): Pareto from `least` with tail index `alpha`, capped at
    `most`. Most stories are modest and a few are huge, as on a real tape (with alpha 1.8
    from 15 %, half the runners stay under 22 % and one in nine passes 50 %)."""
    return float(min(most, least * (1.0 - rng.random()) ** (-1.0 / alpha)))


def _leg(minutes: np.ndarray, log_move: float, start: int, duration: int) -> np.ndarray:
    """One sigmoid leg of a move: 2 % of the way at `start`, all of it about `duration`
    minutes later (a few minutes of news is nearly a step)."""
    center = start + duration / 2
    scale = max(duration / 8, 0.25)
    # Clipped: a step-like leg's exponent would overflow far from its centre.
    return log_move / (1.0 + np.exp(np.clip(-(minutes - center) / scale, -60.0, 60.0)))


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


def _story_volume(mv: Mover, minutes: np.ndarray) -> np.ndarray:
    """When a story's extra volume trades (unnormalised weights per minute): around the move,
    starting well before it when it has a precursor; from the move on when it is news."""
    center = mv.start + mv.duration / 2
    if mv.precursor:
        density = np.exp(-0.5 * ((minutes - center) / max(mv.duration / 2, 5.0)) ** 2)
    else:
        after = np.maximum(minutes - mv.start, 0.0)
        density = np.where(minutes >= mv.start, np.exp(-after / max(mv.duration, 30.0)), 0.0)
    if mv.second:
        second_center = mv.second_start + mv.second_duration / 2
        spread = max(mv.second_duration / 2, 5.0)
        leg = np.exp(-0.5 * ((minutes - second_center) / spread) ** 2)
        density = density / max(density.sum(), 1e-9) + leg / leg.sum()
    return density


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


#: Securities per block of a day's build: its temporaries stay at a few MB whatever the size
#: of the universe (a whole day's float64 intermediates at 16,000 securities took over 600 MB).
BLOCK_ROWS = 256

#: Finished days kept as their session's bar (a few arrays a security), newest last.
CLOSED_DAYS_KEPT = 8

Rows = int | slice | list[int] | np.ndarray


def _day_bounds(day: date) -> tuple[datetime, int, int]:
    """04:00 ET on `day`, and the minutes (from 04:00) of its close and of its after-hours end."""
    _, _, close_at, end_at = mh.session_bounds(day)
    base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
    close_minute = int((close_at - base).total_seconds() // 60)
    end_minute = int((end_at - base).total_seconds() // 60)
    return base, close_minute, end_minute


def _tick_round(price: np.ndarray) -> np.ndarray:
    """Prices on the tick (a cent above $1, a hundredth of a cent below), float32."""
    return np.where(price >= 1.0, np.round(price, 2), np.round(price, 4)).astype(np.float32)


def _day_paths(
    market: SimMarket,
    day: date,
    prev_close: np.ndarray,
    close_minute: int,
    end_minute: int,
    movers: tuple[Mover, ...],
    block: int = BLOCK_ROWS,
    halts: list[SimHalt] | None = None,
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """A day's minute paths, `block` securities at a time: (first row, end row, price, cum_volume).

    Each block's price (dollars, on the tick) and cumulative share volume (from 04:00) are
    float32 [rows x DAY_MINUTES]. Bit for bit what one whole-universe pass gives: the random
    draws are taken in the same order from the same stream. The step normals come first in
    that stream, then the overnight gaps and relative volumes, then the volume noise; the
    normals are drawn twice (a pass that only moves the stream past them, then the blocks'
    own from a copy of the generator), so nothing of the universe's size is held at once.

    With `halts`, the day's trading halts are found, held flat in the paths and added to it
    (`simulated.halts`): the halts draw from streams of their own, so the paths outside the
    halts are the same either way.
    """
    secs = market.securities
    n = len(secs)
    rng = np.random.default_rng(_seed(market.seed, day.toordinal(), "paths"))
    steps_rng = np.random.Generator(type(rng.bit_generator)())
    steps_rng.bit_generator.state = rng.bit_generator.state
    for r0 in range(0, n, block):
        rng.standard_normal((min(block, n - r0), DAY_MINUTES), dtype=np.float32)

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
    vol_profile = _vol_profile(close_minute)
    # Overnight: an ordinary gap for everyone, applied at the first pre-market minute.
    gap = (rng.standard_normal(n) * sigma * 20).astype(np.float32)
    rvol = np.exp(rng.normal(0.0, 0.3, n))

    minutes = np.arange(DAY_MINUTES, dtype=np.float64)
    components: list[np.ndarray] = []
    densities: list[np.ndarray] = []
    for mv in movers:
        component = _leg(minutes, mv.log_move, mv.start, mv.duration)
        if mv.fade:
            fade_center = mv.start + mv.duration + mv.fade_after
            component -= (
                mv.log_move * mv.fade / (1.0 + np.exp(-(minutes - fade_center) / mv.fade_minutes))
            )
        if mv.second:
            component += _leg(minutes, mv.second, mv.second_start, mv.second_duration)
        component[end_minute:] = component[end_minute - 1]
        components.append(component.astype(np.float32))
        rvol[mv.index] = mv.rvol
        density = _story_volume(mv, minutes)
        density[end_minute:] = 0.0
        densities.append(density / density.sum())

    avg = np.array([s.avg_volume for s in secs], dtype=np.float64)
    total = avg * rvol
    profile = _volume_profile(close_minute, end_minute)
    # Half a story's volume comes with its move.
    extras = [
        (0.5 * total[mv.index] * density).astype(np.float32)
        for mv, density in zip(movers, densities, strict=True)
    ]
    prev32 = prev_close.astype(np.float32)
    base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
    news = (
        plan_news_halts(market.seed, day, movers, OPEN_MINUTE, close_minute)
        if halts is not None
        else {}
    )

    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        mine = [k for k, mv in enumerate(movers) if r0 <= mv.index < r1]
        steps = steps_rng.standard_normal((r1 - r0, DAY_MINUTES), dtype=np.float32)
        steps *= (sigma[r0:r1, None] * vol_profile[None, :]).astype(np.float32)
        steps[:, 0] += gap[r0:r1]
        # Nothing trades after the after-hours end (early-close days end at 17:00).
        steps[:, end_minute:] = 0.0
        log_path = np.cumsum(steps, axis=1, dtype=np.float32)
        del steps
        for k in mine:
            log_path[movers[k].index - r0] += components[k]
        price = np.exp(log_path, dtype=np.float32)
        del log_path
        price *= prev32[r0:r1, None]
        price = _tick_round(price)

        noise = rng.gamma(4.0, 0.25, (r1 - r0, DAY_MINUTES)).astype(np.float32)
        per_minute = (total[r0:r1, None] * profile[None, :]).astype(np.float32)
        per_minute *= noise
        del noise
        for k in mine:
            row = movers[k].index - r0
            per_minute[row] *= 0.5
            per_minute[row] += extras[k]
        cum_volume = np.cumsum(per_minute, axis=1, dtype=np.float64).astype(np.float32)
        del per_minute
        if halts is not None:
            halts += apply_halts(
                price, cum_volume, r0, secs, base, OPEN_MINUTE, close_minute, news, market.seed
            )
        yield r0, r1, price, cum_volume


class _DayMinutes:
    """Minute indexes of one trading day: minute 0 at 04:00 ET (`base`)."""

    base: datetime

    def minute_of(self, at: datetime) -> int:
        """The last completed minute index at `at`, clipped to the day."""
        minutes = int((at - self.base).total_seconds() // 60)
        return max(0, min(DAY_MINUTES - 1, minutes))

    def at_minute(self, minute: int) -> datetime:
        """The start of minute `minute` (an aware datetime, ET)."""
        return self.base + timedelta(minutes=minute)


class SimDay(_DayMinutes):
    """One simulated trading day: minute paths of price and cumulative volume.

    Attributes:
        price: float32 [securities x DAY_MINUTES], dollars on the tick, minute 0 at 04:00 ET.
        cum_volume: float32 [securities x DAY_MINUTES], shares traded from 04:00 through each
            minute.
        prev_close: float64 [securities], dollars: the previous session's close.
        avg_volume: float64 [securities], shares: each security's normal day.
        movers: the day's stories (`SimMarket.movers_for`).
        halts: the day's trading halts, already held flat in the paths (`simulated.halts`).

    At 16,000 securities the two paths take 123 MB (float32 is exact enough: prices are
    rounded to the cent, 1/100 cent below $1, well inside float32's 7 digits for any price
    the market quotes). A market keeps one `SimDay` at a time; finished days are kept as
    their session's bar (`ClosedDay`).
    """

    def __init__(self, market: SimMarket, day: date, prev_close: np.ndarray):
        self.day = day
        self.market = market
        self.base, self.close_minute, self.end_minute = _day_bounds(day)
        self.prev_close = prev_close.astype(np.float64)
        self.movers = market.movers_for(day)
        n = len(market.securities)
        self.price = np.empty((n, DAY_MINUTES), dtype=np.float32)
        self.cum_volume = np.empty((n, DAY_MINUTES), dtype=np.float32)
        self.avg_volume = np.array([s.avg_volume for s in market.securities], dtype=np.float64)
        self.halts: list[SimHalt] = []
        blocks = _day_paths(
            market,
            day,
            self.prev_close,
            self.close_minute,
            self.end_minute,
            self.movers,
            halts=self.halts,
        )
        for r0, r1, price, cum_volume in blocks:
            self.price[r0:r1] = price
            self.cum_volume[r0:r1] = cum_volume
        self.halts.sort(key=lambda h: h.halted_at)
        self.open_index = OPEN_MINUTE
        self._fall: np.ndarray | None = None

    def fall_minutes(self) -> np.ndarray:
        """The first session minute each security traded 10 % or more below its previous
        close (a Rule 201 trigger), or -1: int32 [securities]."""
        if self._fall is None:
            self._fall = fall_minutes(self.price, self.prev_close, OPEN_MINUTE, self.close_minute)
        return self._fall

    def last_price(self) -> np.ndarray:
        """The regular session's close (16:00, 13:00 on half days): the next day's previous
        close, as every quote and chain reckons it (after-hours trades do not move it).
        float64 [securities], dollars."""
        return self.price[:, self.close_minute - 1].astype(np.float64)

    def price_at(self, rows: Rows, minute: int) -> np.ndarray:
        """float32 prices (dollars) of `rows` at `minute`."""
        return self.price[rows, minute]

    def cum_volume_at(self, rows: Rows, minute: int) -> np.ndarray:
        """float32 shares traded by `rows` from 04:00 through `minute`."""
        return self.cum_volume[rows, minute]

    def high_low(self, rows: Rows, minute: int) -> tuple[np.ndarray, np.ndarray]:
        """float32 (high, low) of `rows` over the regular session from the open through
        `minute` (at least `OPEN_MINUTE`)."""
        segment = self.price[rows, OPEN_MINUTE : minute + 1]
        return segment.max(axis=-1), segment.min(axis=-1)


class ClosedDay(_DayMinutes):
    """A finished trading day, as much of it as anyone asks of a past session: its regular
    session's bar at the close (16:00 or 13:00, minute `close_minute - 1`) and at the first
    after-hours minute (`close_minute`, where Cboe's evening file stands), a few float32
    arrays a security instead of two [securities x DAY_MINUTES] paths.

    Answers `price_at`, `cum_volume_at` and `high_low` exactly as the `SimDay` it came from
    did, for the open, the minute before the open (volume) and those two minutes; any other
    minute raises ValueError.
    """

    def __init__(
        self,
        day: date,
        prev_close: np.ndarray,
        blocks: Iterable[tuple[int, int, np.ndarray, np.ndarray]],
        n: int,
    ):
        self.day = day
        self.base, self.close_minute, self.end_minute = _day_bounds(day)
        self.open_index = OPEN_MINUTE
        self.prev_close = prev_close.astype(np.float64)
        kept = (self.close_minute - 1, self.close_minute)

        def empty() -> np.ndarray:
            return np.empty(n, dtype=np.float32)

        self._price = {m: empty() for m in (OPEN_MINUTE, *kept)}
        self._cum = {m: empty() for m in (OPEN_MINUTE - 1, *kept)}
        self._high = {m: empty() for m in kept}
        self._low = {m: empty() for m in kept}
        self._fall = np.full(n, -1, dtype=np.int32)
        for r0, r1, price, cum_volume in blocks:
            self._fall[r0:r1] = fall_minutes(
                price, self.prev_close[r0:r1], OPEN_MINUTE, self.close_minute
            )
            for m, out in self._price.items():
                out[r0:r1] = price[:, m]
            for m, out in self._cum.items():
                out[r0:r1] = cum_volume[:, m]
            for m in kept:
                segment = price[:, OPEN_MINUTE : m + 1]
                self._high[m][r0:r1] = segment.max(axis=1)
                self._low[m][r0:r1] = segment.min(axis=1)

    def fall_minutes(self) -> np.ndarray:
        """As `SimDay.fall_minutes`."""
        return self._fall

    @classmethod
    def of(cls, full: SimDay) -> ClosedDay:
        """`full`'s bar, its paths left to be freed."""
        n = full.price.shape[0]
        return cls(full.day, full.prev_close, [(0, n, full.price, full.cum_volume)], n)

    def last_price(self) -> np.ndarray:
        """The regular session's close, float64 [securities], dollars (as `SimDay`'s)."""
        return self._price[self.close_minute - 1].astype(np.float64)

    @staticmethod
    def _kept(table: dict[int, np.ndarray], minute: int) -> np.ndarray:
        try:
            return table[minute]
        except KeyError:
            raise ValueError(f"a closed day keeps minutes {sorted(table)}, not {minute}") from None

    def price_at(self, rows: Rows, minute: int) -> np.ndarray:
        return self._kept(self._price, minute)[rows]

    def cum_volume_at(self, rows: Rows, minute: int) -> np.ndarray:
        return self._kept(self._cum, minute)[rows]

    def high_low(self, rows: Rows, minute: int) -> tuple[np.ndarray, np.ndarray]:
        return self._kept(self._high, minute)[rows], self._kept(self._low, minute)[rows]


#: A trading day as the market answers from it: today's paths, or a past session's bar.
AnyDay = SimDay | ClosedDay


class SimMarket:
    """The whole simulated market. Thread-safe: a day is built under a lock, in blocks of
    securities, and replaced, never mutated, so a reader keeps what it was handed.

    Memory: the paths of one day (`SimDay`, 123 MB at 16,000 securities), a bar for each of
    the last few finished days (`ClosedDay`), and a build's temporaries of `BLOCK_ROWS`
    securities."""

    def __init__(
        self,
        seed: int,
        size: int,
        clock: MarketClock,
        *,
        start_day: date | None = None,
        runners: str = "mixed",
    ):
        if runners not in RUNNER_MODES:
            raise ValueError(f"runners must be one of {', '.join(RUNNER_MODES)}, not {runners!r}")
        self.seed = seed
        self.runners = runners
        self.clock = clock
        self.stocks = build_stocks(size, seed)
        self.products = list(option_products())
        self.securities: list[SimSecurity] = self.stocks + self.products
        self.index = {s.symbol: i for i, s in enumerate(self.securities)}
        self.ref_price = np.array([s.price for s in self.securities], dtype=np.float64)
        first = start_day or mh.last_trading_day(clock.now().astimezone(mh.ET).date())
        self.first_day = first if mh.is_trading_day(first) else mh.last_trading_day(first)
        self._full: SimDay | None = None  # the one day whose paths are kept
        self._closed: dict[date, ClosedDay] = {}  # finished days' bars, oldest first
        self._aside: ClosedDay | None = None  # a day before the first, for `session_before`
        self._halts: dict[date, list[SimHalt]] = {}  # each built day's halts
        self._lock = threading.RLock()
        self._options_base = np.array(
            [max(s.options_volume, 0) for s in self.securities], dtype=np.float64
        )

    # -- days --------------------------------------------------------------------------------

    def trading_day_at(self, at: datetime) -> tuple[date, bool]:
        """The trading day whose data is current at `at`, and whether `at` falls in it (from
        04:00 on); otherwise the data is that day's final state."""
        day = mh.current_trading_day(at)
        return day, day == at.astimezone(mh.ET).date()

    def _seeded_close(self, day: date) -> np.ndarray:
        """The previous closes of a day the simulation starts from: the reference prices moved
        by a seeded random walk, so that every day differs. float64 [securities], dollars."""
        rng = np.random.default_rng(_seed(self.seed, day.toordinal(), "prev"))
        prev = self.ref_price * np.exp(rng.normal(0.0, 0.04, len(self.securities)))
        result: np.ndarray = np.where(prev >= 1.0, np.round(prev, 2), np.round(prev, 4))
        return result

    def day_for(self, day: date) -> SimDay:
        """The simulated day `day` with its paths, building it (and any days between) on first
        use. The day whose paths were kept before is kept as its bar from then on."""
        full = self._full
        if full is not None and full.day == day:
            return full
        del full  # a local reference would keep the finished day's paths through the build
        with self._lock:
            if self._full is not None and self._full.day == day:
                return self._full
            closed = self._closed.get(day)
            if day <= self.first_day:
                # The first simulated day, or an earlier one asked for by a backfill.
                prev = self._seeded_close(day)
            elif closed is not None:
                prev = closed.prev_close  # built before: it starts where it did then
            else:
                prev = self._close_of(mh.previous_trading_day(day))
            if self._full is not None:
                # One day's paths at a time: the finished day goes before the next is built.
                self._keep_closed(ClosedDay.of(self._full))
                self._full = None
            built = SimDay(self, day, prev)
            self._full = built
            self._halts[day] = built.halts
            while len(self._halts) > CLOSED_DAYS_KEPT + 1:
                del self._halts[next(iter(self._halts))]
            return built

    def _close_of(self, day: date) -> np.ndarray:
        """`day`'s regular-session close, float64 [securities], building it if need be."""
        full = self._full
        if full is not None and full.day == day:
            return full.last_price()
        closed = self._closed.get(day)
        if closed is not None:
            return closed.last_price()
        return self.day_for(day).last_price()

    def _keep_closed(self, closed: ClosedDay) -> None:
        self._closed.pop(closed.day, None)
        self._closed[closed.day] = closed
        while len(self._closed) > CLOSED_DAYS_KEPT:
            del self._closed[next(iter(self._closed))]

    def session_before(self, day: date) -> ClosedDay:
        """The trading day before `day` as it ended, consistent with `day`'s previous closes.

        That is the simulated day itself once `day` was built from it. Before the first simulated
        day there is none, so one is simulated aside (the market's days are left as they are)
        and scaled to end at `day`'s previous closes.
        """
        prev = mh.previous_trading_day(day)
        target = self.day_for(day).prev_close
        with self._lock:
            built = self._closed.get(prev)
            if built is not None and np.array_equal(built.last_price(), target):
                return built
            aside = self._aside
            if aside is not None and aside.day == prev:
                return aside
            aside = self._build_aside(prev, target)
            self._aside = aside
            return aside

    def _build_aside(self, day: date, target: np.ndarray) -> ClosedDay:
        """`day` simulated from seeded closes, each path scaled to end at `target` (float64
        [securities], dollars) at the close; kept as its bar."""
        start = self._seeded_close(day)
        _, close_minute, end_minute = _day_bounds(day)
        ratio = np.empty(len(self.securities), dtype=np.float64)

        def scaled() -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
            blocks = _day_paths(self, day, start, close_minute, end_minute, self.movers_for(day))
            for r0, r1, path, cum_volume in blocks:
                ratio[r0:r1] = target[r0:r1] / path[:, close_minute - 1].astype(np.float64)
                price = path.astype(np.float64) * ratio[r0:r1, None]
                price += (target[r0:r1] - price[:, close_minute - 1])[:, None]
                rounded = _tick_round(price)
                fall[r0:r1] = fall_minutes(
                    rounded, start[r0:r1] * ratio[r0:r1], OPEN_MINUTE, close_minute
                )
                yield r0, r1, rounded, cum_volume

        fall = np.full(len(self.securities), -1, dtype=np.int32)
        aside = ClosedDay(day, start, scaled(), len(self.securities))
        aside.prev_close = aside.prev_close * ratio
        aside._fall = fall
        return aside

    def known_session(self, day: date) -> AnyDay | None:
        """`day` as built already (today's paths, a finished day's bar, or the day simulated
        aside before the first), or None: nothing is built for it."""
        full = self._full
        if full is not None and full.day == day:
            return full
        closed = self._closed.get(day)
        if closed is not None:
            return closed
        aside = self._aside
        return aside if aside is not None and aside.day == day else None

    def halts_of(self, day: date) -> list[SimHalt]:
        """`day`'s trading halts, oldest first, building the day if need be; none for a day
        the market never simulated whole (before its first day: see `session_before`)."""
        if day >= self.first_day and mh.is_trading_day(day) and day not in self._halts:
            self.day_for(day)
        return list(self._halts.get(day, ()))

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
        """Today's stories: a deterministic function of seed, day and the runners mode.

        Counts scale with the universe (about 2 % of stocks have a story, most of them small
        gaps; at 8,000 names some 28 runners, 20 news jumps, 12 gappers, 10 grinders, 16 false
        starts, 24 fallers and their sympathy moves), at least a few each on the built-in
        universe. Small caps get more of them than large ones (`_RUNNER_TIER_WEIGHT`).
        """
        rng = np.random.default_rng(_seed(self.seed, day.toordinal(), "movers"))
        if self.runners == "surprise":
            return self._surprises(rng)
        n_stocks = len(self.stocks)
        weights = np.array([_RUNNER_TIER_WEIGHT.get(s.cap_tier, 0.0) for s in self.stocks])
        if weights.sum() == 0:
            return ()
        weights = weights / weights.sum()
        counts = {
            RUNNER: max(2, round(n_stocks * 0.0035)),
            NEWS: max(1, round(n_stocks * 0.0025)),
            GAPPER: max(1, round(n_stocks * 0.0015)),
            GRINDER: max(1, round(n_stocks * 0.0012)),
            FALSE_START: max(1, round(n_stocks * 0.002)),
            FALLER: max(2, round(n_stocks * 0.003)),
            GAP: max(3, round(n_stocks * 0.012)),
        }
        kinds = [kind for kind, count in counts.items() for _ in range(count)]
        size = min(int((weights > 0).sum()), len(kinds))
        picks = rng.choice(n_stocks, size=size, replace=False, p=weights).tolist()
        movers = [self._story(kind, index, rng) for kind, index in zip(kinds, picks, strict=False)]
        # The day's first news story comes in the demo's first minutes (it starts at 10:00),
        # halted for its news (`simulated.halts`): only its timing moves, no draw changes.
        opener = next((k for k, mv in enumerate(movers) if mv.kind == NEWS), None)
        if opener is not None:
            movers[opener] = dataclasses.replace(movers[opener], start=OPENER_NEWS_MINUTE)
        taken = set(picks)
        # A third of the big stories up pull one or two sector peers along, minutes later.
        for leader in list(movers):
            if leader.kind not in (RUNNER, NEWS, GAPPER) or leader.log_move <= 0:
                continue
            if rng.random() >= 0.35:
                continue
            sector = self.stocks[leader.index].sector
            peers = np.array(
                [
                    w if s.sector == sector and i not in taken else 0.0
                    for i, (s, w) in enumerate(zip(self.stocks, weights, strict=True))
                ]
            )
            if peers.sum() == 0:
                continue
            follow = min(int(rng.integers(1, 3)), int((peers > 0).sum()))
            chosen = rng.choice(n_stocks, size=follow, replace=False, p=peers / peers.sum())
            begins = leader.second_start if leader.kind == GAPPER else leader.start
            for index in chosen.tolist():
                taken.add(index)
                movers.append(
                    Mover(
                        index,
                        leader.peak_log_move * float(rng.uniform(0.3, 0.6)),
                        begins + int(rng.integers(3, 25)),
                        int(rng.integers(10, 60)),
                        float(rng.choice([0.0, 0.0, 0.35])),
                        float(rng.uniform(5.0, 12.0)),
                        kind=SYMPATHY,
                        leader=leader.index,
                    )
                )
        if day == self.first_day:
            # The live day's options-led story, from a stream of its own (no draw above
            # changes). Imported here: `simulated.options` imports this module.
            from .options import options_led_story

            led = options_led_story(self, day, taken)
            if led is not None:
                movers.append(led)
        return tuple(movers)

    def _story(self, kind: str, index: int, rng: np.random.Generator) -> Mover:
        """One story of `kind` for the stock at `index`."""
        if kind == RUNNER:
            premarket = rng.random() < 0.2
            return Mover(
                index,
                math.log1p(_heavy_tail(rng, 0.15, 1.8, 1.2)),
                int(rng.integers(120, 300)) if premarket else int(rng.integers(332, 660)),
                int(rng.integers(15, 120)),
                float(rng.choice([0.0, 0.0, 0.2, 0.35])),
                float(rng.uniform(5.0, 20.0)),
            )
        if kind == NEWS:
            up = rng.random() < 0.7
            move = _heavy_tail(rng, 0.12, 2.0, 1.0) if up else -_heavy_tail(rng, 0.10, 2.5, 0.6)
            return Mover(
                index,
                math.log1p(move),
                int(rng.integers(30, 705)),  # any minute from 04:30 to 15:45
                int(rng.integers(1, 4)),
                float(rng.choice([0.0, 0.0, 0.3, 0.5])),
                float(rng.uniform(5.0, 15.0)),
                kind=NEWS,
                fade_after=int(rng.integers(20, 90)),
                fade_minutes=30.0,
                precursor=False,
            )
        if kind == GAPPER:
            return Mover(
                index,
                math.log1p(rng.uniform(0.08, 0.35)),
                int(rng.integers(120, 310)),  # pre-market news, 06:00 to 09:10
                int(rng.integers(3, 30)),
                0.0,
                float(rng.uniform(6.0, 20.0)),
                kind=GAPPER,
                second=math.log1p(rng.uniform(0.10, 0.45)),
                second_start=int(rng.integers(330, 375)),  # runs again from the open to 10:15
                second_duration=int(rng.integers(15, 90)),
                precursor=False,
            )
        if kind == GRINDER:
            return Mover(
                index,
                math.log1p(rng.uniform(0.15, 0.40)),
                int(rng.integers(330, 510)),
                int(rng.integers(150, 330)),
                0.0,
                float(rng.uniform(5.0, 10.0)),
                kind=GRINDER,
            )
        if kind == FALSE_START:
            return Mover(
                index,
                math.log1p(rng.uniform(0.12, 0.25)),
                int(rng.integers(335, 660)),
                int(rng.integers(4, 16)),
                float(rng.uniform(0.75, 1.0)),
                float(rng.uniform(5.0, 10.0)),
                kind=FALSE_START,
                fade_after=int(rng.integers(5, 30)),
                fade_minutes=float(rng.uniform(5.0, 12.0)),
            )
        if kind == FALLER:
            loss = _heavy_tail(rng, 0.10, 2.5, 0.6)
            start = int(rng.choice([int(rng.integers(200, 330)), int(rng.integers(335, 650))]))
            return Mover(
                index,
                math.log1p(-loss),
                start,
                int(rng.integers(5, 60)),
                0.0,
                float(rng.uniform(3.0, 8.0)),
                kind=FALLER,
            )
        size = rng.uniform(0.03, 0.12) * rng.choice([-1.0, 1.0])
        return Mover(
            index,
            math.log1p(size),
            int(rng.integers(150, 320)),
            10,
            0.0,
            float(rng.uniform(1.8, 4.5)),
            kind=GAP,
        )

    def _surprises(self, rng: np.random.Generator) -> tuple[Mover, ...]:
        """The stories of `runners="surprise"`: as many moves as the mixed mode plants, each a
        jump at a random minute of the session from a stock picked without regard to its
        tier, with no volume before it, no options activity and no peers: nothing a scanner
        could have read beforehand. The small pre-market news gaps stay, as background."""
        n_stocks = len(self.stocks)
        ups = max(6, round(n_stocks * 0.0135))
        downs = max(2, round(n_stocks * 0.004))
        gaps = max(3, round(n_stocks * 0.012))
        picks = rng.choice(n_stocks, size=min(n_stocks, ups + downs + gaps), replace=False)
        movers = []
        for k, index in enumerate(picks.tolist()):
            if k >= ups + downs:
                movers.append(self._story(GAP, index, rng))
                continue
            move = (
                _heavy_tail(rng, 0.12, 1.8, 1.2) if k < ups else -_heavy_tail(rng, 0.10, 2.5, 0.6)
            )
            movers.append(
                Mover(
                    index,
                    math.log1p(move),
                    int(rng.integers(331, 700)),
                    int(rng.integers(1, 6)),
                    float(rng.choice([0.0, 0.0, 0.3, 0.8])),
                    float(rng.uniform(5.0, 15.0)),
                    kind=NEWS,
                    fade_after=int(rng.integers(10, 60)),
                    fade_minutes=15.0,
                    precursor=False,
                )
            )
        return tuple(movers)

    def planted(self, day: date) -> tuple[PlantedMove, ...]:
        """The ground truth of `day`'s stories, for tests and `bench/` (the engine only ever
        sees quotes): each story's symbol, kind, direction, size and start."""
        base = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET)
        out = []
        for mv in self.movers_for(day):
            peak = mv.peak_log_move
            out.append(
                PlantedMove(
                    symbol=self.securities[mv.index].symbol,
                    kind=mv.kind,
                    direction=1 if peak > 0 else -1,
                    size_pct=math.expm1(peak) * 100.0,
                    start=base + timedelta(minutes=mv.start),
                    minute=mv.start,
                    duration=mv.duration,
                    precursor=mv.precursor,
                    leader=self.securities[mv.leader].symbol if mv.leader >= 0 else "",
                )
            )
        return tuple(out)

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
            if not mv.precursor:
                continue  # news: nobody traded its options ahead of it
            spike[mv.index] = max(spike[mv.index], mv.rvol * 0.8)
            call_share[mv.index] = 0.72 if mv.log_move > 0 else 0.35
        # A name without listed options gains none from news.
        total = np.round(self._options_base * noise * spike)
        return total, call_share

    def trading_days_published(self, now: datetime) -> date:
        """The newest day OCC would have published at `now` (it publishes the next day)."""
        return mh.previous_trading_day(now.astimezone(mh.ET).date())
