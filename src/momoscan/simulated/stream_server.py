"""The simulated market's price stream: a loopback WebSocket server speaking Twelve Data's
protocol (../shared/reference/market-data-apis.md §1.7), on the `websockets` library.

`ws://127.0.0.1:<port>/v1/quotes/price?apikey=...` takes `subscribe`, `unsubscribe`, `reset`
and `heartbeat` actions and answers as Twelve Data does: a `subscribe-status` event per
subscribe (`success` with each symbol's listing, `fails` with a message for unknown symbols and
for those past the plan's WebSocket credits), a `heartbeat` event per heartbeat, and `price`
events (price and day_volume as JSON numbers, timestamp in Unix seconds) for each subscribed
symbol every `tick` seconds, at the simulated clock's pace: the price moves from the current
minute's close towards the next one's, so the stream leads `/quote` (the last minute candle)
as a live feed does. No events while the market is closed. Symbols come as a comma-separated
string or in the extended format (a list of `{"symbol", "mic_code"}` objects; a MIC other than
the listing's is "not found" here, a strictness of this stand-in, not a known server rule).

In fault mode it drops connections (`ws_drop`), sends malformed events (`ws_garbage`), goes
silent on a connection while keeping it open (`ws_stall`: no prices, no heartbeat replies, no
statuses, as a NAT that forgot the flow or a stalled server), and sends a symbol's prices from
another listing of the same ticker (`ws_wrong_listing`: Toronto's, in CAD, as a dual-listed name
resolved to its other exchange). Tests do the same at will: `drop_all`, `stall_all`,
`misroute`.

It runs on its own event loop in a thread: of the app's process (tests, the in-process demo) or
of the simulated market's process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .. import market_hours as mh
from ..clock import MarketClock
from ..models import Session
from .faults import FaultPlan
from .market import DAY_MINUTES, OPEN_MINUTE, SimMarket

log = logging.getLogger(__name__)

PATH = "/v1/quotes/price"
#: The other listing a misrouted symbol's prices come from, and its price against the US one
#: (a Canadian dollar price of a dual-listed name: about 1.4 US dollars' worth of CAD).
OTHER_LISTING = {"exchange": "TSX", "mic_code": "XTSE", "currency": "CAD"}
OTHER_LISTING_FACTOR = 1.4
#: WebSocket credits of the simulated plan (Twelve Data's Pro plans have 1,500; third-party
#: summary, market-data-apis.md §1.7).
DEFAULT_SYMBOL_LIMIT = 1500

_TYPES = {"stock": "Common Stock", "etf": "ETF", "index": "Index"}


class SimStreamServer:
    """Twelve Data's price stream over a `SimMarket`, on 127.0.0.1.

    Args:
        clock: the market clock the stream runs on (the app's, so both agree).
        symbol_limit: WebSocket credits: symbols one connection may hold.
        tick: real seconds between a symbol's price events.
    """

    def __init__(
        self,
        market: SimMarket,
        clock: MarketClock,
        *,
        symbol_limit: int = DEFAULT_SYMBOL_LIMIT,
        tick: float = 1.0,
        faults: FaultPlan | None = None,
        port: int = 0,
    ):
        self.market = market
        self.clock = clock
        self.symbol_limit = symbol_limit
        self.tick = tick
        self.faults = faults if faults is not None and faults.active else None
        self._rng = random.Random(market.seed)
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        #: Counters a test reads: connections accepted, dropped on purpose, events sent.
        self.connections = 0
        self.dropped = 0
        self.sent = 0
        self.garbage = 0
        self.heartbeats = 0
        #: Connections gone silent on purpose, and price events sent for another listing.
        self.stalled = 0
        self.misrouted = 0
        self._silent: set[ServerConnection] = set()
        self._all_silent = False
        self._misroute: set[str] = set()
        #: Every (symbol, MIC or "") a subscribe asked for, in order (tests).
        self.asked: list[tuple[str, str]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SimStreamServer:
        self._thread = threading.Thread(target=self._run, name="sim-stream", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        async with serve(
            self._connection, "127.0.0.1", self._port, ping_interval=None, logger=_QUIET
        ) as server:
            self._server = server
            self._ready.set()
            await server.serve_forever()

    @property
    def url(self) -> str:
        """`ws://127.0.0.1:<port>/v1/quotes/price`, without a key."""
        assert self._server is not None, "start() the server first"
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}{PATH}"

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(5)

    def drop_all(self) -> None:
        """Close every connection abruptly, as a network fault would (tests)."""
        if self._loop is not None and self._server is not None:
            for connection in list(self._server.connections):
                self._loop.call_soon_threadsafe(connection.transport.abort)

    def stall_all(self) -> None:
        """The server stalls (tests): every open connection, and every new one until `resume`,
        goes silent and stays open: nothing more is sent on it, heartbeat replies included,
        while its messages are still read."""
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._stall_open)

    def resume(self) -> None:
        """New connections are served again (the stalled ones stay silent: they are dead)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(setattr, self, "_all_silent", False)

    def _stall_open(self) -> None:
        assert self._server is not None
        self._all_silent = True
        for connection in list(self._server.connections):
            self._stall(connection)

    def _stall(self, ws: ServerConnection) -> None:
        if ws not in self._silent:
            self._silent.add(ws)
            self.stalled += 1

    def misroute(self, symbols: set[str]) -> None:
        """These symbols' prices come from their other listing from now on (tests)."""
        self._misroute = {s.upper() for s in symbols}

    async def _send(self, ws: ServerConnection, text: str) -> bool:
        """Send unless the connection is stalled; whether it was sent."""
        if ws in self._silent:
            return False
        await ws.send(text)
        return True

    # -- one client --------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        target = urlsplit(ws.request.path if ws.request else "")
        query = parse_qs(target.query)
        if target.path != PATH:
            await ws.close(1008, "not found")
            return
        if not query.get("apikey", [""])[0]:
            await ws.send(
                json.dumps(
                    {
                        "event": "error",
                        "code": 401,
                        "message": "**apikey** parameter is incorrect or not specified.",
                        "status": "error",
                    }
                )
            )
            await ws.close(1008, "apikey")
            return
        self.connections += 1
        if self._all_silent:
            self._stall(ws)
        subscribed: dict[str, int] = {}  # symbol -> the security's index
        sender = asyncio.create_task(self._prices(ws, subscribed))
        try:
            async for message in ws:
                await self._action(ws, message, subscribed)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            self._silent.discard(ws)

    async def _action(
        self, ws: ServerConnection, message: str | bytes, subscribed: dict[str, int]
    ) -> None:
        send = self._send
        try:
            request = json.loads(message)
            action = request.get("action")
        except (ValueError, AttributeError):
            await send(ws, json.dumps({"event": "error", "code": 400, "message": "bad request"}))
            return
        if action == "heartbeat":
            if await send(ws, json.dumps({"event": "heartbeat", "status": "ok"})):
                self.heartbeats += 1
            return
        if action == "reset":
            subscribed.clear()
            await send(ws, json.dumps({"event": "reset-status", "status": "ok"}))
            return
        asked = _symbols((request.get("params") or {}).get("symbols", ""))
        symbols = [symbol for symbol, _ in asked]
        if action == "subscribe":
            self.asked.extend(asked)
        if action == "unsubscribe":
            for symbol in symbols:
                subscribed.pop(symbol.upper(), None)
            await send(
                ws,
                json.dumps(
                    {
                        "event": "unsubscribe-status",
                        "status": "ok",
                        "success": [{"symbol": s} for s in symbols],
                        "fails": [],
                    }
                ),
            )
            return
        if action != "subscribe":
            await send(ws, json.dumps({"event": "error", "code": 400, "message": "bad action"}))
            return
        success: list[dict[str, Any]] = []
        fails: list[dict[str, str]] = []
        for symbol, mic in asked:
            index = self.market.index.get(symbol.upper())
            if index is not None and mic and mic.upper() != self.market.securities[index].mic:
                index = None  # no such listing
            if index is None:
                fails.append({"symbol": symbol, "message": f"symbol not found: {symbol}"})
                continue
            if symbol.upper() not in subscribed and len(subscribed) >= self.symbol_limit:
                fails.append(
                    {
                        "symbol": symbol,
                        "message": f"You have reached the limit of {self.symbol_limit} "
                        "WebSocket credits of your plan.",
                    }
                )
                continue
            subscribed[symbol.upper()] = index
            sec = self.market.securities[index]
            success.append(
                {
                    "symbol": sec.symbol,
                    "exchange": sec.exchange,
                    "mic_code": sec.mic,
                    "country": "United States",
                    "type": _TYPES.get(sec.kind, "Common Stock"),
                }
            )
        status = "ok" if success or not fails else "error"
        await send(
            ws,
            json.dumps(
                {"event": "subscribe-status", "status": status, "success": success, "fails": fails}
            ),
        )

    async def _prices(self, ws: ServerConnection, subscribed: dict[str, int]) -> None:
        """Every `tick`, a price event for each subscribed symbol (none while closed)."""
        faults = self.faults
        # The symbols this connection gets from their other listing (`ws_wrong_listing`, drawn
        # once a symbol and connection, as a server resolving a name to one listing would).
        wrong: dict[str, bool] = {}
        while True:
            await asyncio.sleep(self.tick)
            if faults is not None and self._rng.random() < faults.rate("ws_drop") * self.tick:
                self.dropped += 1
                ws.transport.abort()  # as a dropped network connection: no close frame
                return
            if faults is not None and self._rng.random() < faults.rate("ws_stall") * self.tick:
                self._stall(ws)
            if ws in self._silent:
                continue
            if not subscribed:
                continue
            for event in self.events(dict(subscribed)):
                if faults is not None and self._rng.random() < faults.rate("ws_garbage"):
                    self.garbage += 1
                    await self._send(ws, '{"event":"price","symbol":')
                    continue
                symbol = event["symbol"]
                if symbol not in wrong:
                    rate = faults.rate("ws_wrong_listing") if faults is not None else 0.0
                    wrong[symbol] = self._rng.random() < rate
                if wrong[symbol] or symbol in self._misroute:
                    event = {
                        **event,
                        **OTHER_LISTING,
                        "price": round(event["price"] * OTHER_LISTING_FACTOR, 2),
                    }
                    self.misrouted += 1
                if await self._send(ws, json.dumps(event)):
                    self.sent += 1

    def events(self, subscribed: dict[str, int]) -> list[dict[str, Any]]:
        """Price events for the subscribed symbols at the clock's now."""
        now = self.clock.now()
        session = mh.session_at(now)
        if session is Session.CLOSED:
            return []
        day, started = self.market.trading_day_at(now)
        if not started:
            return []
        sim_day = self.market.day_for(day)
        minute = sim_day.minute_of(now)
        nxt = min(minute + 1, DAY_MINUTES - 1)
        fraction = ((now - sim_day.at_minute(minute)).total_seconds() / 60.0) % 1.0
        stamp = int(now.timestamp())
        # The day's volume is the regular session's, as the simulated /quote gives it: a
        # streamed name and a polled one are then ranked on the same figure. Counted from
        # 04:00, a streamed name jumped up the volume table at every flush and back at its
        # next poll, and each jump was announced as an entry. Outside the session the events
        # carry no day_volume (the feed leaves it out for some instruments too), so the
        # quote's session volume stands.
        in_session = OPEN_MINUTE <= minute < sim_day.close_minute
        out = []
        for index in subscribed.values():
            sec = self.market.securities[index]
            if sec.kind == "index":
                continue
            p0, p1 = float(sim_day.price[index, minute]), float(sim_day.price[index, nxt])
            event: dict[str, Any] = {
                "event": "price",
                "symbol": sec.symbol,
                "currency": "USD",
                "exchange": sec.exchange,
                "mic_code": sec.mic,
                "type": _TYPES.get(sec.kind, "Common Stock"),
                "timestamp": stamp,
                "price": round(p0 + (p1 - p0) * fraction, 4 if p0 < 1 else 2),
            }
            if in_session:
                cum = sim_day.cum_volume[index]
                before = float(cum[OPEN_MINUTE - 1])
                v0, v1 = float(cum[minute]) - before, float(cum[nxt]) - before
                event["day_volume"] = int(v0 + (v1 - v0) * fraction)
            out.append(event)
        return out


def _symbols(raw: object) -> list[tuple[str, str]]:
    """(symbol, MIC or "") from a subscribe's `symbols`: a comma-separated string, or the
    extended format's list of objects (or of plain strings)."""
    if isinstance(raw, list):
        out = []
        for item in raw:
            if isinstance(item, dict):
                symbol = str(item.get("symbol") or "").strip()
                mic = str(item.get("mic_code") or "").strip()
            else:
                symbol, mic = str(item).strip(), ""
            if symbol:
                out.append((symbol, mic))
        return out
    return [(s.strip(), "") for s in str(raw).split(",") if s.strip()]


#: websockets' logger for the simulated server, kept quiet (a test tool: its INFO lines about
#: connections would fill the user's log).
_QUIET = logging.getLogger("momoscan.simulated.websockets")
_QUIET.setLevel(logging.WARNING)
