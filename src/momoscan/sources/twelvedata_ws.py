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

`PriceStream.run()` holds the connection: it (re)connects with capped, jittered backoff,
resubscribes the wanted symbols after every reconnect, sends heartbeats, and hands each price
event to a callback. `want()` changes the wanted set at any time; the difference is sent as
unsubscribe and subscribe batches.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

import anyio
import msgspec

from ..config import redact

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://ws.twelvedata.com/v1/quotes/price"
HEARTBEAT_SECONDS = 10.0
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


class _Symbol(msgspec.Struct):
    symbol: str = ""
    message: str = ""


class _Event(msgspec.Struct):
    event: str = ""
    symbol: str | None = None
    price: float | None = None
    day_volume: float | None = None
    timestamp: float | None = None
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
        wall: the wall clock, for `last_event_at`.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        on_price: Callable[[PriceEvent], None],
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        open_timeout: float = 10.0,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        wall: Callable[[], float] = time.time,
    ):
        self._url = with_key(url, api_key)
        self._shown_url = url
        self._secrets = [api_key]
        #: Called with each price event (settable: the engine's stream step takes it).
        self.on_price = on_price
        self._heartbeat = heartbeat
        self._open_timeout = open_timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._wall = wall
        self.state = StreamState()
        self._wanted: set[str] = set()
        self._sent: set[str] = set()  # asked for on this connection (subscribed or pending)
        self._changed = anyio.Event()
        self._ws: ClientConnection | None = None

    # -- what the engine asks ----------------------------------------------------------------

    def want(self, symbols: Iterable[str]) -> None:
        """Stream exactly these symbols from now on (subscribe the new, unsubscribe the gone)."""
        wanted = set(symbols)
        if wanted != self._wanted:
            self._wanted = wanted
            self._changed.set()

    @property
    def wanted(self) -> set[str]:
        return set(self._wanted)

    def live_symbols(self) -> set[str]:
        """Symbols streaming now: confirmed by the server on the open connection."""
        return set(self.state.live) if self.state.connected else set()

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
            else:
                self._down("the server closed the stream")
            finally:
                self._ws = None
            # A connection that held a while resets the backoff.
            failures = 0 if self._wall() - started > 60 else failures + 1
            delay = random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**failures))
            self.state.reconnects += 1
            log.info("Twelve Data stream: reconnecting in %.1f s", delay)
            await anyio.sleep(delay)

    def _down(self, why: str) -> None:
        self.state.connected = False
        self.state.live.clear()
        text = why if why.startswith("Twelve Data") else f"Twelve Data stream: {why}"
        if not text.endswith("polled."):
            text += "; quotes are polled."
        self.state.problem = redact(text, self._secrets)
        # A drop is routine (the status line says "stream down" until it is back); a plan
        # without the stream is news.
        level = logging.WARNING if self.state.unavailable else logging.INFO
        log.log(level, "%s", self.state.problem)

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._sent = set()
        self.state.connected = True
        self.state.problem = ""
        log.info("Twelve Data stream connected to %s", self._shown_url)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._heartbeats, ws)
                tg.start_soon(self._subscriptions, ws)
                try:
                    async for message in ws:
                        self._handle(message)
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _first(group) from None

    async def _heartbeats(self, ws: ClientConnection) -> None:
        while True:
            await anyio.sleep(self._heartbeat)
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
            self.state.live -= set(gone)
            await self._changed.wait()

    async def _send(self, ws: ClientConnection, action: str, symbols: list[str]) -> None:
        message = {"action": action, "params": {"symbols": ",".join(symbols)}}
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
                self.state.live.discard(fail.symbol)
                self.state.refused[fail.symbol] = redact(fail.message or "refused", self._secrets)
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

    def _text(self, event: _Event) -> str:
        texts = [event.message or ""] + [f.message for f in event.fails or [] if f.message]
        return redact(next((t for t in texts if t), "no message"), self._secrets)

    @staticmethod
    def _plan_refusal(event: _Event) -> bool:
        texts = " ".join([event.message or ""] + [f.message for f in event.fails or []]).lower()
        return any(
            phrase in texts
            for phrase in ("not available with your plan", "available exclusively", "upgrade")
        )


class _PlanRefused(Exception):
    """The key's plan has no stream (or no stream of these symbols): stop trying."""


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
