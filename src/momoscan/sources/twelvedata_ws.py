"""Twelve Data's WebSocket price stream (`wss://ws.twelvedata.com/v1/quotes/price`), on the
`websockets` library.

Wire facts (../shared/reference/market-data-apis.md §1.7): the key goes in the URL's `apikey`
parameter (the stream offers no header auth, so the URL is redacted wherever it could be
printed); the client sends `{"action": "subscribe" | "unsubscribe", "params": {"symbols":
"AAPL,MSFT"}}`, `{"action": "reset"}` and `{"action": "heartbeat"}` (every 10 s, SG
`dictionary/ws.go`); the server sends `subscribe-status` events (`status`, `success` [{symbol,
exchange, mic_code, ...}], `fails` [{symbol, message}]), `price` events (`symbol`, `price` and
`day_volume` as JSON numbers, `timestamp` in Unix seconds, `exchange`, `mic_code`...),
`heartbeat` events and `error` events ({code, message}). One WebSocket credit per subscribed
symbol; the server takes at most 100 messages a minute from a client, and messages of at most
1 MB, so subscriptions go in batches. Basic and Grow plans may stream only a few trial symbols.

The listing asked: a bare symbol may resolve to another listing of the same ticker (a dual-listed
name's other exchange: twelvedata-python #68 got BSE's price for an NSE name). The maintainers'
answer there is the extended format, `"symbols": [{"symbol": "X", "mic_code": "XNYS"}]`
(midasSSS on #68, 2023-10-10), and price events carry `exchange`, `mic_code` (since 2023-02,
#62) and `currency`. So a listing with a MIC is subscribed by its MIC, and a price event whose
currency, MIC or exchange disagrees with the listing asked is refused (counted; logged once a
symbol) and that name is polled instead. Not confirmed: that `unsubscribe` takes the extended
format too (ExTwelveData's client sends it so), and which MIC spellings the server accepts (it
reports segment MICs, XNGS for AAPL, where Sharadar's exchange gives XNAS): a subscription
refused in the extended format is asked again as the bare symbol, which the event check then
guards. A field an event leaves out is no disagreement (#70: some events lost their MIC).

Liveness is a deadline (STYLE.md 21): every message, a price or a heartbeat's reply, moves it
`stall_after` seconds on (3 heartbeats by default). When it passes, the connection is dead
whatever the socket says (a NAT or proxy that forgot the flow, a stalled server:
twelvedata-python #45, alpaca-trade-api-js #173, Finnhub-API #517): its names leave the live
set at once (the sweep polls them), the state says `stalled`, and the stream reconnects with
backoff.

`PriceStream.run()` holds the connection: it (re)connects with capped, jittered backoff,
resubscribes the wanted symbols after every reconnect, sends heartbeats, and hands each price
event to a callback. `want()` changes the wanted set at any time; the difference is sent as
unsubscribe and subscribe batches.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

import anyio
import msgspec

from ..redact import Redactor

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://ws.twelvedata.com/v1/quotes/price"
HEARTBEAT_SECONDS = 10.0
#: Heartbeat periods without any message before the connection counts as dead.
STALL_HEARTBEATS = 3
#: Symbols per subscribe or unsubscribe message: well under the 1 MB message cap, and few
#: messages for the server's 100-a-minute limit.
BATCH = 400
#: Reconnect backoff: the first retry within a second or two, then doubling up to a minute,
#: with jitter so that clients dropped together do not come back together.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0


@dataclass(frozen=True, slots=True)
class PriceEvent:
    """One trade price from the stream. `timestamp` is the source's own time (Unix seconds);
    `day_volume` is the day's cumulative share volume where the feed gives it."""

    symbol: str
    price: float
    timestamp: float
    day_volume: int | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """The listing a symbol is streamed for: its exchange and MIC as the universe stores them
    ("" when unknown) and its currency (US listings trade in USD)."""

    symbol: str
    exchange: str = ""
    mic: str = ""
    currency: str = "USD"


