"""Twelve Data's price stream, client against the simulated market's WebSocket server: subscribe,
partial fails, heartbeats, reconnect and resubscribe, malformed events, the key's secrecy."""

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
from momoscan.sources.twelvedata_ws import PriceEvent, PriceStream, with_key

KEY = "WSKEY-secret-4242"
NOW = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[SimStreamServer]:
    options = getattr(request, "param", {})
    market = SimMarket(7, 0, FixedClock(NOW))
    sim = SimStreamServer(market, FixedClock(NOW), tick=0.05, **options).start()
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
