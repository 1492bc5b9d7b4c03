"""Simulated option chains (Cboe's delayed-quotes JSON) and OCC daily volume files.

A chain's layout (expiries, strikes, how volume and open interest spread over them, the day's
unusual blocks) is fixed per underlying and day; the clock only decides how much of the day's
volume has traded. Volume concentrates near the money and in the front expiries; a few blocks a
day land far above a contract's open interest.

The market's first day (the demo's live day) has one options-led story (`options_led_story`):
one of yesterday's options leaders whose calls trade far above their open interest at 09:50,
which Cboe's delayed chain shows at 10:05 (just after the demo's first look, at its default
start), 12-17 minutes before its price runs 5 %; `live_lead` tells its truth to tests and
benchmarks.
"""

from __future__ import annotations

import calendar
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import orjson

from .. import market_hours as mh
from ..models import DEFAULT_CAP_TIERS
from .market import OPEN_MINUTE, RUNNER, AnyDay, Mover, SimMarket, _seed, options_fraction

RISK_FREE = 0.04
CBOE_DELAY_MINUTES = 15
#: Index products whose options trade daily expiries; their weeklies carry a "W" root.
_DAILY_EXPIRIES = {"SPX", "SPY", "QQQ", "IWM", "XSP", "NDX", "RUT"}
_WEEKLY_ROOTS = {"SPX": "SPXW", "NDX": "NDXP", "RUT": "RUTW"}
_EXCHANGE_IDS = {"stock": 3, "etf": 3, "index": 5}
#: Contracts serialised at a time into a chain's body.
_RECORDS_CHUNK = 2048


# ---------------------------------------------------------------------------------------------
# Small maths helpers, vectorised.


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): plenty for a simulation, no scipy needed.
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    result: np.ndarray = 0.5 * (1.0 + np.sign(x) * erf)
    return result


