"""A GET with a whole-request deadline and retries, shared by the HTTP sources.

Each attempt is bounded as a whole (connect, headers and body) by `anyio.fail_after`: httpx's
own timeouts bound each network operation, so a server that trickles its body a byte at a time
never trips them (httpx docs, "Timeouts"). What is worth retrying (5xx, timeouts, dropped
connections) is retried by tenacity with capped exponential backoff and jitter; every other
answer goes back to the caller, which knows its provider's error shapes. A 429 is the caller's
business too: each provider says differently when to come back.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping

import anyio
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from .errors import ServiceError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

#: Seconds a whole request may take when the caller names no deadline.
DEFAULT_TIMEOUT = 30.0


class Unreachable(ServiceError):
    """No try of a request could connect (refused, no route, no DNS): the network or the host is
    down. Its message names the host, not the item, so that a source's requests failing for it
    make one line (`RefreshReport.grouped_lines`)."""


class Reachability:
    """One host's reachability, shared by a client's requests: once every try of a request
    failed to connect, the client's other requests fail at once with the same `Unreachable`
    for `hold` seconds (about a cycle) instead of each trying again. A network that is down
    is found once, quickly, and said once.

    `clock`: monotonic seconds (tests pass a fake one)."""

    def __init__(self, hold: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.hold = hold
        self._clock = clock
        self._until = 0.0
        self._why = ""

    def check(self) -> None:
        """Raises:
        Unreachable: the host was found unreachable less than `hold` seconds ago."""
        if self._clock() < self._until:
            raise Unreachable(self._why)

    def down(self, why: str) -> None:
        self._why = why
        self._until = self._clock() + self.hold


class _Transient(Exception):
    """An attempt that is worth another try; the text says what went wrong, in plain words."""


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt `attempt` (0-based): uniform in the upper half of
    `min(cap, base * 2**attempt)`, so clients that failed together do not come back together."""
    ceiling = min(cap, base * (2**attempt))
    return (rng or random).uniform(ceiling / 2, ceiling)


def describe_transport_error(exc: httpx.TransportError) -> str:
    """A transport failure in words a user can act on (never the exception's class name)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server broke off its answer"
    if isinstance(exc, httpx.ProxyError):
        return "the proxy refused the connection"
    return "the connection failed"


async def get_with_retries(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = 4,
    backoff_base: float = 0.5,
    backoff_cap: float = 8.0,
    sleep: Sleep = anyio.sleep,
    reach: Reachability | None = None,
) -> httpx.Response:
    """GET `url` with its body read, each attempt within `timeout` seconds, retrying server
    errors, timeouts and network failures.

    Args:
        what: how to name the request in messages ("Cboe chain for AAPL").
        timeout: seconds one attempt may take from connecting to the body's last byte.
        attempts: total tries, the first included.
        reach: the host's reachability, shared by the client's requests (see Reachability).

    Raises:
        Unreachable: no try could connect (or, with `reach`, another request found the host
            unreachable a moment ago: no try is made).
        ServiceError: every attempt failed with a 5xx, a timeout or a connection error.
    """
    reasons: list[str] = []

    async def attempt() -> httpx.Response:
        if reach is not None:
            reach.check()
        try:
            with anyio.fail_after(timeout):
                response = await client.get(url, params=params, headers=headers)
        except TimeoutError:
            raise _Transient(f"no complete answer within {timeout:g} s") from None
        except httpx.TransportError as exc:
            reasons.append(describe_transport_error(exc))
            raise _Transient(reasons[-1]) from None
        if response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}")
        return response

    def wait(state: RetryCallState) -> float:
        return backoff_delay(state.attempt_number - 1, backoff_base, backoff_cap)

    def note(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.info("%s: %s; retrying in %.1f s", what, error, delay)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception_type(_Transient),
        sleep=sleep,
        before_sleep=note,
        reraise=True,
    )
    try:
        return await retrying(attempt)
    except _Transient as exc:
        if len(reasons) == attempts and set(reasons) == {"could not connect"}:
            host = httpx.URL(url).host or url
            why = f"could not connect to {host} ({attempts} tries; is the network down?)"
            if reach is not None:
                reach.down(why)
            raise Unreachable(why) from None
        raise ServiceError(f"{what} failed after {attempts} tries: {exc}.") from None
