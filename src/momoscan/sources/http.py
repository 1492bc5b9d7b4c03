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
from collections.abc import Awaitable, Callable, Mapping

import anyio
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from .errors import ServiceError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

#: Seconds a whole request may take when the caller names no deadline.
DEFAULT_TIMEOUT = 30.0


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
) -> httpx.Response:
    """GET `url` with its body read, each attempt within `timeout` seconds, retrying server
    errors, timeouts and network failures.

    Args:
        what: how to name the request in messages ("Cboe chain for AAPL").
        timeout: seconds one attempt may take from connecting to the body's last byte.
        attempts: total tries, the first included.

    Raises:
        ServiceError: every attempt failed with a 5xx, a timeout or a connection error.
    """

    async def attempt() -> httpx.Response:
        try:
            with anyio.fail_after(timeout):
                response = await client.get(url, params=params, headers=headers)
        except TimeoutError:
            raise _Transient(f"no complete answer within {timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _Transient(describe_transport_error(exc)) from None
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
        raise ServiceError(f"{what} failed after {attempts} tries: {exc}.") from None
