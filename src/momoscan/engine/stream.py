"""The hot set over Twelve Data's price stream: what the screen shows and the watchlist, live.

Polling costs a credit a symbol, so a big universe is swept every few minutes; the names that
matter now (the top movers, losers and volume leaders, the watchlist, then the names the
scheduler ranks likeliest to move next) are streamed instead, up to the plan's WebSocket
credits, and the sweep skips them while they stream. The hot set is chosen again after every
refresh cycle, with hysteresis: a streamed name is kept while it ranks within a wider band
(the top `KEEP_RANKS`), so a name at the edge of a top 10 does not churn subscriptions. A
refused subscription, a dropped or silent connection (no message within the stream's bound:
`PriceStream.stall_after`), a name whose prices came from another listing, or a plan without
the stream puts those names back in the sweep at once: polling covers them at the next cycle,
and the stream comes back by itself. A streamed name's age is its last trade's (the tick's
own timestamp), so a name the stream stopped moving ages on screen like a polled one.

Each name is subscribed for its stored listing (exchange and MIC from the `tickers` table; US
listings trade in USD), and the stream refuses a price for any other (`PriceStream`).

Ticks become quote rows the polling path writes too (price, % change from the stored previous
close, day volume), each with its source and its own timestamp, written to the store in one
transaction every `FLUSH_SECONDS` and handed to the screen at once (`on_ticks`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from .. import queries
from ..models import Tick as Tick  # re-exported: the stream's ticks
from ..sources.twelvedata_ws import HEARTBEAT_SECONDS, Listing, PriceEvent, PriceStream
from ..store import Store, StoreError
from .context import StepContext
from .halts import RESUME_TAIL, STREAM_LEAD, SsrRule

log = logging.getLogger(__name__)

#: A table's top this many are streamed...
CORE_RANKS = 10
#: ...and a streamed name keeps its subscription while it ranks within this many.
KEEP_RANKS = 20
#: Seconds between hand-overs of the ticks received, to the screen and to the store (one
#: transaction each, the latest tick of a symbol): the stream's delay to the screen is at most
#: this plus a frame.
FLUSH_SECONDS = 0.25


TicksCallback = Callable[[Sequence[Tick]], None]


#: A connected stream silent longer than this (seconds) says so beside "live": one heartbeat
#: period and a half (`HEARTBEAT_SECONDS`, 10 s; a heartbeat's reply comes within a second or
#: two), well before the stall bound (three heartbeats) drops the connection.
QUIET_AFTER = 1.5 * HEARTBEAT_SECONDS


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """For the status bar and --json: `live` names streaming (the sweep polls the rest),
    `refused` subscriptions, `refused_events` prices refused for naming another listing, why the
    stream is down ("" when it is up), and the seconds since its last message of any kind."""

    enabled: bool
    connected: bool
    live: int
    wanted: int
    refused: int
    problem: str
    stalled: bool = False
    refused_events: int = 0
    last_message_age: float | None = None
    #: The key's plan has no stream: given up until restarted.
    unavailable: bool = False

    @property
    def state(self) -> str:
        """`live` (connected and hearing), `stalled` (silent past the bound; reconnecting),
        `reconnecting` (dropped), or `off` (streaming off, or the plan has none)."""
        if not self.enabled or self.unavailable:
            return "off"
        if self.stalled:
            return "stalled"
        if self.connected:
            return "live"
        return "reconnecting"

    def line(self, universe: int) -> str:
        """`stream: 48 live · polling 7,952`, or why not."""
        polled = max(0, universe - self.live)
        if not self.enabled:
            return ""
        if self.stalled:
            text = "stream stalled"
        elif self.problem and not self.connected:
            text = "stream down"
        else:
            age = self.last_message_age
            if self.connected and age is not None and age > QUIET_AFTER:
                # Not yet past the stall bound, but a trader must not read "live" as fresh:
                # silent, and how many names it holds (the rows' own ages climb too).
                text = f"stream silent {int(age)}s ({self.live} names)"
            else:
                text = f"stream: {self.live} live"
            if self.refused:
                text += f" ({self.refused} refused)"
        if self.refused_events:
            text += f" · {self.refused_events:,} other-listing ticks refused"
        return f"{text} · polling {polled:,}"


class StreamStep:
    """Chooses the hot set, runs the price stream, and turns its ticks into stored quotes.

    Args:
        stream: the price stream client, or None when streaming is off.
        max_symbols: WebSocket credits to use at most (0: as many as the hot set has; the
            server's refusals then say where the plan's limit is).
    """

    def __init__(
        self,
        ctx: StepContext,
        stream: PriceStream | None,
        *,
        max_symbols: int = 0,
        ssr_rule: SsrRule | None = None,
    ):
        self.ctx = ctx
        self.stream = stream
        self.max_symbols = max_symbols
        #: Rule 201 found in the ticks as they are stored (None: not looked for).
        self.ssr_rule = ssr_rule
        self._prev_close: dict[str, float] = {}
        self._pending: dict[str, PriceEvent] = {}
        self._listeners: list[TicksCallback] = []
        self.ticks_stored = 0
        #: The scheduler's highest-priority names, most likely first (set by the Engine).
        self.favoured: Callable[[int], list[str]] = lambda _k: []

    # -- what the engine and the screens ask -------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.stream is not None and not self.stream.state.unavailable

    def live(self) -> set[str]:
        """Symbols streaming now: the sweep leaves them out."""
        return self.stream.live_symbols() if self.stream is not None else set()

    def status(self) -> StreamStatus:
        if self.stream is None:
            return StreamStatus(False, False, 0, 0, 0, "")
        state = self.stream.state
        heard = state.last_message_at
        return StreamStatus(
            not state.unavailable or bool(state.problem),
            state.connected,
            len(self.live()),
            len(self.stream.wanted),
            len(state.refused),
            state.problem,
            stalled=state.stalled,
            refused_events=state.refused_events,
            last_message_age=None if heard is None else max(0.0, self.ctx.wall() - heard),
            unavailable=state.unavailable,
        )

    def listen(self, callback: TicksCallback) -> None:
        """Call `callback` with each flush's ticks (on the event loop), e.g. the TUI's."""
        self._listeners.append(callback)

    # -- the hot set -------------------------------------------------------------------------

    async def choose(self, keep: Sequence[str] = ()) -> None:
        """Pick the symbols to stream from what the tables show now (after each cycle);
        `keep`: names to keep streaming if the plan has room (what the collector this one
        took over from streamed)."""
        if not self.enabled:
            return
        assert self.stream is not None
        ctx = self.ctx
        settings = ctx.settings
        ranked = await ctx.store.call(
            queries.stream_candidates,
            settings.universe.cap_tiers,
            settings.universe.min_price,
            KEEP_RANKS,
        )
        # After the tables, the names the scheduler ranks highest (those likeliest to move
        # next): streamed, they cost no REST credits and are seen at once.
        ranked = [*ranked, list(keep), self.favoured(KEEP_RANKS)]
        current = self.stream.wanted
        state = self.stream.state
        wanted = choose_hot_set(
            [*ctx.watched(), *await self.resuming()],
            ranked,
            current,
            # Nor a name whose prices came from another listing: it is polled.
            refused=set(state.refused) | set(state.other_listing),
            limit=self.max_symbols,
        )
        closes = await ctx.store.call(queries.previous_closes, sorted(wanted))
        self._prev_close = closes
        # Only symbols with a stored quote: a tick needs its previous close to mean anything.
        kept = [s for s in wanted if s in closes]
        self.stream.want(await ctx.store.call(_listings, kept))

    async def resuming(self) -> list[str]:
        """Names halted with a resumption announced within `STREAM_LEAD` market seconds, or
        resumed within `RESUME_TAIL`, soonest first: streamed right after the watchlist (a
        resumption is where a runner moves, and the hot set is chosen once a cycle)."""
        now = self.ctx.clock.now().timestamp()
        states = await self.ctx.store.call(queries.halt_states, now, recent=RESUME_TAIL)
        near = [s for s in states.values() if s.near_resumption(now, STREAM_LEAD, RESUME_TAIL)]
        near.sort(key=lambda s: (abs((s.resume_trade_at or now) - now), s.symbol))
        return [s.symbol for s in near]

    # -- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """The stream and the writer of its ticks, until cancelled."""
        if self.stream is None:
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._flusher)
            await self.stream.run()
            # The plan has no stream: nothing more to write; the sweep polls everything.
            tg.cancel_scope.cancel()

    def on_price(self, event: PriceEvent) -> None:
        """The stream's callback: keep the newest tick of each symbol until the next flush."""
        held = self._pending.get(event.symbol)
        if held is None or held.timestamp <= event.timestamp:
            self._pending[event.symbol] = event

    async def _flusher(self) -> None:
        failing = False
        while True:
            await anyio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
                failing = False
            except (StoreError, sqlite3.Error) as exc:
                # The database cannot be written now (a full disk, a lock): these ticks are
                # lost, the next ones try again, and the cycle tells the user why.
                if not failing:
                    log.info("streamed prices not stored: %s", exc)
                failing = True

    async def flush(self) -> list[Tick]:
        """Write the ticks received since the last flush and hand them to the listeners."""
        if not self._pending:
            return []
        events, self._pending = self._pending, {}
        ticks = [self._tick(e) for e in events.values()]
        rows = [(t.symbol, t.price, t.change_pct, t.volume, t.ts) for t in ticks]
        await self.ctx.store.call(Store.store_stream_ticks, rows, self.ctx.wall())
        self.ticks_stored += len(ticks)
        if self.ssr_rule is not None:
            await self.ssr_rule.record(self.ssr_rule.from_ticks(ticks))
        for listener in self._listeners:
            listener(ticks)
        return ticks

    def _tick(self, event: PriceEvent) -> Tick:
        close = self._prev_close.get(event.symbol)
        change = (event.price - close) / close * 100.0 if close else None
        return Tick(event.symbol, event.price, change, event.day_volume, int(event.timestamp))


