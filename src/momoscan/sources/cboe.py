"""Cboe's keyless delayed option chains (cdn.cboe.com/api/global/delayed_quotes/options).

Unofficial, no SLA, about 15 minutes behind. One JSON document per underlying holds every listed
contract with today's volume, open interest and IV; strike, expiry and right are not fields and
come from the OSI symbol. An SPX chain is ~30,000 contracts and 13 MB, so parsing is written for
speed and runs in a worker thread.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
import httpx
import orjson
from aiolimiter import AsyncLimiter

from momoscan.models import OptionChain, OptionContract, Right, UnderlyingVolume

from .errors import MalformedResponse, RateLimited, SourceError
from .http import get_with_retries
from .osi import parse_osi

log = logging.getLogger(__name__)

#: Cash indexes, whose chains Cboe serves under a leading underscore (`_SPX.json`).
INDEX_SYMBOLS: frozenset[str] = frozenset(
    {"SPX", "NDX", "RUT", "VIX", "XSP", "DJX", "OEX", "XEO", "MRUT"}
)

#: Cboe writes `last_trade_time` in exchange (US Eastern) time without an offset.
EASTERN = ZoneInfo("America/New_York")

DEFAULT_BASE_URL = "https://cdn.cboe.com"

#: The order parse_chain passes OptionContract's fields in.
CONTRACT_FIELDS = (
    "contract",
    "underlying",
    "root",
    "expiry",
    "strike",
    "right",
    "volume",
    "open_interest",
    "iv",
    "last",
    "last_trade",
)


def _plain_symbol(symbol: str) -> str:
    """The symbol as the user knows it: upper case, no Cboe index underscore."""
    plain = symbol.strip().lstrip("_").upper()
    if not plain:
        raise ValueError(f"{symbol!r} is not a symbol.")
    return plain


def chain_url_symbol(symbol: str) -> str:
    """The name Cboe files a chain under: `_SPX` for an index, `AAPL` for a stock or ETF."""
    plain = _plain_symbol(symbol)
    return f"_{plain}" if plain in INDEX_SYMBOLS else plain


def _as_of(raw: object, symbol: str) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        log.warning("Cboe chain for %s: unreadable timestamp %r; age unknown.", symbol, raw)
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def parse_chain(content: bytes, symbol: str) -> OptionChain:
    """Turn a Cboe delayed-quotes options document into an OptionChain for `symbol`.

    Records with a missing or malformed `option` symbol (or unusable numbers) are skipped and
    counted in a warning. `last` is None for a contract that never traded.

    Raises:
        MalformedResponse: the body is not JSON or has no `data.options` list.
    """
    underlying = _plain_symbol(symbol)
    try:
        doc = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise MalformedResponse(
            f"Cboe's answer for the {underlying} option chain is not JSON; try again later."
        ) from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("options"), list):
        raise MalformedResponse(
            f"Cboe's answer for the {underlying} option chain has no data.options list; "
            "the delayed-quotes format may have changed."
        )
    options: list[Any] = data["options"]
    price = data.get("current_price")
    underlying_price = (
        float(price)
        if isinstance(price, int | float) and not isinstance(price, bool) and price
        else None
    )

    contracts: list[OptionContract] = []
    append = contracts.append
    fromiso = datetime.fromisoformat
    new_dt = datetime
    eastern = EASTERN
    contract_cls = OptionContract
    # Many contracts share root+expiry+right and many share a strike: parse each part once.
    heads: dict[str, tuple[str, date, Right]] = {}
    strikes: dict[str, float] = {}
    skipped = 0
    first_bad: object = None
    # Positional arguments: keywords cost ~15 ms on an SPX chain. CONTRACT_FIELDS and a test keep
    # the order in step with models.OptionContract.
    for rec in options:
        try:
            osi: str = rec["option"]
            head = heads.get(osi[:-8])
            if head is None:
                root, expiry, right, strike = parse_osi(osi)
                heads[osi[:-8]] = (root, expiry, right)
                strikes[osi[-8:]] = strike
            else:
                root, expiry, right = head
                tail = osi[-8:]
                cached = strikes.get(tail)
                if cached is None:
                    if not (tail.isdigit() and tail.isascii()):
                        raise ValueError(tail)
                    cached = strikes[tail] = int(tail) / 1000
                strike = cached
            volume = rec.get("volume")
            oi = rec.get("open_interest")
            iv = rec.get("iv")
            traded_at = rec.get("last_trade_time")
            if traded_at is None:
                last = None
                last_trade = None
            else:
                last = rec.get("last_trade_price") or None
                t = fromiso(traded_at)
                if t.tzinfo is None:
                    # The constructor is several times faster than t.replace(tzinfo=...).
                    last_trade = new_dt(
                        t.year, t.month, t.day, t.hour, t.minute, t.second, 0, eastern
                    )
                else:
                    last_trade = t.astimezone(eastern)
            append(
                contract_cls(
                    osi,
                    underlying,
                    root,
                    expiry,
                    strike,
                    right,
                    int(volume) if volume else 0,
                    int(oi) if oi else 0,
                    float(iv) if iv else None,
                    float(last) if last is not None else None,
                    last_trade,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            skipped += 1
            if skipped == 1:
                first_bad = rec.get("option", "<no option key>") if isinstance(rec, dict) else rec
    if skipped:
        log.warning(
            "Cboe chain for %s: skipped %d of %d records with a missing or malformed option "
            "symbol or field (first: %r).",
            underlying,
            skipped,
            len(options),
            first_bad,
        )
    return OptionChain(
        underlying=underlying,
        as_of=_as_of(doc.get("timestamp"), underlying),
        underlying_price=underlying_price,
        contracts=contracts,
    )


def aggregate(chain: OptionChain, day: date) -> UnderlyingVolume:
    """The chain's volume so far, in contracts, as the day's total for its underlying."""
    calls = puts = 0
    for c in chain.contracts:
        if c.right is Right.CALL:
            calls += c.volume
        else:
            puts += c.volume
    return UnderlyingVolume(
        day=day,
        underlying=chain.underlying,
        total=calls + puts,
        calls=calls,
        puts=puts,
        source="cboe",
    )


class CboeClient:
    """Fetches delayed chains with bounded concurrency and request rate.

    The httpx client is the caller's (headers, timeouts, transport); Cboe's CDN is known to prefer
    a browser-like User-Agent, which belongs on that client.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        max_concurrency: int = 4,
        requests_per_minute: int = 120,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._semaphore = anyio.Semaphore(max_concurrency)
        self._limiter = AsyncLimiter(requests_per_minute, 60)

    def chain_url(self, symbol: str) -> str:
        return f"{self._base_url}/api/global/delayed_quotes/options/{chain_url_symbol(symbol)}.json"

    async def fetch_chain(self, symbol: str) -> OptionChain:
        """The delayed chain of `symbol` (a stock, ETF or index, without underscore).

        Raises:
            SourceError: Cboe lists no options for the symbol (403/404) or refused the request.
            RateLimited: Cboe answered 429.
            ServiceError: Cboe kept failing (5xx, timeouts) after retries.
            MalformedResponse: the body is not a chain.
        """
        name = _plain_symbol(symbol)
        url = self.chain_url(name)
        async with self._semaphore:
            await self._limiter.acquire()
            response = await get_with_retries(self._http, url, what=f"Cboe chain for {name}")
            status = response.status_code
            if status in (403, 404):
                raise SourceError(
                    f"Cboe has no options listed for {name} (HTTP {status}); check the symbol."
                )
            if status == 429:
                raise RateLimited(
                    f"Cboe refused the {name} chain for too many requests (HTTP 429); "
                    "lower the request rate or wait a minute."
                )
            if status != 200:
                raise SourceError(f"Cboe refused the {name} option chain request (HTTP {status}).")
            content = response.content
            return await anyio.to_thread.run_sync(parse_chain, content, name)