#: Nasdaq's market segments report their own MICs (Twelve Data: XNGS for AAPL and AMZN, recorded
#: /quote answers) where a universe from Sharadar's exchange says XNAS; Cboe's four equity books
#: likewise. The same operating MIC is the same listing. (Assembled, not confirmed for every MIC.)
_OPERATING_MIC = {
    "XNGS": "XNAS",
    "XNMS": "XNAS",
    "XNCM": "XNAS",
    "BATY": "BATS",
    "EDGX": "BATS",
    "EDGA": "BATS",
}
#: Exchange names that mean the same listing venue, in Sharadar's and Twelve Data's spellings:
#: Twelve Data calls SPY's exchange "NYSE" where its MIC is ARCX and Sharadar says NYSEARCA
#: (recorded /quote answer), so NYSE's markets are one group. (Not confirmed for every name.)
_EXCHANGE_GROUP = {
    "NYSEARCA": "NYSE",
    "NYSE ARCA": "NYSE",
    "ARCA": "NYSE",
    "NYSEMKT": "NYSE",
    "NYSE MKT": "NYSE",
    "NYSE AMERICAN": "NYSE",
    "AMEX": "NYSE",
    "BATS": "CBOE",
    "CBOE BZX": "CBOE",
}


def _mic(mic: str) -> str:
    mic = mic.strip().upper()
    return _OPERATING_MIC.get(mic, mic)


def _exchange(name: str) -> str:
    name = name.strip().upper()
    return _EXCHANGE_GROUP.get(name, name)


def disagreement(
    listing: Listing, *, exchange: str | None, mic: str | None, currency: str | None
) -> str:
    """What a price event says that the listing asked contradicts, in words ("" when nothing
    does: a field missing on either side is no disagreement)."""
    said = []
    if currency and listing.currency and currency.strip().upper() != listing.currency.upper():
        said.append(currency)
    if mic and listing.mic and _mic(mic) != _mic(listing.mic):
        said.append(mic)
    if exchange and listing.exchange and _exchange(exchange) != _exchange(listing.exchange):
        said.append(exchange)
    return ", ".join(said)


class _Symbol(msgspec.Struct):
    symbol: str = ""
    message: str = ""


class _Event(msgspec.Struct):
    event: str = ""
    symbol: str | None = None
    price: float | None = None
    day_volume: float | None = None
    timestamp: float | None = None
    exchange: str | None = None
    mic_code: str | None = None
    currency: str | None = None
    status: str | None = None
    success: list[_Symbol] | None = None
    fails: list[_Symbol] | None = None
    code: int | None = None
    message: str | None = None


_DECODE = msgspec.json.Decoder(_Event)