def _listings(store: Store, symbols: Sequence[str]) -> list[Listing]:
    """Each symbol's listing as the universe stores it (a bare US listing when unknown)."""
    out = []
    for symbol in symbols:
        ticker = queries.ticker(store, symbol)
        exchange, mic = (ticker.exchange, ticker.mic) if ticker is not None else ("", "")
        out.append(Listing(symbol, exchange, mic))
    return out


def choose_hot_set(
    watchlist: Sequence[str],
    ranked: Sequence[Sequence[str]],
    current: set[str],
    *,
    refused: set[str] = frozenset(),  # type: ignore[assignment]
    limit: int = 0,
    core: int = CORE_RANKS,
) -> list[str]:
    """The symbols to stream, most important first.

    Args:
        watchlist: always first.
        ranked: each table's symbols in rank order (movers, losers, volume...), at least down
            to the keep band.
        current: what streams now: kept while within its table's keep band (the whole of
            `ranked`), so a name hovering at rank 10 or 11 is not dropped and re-added.
        refused: symbols the server refused: not asked again.
        limit: at most this many (0: no limit).
    """
    chosen: list[str] = [s for s in watchlist if s not in refused]
    # Every table's top first, then what streams already and still ranks within the band.
    chosen += [s for table in ranked for s in table[:core] if s not in refused]
    chosen += [s for table in ranked for s in table[core:] if s in current and s not in refused]
    out = list(dict.fromkeys(chosen))
    return out[:limit] if limit else out
