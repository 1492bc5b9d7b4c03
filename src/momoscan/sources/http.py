"""A GET with retries, shared by the HTTP sources.

Retries what is worth retrying (5xx, timeouts, dropped connections) with capped exponential
backoff and jitter; hands every other answer back to the caller, which knows its provider's error
shapes. A 429 is the caller's business too: each provider says differently when to come back.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping

import anyio
import httpx

from .errors import ServiceError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(cap, base * (2**attempt))
    return (rng or random).uniform(ceiling / 2, ceiling)


async def get_with_retries(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    what: str,
    attempts: int = 4,
    backoff_base: float = 0.5,
    backoff_cap: float = 8.0,
    sleep: Sleep = anyio.sleep,
) -> httpx.Response:
    """GET `url`, retrying server errors and network failures.

    Args:
        what: how to name the request in messages ("Cboe chain for AAPL").
        attempts: total tries, the first included.

    Raises:
        ServiceError: every attempt failed with a 5xx, a timeout or a connection error.
    """
    last = ""
    for attempt in range(attempts):
        try:
            response = await client.get(url, params=params, headers=headers)
        except httpx.TimeoutException:
            last = "timed out"
        except httpx.TransportError as exc:
            last = f"connection failed ({type(exc).__name__})"
        else:
            if response.status_code < 500:
                return response
            last = f"HTTP {response.status_code}"
        if attempt + 1 < attempts:
            delay = backoff_delay(attempt, backoff_base, backoff_cap)
            log.info("%s: %s; retrying in %.1f s", what, last, delay)
            await sleep(delay)
    raise ServiceError(f"{what} failed after {attempts} tries: {last}.")