def _norm_pdf(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return result


def black_scholes(
    spot: float, strike: np.ndarray, years: np.ndarray, vol: np.ndarray, is_call: np.ndarray
) -> dict[str, np.ndarray]:
    sqrt_t = np.sqrt(years)
    d1 = (np.log(spot / strike) + (RISK_FREE + 0.5 * vol * vol) * years) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc = np.exp(-RISK_FREE * years)
    nd1, nd2 = _norm_cdf(d1), _norm_cdf(d2)
    call = spot * nd1 - strike * disc * nd2
    put = strike * disc * (1.0 - nd2) - spot * (1.0 - nd1)
    pdf = _norm_pdf(d1)
    gamma = pdf / (spot * vol * sqrt_t)
    vega = spot * pdf * sqrt_t / 100.0
    theta_common = -spot * pdf * vol / (2.0 * sqrt_t)
    theta_call = (theta_common - RISK_FREE * strike * disc * nd2) / 365.0
    theta_put = (theta_common + RISK_FREE * strike * disc * (1.0 - nd2)) / 365.0
    rho_call = strike * years * disc * nd2 / 100.0
    rho_put = -strike * years * disc * (1.0 - nd2) / 100.0
    return {
        "price": np.where(is_call, call, put),
        "delta": np.where(is_call, nd1, nd1 - 1.0),
        "gamma": gamma,
        "vega": vega,
        "theta": np.where(is_call, theta_call, theta_put),
        "rho": np.where(is_call, rho_call, rho_put),
    }


# ---------------------------------------------------------------------------------------------
# Expiries and strikes.


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (calendar.FRIDAY - first.weekday()) % 7
    return first + timedelta(days=offset + 14)


def _tradeable(d: date) -> date:
    """An expiry on a holiday moves to the trading day before."""
    return d if mh.is_trading_day(d) else mh.previous_trading_day(d)


def expiries_for(symbol: str, day: date, liquidity: float) -> list[tuple[date, bool]]:
    """(expiry, is_monthly) pairs for an underlying, by how heavily its options trade."""
    out: set[tuple[date, bool]] = set()
    monthly_dates = set()
    year, month = day.year, day.month
    n_months = 8 if liquidity >= 5_000 else 4
    for k in range(n_months + 1):
        y, m = divmod(month - 1 + k, 12)
        expiry = _tradeable(_third_friday(year + y, m + 1))
        if expiry >= day:
            monthly_dates.add(expiry)
    for years_out in (1, 2):
        leap = _tradeable(_third_friday(day.year + years_out, 1))
        if (leap - day).days > 200:
            monthly_dates.add(leap)
            if liquidity < 5_000:
                break
    for expiry in monthly_dates:
        out.add((expiry, True))
    weeklies = 8 if liquidity >= 100_000 else 4 if liquidity >= 5_000 else 0
    friday = day + timedelta(days=(calendar.FRIDAY - day.weekday()) % 7)
    for k in range(weeklies):
        expiry = _tradeable(friday + timedelta(weeks=k))
        if expiry >= day and expiry not in monthly_dates:
            out.add((expiry, False))
    if symbol in _DAILY_EXPIRIES:
        d = day
        for _ in range(10):
            if d not in monthly_dates:
                out.add((d, False))
            d = mh.next_trading_day(d)
    return sorted(out)


def strike_step(price: float, liquid: bool) -> float:
    if price < 5:
        return 0.5
    if price < 25:
        return 0.5 if liquid else 1.0
    if price < 100:
        return 1.0 if liquid else 2.5
    if price < 300:
        return 2.5 if liquid else 5.0
    if price < 1000:
        return 5.0 if liquid else 10.0
    if price < 3000:
        return 5.0
    if price < 10000:
        return 5.0
    return 25.0


def osi_symbol(root: str, expiry: date, call: bool, strike: float) -> str:
    return f"{root}{expiry:%y%m%d}{'C' if call else 'P'}{round(strike * 1000):08d}"


@dataclass
class ChainLayout:
    """The time-independent part of a chain for one underlying and day."""

    symbols: np.ndarray  # OSI symbols as ASCII bytes: a third of a list of str's memory
    strike: np.ndarray
    days_left: np.ndarray  # calendar days to expiry
    is_call: np.ndarray
    weight: np.ndarray  # share of the day's volume (sums to 1)
    noise: np.ndarray  # per-contract fixed jitter of the pace of trading
    open_interest: np.ndarray
    iv: np.ndarray
    blocks: list[tuple[int, int, int]]  # (contract index, minute, contracts)
    trade_offset: np.ndarray  # how long before "now" each contract last traded, as a share
    base_iv: float


def build_layout(market: SimMarket, sim_day: AnyDay, index: int) -> ChainLayout:
    sec = market.securities[index]
    day = sim_day.day
    rng = np.random.default_rng(_seed(market.seed, day.toordinal(), "chain", sec.symbol))
    base_volume = max(sec.options_volume, 1)
    spot = float(sim_day.prev_close[index])
    liquid = base_volume >= 100_000
    step = strike_step(spot, liquid)
    annual = {
        "nano": 1.1,
        "micro": 0.9,
        "small": 0.65,
        "mid": 0.45,
        "large": 0.32,
        "mega": 0.3,
    }.get(sec.cap_tier, 0.2 if sec.symbol != "VIX" else 0.9)
    base_iv = annual * float(rng.uniform(0.95, 1.25))

    strikes_all: list[np.ndarray] = []
    days_all: list[np.ndarray] = []
    calls_all: list[np.ndarray] = []
    symbols: list[str] = []
    monthly_flags: list[np.ndarray] = []
    # Index products quote strikes much further from the money than stocks do.
    reach = 0.30 if sec.kind == "index" else 0.45
    for expiry, monthly in expiries_for(sec.symbol, day, base_volume):
        dte = (expiry - day).days
        span = reach + 0.35 * math.sqrt(dte / 365.0)
        lo = max(step, math.floor(spot * (1 - span) / step) * step)
        hi = math.ceil(spot * (1 + span) / step) * step
        strikes = np.arange(lo, hi + step / 2, step)
        if sec.kind == "index" and strikes.size > 400 and dte > 60:
            strikes = strikes[:: 2 if dte < 200 else 4]
        root = sec.symbol if monthly else _WEEKLY_ROOTS.get(sec.symbol, sec.symbol)
        for call in (True, False):
            strikes_all.append(strikes)
            days_all.append(np.full(strikes.size, dte))
            calls_all.append(np.full(strikes.size, call))
            monthly_flags.append(np.full(strikes.size, monthly))
            symbols.extend(osi_symbol(root, expiry, call, float(k)) for k in strikes)
    strike = np.concatenate(strikes_all)
    days_left = np.concatenate(days_all).astype(np.float64)
    is_call = np.concatenate(calls_all)
    monthly_arr = np.concatenate(monthly_flags)
    n = strike.size

    years = np.maximum(days_left, 0.5) / 365.0
    moneyness = np.log(strike / spot)
    width = base_iv * np.sqrt(years) * 1.2 + 0.015
    # Traders buy slightly out of the money: calls above the price, puts below.
    shifted = np.where(is_call, moneyness - 0.35 * width, moneyness + 0.35 * width)
    money_w = np.exp(-0.5 * (shifted / width) ** 2)
    front = 4.0 if sec.symbol in _DAILY_EXPIRIES else 12.0
    expiry_w = np.exp(-days_left / front) + 0.04 * np.exp(-days_left / 120.0)
    expiry_w = np.where(
        days_left == 0, expiry_w * (2.5 if sec.symbol in _DAILY_EXPIRIES else 1.0), expiry_w
    )
    weight = money_w * expiry_w * rng.lognormal(0.0, 0.5, n)
    weight /= weight.sum()

    # Open interest accumulates: about ten days of volume in all, near the money, in the
    # monthlies more than the weeklies, and building up in the front expiries too.
    oi_w = np.exp(-0.5 * (moneyness / (width * 1.3)) ** 2) * np.where(monthly_arr, 2.5, 1.0)
    oi_w *= np.exp(-days_left / 45.0) + 0.15
    oi_w /= oi_w.sum()
    open_interest = np.floor(base_volume * 10.0 * oi_w * rng.lognormal(0.0, 0.5, n))

    iv = (
        base_iv
        * (1.0 + 1.4 * moneyness**2 - 0.35 * moneyness)
        * (1.0 + 0.25 * np.exp(-days_left / 7.0))
    )
    iv = np.clip(iv, 0.05, 4.0)

    blocks: list[tuple[int, int, int]] = []
    chance = 0.35 if base_volume >= 20_000 else 0.15
    if rng.random() < chance:
        candidates = np.flatnonzero(
            (days_left <= 45)
            & (np.where(is_call, moneyness > 0.03, moneyness < -0.03))
            & (np.abs(moneyness) < 0.25)
        )
        if candidates.size:
            for pick in rng.choice(
                candidates, size=min(candidates.size, int(rng.integers(1, 4))), replace=False
            ).tolist():
                size = int(max(600, min(25_000, open_interest[pick] * rng.uniform(2.0, 10.0))))
                minute = int(rng.integers(OPEN_MINUTE + 10, sim_day.close_minute - 20))
                blocks.append((pick, minute, size))
    led = next(
        (mv for mv in market.movers_for(day) if mv.index == index and mv.options_minute >= 0),
        None,
    )
    if led is not None:
        blocks = _led_blocks(
            market,
            day,
            sec.symbol,
            led.options_minute,
            blocks,
            days_left,
            is_call,
            moneyness,
            open_interest,
        )

    return ChainLayout(
        symbols=np.array(symbols, dtype=np.bytes_),
        strike=strike,
        days_left=days_left,
        is_call=is_call,
        weight=weight,
        noise=rng.lognormal(0.0, 0.15, n),
        open_interest=open_interest,
        iv=iv,
        blocks=blocks,
        trade_offset=rng.random(n),
        base_iv=base_iv,
    )


# ---------------------------------------------------------------------------------------------
# The live day's options-led story: the demo's first day gets one, as `simulated.past` plants
# one a day in the simulated month before it, so that the lead mark (`momoscan.lead`) can show
# in the live session too, and early in it.

#: The minute (from 04:00 ET) its unusual contracts trade: 09:50, so that Cboe's chain,
#: `CBOE_DELAY_MINUTES` behind, first shows them at 10:05, just after the demo's first look
#: at its default start (10:00): what is unusual at a first look tells no time
#: (`queries.lead.options_activity`).
LED_TRADE_MINUTE = OPEN_MINUTE + 20
#: Minutes from when the chain shows them to when the price is `LED_RUN_PCT` up (aimed at;
#: the true minute depends on the day's path: `live_lead` reads it).
LED_SHOWN_BEFORE_RUN = (12, 17)
#: The move that counts as the run (percent from the previous close, `lead.RUN_MOVE_PCT`).
LED_RUN_PCT = 5.0
#: The run's size (a fraction) and how long it takes (minutes): long enough that no 5 minutes
#: of it pass a large cap's 5 % LULD band (`simulated.halts`).
LED_SIZE = (0.08, 0.12)
LED_DURATION = (32, 40)
#: The leaders it is picked from must beat the 11th's volume by this much (a fraction), so
#: that the engine's own ranking of OCC's file has it in the top 10 too.
LED_MARGIN = 0.01


def _yesterdays_leaders(market: SimMarket, day: date) -> list[int]:
    """The stocks in the options top 10 of the trading day before `day` (by OCC's volume, as
    the engine ranks it with `[options] include_etfs` off: index products left out), clear of
    the 11th by `LED_MARGIN`: indexes into the securities, most traded first."""
    totals, _ = market.options_volumes(mh.previous_trading_day(day))
    stocks = totals[: len(market.stocks)]
    order = np.argsort(-stocks, kind="stable")
    eleventh = float(stocks[order[10]]) if order.size > 10 else 0.0
    return [int(i) for i in order[:10] if stocks[i] > eleventh * (1.0 + LED_MARGIN)]


def options_led_story(market: SimMarket, day: date, taken: set[int]) -> Mover | None:
    """The live day's options-led story (`SimMarket.movers_for` adds it on the market's first
    day): one of yesterday's options leaders in the default cap tiers (so in the engine's
    options watch set from its first cycle, and quoted by its sweeps) with no other story
    today, whose out-of-the-money calls trade far above their open interest at
    `LED_TRADE_MINUTE` (`Mover.options_minute`; the chain's blocks are `_led_blocks`) and
    whose price runs +8 to +12 % about `LED_SHOWN_BEFORE_RUN` minutes after the chain shows
    them. None when no leader fits. Drawn from a stream of its own: no other draw changes."""
    rng = np.random.default_rng(_seed(market.seed, day.toordinal(), "live-options-led"))
    pick = float(rng.random())
    size = float(rng.uniform(*LED_SIZE))
    duration = int(rng.integers(LED_DURATION[0], LED_DURATION[1] + 1))
    shown_before = int(rng.integers(LED_SHOWN_BEFORE_RUN[0], LED_SHOWN_BEFORE_RUN[1] + 1))
    rvol = float(rng.uniform(2.0, 3.0))
    fits = [
        i
        for i in _yesterdays_leaders(market, day)
        if i not in taken and market.securities[i].cap_tier in DEFAULT_CAP_TIERS
    ]
    if not fits:
        return None
    index = fits[int(pick * len(fits))]
    move = math.log1p(size)
    # The sigmoid leg (`market._leg`) reaches the run's share of the move this long after
    # its start, on a flat path: the start is set back by that from the aimed minute.
    share = math.log1p(LED_RUN_PCT / 100.0) / move
    reach = duration / 2 - duration / 8 * math.log(1.0 / share - 1.0)
    run_minute = LED_TRADE_MINUTE + CBOE_DELAY_MINUTES + shown_before
    return Mover(
        index,
        move,
        max(LED_TRADE_MINUTE + 1, round(run_minute - reach)),
        duration,
        0.0,
        rvol,
        kind=RUNNER,
        options_minute=LED_TRADE_MINUTE,
    )


def _led_blocks(
    market: SimMarket,
    day: date,
    symbol: str,
    minute: int,
    blocks: list[tuple[int, int, int]],
    days_left: np.ndarray,
    is_call: np.ndarray,
    moneyness: np.ndarray,
    open_interest: np.ndarray,
) -> list[tuple[int, int, int]]:
    """An options-led story's chain blocks: its usual ones from `minute` on (none before:
    its first unusual contracts are the planted ones), and two or three planted ones at
    `minute`: calls 3-12 % out of the money in the front expiries (2-45 days), each 3-6
    times its open interest and at least 600 contracts. From a stream of its own."""
    rng = np.random.default_rng(_seed(market.seed, day.toordinal(), "led-blocks", symbol))
    kept = [b for b in blocks if b[1] >= minute]
    candidates = np.flatnonzero(
        is_call & (days_left >= 2) & (days_left <= 45) & (moneyness > 0.03) & (moneyness < 0.12)
    )
    if not candidates.size:
        candidates = np.flatnonzero(is_call & (moneyness > 0.0))
    count = min(candidates.size, int(rng.integers(2, 4)))
    for pick in rng.choice(candidates, size=count, replace=False).tolist():
        size = int(max(600, open_interest[pick] * rng.uniform(3.0, 6.0)))
        kept.append((pick, minute, size))
    return kept


@dataclass(frozen=True, slots=True)
class LiveLead:
    """The ground truth of the live day's options-led story, for tests and benchmarks (never
    the engine): `traded_at` when its unusual contracts traded, `shown_at` when Cboe's
    delayed chain first shows them (`CBOE_DELAY_MINUTES` later), `ran_at` the first minute
    its true path was `LED_RUN_PCT` or more from the previous close (either way), all aware
    datetimes (ET); `gap_s` the seconds from `shown_at` to `ran_at`, what a scanner reading
    the chains could at best see as the lead."""

    symbol: str
    day: date
    traded_at: datetime
    shown_at: datetime
    ran_at: datetime | None

    @property
    def gap_s(self) -> float | None:
        if self.ran_at is None:
            return None
        return (self.ran_at - self.shown_at).total_seconds()


def live_lead(market: SimMarket, day: date) -> LiveLead | None:
    """The options-led story planted on `day` (the market's first day only), or None;
    builds the day's paths if need be (they give `ran_at`)."""
    led = next((mv for mv in market.movers_for(day) if mv.options_minute >= 0), None)
    if led is None:
        return None
    sim_day = market.day_for(day)
    path = sim_day.price[led.index, OPEN_MINUTE : sim_day.close_minute].astype(np.float64)
    prev = float(sim_day.prev_close[led.index])
    moved = np.flatnonzero(np.abs(path / prev - 1.0) * 100.0 >= LED_RUN_PCT)
    ran = sim_day.at_minute(OPEN_MINUTE + int(moved[0])) if moved.size else None
    traded = sim_day.at_minute(led.options_minute)
    return LiveLead(
        market.securities[led.index].symbol,
        day,
        traded,
        traded + timedelta(minutes=CBOE_DELAY_MINUTES),
        ran,
    )


class ChainFactory:
    """Builds chain bodies, caching each underlying's layout for the day."""

    def __init__(self, market: SimMarket, cache_size: int = 48):
        self.market = market
        self._layouts: OrderedDict[tuple[date, int], ChainLayout] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def layout(self, sim_day: AnyDay, index: int) -> ChainLayout:
        key = (sim_day.day, index)
        with self._lock:
            cached = self._layouts.get(key)
            if cached is not None:
                self._layouts.move_to_end(key)
                return cached
        built = build_layout(self.market, sim_day, index)
        with self._lock:
            self._layouts[key] = built
            while len(self._layouts) > self._size:
                self._layouts.popitem(last=False)
        return built

    def chain_body(self, symbol: str, *, previous_session: bool = False) -> bytes | None:
        """Cboe's delayed-quotes JSON for `symbol` now, or None if it has no listed options.

        Args:
            previous_session: the chain as the previous trading session left it instead (its
                volumes, trade times and underlying; the file stamped that evening), which is
                what Cboe's CDN still serves before the next session opens.
        """
        market = self.market
        index = market.index.get(symbol)
        if index is None or market.securities[index].options_volume <= 0:
            return None
        today, minute, now = market.now_state()
        sim_day: AnyDay = today
        if previous_session:
            sim_day = market.session_before(today.day)
            # Options stop trading at the close; the file was last written that evening, as
            # the recorded CLX chain was (timestamp 00:43 UTC after a 16:00 ET close).
            minute = sim_day.close_minute
            _, _, _, end_at = mh.session_bounds(sim_day.day)
            now = end_at + timedelta(minutes=43, seconds=44)
        else:
            minute = max(0, minute - CBOE_DELAY_MINUTES)
        return self._body(index, sim_day, minute, now)

    def _body(self, index: int, sim_day: AnyDay, minute: int, now: datetime) -> bytes:
        market = self.market
        layout = self.layout(sim_day, index)
        sec = market.securities[index]
        totals, call_share = market.options_volumes(sim_day.day)
        total = float(totals[index]) * options_fraction(minute, sim_day.close_minute)
        side = np.where(layout.is_call, call_share[index] * 2, (1 - call_share[index]) * 2)
        volume = np.floor(total * layout.weight * layout.noise * side)
        for pick, at, size in layout.blocks:
            if minute >= at:
                volume[pick] += size

        spot = float(sim_day.price_at(index, minute))
        prev_spot = float(sim_day.prev_close[index])
        minutes_left = max(sim_day.close_minute - minute, 15)
        years = (np.maximum(layout.days_left - 1, 0) + minutes_left / 390.0) / 365.0
        now_bs = black_scholes(spot, layout.strike, years, layout.iv, layout.is_call)
        prev_bs = black_scholes(
            prev_spot, layout.strike, years + 1 / 365.0, layout.iv, layout.is_call
        )
        theo = np.maximum(now_bs["price"], 0.0)
        prev_close = np.maximum(np.round(prev_bs["price"], 2), 0.01)
        traded = volume > 0
        last = np.where(traded, np.maximum(np.round(theo, 2), 0.01), prev_close)
        spread = np.maximum(0.01, np.round(theo * 0.03 + 0.02, 2))
        bid = np.maximum(np.round(theo - spread, 2), 0.0)
        ask = np.round(theo + spread, 2)
        change = np.where(traded, np.round(last - prev_close, 4), 0.0)
        pct = np.where(prev_close > 0, np.round(change / prev_close * 100, 4), 0.0)
        # Cboe reports an IV of 0.0 where it cannot compute one: deep in the money, no bid.
        iv_out = np.where(
            (bid <= 0.0) | (np.abs(now_bs["delta"]) > 0.995), 0.0, np.round(layout.iv, 4)
        )
        session_minutes = max(minute - OPEN_MINUTE, 0)
        last_minute = minute - np.floor(layout.trade_offset * min(60, session_minutes))
        never = (~traded) & (layout.open_interest <= 0)

        base = sim_day.base
        stamp = [
            (base + timedelta(minutes=int(m), seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%S")
            for m, s in zip(last_minute.tolist(), (layout.trade_offset * 59).tolist(), strict=True)
        ]
        prev_stamp = datetime.combine(
            mh.previous_trading_day(sim_day.day), mh.CLOSE, tzinfo=mh.ET
        ) - timedelta(minutes=7)
        prev_text = prev_stamp.strftime("%Y-%m-%dT%H:%M:%S")

        cols = {
            "bid": bid,
            "ask": ask,
            "iv": iv_out,
            "delta": np.round(now_bs["delta"], 4),
            "gamma": np.round(now_bs["gamma"], 4),
            "vega": np.round(now_bs["vega"], 4),
            "theta": np.round(now_bs["theta"], 4),
            "rho": np.round(now_bs["rho"], 4),
            "theo": np.round(theo, 4),
            "change": change,
            "percent_change": pct,
            "prev_day_close": prev_close,
            "last": last,
            "volume": volume,
            "open_interest": layout.open_interest,
        }

        def records(first: int, stop: int) -> list[dict[str, object]]:
            # Python floats for this chunk's contracts only (SPX's 38,000 at once were 18 MB).
            lists = {k: v[first:stop].tolist() for k, v in cols.items()}
            traded_list = traded[first:stop].tolist()
            never_list = never[first:stop].tolist()
            names = [name.decode("ascii") for name in layout.symbols[first:stop].tolist()]
            out: list[dict[str, object]] = []
            for j, i in enumerate(range(first, stop)):
                symbol_i = names[j]
                did_trade = traded_list[j]
                last_i = lists["last"][j]
                out.append(
                    {
                        "option": symbol_i,
                        "bid": lists["bid"][j],
                        "bid_size": float(10 + (i * 7) % 90),
                        "ask": lists["ask"][j],
                        "ask_size": float(10 + (i * 13) % 90),
                        "iv": lists["iv"][j],
                        "open_interest": lists["open_interest"][j],
                        "volume": lists["volume"][j],
                        "delta": lists["delta"][j],
                        "gamma": lists["gamma"][j],
                        "vega": lists["vega"][j],
                        "theta": lists["theta"][j],
                        "rho": lists["rho"][j],
                        "theo": lists["theo"][j],
                        "change": lists["change"][j],
                        "open": last_i if did_trade else 0.0,
                        "high": round(last_i * 1.04, 2) if did_trade else 0.0,
                        "low": round(last_i * 0.96, 2) if did_trade else 0.0,
                        "tick": "up"
                        if lists["change"][j] > 0
                        else "down"
                        if lists["change"][j] < 0
                        else "no_change",
                        "last_trade_price": 0.0 if never_list[j] else last_i,
                        "last_trade_time": None
                        if never_list[j]
                        else (stamp[i] if did_trade else prev_text),
                        "percent_change": lists["percent_change"][j],
                        "prev_day_close": lists["prev_day_close"][j],
                    }
                )
            return out

        change_u = spot - prev_spot
        opened = minute >= OPEN_MINUTE
        high, low = sim_day.high_low(index, minute) if opened else (0.0, 0.0)
        payload = {
            "timestamp": (now.astimezone(UTC) - timedelta(seconds=30)).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "data": {
                "options": [],  # spliced in below, a chunk at a time
                "symbol": sec.symbol if sec.kind != "index" else f"^{sec.symbol}",
                "security_type": sec.kind,
                "exchange_id": _EXCHANGE_IDS.get(sec.kind, 3),
                "current_price": round(spot, 2),
                "price_change": round(change_u, 2),
                "price_change_percent": round(change_u / prev_spot * 100, 4) if prev_spot else 0.0,
                "bid": round(spot - 0.01, 2),
                "ask": round(spot + 0.01, 2),
                "bid_size": 100,
                "ask_size": 100,
                "open": round(float(sim_day.price_at(index, OPEN_MINUTE)), 2) if opened else 0.0,
                "high": round(float(high), 2) if opened else 0.0,
                "low": round(float(low), 2) if opened else 0.0,
                "close": round(spot, 2),
                "prev_day_close": round(prev_spot, 2),
                "volume": int(sim_day.cum_volume_at(index, minute)),
                "iv30": round(layout.base_iv * 100, 3),
                "iv30_change": 0.0,
                "iv30_change_percent": 0.0,
                "seqno": sim_day.day.toordinal() * 100_000 + minute,
                "last_trade_time": sim_day.at_minute(minute).strftime("%Y-%m-%dT%H:%M:%S"),
                "tick": "up" if change_u > 0 else "down" if change_u < 0 else "no_change",
            },
            "symbol": sec.symbol if sec.kind != "index" else f"_{sec.symbol}",
        }
        # Serialised a few thousand contracts at a time: SPX's 38,000 as dicts at once took
        # some 60 MB of the market's process; the bytes are the same either way.
        head, tail = orjson.dumps(payload).split(b'"options":[]', 1)
        out = bytearray(head)
        out += b'"options":['
        n = len(layout.symbols)
        for first in range(0, n, _RECORDS_CHUNK):
            if first:
                out += b","
            out += orjson.dumps(records(first, min(n, first + _RECORDS_CHUNK)))[1:-1]
        out += b"]"
        out += tail
        return bytes(out)


# ---------------------------------------------------------------------------------------------
# OCC daily volume.

#: OCC's own exchange codes, as its volume reports write them, with each venue's percentage of
#: equity and of index option volume: the seventeen venues and shares of OCC's daily "Volume and
#: Open Interest" email of 2024-12-04 (index options trade almost all on Cboe).
_OCC_VENUES = {
    "AMEX": (6.69, 0.0),
    "ARCA": (12.46, 0.0),
    "BATS": (4.48, 0.03),
    "BOX": (6.40, 0.0),
    "C2": (2.64, 0.31),
    "CBOE": (9.57, 98.0),
    "EDGX": (8.19, 0.0),
    "EMLD": (5.75, 0.0),
    "GEM": (2.41, 0.0),
    "ISE": (7.22, 0.73),
    "MCRY": (2.30, 0.0),
    "MEMX": (3.24, 0.0),
    "MIAX": (6.01, 0.0),
    "MPRL": (3.18, 0.0),
    "NOBO": (1.81, 0.0),
    "NSDQ": (5.51, 0.0),
    "PHLX": (10.28, 0.93),
}
OCC_EXCHANGES = tuple(_OCC_VENUES)
_EQUITY_SHARE = np.array([equity for equity, _ in _OCC_VENUES.values()])
_INDEX_SHARE = np.array([index for _, index in _OCC_VENUES.values()])


def occ_symbol(symbol: str) -> str:
    """OCC writes share classes without the dot: BRK.B is BRKB."""
    return symbol.replace(".", "").replace("/", "")


def occ_csv(market: SimMarket, day: date) -> bytes:
    """OCC's all-underlyings volume-query CSV for `day`: both sides of every trade, split by
    account type (customer, firm, market maker), call/put and exchange.

    Vectorised: each underlying trades on four of the exchanges, drawn by their share of the
    market (index products on Cboe above all), and its sides spread over the 24 (account type,
    call/put, exchange) cells by gamma-distributed weights scaled by those shares.
    """
    totals, call_share = market.options_volumes(day)
    rng = np.random.default_rng(_seed(market.seed, day.toordinal(), "occ"))
    traded = np.flatnonzero(totals > 0)
    n = traded.size
    contracts = totals[traded].astype(np.int64)
    calls = np.round(contracts * call_share[traded]).astype(np.int64)
    sides = np.stack([2 * calls, 2 * (contracts - calls)], axis=1)  # (n, porc)
    n_ex = 4
    is_index = np.array([market.securities[i].kind == "index" for i in traded.tolist()], bool)
    share = np.where(is_index[:, None], _INDEX_SHARE[None, :], _EQUITY_SHARE[None, :])
    # Weighted draws without replacement: the top keys of log(share) plus Gumbel noise.
    with np.errstate(divide="ignore"):
        keys = np.log(share) - np.log(-np.log(rng.random((n, len(OCC_EXCHANGES)))))
    exchanges = np.argsort(-keys, axis=1)[:, :n_ex]
    chosen = np.take_along_axis(share, exchanges, axis=1)  # (n, n_ex)
    weights = rng.gamma(2.0, 1.0, (n, 2, 3 * n_ex)) * np.tile(chosen, 3)[:, None, :]
    weights /= weights.sum(axis=2, keepdims=True)
    split = np.floor(weights * sides[:, :, None]).astype(np.int64)
    split[:, :, 0] += sides - split.sum(axis=2)  # exact totals: the remainder goes to cell 0
    stamp = f"{day:%m/%d/%Y}"
    lines = ["quantity,underlying,symbol,actype,porc,exchange,actdate"]
    split_list = split.tolist()
    exchange_list = exchanges.tolist()
    for k, index in enumerate(traded.tolist()):
        symbol = market.securities[index].symbol
        und = occ_symbol(symbol)
        # Index products trade weeklies under a second root (SPXW), reported as its own row.
        weekly = _WEEKLY_ROOTS.get(symbol)
        ex_codes = [OCC_EXCHANGES[e] for e in exchange_list[k]]
        for p, porc in enumerate(("C", "P")):
            cells = split_list[k][p]
            for a, actype in enumerate(("C", "F", "M")):
                for e, exchange in enumerate(ex_codes):
                    qty = cells[a * n_ex + e]
                    if qty <= 0:
                        continue
                    if weekly and qty > 1:
                        # OCC counts sides: keep both roots' quantities even.
                        half = (qty // 4) * 2
                        lines.append(f"{half},{und},{und},{actype},{porc},{exchange},{stamp}")
                        lines.append(
                            f"{qty - half},{und},{weekly},{actype},{porc},{exchange},{stamp}"
                        )
                    else:
                        lines.append(f"{qty},{und},{und},{actype},{porc},{exchange},{stamp}")
    return ("\n".join(lines) + "\n").encode()
