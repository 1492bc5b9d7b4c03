"""Twelve Data's price stream, client against the simulated market's WebSocket server: subscribe,
partial fails, heartbeats, reconnect and resubscribe, malformed events, the key's secrecy; a
silent connection given up at its deadline; subscriptions by listing, and prices from another
listing refused."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

import anyio
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.simulated.faults import FaultPlan
from momoscan.simulated.market import SimMarket
from momoscan.simulated.stream_server import SimStreamServer
from momoscan.sources.twelvedata_ws import (
    Listing,
    PriceEvent,
    PriceStream,
    disagreement,
    with_key,
)

KEY = "WSKEY-secret-4242"
NOW = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)
CLOSED = datetime(2026, 11, 21, 11, 30, tzinfo=mh.ET)  # a Saturday: no prices, only replies


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[SimStreamServer]:
    options = dict(getattr(request, "param", {}))
    now = options.pop("now", NOW)
    market = SimMarket(7, 0, FixedClock(now))
    sim = SimStreamServer(market, FixedClock(now), tick=0.05, **options).start()
    yield sim
    sim.stop()


def stream(server: SimStreamServer, events: list[PriceEvent], **kwargs: object) -> PriceStream:
    return PriceStream(
        server.url,
        KEY,
        events.append,
        heartbeat=0.1,
        backoff_base=0.05,
        **kwargs,  # type: ignore[arg-type]
    )


async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while not check():
            await anyio.sleep(0.02)


def test_the_key_goes_in_the_url_only_as_apikey() -> None:
    assert with_key("wss://ws.twelvedata.com/v1/quotes/price", "K") == (
        "wss://ws.twelvedata.com/v1/quotes/price?apikey=K"
    )


@pytest.mark.anyio
async def test_subscribe_then_prices_arrive_with_their_own_time(
    server: SimStreamServer, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events)
    client.want({"AAPL", "MSFT"})
    caplog.set_level(logging.DEBUG)
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.live_symbols() == {"AAPL", "MSFT"})
        await until(lambda: {e.symbol for e in events} == {"AAPL", "MSFT"})
        await until(lambda: server.heartbeats >= 2)
        tg.cancel_scope.cancel()
    event = events[0]
    assert event.timestamp == int(NOW.timestamp()) and event.price > 0
    assert event.day_volume is not None and event.day_volume > 0
    assert client.state.connected and client.state.events == len(events)
    assert KEY not in caplog.text


@pytest.mark.parametrize("server", [{"symbol_limit": 2}], indirect=True)
@pytest.mark.anyio
async def test_partial_fails_are_kept_apart(server: SimStreamServer) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events)
    client.want({"AAPL", "MSFT", "NVDA", "NOTASYMBOL"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: len(client.state.refused) == 2)
        tg.cancel_scope.cancel()
    assert len(client.live_symbols()) == 2
    assert "not found" in client.state.refused["NOTASYMBOL"]
    over = (set(client.state.refused) - {"NOTASYMBOL"}).pop()
    assert "limit of 2" in client.state.refused[over]


@pytest.mark.anyio
async def test_a_dropped_connection_reconnects_and_resubscribes(server: SimStreamServer) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events)
    client.want({"AAPL"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.live_symbols() == {"AAPL"} and len(events) > 0)
        server.drop_all()
        await until(lambda: not client.state.connected or client.state.reconnects > 0)
        seen = len(events)
        await until(lambda: client.live_symbols() == {"AAPL"} and len(events) > seen + 2)
        tg.cancel_scope.cancel()
    assert client.state.reconnects >= 1 and server.connections >= 2


@pytest.mark.anyio
async def test_changing_the_wanted_set_unsubscribes_and_subscribes(
    server: SimStreamServer,
) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events)
    client.want({"AAPL", "MSFT"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.live_symbols() == {"AAPL", "MSFT"})
        client.want({"MSFT", "NVDA"})
        await until(lambda: client.live_symbols() == {"MSFT", "NVDA"})
        events.clear()
        await until(lambda: len(events) >= 6)
        tg.cancel_scope.cancel()
    assert {e.symbol for e in events} == {"MSFT", "NVDA"}


@pytest.mark.parametrize("server", [{"faults": FaultPlan.parse("ws_garbage=0.5")}], indirect=True)
@pytest.mark.anyio
async def test_malformed_events_are_skipped(server: SimStreamServer) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events)
    client.want({"AAPL", "MSFT"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.state.malformed >= 3 and len(events) >= 3)
        tg.cancel_scope.cancel()
    assert client.state.connected and server.garbage >= 3


@pytest.mark.anyio
async def test_a_refused_key_stops_the_stream_in_a_sentence(server: SimStreamServer) -> None:
    events: list[PriceEvent] = []
    client = PriceStream(server.url, "", events.append, backoff_base=0.05)
    with anyio.fail_after(5):
        await client.run()  # returns: nothing to retry
    assert client.state.unavailable and not client.state.connected
    assert "quotes are polled" in client.state.problem


@pytest.mark.anyio
async def test_an_unreachable_stream_is_retried_with_backoff() -> None:
    events: list[PriceEvent] = []
    client = PriceStream("ws://127.0.0.1:9/v1/quotes/price", KEY, events.append,
                         backoff_base=0.01, backoff_cap=0.05)  # fmt: skip
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.state.reconnects >= 3)
        tg.cancel_scope.cancel()
    assert "could not connect" in client.state.problem and KEY not in client.state.problem


@pytest.mark.anyio
async def test_a_silent_connection_is_given_up_at_its_deadline_and_reconnected(
    server: SimStreamServer, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events, stall_after=0.4)
    client.want({"AAPL", "MSFT"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.live_symbols() == {"AAPL", "MSFT"} and len(events) > 2)
        server.stall_all()  # the socket stays open; nothing more comes, replies included
        await until(lambda: client.state.stalled)
        # From that moment its names are polled, whatever the socket says (it may already
        # have a new connection to the silent server: `connected` is not the point).
        assert client.live_symbols() == set() and client.state.stalled
        assert "stalled" in client.state.problem and "quotes are polled" in client.state.problem
        # The server still stalls new connections: the client stays stalled, and retries.
        await until(lambda: client.state.stalls >= 2)
        assert client.state.stalled and client.live_symbols() == set()
        server.resume()
        await until(lambda: client.live_symbols() == {"AAPL", "MSFT"})
        seen = len(events)
        await until(lambda: len(events) > seen + 2)
        tg.cancel_scope.cancel()
    assert not client.state.stalled and client.state.problem == ""
    assert client.state.reconnects >= 2 and server.stalled >= 2
    assert KEY not in caplog.text
    # Told once a stall, not once a reconnect to a server still silent.
    warned = [
        r for r in caplog.records if r.levelno >= logging.WARNING and "stalled" in r.getMessage()
    ]
    assert len(warned) == 1


@pytest.mark.parametrize("server", [{"now": CLOSED}], indirect=True)
@pytest.mark.anyio
async def test_heartbeat_replies_alone_keep_a_quiet_stream_alive(server: SimStreamServer) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events, stall_after=0.35)  # heartbeats every 0.1 s
    client.want({"AAPL"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.live_symbols() == {"AAPL"})
        # Many bounds' worth of a closed market: no price, every heartbeat answered.
        await until(lambda: server.heartbeats >= 15)
        tg.cancel_scope.cancel()
    assert events == [] and client.state.stalls == 0 and server.connections == 1
    assert client.state.last_message_at is not None


def test_the_stall_bound_is_three_heartbeats_unless_given() -> None:
    client = PriceStream("ws://127.0.0.1:9/v1/quotes/price", KEY, lambda _e: None)
    assert client.stall_after == 30.0
    client.heartbeat = 0.1
    assert client.stall_after == pytest.approx(0.3)
    client.stall_after = 2.0
    assert client.stall_after == 2.0


@pytest.mark.anyio
async def test_a_listing_with_a_mic_is_subscribed_by_it(server: SimStreamServer) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events)
    client.want([Listing("AAPL", "NASDAQ", "XNGS"), "MSFT"])
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.live_symbols() == {"AAPL", "MSFT"} and len(events) > 4)
        tg.cancel_scope.cancel()
    assert ("AAPL", "XNGS") in server.asked and ("MSFT", "") in server.asked
    assert client.state.refused_events == 0 and {e.symbol for e in events} == {"AAPL", "MSFT"}


@pytest.mark.anyio
async def test_a_mic_the_server_does_not_take_is_asked_again_bare(
    server: SimStreamServer,
) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events)
    # Nasdaq's operating MIC (what a universe from Sharadar stores), where this server, as
    # Twelve Data does, lists AAPL under its segment's, XNGS.
    client.want([Listing("AAPL", "NASDAQ", "XNAS")])
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.live_symbols() == {"AAPL"} and len(events) > 2)
        tg.cancel_scope.cancel()
    assert server.asked[:2] == [("AAPL", "XNAS"), ("AAPL", "")]
    # Its events say XNGS: the same operating MIC, so nothing is refused.
    assert client.state.refused == {} and client.state.refused_events == 0


@pytest.mark.anyio
async def test_prices_from_another_listing_are_refused_and_told_once(
    server: SimStreamServer, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[PriceEvent] = []
    client = stream(server, events)
    client.want([Listing("AAPL", "NASDAQ", "XNGS"), Listing("SHOP", "NASDAQ", "XNGS")])
    server.misroute({"SHOP"})
    caplog.set_level(logging.INFO)
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await until(lambda: client.state.refused_events >= 5 and len(events) >= 5)
        tg.cancel_scope.cancel()
    assert {e.symbol for e in events} == {"AAPL"}
    assert client.live_symbols() == {"AAPL"}  # SHOP is polled
    assert client.state.other_listing == {"SHOP": "CAD, XTSE, TSX"}
    assert client.state.live >= {"SHOP"}  # subscribed, but its prices are not taken
    assert client.state.refused_events == server.misrouted
    lines = [r.getMessage() for r in caplog.records if "another listing" in r.getMessage()]
    assert len(lines) == 1 and "SHOP" in lines[0] and "XTSE" in lines[0]


def test_what_counts_as_another_listing() -> None:
    us = Listing("SPY", "NYSEARCA", "ARCX")

    def said(exchange: str | None, mic: str | None, currency: str | None) -> str:
        return disagreement(us, exchange=exchange, mic=mic, currency=currency)

    # Twelve Data calls SPY's exchange NYSE (MIC ARCX): the same listing.
    assert said("NYSE", "ARCX", "USD") == ""
    assert said(None, None, None) == ""  # a field left out is no disagreement
    assert said("TSX", "XTSE", "CAD") == "CAD, XTSE, TSX"
    assert said("NYSE", "ARCX", "CAD") == "CAD"
    assert said("NASDAQ", None, "USD") == "NASDAQ"
    nasdaq = Listing("AAPL", "NASDAQ", "XNAS")
    assert disagreement(nasdaq, exchange="NASDAQ", mic="XNGS", currency="usd") == ""
    assert disagreement(nasdaq, exchange="NSE", mic="XNSE", currency="INR") == "INR, XNSE, NSE"
    # A listing known only by its symbol is a US one: only the currency can disagree.
    bare = Listing("SHOP")
    assert disagreement(bare, exchange="TSX", mic="XTSE", currency="USD") == ""
    assert disagreement(bare, exchange="TSX", mic="XTSE", currency="CAD") == "CAD"


def test_the_simulated_day_volume_is_the_quotes() -> None:
    """In the session a streamed name's volume is the /quote's (the regular session's), so
    the volume table does not reshuffle each time the stream writes and a poll takes it back;
    outside the session the events carry none (the session's volume stands)."""
    from momoscan.simulated.transport import quote_objects

    for when, in_session in ((NOW, True), (NOW.replace(hour=8), False)):
        market = SimMarket(7, 0, FixedClock(when))
        sim = SimStreamServer(market, FixedClock(when))
        symbols = [s.symbol for s in market.stocks[:20]]
        index = {s: i for i, s in enumerate(x.symbol for x in market.securities)}
        events = sim.events({s: index[s] for s in symbols})
        assert len(events) == len(symbols)
        if not in_session:
            assert all("day_volume" not in e for e in events)
            continue
        quotes = quote_objects(market, symbols, ",".join(symbols))
        for event in events:
            quoted = int(quotes[event["symbol"]]["volume"])  # type: ignore[index]
            # The same figure (float32 sums: within a share or two).
            assert abs(event["day_volume"] - quoted) <= 2, event["symbol"]