def with_key(url: str, api_key: str) -> str:
    """The stream URL with the key as its `apikey` parameter (the only way the stream takes it)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode({"apikey": api_key})) if q)
    return urlunsplit(parts._replace(query=query))


@dataclass
class StreamState:
    """What the stream holds, for the status bar and the scheduler."""

    connected: bool = False
    #: Symbols the server confirmed (subscribe-status success) on the current connection.
    live: set[str] = field(default_factory=set)
    #: Symbols the server refused, with its message (the plan's limit, an unknown symbol...).
    refused: dict[str, str] = field(default_factory=dict)
    events: int = 0
    malformed: int = 0
    reconnects: int = 0
    last_event_at: float | None = None  # wall clock
    #: Wall clock of the last message of any kind (a price, a heartbeat's reply, a status).
    last_message_at: float | None = None
    #: No message came within the bound: the connection was given up for dead. Stays set
    #: until a message arrives on a new connection.
    stalled: bool = False
    stalls: int = 0
    #: Price events refused for naming another listing than the one asked.
    refused_events: int = 0
    #: The symbols whose events came from another listing, with what the first one said
    #: ("TSX, XTSE, CAD"): polled from then on, not streamed again until restarted.
    other_listing: dict[str, str] = field(default_factory=dict)
    #: Why the stream is not up, in a sentence ("" when it is).
    problem: str = ""
    #: The stream is not available to this key at all (its plan): give up until restarted.
    unavailable: bool = False


class PriceStream:
    """A Twelve Data price stream for a changing set of symbols.

    Args:
        url: the stream's URL without the key (`[stream] url`).
        on_price: called with each price event, on the event loop; must not block.
        heartbeat: seconds between heartbeats.
        stall_after: seconds without any message after which the connection counts as dead
            (default: `STALL_HEARTBEATS` heartbeats).
        wall: the wall clock, for `last_event_at` and `last_message_at`.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        on_price: Callable[[PriceEvent], None],
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        stall_after: float | None = None,
        open_timeout: float = 10.0,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        wall: Callable[[], float] = time.time,
    ):
        self._url = with_key(url, api_key)
        self._shown_url = url
        self._redact = Redactor([api_key])
        #: Called with each price event (settable: the engine's stream step takes it).
        self.on_price = on_price
        #: Seconds between heartbeats (settable, as the next three: tests shorten them).
        self.heartbeat = heartbeat
        self._stall_after = stall_after
        self._open_timeout = open_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._wall = wall
        self.state = StreamState()
        self._wanted: dict[str, Listing] = {}
        self._sent: set[str] = set()  # asked for on this connection (subscribed or pending)
        #: Symbols asked by their listing on this connection (a refusal then asks them bare).
        self._by_listing: set[str] = set()
        #: Symbols the server would not take by their listing: asked bare from then on.
        self._bare: set[str] = set()
        self._changed = anyio.Event()
        self._ws: ClientConnection | None = None

    # -- what the engine asks ----------------------------------------------------------------

    def want(self, symbols: Iterable[str | Listing]) -> None:
        """Stream exactly these symbols from now on (subscribe the new, unsubscribe the gone),
        each for its listing (a bare symbol: a US listing, in USD)."""
        wanted = {
            item.symbol: item
            for item in (s if isinstance(s, Listing) else Listing(s) for s in symbols)
        }
        if wanted != self._wanted:
            self._wanted = wanted
            self._changed.set()

    @property
    def wanted(self) -> set[str]:
        return set(self._wanted)

    @property
    def stall_after(self) -> float:
        """Seconds without any message after which the connection counts as dead."""
        if self._stall_after is not None:
            return self._stall_after
        return STALL_HEARTBEATS * self.heartbeat

    @stall_after.setter
    def stall_after(self, seconds: float) -> None:
        self._stall_after = seconds

    @property
    def listings(self) -> Mapping[str, Listing]:
        return dict(self._wanted)

    def live_symbols(self) -> set[str]:
        """Symbols streaming now: confirmed by the server on a connection that is alive, less
        those whose events came from another listing."""
        state = self.state
        if not state.connected or state.stalled:
            return set()
        return state.live - state.other_listing.keys()

    # -- the connection ----------------------------------------------------------------------

    async def run(self) -> None:
        """Hold the stream until cancelled: connect, subscribe, read; on any drop, back off
        (capped, jittered) and do it again. Returns only if the key's plan has no stream."""
        # Imported here: a run whose plan has no stream (most headless ones) never loads it.
        from websockets.asyncio.client import connect
        from websockets.exceptions import (
            ConnectionClosed,
            InvalidHandshake,
            InvalidStatus,
            InvalidURI,
        )

        failures = 0
        while not self.state.unavailable:
            started = self._wall()
            try:
                async with connect(
                    self._url,
                    open_timeout=self._open_timeout,
                    ping_interval=None,  # Twelve Data's own heartbeat keeps the line alive
                    max_size=2**20,
                    logger=_QUIET,
                ) as ws:
                    await self._session(ws)
            except InvalidStatus as exc:
                status = exc.response.status_code
                self._down(f"the stream refused the connection (HTTP {status})")
                if status in (401, 403):
                    self.state.unavailable = True
                    self.state.problem = (
                        f"Twelve Data's stream refused the key (HTTP {status}): the plan may "
                        "not include WebSockets; quotes are polled."
                    )
                    return
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                self._down(f"could not connect to the stream ({_words(exc)})")
            except ConnectionClosed as exc:
                self._down(f"the stream dropped ({exc.rcvd.reason if exc.rcvd else 'no reason'})")
            except _PlanRefused as exc:
                self.state.unavailable = True
                self._down(str(exc))
                return
            except _Stalled:
                pass  # told and down already, from the moment the deadline passed
            else:
                self._down("the server closed the stream")
            finally:
                self._ws = None
            # A connection that held a while resets the backoff.
            failures = 0 if self._wall() - started > 60 else failures + 1
            delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**failures))
            self.state.reconnects += 1
            log.info("Twelve Data stream: reconnecting in %.1f s", delay)
            await anyio.sleep(delay)

    def _down(self, why: str, *, news: bool | None = None) -> None:
        self.state.connected = False
        self.state.live.clear()
        text = why if why.startswith("Twelve Data") else f"Twelve Data stream: {why}"
        if not text.endswith("polled."):
            text += "; quotes are polled."
        self.state.problem = self._redact(text)
        # A drop is routine (the status line says "stream down" until it is back); a plan
        # without the stream, or a connection gone silent, is news (once a stall).
        if news is None:
            news = self.state.unavailable
        level = logging.WARNING if news else logging.INFO
        log.log(level, "%s", self.state.problem)

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._sent = set()
        self._by_listing = set()
        self.state.connected = True
        if not self.state.stalled:
            self.state.problem = ""
        log.info("Twelve Data stream connected to %s", self._shown_url)
        stalled = False
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._heartbeats, ws)
                tg.start_soon(self._subscriptions, ws)
                try:
                    # The deadline: every message moves it on; when it passes, the read ends.
                    with anyio.CancelScope(
                        deadline=anyio.current_time() + self.stall_after
                    ) as alive:
                        async for message in ws:
                            alive.deadline = anyio.current_time() + self.stall_after
                            self._heard()
                            self._handle(message)
                    stalled = alive.cancelled_caught
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _first(group) from None
        if stalled:
            self._stall(ws)
            raise _Stalled

    def _heard(self) -> None:
        state = self.state
        state.last_message_at = self._wall()
        if state.stalled:
            state.stalled = False
            state.problem = ""
            log.info("Twelve Data stream: messages again after a stall")

    def _stall(self, ws: ClientConnection) -> None:
        """The deadline passed: the names go back to the sweep now, and the connection is cut
        rather than closed (a dead path would keep a closing handshake waiting)."""
        again = self.state.stalled  # a server still stalled after a reconnect: told already
        self.state.stalled = True
        self.state.stalls += 1
        self._down(
            f"the stream stalled: no message (price or heartbeat reply) in {self.stall_after:g} s",
            news=not again,
        )
        transport = getattr(ws, "transport", None)
        if transport is not None:
            transport.abort()

    async def _heartbeats(self, ws: ClientConnection) -> None:
        while True:
            await anyio.sleep(self.heartbeat)
            await ws.send('{"action":"heartbeat"}')

    async def _subscriptions(self, ws: ClientConnection) -> None:
        """Keep the connection's subscriptions equal to the wanted set."""
        while True:
            self._changed = anyio.Event()
            wanted = set(self._wanted)
            gone = sorted(self._sent - wanted)
            new = sorted(wanted - self._sent)
            for i in range(0, len(gone), BATCH):
                await self._send(ws, "unsubscribe", gone[i : i + BATCH])
            for i in range(0, len(new), BATCH):
                await self._send(ws, "subscribe", new[i : i + BATCH])
            self._sent = (self._sent - set(gone)) | set(new)
            self._by_listing -= set(gone)
            self.state.live -= set(gone)
            await self._changed.wait()

    async def _send(self, ws: ClientConnection, action: str, symbols: list[str]) -> None:
        """One subscribe or unsubscribe batch: by listing (the extended format, with the MIC)
        where one is known and the server has not refused it, else as a comma-separated list."""
        named = [
            {"symbol": s, "mic_code": listing.mic}
            for s in symbols
            if (listing := self._wanted.get(s)) is not None and listing.mic and s not in self._bare
        ]
        if action == "subscribe":
            self._by_listing |= {item["symbol"] for item in named}
        elif action == "unsubscribe":
            # Unsubscribed in the form it was subscribed in (the extended format unconfirmed).
            named = [item for item in named if item["symbol"] in self._by_listing]
        params: object
        if named:
            by_name = {item["symbol"] for item in named}
            params = named + [{"symbol": s} for s in symbols if s not in by_name]
        else:
            params = ",".join(symbols)
        message = {"action": action, "params": {"symbols": params}}
        await ws.send(msgspec.json.encode(message).decode())

    def _handle(self, message: str | bytes) -> None:
        try:
            event = _DECODE.decode(message)
        except msgspec.DecodeError:
            self.state.malformed += 1
            log.debug("Twelve Data stream: skipped a malformed message")
            return
        kind = event.event
        if kind == "price":
            if (
                not event.symbol
                or event.price is None
                or not event.price > 0
                or event.timestamp is None
            ):
                self.state.malformed += 1
                return
            if self._other_listing(event):
                return
            self.state.events += 1
            self.state.last_event_at = self._wall()
            volume = None if event.day_volume is None else int(event.day_volume)
            self.on_price(PriceEvent(event.symbol, event.price, event.timestamp, volume))
        elif kind == "subscribe-status":
            for ok in event.success or []:
                if ok.symbol in self._sent:
                    self.state.live.add(ok.symbol)
                    self.state.refused.pop(ok.symbol, None)
            for fail in event.fails or []:
                over = "limit" in (fail.message or "").lower()  # the plan's credits: as bare
                if fail.symbol in self._by_listing and fail.symbol not in self._bare and not over:
                    # Not by its listing (a MIC spelling the server does not know?): ask for
                    # it bare; the event check still guards the listing.
                    log.info(
                        "Twelve Data stream: %s refused by its listing (%s); asking it bare",
                        fail.symbol,
                        self._redact(fail.message or "no message"),
                    )
                    self._bare.add(fail.symbol)
                    self._by_listing.discard(fail.symbol)
                    self._sent.discard(fail.symbol)
                    self._changed.set()
                    continue
                self.state.live.discard(fail.symbol)
                self.state.refused[fail.symbol] = self._redact(fail.message or "refused")
            if event.status == "error" and not event.success and self._plan_refusal(event):
                raise _PlanRefused(
                    "Twelve Data's stream is not available with this key's plan"
                    f" ({self._text(event)}); quotes are polled."
                )
        elif kind == "error":
            text = self._text(event)
            log.warning("Twelve Data stream error: %s", text)
            if event.code in (401, 403) or self._plan_refusal(event):
                raise _PlanRefused(
                    f"Twelve Data's stream refused this key ({text}); quotes are polled."
                )
        elif kind not in ("heartbeat", "unsubscribe-status", "reset-status"):
            self.state.malformed += 1

    def _other_listing(self, event: _Event) -> bool:
        """Refuse a price event for another listing than the one asked: counted, the symbol
        out of the live set (the sweep polls it), one log line a symbol."""
        listing = self._wanted.get(event.symbol or "")
        if listing is None:
            return False
        said = disagreement(
            listing, exchange=event.exchange, mic=event.mic_code, currency=event.currency
        )
        if not said:
            return False
        state = self.state
        state.refused_events += 1
        symbol = listing.symbol
        if symbol not in state.other_listing:
            state.other_listing[symbol] = said
            asked = ", ".join(x for x in (listing.exchange, listing.mic, listing.currency) if x)
            log.warning(
                "Twelve Data stream: refused %s prices from another listing (%s, where %s was "
                "asked); %s is polled instead",
                symbol,
                said,
                asked,
                symbol,
            )
        return True

    def _text(self, event: _Event) -> str:
        texts = [event.message or ""] + [f.message for f in event.fails or [] if f.message]
        return self._redact(next((t for t in texts if t), "no message"))

    @staticmethod
    def _plan_refusal(event: _Event) -> bool:
        texts = " ".join([event.message or ""] + [f.message for f in event.fails or []]).lower()
        return any(
            phrase in texts
            for phrase in ("not available with your plan", "available exclusively", "upgrade")
        )


class _PlanRefused(Exception):
    """The key's plan has no stream (or no stream of these symbols): stop trying."""


class _Stalled(Exception):
    """No message within the bound: the connection is dead whatever the socket says."""


def _words(exc: BaseException) -> str:
    from websockets.exceptions import InvalidURI

    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, InvalidURI):
        return "the URL is not a WebSocket URL; check [stream] url"
    return "network error"


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that ended a session's task group (heartbeats, subscriptions, reading):
    the group's first leaf, so that `run` can tell a drop from a refusal."""
    leaf: BaseException = group
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf


#: websockets' own logger for our connections, kept at WARNING: its debug lines name the URL,
#: which carries the key.
_QUIET = logging.getLogger("momoscan.websockets")
_QUIET.setLevel(logging.WARNING)
