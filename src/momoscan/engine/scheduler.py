"""Which symbols get this cycle's credits, in which order, and why.

A credit plan quotes C symbols a minute, so a universe of N is seen every N/C minutes if swept
in turn, and a name that starts to run waits half a sweep, on average, to be seen. Two
strategies (`[scan] scheduler`):

- `round_robin`: the hot set first (the watchlist and the symbols on screen), then the rest
  stalest first. Every quote is at most about N/C minutes old; nothing is favoured.
- `priority` (the default): each cycle spends the minute's credits on the symbols most likely
  to be moving now. In order:

  1. the watchlist, and the tables' top 10s while they take a tenth of the minute at most
     (a name that fell out of the market's movers keeps a stale quote on screen until asked
     again, and would hide a real entrant); then the names of a fresh, telling SEC filing
     (an 8-K's results, agreement or news, a 6-K, a 13D: its first 15 minutes, in another
     tenth at most; `weights.py`), as a move on news comes within minutes of it;
  2. the names whose deadline needs them now: no name goes unseen longer than the bound,
     `BOUND_FACTOR` times a full sweep at the credits left for the rest (`Coverage.bound_s`),
     and served earliest deadline first a name starts early enough when many fall due
     together (after a first sweep, every name was seen at once);
  3. the rest by priority: the time since a name was last seen times its weight, 1 plus
     what momoscan's own data says of it, each part for an outlier against the name's own
     usual moves, capped, and kept with its words for `why`: on screen or just below the
     top 10; today's move against its usual day (realised volatility from the stored
     intraday history, today's quotes, or its cap tier's until there are some); volume
     against the usual pace for the time of day; how far it moved between its last two
     quotes; its pre-market gap; options activity (unusual contracts, a NEW entrant to the
     daily options top 10, a jump in its share of the watch set's volume); its sector among
     the top movers more than its size makes likely; how volatile it is; and two free
     signals (they cost no credits: SEC EDGAR's, as stored; see `weights.py`), a fresh
     filing (a catalyst: an 8-K's results or news, a 6-K, a 13D; an offering less) and a
     low float (more with a catalyst or heavy volume). Most names keep a weight of 1 and
     are swept as a round-robin would.

  On plans that have it (Twelve Data's Pro plans and up), the market's own movers list
  (/market_movers/stocks: the day's 50 biggest gainers or losers for 100 credits, at most a
  third of the minute's credits, so that a 610-credit plan can ask both lists each minute)
  is a discovery probe: asked in the regular session when its recent answers found more
  names (new to the top `ZONE` of the movers or losers, by what was stored) than the same
  100 credits of quotes found at the tail of the recent sweeps, and at least every
  `PROBE_RECHECK` seconds to keep that estimate honest; gainers and losers in turn when
  only one fits. Its rows are stored as quotes of the universe's members, so they
  rank at once, and the sweep skips them that cycle.

Names streaming live (the hot set) are left out: the sweep polls the rest.

A halted name (Nasdaq Trader's halts feed, as stored) is quoted once after its halt began and
then not again while halted: its price cannot move, so credits spent on it buy nothing, and it
is never the stalest. From `RESUME_LEAD` before its announced resumption until `RESUME_TAIL`
after it, it is quoted first every cycle, ahead of the watchlist (a resumption is where a
runner moves).

Times are the market clock's (Unix seconds): when a symbol was last seen is when its quote
was asked for, or its quote's own time when it came by the stream or the probe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

# np.median imports numpy.ma on first use (25 ms): here (a run imports this module on a
# thread), not in the first plan, on the event loop.
import numpy.ma

from .. import market_hours as mh
from .. import queries
from ..format import et_time
from ..models import MoverRow, Session, Ticker
from ..queries.filings import recent_filings
from ..queries.fundamentals import floats
from ..rvol import volume_share_by
from ..store import Store
from .context import StepContext
from .halts import RESUME_LEAD, RESUME_TAIL
from .weights import (
    CATALYST_MINUTES,
    Catalyst,
    catalysts,
    float_boosts,
    float_shares,
    float_words,
    hot_catalysts,
)

#: /market_movers: credits a request (TD-OAS x-api-credits-cost).
PROBE_CREDITS = 100
#: The most of a cycle's credits the probes may take (see `_max_probes`).
MAX_PROBE_SHARE = 1 / 3
#: No name goes unseen longer than this many full sweeps at the credits the quotes get.
BOUND_FACTOR = 1.5
#: The probe is asked at least this often (market seconds) in the session, whatever its yield.
PROBE_RECHECK = 300.0
#: A quote (or a probe's row) "finds" a name when it puts it among the top this many of the
#: movers (or losers) where the stored quotes had it outside.
ZONE = 20
#: How fast the yield estimates forget (the weight of the newest measurement).
YIELD_ALPHA = 0.3
#: Typical daily moves (a fraction) by cap tier: a symbol's volatility until its own stored
#: history (or today's quotes) says more.
TIER_DAILY_VOL = {
    "nano": 0.08,
    "micro": 0.06,
    "small": 0.04,
    "mid": 0.028,
    "large": 0.02,
    "mega": 0.016,
}
SESSION_SECONDS = 23_400.0

#: The parts of a weight, in the order `why` tells them, with the words the status bar uses
#: for what the scheduler favours.
REASONS = {
    "screen": "names on screen",
    "move": "big movers",
    "pace": "heavy volume",
    "jump": "fresh moves",
    "gap": "gappers",
    "options": "options activity",
    "sector": "hot sectors",
    "vol": "volatile names",
    "catalyst": "fresh filings",
    "float": "low floats",
}


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """What one cycle asks for: the market movers probes first ("gainers", "losers"), then
    quotes of `symbols` in order, at most `quota` of them (None: all), skipping the names a
    probe has just refreshed."""

    symbols: list[str]
    quota: int | None = None
    probes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Coverage:
    """For the status bar: how long the least recently seen name has gone unseen, the bound
    the scheduler keeps (0: none), and what it favours now.

    `stalest_s` and `bound_s` are market-clock seconds; `favouring` is a few words ("big
    movers, heavy volume"), "" when nothing stands out."""

    strategy: str
    stalest_s: float | None
    bound_s: float
    favouring: str = ""
    probe: str = ""  # what the market movers probe does ("" when it is not in use)

    def line(self) -> str:
        """`stalest 9m (bound 23m) · favouring big movers, heavy volume · movers probe`."""
        if self.stalest_s is None:
            return ""
        parts = [f"stalest {_minutes(self.stalest_s)}"]
        if self.bound_s:
            parts[0] += f" (bound {_minutes(self.bound_s)})"
        if self.strategy == "round_robin":
            parts.append("round-robin")
        elif self.favouring:
            parts.append(f"favouring {self.favouring}")
        if self.probe:
            parts.append(self.probe)
        return " · ".join(parts)


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 5400:
        return f"{int(seconds // 60)}m"
    return f"{seconds / 3600:.0f}h"


class Scheduler:
    """What the quote step asks of a strategy. Subclasses order; this keeps when each symbol
    was last seen (market-clock seconds), which both report as coverage."""

    name = ""

    def __init__(self, ctx: StepContext, skip: Callable[[], set[str]] = set):
        self.ctx = ctx
        self._skip = skip
        self._seen: dict[str, float] = {}
        self._universe: list[str] = []
        # The oldest seen time, kept until what it depends on changes: the status bar asks
        # each second, and a walk of 8,000 names is milliseconds of the event loop's.
        self._oldest: tuple[tuple[int, frozenset[str]], float | None] | None = None
        self._changes = 0
        #: The halts of the last plan: names halted or just resumed, those near their
        #: resumption (quoted first, soonest first), and those quoted since their halt began
        #: and still halted (not quoted again).
        self._halts: dict[str, queries.HaltState] = {}
        self._resuming: list[str] = []
        self._frozen: frozenset[str] = frozenset()

    def now(self) -> float:
        return self.ctx.clock.now().timestamp()

    async def plan(
        self, tickers: Sequence[Ticker], *, full: bool, window: int, probe: bool = False
    ) -> SweepPlan:
        """The symbols to quote this cycle, in order.

        Args:
            full: the whole universe; else about one window of credits' worth.
            window: credits one cycle may spend (a minute's, the plan's rate).
            probe: the plan has the market movers list (asked in the regular session, when
                worth its credits).
        """
        raise NotImplementedError

    def seen(self, symbols: Iterable[str], at: float | None = None) -> None:
        """These symbols were just quoted (or refused by the source: asked all the same)."""
        stamp = self.now() if at is None else at
        for symbol in symbols:
            self._seen[symbol] = stamp
        self._changes += 1

    def probed(self, direction: str, rows: Sequence[MoverRow], at: float | None = None) -> None:
        """A market movers answer was stored: its rows are seen (the strategy may learn)."""
        self.seen((r.symbol for r in rows), at)

    def why(self, symbol: str) -> str:
        """Why `symbol` has the priority it has, in words ("" when the strategy has none)."""
        return self._halt_why(symbol)

    async def _read_halts(self, now: float, symbols: Iterable[str]) -> None:
        """The halts as stored now (market-clock seconds): which of `symbols` come first for
        their resumption, and which are left out for being halted and quoted since."""
        states = await self.ctx.store.call(queries.halt_states, now, recent=RESUME_TAIL)
        known = set(symbols)
        self._halts = states
        near = [
            st
            for s, st in states.items()
            if s in known and st.near_resumption(now, RESUME_LEAD, RESUME_TAIL)
        ]
        near.sort(key=lambda st: (st.resume_trade_at or now, st.symbol))
        self._resuming = [st.symbol for st in near]
        resuming = set(self._resuming)
        frozen = frozenset(
            s
            for s, st in states.items()
            if st.halted
            and s in known
            and s not in resuming
            and self._seen.get(s, -math.inf) >= st.halted_at
        )
        if frozen != self._frozen:
            self._frozen = frozen
            self._changes += 1

    def resuming(self) -> list[str]:
        """The names the last plan put first for their resumption, soonest first."""
        return list(self._resuming)

    def halted(self) -> frozenset[str]:
        """The names the last plan left out: halted, and quoted since the halt began."""
        return self._frozen

    def _halt_why(self, symbol: str) -> str:
        """Why a halted or resuming name stands where it does ("" for any other)."""
        state = self._halts.get(symbol)
        if state is None:
            return ""
        label = state.short or state.reason
        at = state.resume_trade_at
        if symbol in self._resuming and at is not None:
            if self.now() < at:
                return (
                    f"halted ({label}), resumes at {et_time(at)}: "
                    "quoted first around its resumption"
                )
            return f"resumed at {et_time(at)} after a {label} halt: quoted first for a few minutes"
        if symbol in self._frozen:
            when = (
                f"quoted first from a minute before it resumes at {et_time(at)}"
                if at is not None
                else "no resumption announced yet"
            )
            return (
                f"halted ({label}) since {et_time(state.halted_at)}: its price cannot move, so "
                f"it is not quoted again; {when}"
            )
        return ""

    def bound(self) -> float:
        """The longest a name may go unseen (market seconds; 0: no bound is kept)."""
        return 0.0

    def hottest(self, k: int) -> list[str]:
        """Up to `k` names the strategy thinks likeliest to move next, likeliest first (for
        the price stream's hot set, after the tables); none for a round-robin sweep."""
        return []

    def favouring(self) -> str:
        return ""

    def probe_note(self) -> str:
        return ""

    def stalest(self) -> float | None:
        """Seconds since the least recently seen universe name was seen, None before any
        was. Live names are seen now; a name never quoted yet (first in the next sweep) is
        left out."""
        # A halted name quoted since its halt began is as fresh as its price can be.
        live = frozenset(self._skip()) | self._frozen
        key = (self._changes, live)
        if self._oldest is None or self._oldest[0] != key:
            seen = self._seen
            times = [seen[s] for s in self._universe if s in seen and s not in live]
            self._oldest = (key, min(times) if times else None)
        oldest = self._oldest[1]
        return None if oldest is None else max(0.0, self.now() - oldest)

    def coverage(self) -> Coverage:
        return Coverage(
            self.name, self.stalest(), self.bound(), self.favouring(), self.probe_note()
        )

    async def _load_seen(self, symbols: Sequence[str]) -> None:
        """At the first cycle: when each symbol was last seen, from its stored quote's time."""
        self._universe = list(symbols)
        self._changes += 1
        if self._seen:
            return
        rows, _ = await self.ctx.store.call(queries.sweep_state)
        self._seen = {row[0]: float(row[7]) for row in rows}
        self._changes += 1


class RoundRobin(Scheduler):
    """The hot set first (the watchlist and the symbols on screen), then the rest of the
    universe stalest first: every quote at most about N/C minutes old."""

    name = "round_robin"

    async def plan(
        self, tickers: Sequence[Ticker], *, full: bool, window: int, probe: bool = False
    ) -> SweepPlan:
        ctx = self.ctx
        streaming = self._skip()
        await self._load_seen([t.symbol for t in tickers])
        await self._read_halts(self.now(), (t.symbol for t in tickers))
        frozen = self._frozen
        symbols = [
            t.symbol for t in tickers if t.symbol not in streaming and t.symbol not in frozen
        ]
        known = set(symbols)
        hot = [s for s in self._resuming if s in known]
        hot += [s for s in ctx.watched() if s in known]
        hot += await ctx.store.call(
            queries.hot_symbols,
            ctx.settings.universe.cap_tiers,
            ctx.settings.universe.min_price,
            ctx.settings.scan.float_bounds,
        )
        ages = await ctx.store.call(Store.quote_ages)
        ordered = [s for s in dict.fromkeys(hot) if s in known]
        seen = set(ordered)
        # Stalest first; equally stale ones alphabetically, so a batch is a run of neighbouring
        # symbols and its rows land on neighbouring pages of the database.
        rest = sorted((s for s in symbols if s not in seen), key=lambda s: (ages.get(s, 0.0), s))
        ordered += rest
        if full:
            return SweepPlan(ordered)
        return SweepPlan(ordered[: max(len(seen), window)])


#: The columns of the boost matrix, in `REASONS` order.
_COLUMNS = tuple(REASONS)
_COL = {name: k for k, name in enumerate(_COLUMNS)}


class PriorityScheduler(Scheduler):
    """Spends each cycle's credits where a move is most likely (see the module's docstring).

    What it knows of each universe name lives in numpy arrays (one slot a name), updated from
    the quotes stored since the last cycle, so that scoring 8,000 names takes a few
    milliseconds."""

    name = "priority"

    def __init__(
        self, ctx: StepContext, skip: Callable[[], set[str]] = set, *, free_signals: bool = True
    ):
        super().__init__(ctx, skip)
        #: Whether the free signals (a fresh filing, a low float: `weights.py`) are read and
        #: weigh; `bench/detect.py` turns them off to measure what they bring.
        self.free_signals = free_signals
        self._symbols: list[str] = []
        self._index: dict[str, int] = {}
        self._tickers: list[Ticker] = []
        self._read_since = -math.inf  # fetched_at of the newest stored quote taken in
        self._var_day = ""
        self._share: dict[str, float] = {}
        self._bound = 0.0
        # Market seconds a cycle: the interval (wall seconds) times the clock's speed (the
        # demo's runs 5x), until measured between plans. In wall seconds, the demo's first
        # minutes showed a bound a fifth of its true size: `stalest 3m (bound 1m)`.
        self._cycle = ctx.settings.scan.refresh_interval * float(getattr(ctx.clock, "speed", 1.0))
        self._last_plan_at = 0.0
        self._favouring = ""
        # The probe's yield and the quotes': names found per 100 credits (see `ZONE`).
        self._probe_value: dict[str, float] = {"gainers": math.inf, "losers": math.inf}
        self._probe_at: dict[str, float] = {"gainers": -math.inf, "losers": -math.inf}
        self._quote_value = 0.0  # names found per 100 credits at the tail of the sweeps
        self._tail: set[str] = set()
        self._probes_asked: tuple[str, ...] = ()
        self._probe_used = False
        self.probes_total = 0
        self._every_cycle: set[str] = set()
        self._zone = (math.inf, -math.inf)  # the top-ZONE cutoffs: nothing finds until known
        # The last plan, for `why`: each name's age, weight, boosts and the words' inputs.
        self._age = np.zeros(0)
        self._weight = np.zeros(0)
        self._boosts = np.zeros((0, len(_COLUMNS)))
        self._due = np.zeros(0, dtype=bool)
        self._rank: dict[str, tuple[int, str]] = {}
        self._heat: dict[str, int] = {}
        self._signals: dict[str, queries.OptionsSignal] = {}
        self._catalysts: dict[str, Catalyst] = {}
        self._hot: list[str] = []  # the names a fresh filing quotes every cycle
        self._float = np.zeros(0)  # each name's float (shares), nan: no figure
        self._pace = np.zeros(0)
        self._vol = np.zeros(0)
        self._allocate(0)

    def _allocate(self, n: int) -> None:
        nan = np.full(n, np.nan)
        self._change, self._prev_change = nan.copy(), nan.copy()
        self._ts, self._prev_ts = np.zeros(n), np.zeros(n)
        self._price = nan.copy()
        self._volume, self._avg = nan.copy(), nan.copy()
        self._extended = np.zeros(n, dtype=bool)
        self._var = nan.copy()  # variance of returns per second
        self._gap = nan.copy()

    def _take_universe(self, tickers: Sequence[Ticker]) -> None:
        symbols = [t.symbol for t in tickers]
        if symbols == self._symbols:
            return
        self._symbols = symbols
        self._tickers = list(tickers)
        self._index = {s: i for i, s in enumerate(symbols)}
        self._allocate(len(symbols))
        self._prior = np.array([TIER_DAILY_VOL.get(t.cap_tier, 0.03) for t in tickers])
        sectors = sorted({t.sector for t in tickers if t.sector})
        code = {name: k for k, name in enumerate(sectors)}
        self._sector_names = sectors
        self._sector = np.array([code.get(t.sector, -1) for t in tickers], dtype=np.int64)
        self._alpha = np.argsort(np.argsort(np.array(symbols, dtype=object)))
        self._read_since = -math.inf  # read every stored quote again
        self._var_day = ""

    # -- what the screens ask ----------------------------------------------------------------

    def bound(self) -> float:
        return self._bound

    def hottest(self, k: int) -> list[str]:
        """The `k` heaviest weights of the last plan that some boost lifted, off the tables
        (those are streamed for being on screen already)."""
        if not len(self._weight):
            return []
        lifted = np.flatnonzero((self._weight > 1.0) & (self._boosts[:, _COL["screen"]] == 0))
        top = lifted[np.argsort(-self._weight[lifted], kind="stable")][:k]
        return [self._symbols[i] for i in top.tolist()]

    def favouring(self) -> str:
        return self._favouring

    def probe_note(self) -> str:
        if not self._probe_used:
            return ""
        if self._probes_asked:
            return "movers probe: " + ", ".join(self._probes_asked)
        return "movers probe idle"

    def why(self, symbol: str) -> str:
        """Why `symbol` stood where it did in the last cycle's sweep: quoted every cycle, due
        (its bound), or its priority and what made it (each boost in words, biggest first)."""
        i = self._index.get(symbol)
        if i is None or i >= len(self._age):
            return ""
        if symbol in self._skip():
            return "streaming live"
        halted = self._halt_why(symbol)
        if halted:
            return halted
        if symbol in self._every_cycle:
            if symbol in self.ctx.watchlist:
                return "on the watchlist"
            if symbol in self.ctx.watched():
                return "named by an alert rule"
            held = self._catalysts.get(symbol)
            if symbol in self._hot and held is not None:
                return f"filed {held.text}: quoted every cycle while it is fresh"
            return "on screen: quoted every cycle"
        # Its age now, not at the last plan: the card asks every second, and the line moves on.
        seen = self._seen.get(symbol)
        if seen is None or math.isinf(float(self._age[i])):
            return "never quoted: first in the next sweep"
        age = max(0.0, self.now() - seen)
        unseen = f"unseen {_minutes(age)}"
        bound = _minutes(self._bound)
        if age > self._bound:
            return f"{unseen}, over the {bound} bound: first in the next sweep"
        if self._due[i]:
            return f"{unseen}: due in this sweep, before the {bound} bound"
        weight = float(self._weight[i])
        words = [w for _, w in sorted(self._words(i), key=lambda part: -part[0])]
        head = f"priority {age / 60.0 * weight:.0f} = {unseen} x weight {weight:.1f}"
        return head + (": " + " · ".join(words) if words else " (nothing stands out)")

    def _words(self, i: int) -> list[tuple[float, str]]:
        """The boosts of name `i` in the last plan, each with its words."""
        symbol = self._symbols[i]
        boosts = self._boosts[i]
        out: list[tuple[float, str]] = []
        for k, reason in enumerate(_COLUMNS):
            boost = float(boosts[k])
            if boost <= 0:
                continue
            if reason == "screen":
                place, table = self._rank.get(symbol, (0, "tables"))
                where = "on screen" if place <= 10 else "just below the top 10"
                text = f"{where} (#{place} of the {table})"
            elif reason == "move":
                z = abs(float(self._change[i])) / max(float(self._vol[i]) * 100.0, 0.5)
                text = f"moving {float(self._change[i]):+.1f}%, {z:.1f}x its usual day"
            elif reason == "pace":
                text = f"volume {float(self._pace[i]):.1f}x its usual pace"
            elif reason == "jump":
                step = float(self._change[i] - self._prev_change[i])
                text = f"{step:+.1f} points since the quote before"
            elif reason == "gap":
                text = f"gapped {float(self._gap[i]):+.1f}% before the open"
            elif reason == "options":
                signal = self._signals.get(symbol)
                bits = []
                if signal is not None and signal.unusual:
                    bits.append(f"{signal.unusual} unusual option contracts")
                if signal is not None and signal.is_new:
                    bits.append("new in the daily options top 10")
                text = ", ".join(bits) or "its options share jumped"
            elif reason == "catalyst":
                held = self._catalysts.get(symbol)
                text = f"filed {held.text}" if held is not None else "a fresh filing"
            elif reason == "float":
                text = float_words(float(self._float[i]))
            elif reason == "sector":
                sector = self._tickers[i].sector
                text = f"{self._heat.get(sector, 0)} {sector} names among the top movers"
            else:
                text = f"volatile ({float(self._vol[i]):.1%} a day)"
            out.append((boost, text))
        return out

    # -- learning ----------------------------------------------------------------------------

    def probed(self, direction: str, rows: Sequence[MoverRow], at: float | None = None) -> None:
        """Score a probe's answer (how many names it put among the top `ZONE` that the
        stored quotes had outside) and take its rows in as observations. A movers list
        names each symbol once; should one come twice, its first row is taken."""
        stamp = self.now() if at is None else at
        first: dict[str, MoverRow] = {}
        for row in rows:
            if row.symbol in self._index:
                first.setdefault(row.symbol, row)
        taken = list(first.values())
        found = 0
        if taken:
            i = np.array([self._index[row.symbol] for row in taken], dtype=np.int64)
            # NumPy reads a missing change (None) as nan: not known, never a find.
            change = np.array([row.percent_change for row in taken], dtype=float)
            found = self._finds_among(self._change[i], change)
            self._observe(
                i,
                np.array([row.quote_ts or stamp for row in taken], dtype=float),
                change,
                np.array([row.last for row in taken], dtype=float),
            )
        old = self._probe_value.get(direction, math.inf)
        self._probe_value[direction] = (
            found if math.isinf(old) else (1 - YIELD_ALPHA) * old + YIELD_ALPHA * found
        )
        self.probes_total += 1
        super().probed(direction, rows, at)

    def _finds_among(self, before: np.ndarray, after: np.ndarray) -> int:
        """How many of the names, with % changes `before` and `after` (two arrays, nan: not
        known), stand among the top `ZONE` movers or losers (by the last plan's cutoffs)
        after and did not before."""
        up, down = self._zone
        with np.errstate(invalid="ignore"):
            above = (after >= up) & (np.isnan(before) | (before < up))
            below = (after <= down) & (np.isnan(before) | (before > down))
        return int(np.count_nonzero(above | below))

    def _observe(
        self, i: np.ndarray, ts: np.ndarray, change: np.ndarray, price: np.ndarray
    ) -> np.ndarray:
        """Take in observations of the names `i` (distinct indices; arrays alike: Unix
        seconds, % changes with nan for not known, prices). Returns which were newer than
        the name's last, the only ones taken."""
        last = self._ts[i]
        before = self._change[i]
        new: np.ndarray = ts > last
        dt = ts - last
        old_price = self._price[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            # Today's quotes keep the volatility estimate current (a slow average: one
            # observation moves it a tenth of the way).
            sampled = (
                new & (last != 0) & (dt >= 30.0) & (dt <= 3600.0) & (old_price > 0) & (price > 0)
            )
            sample = np.log(price[sampled] / old_price[sampled]) ** 2 / dt[sampled]
        var = self._var[i[sampled]]
        self._var[i[sampled]] = np.where(np.isnan(var), sample, 0.9 * var + 0.1 * sample)
        fresh = i[new]
        self._prev_ts[fresh], self._prev_change[fresh] = last[new], before[new]
        self._ts[fresh], self._change[fresh], self._price[fresh] = ts[new], change[new], price[new]
        return new

    def _learn(self, rows: Sequence[queries.SweepRow]) -> None:
        """Take in the quotes stored since the last cycle (polls, ticks, probe rows): new
        observations, today's gaps, and what the tail of the last sweep found.

        `rows` hold one quote a symbol (the `quotes` table's key), so the update is done a
        column at a time: a sweep of 8,000 rows took 15-20 ms of the event loop's time a row
        at a time (measured in the lag bench), which one loop iteration cannot spare."""
        tail = self._tail
        self._tail = set()
        if not rows:
            return
        index = self._index
        symbols, price_, prev_close_, open__, change_, volume_, avg_, ts_, extended_, source_ = zip(
            *rows, strict=True
        )
        at = np.fromiter((index.get(s, -1) for s in symbols), np.int64, len(symbols))
        known = at >= 0
        i = at[known]
        if not len(i):
            return
        # NumPy reads SQL NULL (None) as nan in a float column, and as False in a bool one.
        ts = np.array(ts_, dtype=float)[known]
        change = np.array(change_, dtype=float)[known]
        price = np.array(price_, dtype=float)[known]
        volume = np.array(volume_, dtype=float)[known]
        avg = np.array(avg_, dtype=float)[known]
        open_ = np.array(open__, dtype=float)[known]
        prev_close = np.array(prev_close_, dtype=float)[known]
        extended = np.array(extended_, dtype=bool)[known]
        poll = np.array([s == "poll" for s in source_], dtype=bool)[known]
        kept = [s for s, k in zip(symbols, known.tolist(), strict=True) if k]

        for j in np.flatnonzero(~poll).tolist():
            # Streamed or probed: seen at its own time.
            symbol, stamp = kept[j], float(ts[j])
            if stamp > self._seen.get(symbol, 0.0):
                self._seen[symbol] = stamp
                self._changes += 1

        before = self._change[i]  # a copy, from before the observations
        new = self._observe(i, ts, change, price)

        self._volume[i] = volume
        self._avg[i] = avg
        self._extended[i] = extended
        # Before the open, the change is the gap; after it, the gap is the open's, once.
        premarket = extended & ~np.isnan(change)
        opened = (
            ~premarket
            & (open_ != 0)
            & ~np.isnan(open_)
            & (prev_close != 0)
            & ~np.isnan(prev_close)
            & np.isnan(self._gap[i])
        )
        self._gap[i[premarket]] = change[premarket]
        self._gap[i[opened]] = (open_[opened] - prev_close[opened]) / prev_close[opened] * 100.0

        if tail:
            in_tail = np.array([s in tail for s in kept], dtype=bool)
            polled = new & in_tail & poll
            tail_seen = int(polled.sum())
            if tail_seen >= PROBE_CREDITS // 2:
                found = self._finds_among(before[polled], change[polled])
                value = found / tail_seen * PROBE_CREDITS
                self._quote_value = (1 - YIELD_ALPHA) * self._quote_value + YIELD_ALPHA * value

    async def _load_volatility(self, now: float) -> None:
        """Once a trading day: each name's realised volatility from the stored intraday
        history of the days before (at most 3), and a fresh start for the gaps."""
        day = mh.current_trading_day(datetime.fromtimestamp(now, mh.ET))
        if self._var_day == day.isoformat():
            return
        self._var_day = day.isoformat()
        start = datetime.combine(day, mh.PRE_OPEN, tzinfo=mh.ET).timestamp()
        since = datetime.combine(
            mh.trading_days_before(day, 3)[-1], mh.PRE_OPEN, tzinfo=mh.ET
        ).timestamp()
        history = await self.ctx.store.call(queries.realised_variance, since, start)
        for symbol, var in history.items():
            i = self._index.get(symbol)
            if i is not None:
                self._var[i] = var
        self._gap[:] = np.nan

    # -- the plan ----------------------------------------------------------------------------

    async def plan(
        self, tickers: Sequence[Ticker], *, full: bool, window: int, probe: bool = False
    ) -> SweepPlan:
        ctx = self.ctx
        settings = ctx.settings
        now = self.now()
        self._take_universe(tickers)
        await self._load_seen(self._symbols)
        await self._load_volatility(now)
        if self._last_plan_at and 0 < now - self._last_plan_at < 3600:
            self._cycle = 0.7 * self._cycle + 0.3 * (now - self._last_plan_at)
        self._last_plan_at = now
        session = mh.session_at(datetime.fromtimestamp(now, mh.ET))
        streaming = self._skip()
        tiers, floor = settings.universe.cap_tiers, settings.universe.min_price
        rows, self._read_since = await ctx.store.call(queries.sweep_state, self._read_since)
        tables = await ctx.store.call(queries.stream_candidates, tiers, floor, 20)
        self._signals = (
            await ctx.store.call(
                queries.options_signals,
                unusual_ratio=settings.options.unusual_volume_oi,
                unusual_min_volume=settings.options.unusual_min_volume,
            )
            if settings.options.enabled
            else {}
        )
        await self._read_free_signals(now)
        self._learn(rows)
        n = len(self._symbols)
        live = np.zeros(n, dtype=bool)
        for symbol in streaming:
            i = self._index.get(symbol)
            if i is not None:
                live[i] = True
        await self._read_halts(now, self._symbols)
        frozen = self._frozen
        resuming = [s for s in self._resuming if s not in streaming]
        watch = [
            s
            for s in dict.fromkeys([*resuming, *ctx.watched()])
            # the watchlist (the database's), then alert rules' names
            if s in self._index and s not in streaming and s not in frozen
        ]
        # The tables' top 10s are quoted every cycle, as in a round-robin sweep, while they
        # take a tenth of the window at most: a name that left the market's movers list keeps
        # its stale quote there until asked again, and would hide a real entrant.
        screen = [
            s
            for s in dict.fromkeys(s for table in tables for s in table[:10])
            if s in self._index and s not in streaming and s not in watch and s not in frozen
        ]
        if len(screen) > window // 10:
            screen = []
        # A fresh, telling filing's name too, in another tenth of the window at most.
        taken = set(watch) | set(screen)
        self._hot = [
            s
            for s in hot_catalysts(self._catalysts)
            if s in self._index and s not in streaming and s not in taken and s not in frozen
        ][: window // 10]
        self._every_cycle = taken | set(self._hot)
        watch = watch + screen + self._hot
        # A universe the minute's credits cover whole learns nothing from a probe.
        wide = n - int(live.sum()) > window - len(watch)
        probes = self._choose_probes(window, session) if probe and wide and not full else ()
        self._probe_used = probe and wide
        quota = None if full else max(len(watch), window - PROBE_CREDITS * len(probes))
        # The bound: a full sweep at the credits the quotes get (less the names quoted every
        # cycle and the probes at their most), times the factor, in this run's cycles.
        reserved = PROBE_CREDITS * self._max_probes(window) if self._probe_used else 0
        room = max(1, window - len(watch) - reserved)
        members = int(n - live.sum())
        self._bound = max(1.0, BOUND_FACTOR * members / room) * self._cycle

        self._rank = _ranks(tables)
        self._heat = _sector_heat(self._tickers, self._index, tables)
        minutes_open = _minutes_since_open(now) if session is Session.OPEN else None
        self._score(now, minutes_open)

        seen = np.array([self._seen.get(s, np.nan) for s in self._symbols])
        age = np.where(np.isnan(seen), np.inf, now - seen)
        self._age = age
        score = np.where(np.isinf(age), np.inf, age / 60.0 * self._weight)
        first = [self._index[s] for s in watch]
        pick = ~live
        pick[first] = False
        pick[[self._index[s] for s in frozen if s in self._index]] = False
        candidates = np.flatnonzero(pick)
        due = (
            candidates
            if quota is None
            else _due(candidates, now - age[candidates] + self._bound, now, self._cycle,
                      quota - len(first), room, self._alpha)
        )  # fmt: skip
        self._due = np.zeros(n, dtype=bool)
        self._due[due] = quota is not None
        rest = np.flatnonzero(pick & ~self._due)
        # The names a deadline needs now first, then by priority; equal ones alphabetically,
        # so a batch is a run of neighbouring rows in the database.
        if quota is None:
            due = due[np.lexsort((self._alpha[due], -score[due]))]
            rest = rest[:0]
        rest = rest[np.lexsort((self._alpha[rest], -score[rest]))]
        order = np.concatenate([np.array(first, dtype=np.int64), due, rest])
        symbols = self._symbols
        ordered = [symbols[i] for i in order.tolist()]
        self._zone = self._cutoffs(floor)
        if quota is not None:
            polled = order[:quota]
            # The last 100 quotes of the sweep: what a probe's credits would have bought.
            tail = [i for i in polled[-PROBE_CREDITS:].tolist() if not self._due[i]]
            self._tail = {symbols[i] for i in tail}
            self._favouring = self._favoured(polled)
        return SweepPlan(ordered, quota, probes)

    async def _read_free_signals(self, now: float) -> None:
        """The filings of the last `CATALYST_MINUTES` and the floats, as stored (one query
        each, once a plan); none while `free_signals` is off."""
        if not self.free_signals:
            self._catalysts = {}
            self._float = np.full(len(self._symbols), np.nan)
            return
        store = self.ctx.store
        recent = await store.call(recent_filings, now - CATALYST_MINUTES * 60.0)
        self._catalysts = catalysts(recent, now)
        figures = await store.call(floats)  # every stored figure: one query
        self._float = float_shares(figures, self._symbols)

    def _score(self, now: float, minutes_open: float | None) -> None:
        """Every name's weight: 1 plus its boosts (the module's docstring), into
        `self._weight`, with the boosts kept (one column a reason) for `why`."""
        n = len(self._symbols)
        boosts = np.zeros((n, len(_COLUMNS)))
        vol = np.where(np.isnan(self._var), self._prior, np.sqrt(self._var * SESSION_SECONDS))
        self._vol = vol
        with np.errstate(invalid="ignore", divide="ignore"):
            # Each boost is for an outlier against the name's own usual moves (its daily
            # volatility `vol`), so that most names keep a weight of 1.
            usual = np.maximum(vol * 100.0, 0.5)  # a usual day's move, in points
            change = np.nan_to_num(self._change, nan=0.0)
            boosts[:, _COL["move"]] = np.clip(np.abs(change) / usual - 2.0, 0.0, 3.0)
            pace = np.zeros(n)
            if minutes_open is not None:
                share = max(volume_share_by(minutes_open), 0.03)
                pace = np.nan_to_num(self._volume / (self._avg * share), nan=0.0, posinf=0.0)
                pace[self._extended] = 0.0
                boosts[:, _COL["pace"]] = np.where(
                    pace >= 2.0, np.clip(np.log2(np.maximum(pace, 1.0)) - 0.5, 0.0, 3.0), 0.0
                )
            self._pace = pace
            # How far it moved between its last two quotes, against what its volatility
            # makes usual over that time.
            step = np.abs(np.nan_to_num(self._change - self._prev_change, nan=0.0))
            span = np.clip(self._ts - self._prev_ts, 60.0, 3600.0)
            step_z = step / (usual * np.sqrt(span / SESSION_SECONDS))
            recent = (self._ts - self._prev_ts) <= 3600.0
            boosts[:, _COL["jump"]] = np.where(
                recent & (step >= 1.0), np.clip((step_z - 2.5) / 2.0, 0.0, 2.0), 0.0
            )
            gap = np.abs(np.nan_to_num(self._gap, nan=0.0))
            boosts[:, _COL["gap"]] = np.clip((gap / usual - 2.0) / 2.0, 0.0, 2.0)
            median = float(np.median(vol)) if n else 0.03
            boosts[:, _COL["vol"]] = np.clip((vol / median - 1.5) / 1.5, 0.0, 1.0)
        for symbol, (place, _) in self._rank.items():
            i = self._index.get(symbol)
            if i is not None:
                boosts[i, _COL["screen"]] = 4.0 if place <= 10 else 2.0
        if self._heat:
            # A sector with more names among the top movers and losers than its share of the
            # universe makes likely: its other names may follow (sympathy moves).
            heat = np.zeros(len(self._sector_names) + 1)
            for k, name in enumerate(self._sector_names):
                heat[k] = self._heat.get(name, 0)
            members = np.bincount(self._sector[self._sector >= 0], minlength=len(heat))
            expected = 2 * 10 * members / max(1, int(members.sum()))
            excess = np.clip((heat - expected - 1.0) / 2.0, 0.0, 1.0)
            excess[-1] = 0.0
            boosts[:, _COL["sector"]] = excess[self._sector]  # -1 (no sector) reads 0
        for symbol, signal in self._signals.items():
            i = self._index.get(symbol)
            if i is None:
                continue
            boost = (0.5 if signal.unusual else 0.0) + (1.0 if signal.is_new else 0.0)
            before = self._share.get(symbol)
            if before and signal.share >= 1.5 * before:
                boost += 0.5
            self._share[symbol] = signal.share
            boosts[i, _COL["options"]] = min(1.5, boost)
        for symbol, catalyst in self._catalysts.items():
            i = self._index.get(symbol)
            if i is not None:
                boosts[i, _COL["catalyst"]] = catalyst.boost
        if len(self._float) == n:
            # A small float moves furthest on news or heavy volume: its part doubles then.
            amplified = (boosts[:, _COL["catalyst"]] > 0) | (boosts[:, _COL["pace"]] > 0)
            boosts[:, _COL["float"]] = float_boosts(self._float, amplified)
        self._boosts = boosts
        self._weight = 1.0 + boosts.sum(axis=1)

    def _cutoffs(self, floor: float) -> tuple[float, float]:
        """The % changes of the `ZONE`-th mover and loser by what is stored now."""
        known = self._change[(self._price >= floor) & ~np.isnan(self._change)]
        if not len(known):
            return math.inf, -math.inf
        k = min(ZONE, len(known))
        up = float(np.partition(known, len(known) - k)[len(known) - k])
        down = float(np.partition(known, k - 1)[k - 1])
        return up, down

    def _favoured(self, polled: np.ndarray) -> str:
        """The reasons that carried most weight among this cycle's scored quotes."""
        chosen = polled[~self._due[polled]]
        if not len(chosen):
            return ""
        totals = self._boosts[chosen].sum(axis=0)
        grand = float(totals.sum())
        if grand <= 0:
            return ""
        top = np.argsort(-totals)[:3]
        return ", ".join(REASONS[_COLUMNS[k]] for k in top.tolist() if totals[k] >= 0.15 * grand)

    def _max_probes(self, window: int) -> int:
        """Probes a cycle may ask at most: a third of the window's credits, two at most (both
        lists from 600 credits a minute, one from 300).

        A third rather than less: on the 610-credit plan, a fifth allowed one list a minute, so
        a runner starting in the minute the other list was asked waited for the next
        (`bench/detect.py`: median 1.0 min against 0 s with both), at the price of a longer
        bound (a sweep of the rest at 380 quotes a minute rather than 480)."""
        return min(2, int(window * MAX_PROBE_SHARE) // PROBE_CREDITS)

    def _choose_probes(self, window: int, session: Session) -> tuple[str, ...]:
        """The market movers probes worth their credits this cycle: those whose recent
        answers found more than the same credits of quotes did, or not asked for a while."""
        self._probes_asked = ()
        if session is not Session.OPEN:
            return ()  # the movers list is the regular session's
        now = self.now()
        wanted = []
        for direction in ("gainers", "losers"):
            elapsed = now - self._probe_at[direction]
            if self._probe_value[direction] > self._quote_value or elapsed >= PROBE_RECHECK:
                wanted.append((elapsed, direction))
        # The one asked longest ago first (news piles up while nobody looks); as many as
        # the window allows.
        wanted.sort(reverse=True)
        chosen = tuple(direction for _, direction in wanted[: self._max_probes(window)])
        for direction in chosen:
            self._probe_at[direction] = now
        self._probes_asked = chosen
        return chosen


def _due(
    candidates: np.ndarray,
    deadline: np.ndarray,  # of each candidate, market seconds
    now: float,
    cycle: float,
    capacity: int,
    later: int,
    alpha: np.ndarray,
) -> np.ndarray:
    """The names that must be quoted this cycle for every name to be seen by its deadline
    (when it was last seen plus the bound), earliest deadline first.

    Served earliest deadline first, the j-th name (from 0) has this cycle and the cycles
    before its deadline, `floor((deadline_j - now) / cycle)` more of them at `later` quotes
    each, to be reached in: of the first j + 1 names, all but `later` times that many must
    be quoted now. The most any j needs is how many go first (at most `capacity`, this
    cycle's quotes); a name past its deadline always does. A sweep whose names were all seen
    at once (the first one) thus starts on the stalest early enough, not all at the bound.
    """
    if not len(candidates):
        return candidates
    by_deadline = np.lexsort((alpha[candidates], deadline))
    ranked = candidates[by_deadline]
    ahead = np.floor((deadline[by_deadline] - now) / cycle)
    need = np.arange(1, len(ranked) + 1) - max(later, 1) * np.maximum(ahead, 0.0)
    overdue = int(np.count_nonzero(ahead < 0))
    forced = max(overdue, min(capacity, int(max(0.0, float(need.max())))))
    return ranked[:forced]


def _minutes_since_open(now: float) -> float:
    at = datetime.fromtimestamp(now, mh.ET)
    opened = datetime.combine(mh.current_trading_day(at), mh.OPEN, tzinfo=mh.ET)
    return (now - opened.timestamp()) / 60.0


def _ranks(tables: Sequence[Sequence[str]]) -> dict[str, tuple[int, str]]:
    """Each symbol's best place in the tables (gappers, movers, losers, volume)."""
    names = ("gappers", "movers", "losers", "volume leaders")
    out: dict[str, tuple[int, str]] = {}
    for table, name in zip(tables, names, strict=False):
        for place, symbol in enumerate(table, start=1):
            held = out.get(symbol)
            if held is None or place < held[0]:
                out[symbol] = (place, name)
    return out


def _sector_heat(
    tickers: Sequence[Ticker], index: dict[str, int], tables: Sequence[Sequence[str]]
) -> dict[str, int]:
    """How many of each sector's names stand in the top 10 of the movers or losers."""
    counts: dict[str, int] = {}
    for table in tables[1:3]:
        for symbol in table[:10]:
            i = index.get(symbol)
            sector = tickers[i].sector if i is not None else ""
            if sector:
                counts[sector] = counts.get(sector, 0) + 1
    return counts


def make_scheduler(
    strategy: str, ctx: StepContext, skip: Callable[[], set[str]] = set
) -> Scheduler:
    """The `[scan] scheduler` strategy's scheduler."""
    if strategy == "round_robin":
        return RoundRobin(ctx, skip)
    return PriorityScheduler(ctx, skip)
