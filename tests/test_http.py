"""The shared GET: a deadline on the whole request (a trickling body included), retries of
5xx and network failures, sentences without exception class names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from momoscan.sources.errors import ServiceError
from momoscan.sources.http import get_with_retries


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def no_sleep(_seconds: float) -> None:
    return None


class Trickle(httpx.AsyncByteStream):
    """A 294-byte body, one byte every `delay` seconds (45 s in all at 0.15 s)."""

    def __init__(self, delay: float, sent: list[int]):
        self.delay = delay
        self.sent = sent

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(294):
            await anyio.sleep(self.delay)
            self.sent.append(1)
            yield b"x"


@pytest.mark.anyio
async def test_a_trickling_body_costs_at_most_the_timeout_per_attempt() -> None:
    sent: list[int] = []

    def trickle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Trickle(0.05, sent))

    # httpx's own read timeout (per network read) never trips on a custom transport, nor on a
    # server that sends a byte before each read times out: only the whole-request deadline can.
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(trickle), timeout=httpx.Timeout(2.0)
    ) as client:
        with pytest.raises(ServiceError) as excinfo:
            await get_with_retries(
                client,
                "http://slow.test/quote",
                what="Twelve Data /quote",
                timeout=0.3,
                attempts=2,
                sleep=no_sleep,
            )
    message = str(excinfo.value)
    assert message == ("Twelve Data /quote failed after 2 tries: no complete answer within 0.3 s.")
    # Each attempt was cut off after about 0.3 s of the 14.7 s the body takes: far from all
    # 2 x 294 bytes were read.
    assert 0 < len(sent) < 294


@pytest.mark.anyio
async def test_server_errors_and_broken_connections_are_retried_then_named_in_words() -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused")
        if calls == 2:
            raise httpx.RemoteProtocolError("peer closed")
        return httpx.Response(503, text="<html>down</html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(flaky)) as client:
        with pytest.raises(ServiceError) as excinfo:
            await get_with_retries(
                client, "http://x.test/", what="Cboe chain for SPY", attempts=3, sleep=no_sleep
            )
    assert calls == 3
    assert str(excinfo.value) == "Cboe chain for SPY failed after 3 tries: HTTP 503."
    assert "Error" not in str(excinfo.value)


@pytest.mark.anyio
async def test_a_4xx_goes_back_to_the_caller_at_once() -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        response = await get_with_retries(client, "http://x.test/", what="x", sleep=no_sleep)
    assert (response.status_code, calls) == (404, 1)


@pytest.mark.anyio
async def test_a_host_that_cannot_be_reached_is_found_once_and_said_once() -> None:
    """Every try failing to connect is `Unreachable`, named by host, not item; with a shared
    Reachability the client's other requests fail at once, without a try, until `hold` ends
    (issue 29, item 4: an offline cron run said it 21 times and took 30 s)."""
    from momoscan.engine.context import RefreshReport
    from momoscan.sources.http import Reachability, Unreachable

    calls = 0

    def down(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("no route to host")

    now = [0.0]
    reach = Reachability(hold=30.0, clock=lambda: now[0])
    report = RefreshReport(run_id=1)
    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as client:
        for day in ("2026-11-05", "2026-11-04", "2026-11-06"):
            with pytest.raises(Unreachable) as excinfo:
                await get_with_retries(
                    client,
                    "https://marketdata.theocc.com/volume-query",
                    what=f"OCC volume for {day}",
                    sleep=no_sleep,
                    reach=reach,
                )
            report.fail("OCC", day, str(excinfo.value))
        assert calls == 4  # the first request's four tries; the others made none
        now[0] = 31.0  # the next cycle tries again
        with pytest.raises(Unreachable):
            await get_with_retries(
                client, "https://marketdata.theocc.com/x", what="x", sleep=no_sleep, reach=reach
            )
        assert calls == 8
    assert report.grouped_lines() == [
        "OCC: could not connect to marketdata.theocc.com (4 tries; is the network down?) "
        "(3 days, 2026-11-04 .. 2026-11-06)"
    ]
    # A 5xx or a timeout is not unreachability: named by item, tried again by the next one.
    report.fail("Cboe", "NVDA chain", "Cboe chain for NVDA failed after 4 tries: HTTP 503.")
    assert report.grouped_lines()[-1].startswith("Cboe (NVDA chain): ")
