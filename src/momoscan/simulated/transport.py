"""The simulated market behind an httpx transport, answering in the providers' own wire formats.

Mounted under the real clients, it makes the demo exercise the same code as live mode: Twelve
Data's /quote batches and /api_usage (numbers as strings, per-symbol errors, credit headers, an
in-body 429 when the plan's credits for the minute are spent), Cboe's delayed-quotes option
chains and OCC's daily volume CSV. Requests are routed by path, whatever the host, so a user's
configured base URLs keep working in demo.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from urllib.parse import unquote

import anyio
import httpx
import orjson

from .. import market_hours as mh
from ..clock import MarketClock
from ..models import Session
from ..processes import shutdown_pool, spawn_pool
from .market import OPEN_MINUTE, SimMarket
from .options import ChainFactory, occ_csv

MAX_SYMBOLS = 120


class CreditMeter:
    """Twelve Data's per-minute credit count, as a fixed window aligned to the wall clock."""

    def __init__(
        self,
        limit: int,
        *,
        window: float = 60.0,
        wall: Callable[[], float] = time.time,
        daily_limit: int | None = None,
    ):
        self.limit = limit
        self.window = window
        self.daily_limit = daily_limit
        self._wall = wall
        self._window_id = -1
        self.used = 0
        self.used_today = 0
        self.rejected = 0
        self._lock = threading.Lock()

    def _roll(self) -> None:
        window_id = math.floor(self._wall() / self.window)
        if window_id != self._window_id:
            self._window_id = window_id
            self.used = 0

    def charge(self, credits: int) -> tuple[bool, int, int]:
        """Try to spend `credits`: (accepted, used this window, left this window)."""
        with self._lock:
            self._roll()
            over_day = self.daily_limit is not None and self.used_today + credits > self.daily_limit
            if self.used + credits > self.limit or over_day:
                self.rejected += 1
                return False, self.used + credits, max(0, self.limit - self.used)
            self.used += credits
            self.used_today += credits
            return True, self.used, self.limit - self.used

    def peek(self) -> tuple[int, int]:
        with self._lock:
            self._roll()
            return self.used, self.limit - self.used


def _fmt(value: float) -> str:
    return f"{value:.5f}"


def _error(code: int, message: str, **extra: object) -> dict[str, object]:
    return {"code": code, "message": message, "status": "error", **extra}


def _not_found(symbol: str, requested: str) -> dict[str, object]:
    return _error(
        400,
        f"**symbol** not found: {symbol}. Please specify it correctly according to API "
        "Documentation.",
        meta={"symbol": requested, "interval": "1day", "exchange": ""},
    )


def quote_objects(market: SimMarket, symbols: Sequence[str], requested: str) -> dict[str, object]:
    """Twelve Data quote objects (or per-symbol errors) for `symbols` at the market clock's now."""
    sim_day, minute, now = market.now_state()
    session = (
        mh.session_at(now) if mh.is_trading_day(now.astimezone(mh.ET).date()) else Session.CLOSED
    )
    is_open = session is Session.OPEN
    start = OPEN_MINUTE if minute >= OPEN_MINUTE else 0
    day_text = sim_day.day.isoformat()
    bar_ts = int(sim_day.at_minute(OPEN_MINUTE).timestamp())
    last_ts = int(sim_day.at_minute(minute).timestamp())
    known = [(s, market.index.get(s.upper())) for s in symbols]
    rows = [i for _, i in known if i is not None and market.securities[i].kind != "index"]
    prices = sim_day.price[rows, :]
    segment = prices[:, start : minute + 1]
    highs = segment.max(axis=1).tolist() if rows else []
    lows = segment.min(axis=1).tolist() if rows else []
    opens = prices[:, start].tolist() if rows else []
    lasts = prices[:, minute].tolist() if rows else []
    volumes = sim_day.cum_volume[rows, minute].tolist() if rows else []
    prev = sim_day.prev_close[rows].tolist() if rows else []
    position = {i: k for k, i in enumerate(rows)}
    out: dict[str, object] = {}
    for symbol, index in known:
        if index is None or market.securities[index].kind == "index":
            out[symbol] = _not_found(symbol, requested)
            continue
        sec = market.securities[index]
        k = position[index]
        price, prev_close = lasts[k], prev[k]
        change = price - prev_close
        ref = market.ref_price[index]
        low52 = min(ref * 0.62, lows[k])
        high52 = max(ref * 1.38, highs[k])
        out[symbol] = {
            "symbol": sec.symbol,
            "name": sec.name,
            "exchange": "NYSE" if sec.mic == "ARCX" else sec.exchange.replace("NYSEMKT", "NYSE"),
            "mic_code": sec.mic,
            "currency": "USD",
            "datetime": day_text,
            "timestamp": bar_ts,
            "last_quote_at": last_ts,
            "open": _fmt(opens[k]),
            "high": _fmt(highs[k]),
            "low": _fmt(lows[k]),
            "close": _fmt(price),
            "volume": str(int(volumes[k])),
            "previous_close": _fmt(prev_close),
            "change": _fmt(change),
            "percent_change": _fmt(change / prev_close * 100.0),
            "average_volume": str(int(sec.avg_volume)) if sec.avg_volume else None,
            "is_market_open": is_open,
            "fifty_two_week": {
                "low": _fmt(low52),
                "high": _fmt(high52),
                "low_change": _fmt(price - low52),
                "high_change": _fmt(price - high52),
                "low_change_percent": _fmt((price - low52) / low52 * 100),
                "high_change_percent": _fmt((price - high52) / high52 * 100),
                "range": f"{low52:.6f} - {high52:.6f}",
            },
        }
    return out


Answer = tuple[int, dict[str, str], bytes]


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Answer:
    return (
        status,
        {"content-type": "application/json; charset=utf-8", **(headers or {})},
        orjson.dumps(body),
    )


class SimServer:
    """The providers' endpoints over a `SimMarket`, answered synchronously: in a worker thread
    of the app's process, or in a process of its own (`ProcessMarketTransport`).

    Routes by path, whatever the host, so configured base URLs keep working in demo.

    Args:
        plan_limit: credits per window the simulated Twelve Data plan allows.
        window: length of the credit window (60 s like the real API; benches scale it down).
    """

    def __init__(
        self,
        market: SimMarket,
        *,
        plan_limit: int = 1597,
        window: float = 60.0,
        daily_limit: int | None = None,
        wall: Callable[[], float] = time.time,
    ):
        self.market = market
        self.meter = CreditMeter(plan_limit, window=window, wall=wall, daily_limit=daily_limit)
        self.chains = ChainFactory(market)
        self._wall = wall

    def handle(self, method: str, url: str, headers: dict[str, str]) -> Answer:
        parsed = httpx.URL(url)
        path = parsed.path
        if path.endswith("/quote"):
            return self._quote(parsed, headers)
        if path.endswith("/api_usage"):
            return self._api_usage(headers)
        if "/delayed_quotes/options/" in path:
            return self._chain(path)
        if path.endswith("/volume-query"):
            return self._occ(parsed)
        return 404, {"content-type": "text/plain"}, b"Not Found"

    # -- Twelve Data -------------------------------------------------------------------------

    @staticmethod
    def _authorised(headers: dict[str, str]) -> bool:
        header = headers.get("authorization", "")
        return header.lower().startswith("apikey ") and len(header) > 7

    def _unauthorised(self) -> Answer:
        return _json(
            401,
            _error(
                401,
                "**apikey** parameter is incorrect or not specified. You can get your free API "
                "Key instantly following this link: https://twelvedata.com/apikey. If you "
                "believe that everything is correct, you can email us at apikey@twelvedata.com",
            ),
        )

    @staticmethod
    def _credits(used: int, left: int, batch: bool = False) -> dict[str, str]:
        headers = {"api-credits-used": str(used), "api-credits-left": str(left)}
        if batch:
            headers["Is_batch"] = "true"
        return headers

    def _quote(self, url: httpx.URL, headers: dict[str, str]) -> Answer:
        if not self._authorised(headers):
            return self._unauthorised()
        raw = unquote(url.params.get("symbol", ""))
        symbols = [s.strip() for s in raw.split(",") if s.strip()]
        if not symbols:
            body = _error(400, "**symbol** or **figi** parameter is missing or invalid.")
            return _json(400, body, self._credits(*self.meter.peek()))
        if len(symbols) > MAX_SYMBOLS:
            body = _error(414, f"Parameter Too Long: at most {MAX_SYMBOLS} symbols per request.")
            return _json(414, body, self._credits(*self.meter.peek()))
        accepted, used, left = self.meter.charge(len(symbols))
        if not accepted:
            body = _error(
                429,
                f"You have run out of API credits for the current minute. {used} API credits "
                f"were used, with the current limit being {self.meter.limit}. Wait for the next "
                "minute or consider switching to a higher tier plan at https://twelvedata.com/pricing",
            )
            # Twelve Data has long answered this with HTTP 200 and the error in the body.
            return _json(200, body, self._credits(*self.meter.peek()))
        objects = quote_objects(self.market, symbols, raw)
        payload = objects[symbols[0]] if len(symbols) == 1 else objects
        return _json(200, payload, self._credits(used, left, batch=len(symbols) > 1))

    def _api_usage(self, headers: dict[str, str]) -> Answer:
        if not self._authorised(headers):
            return self._unauthorised()
        _, used, left = self.meter.charge(1)
        body: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(self._wall()).strftime("%Y-%m-%d %H:%M:%S"),
            "current_usage": used,
            "plan_limit": self.meter.limit,
        }
        if self.meter.daily_limit is not None:
            body["daily_usage"] = self.meter.used_today
            body["plan_daily_limit"] = self.meter.daily_limit
        return _json(200, body, self._credits(used, left))

    # -- Cboe --------------------------------------------------------------------------------

    def _chain(self, path: str) -> Answer:
        name = path.rsplit("/", 1)[-1]
        symbol = name.removesuffix(".json").lstrip("_").upper()
        index = self.market.index.get(symbol)
        is_index = index is not None and self.market.securities[index].kind == "index"
        # Cboe's CDN wants the underscore exactly for indexes.
        body = None
        if index is not None and is_index == name.startswith("_"):
            body = self.chains.chain_body(symbol)
        if body is None:
            return (
                403,
                {"content-type": "application/xml"},
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                b"<Message>Access Denied</Message></Error>",
            )
        return 200, {"content-type": "application/json"}, body

    # -- OCC ---------------------------------------------------------------------------------

    def _occ(self, url: httpx.URL) -> Answer:
        params = url.params
        text = {"content-type": "text/plain"}
        if params.get("format", "").lower() != "csv":
            return 200, text, b"Report Format is Required"
        try:
            day = datetime.strptime(params.get("reportDate", ""), "%Y%m%d").date()
        except ValueError:
            return 200, text, b"Invalid Report Date"
        now = self.market.clock.now()
        if not mh.is_trading_day(day) or day > self.market.trading_days_published(now):
            return 200, text, b"No data found"
        return 200, {"content-type": "text/csv"}, occ_csv(self.market, day)


class SimulatedMarketTransport(httpx.AsyncBaseTransport):
    """The simulated market in the app's own process, answering from worker threads.

    Deterministic and quick to start: what the tests use. (The app and the headless CLI run
    the market in a process of its own, `ProcessMarketTransport`, so that its work never
    competes with the app's event loop.)

    Args:
        latency: seconds each answer takes, as a real network would.
    """

    def __init__(
        self,
        market: SimMarket,
        *,
        plan_limit: int = 1597,
        latency: float = 0.03,
        window: float = 60.0,
        daily_limit: int | None = None,
        wall: Callable[[], float] = time.time,
    ):
        self.server = SimServer(
            market, plan_limit=plan_limit, window=window, daily_limit=daily_limit, wall=wall
        )
        self.market = market
        self.meter = self.server.meter
        self.latency = latency
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.latency:
            await anyio.sleep(self.latency)
        status, headers, body = await anyio.to_thread.run_sync(
            self.server.handle, request.method, str(request.url), dict(request.headers)
        )
        return httpx.Response(status, headers=headers, content=body)


# -- the market in a process of its own ------------------------------------------------------

_SERVER: SimServer | None = None


def _start_server(
    seed: int,
    size: int,
    first_day: date,
    at: datetime,
    plan_limit: int,
    window: float,
    daily_limit: int | None,
) -> None:
    global _SERVER
    from ..clock import FixedClock

    market = SimMarket(seed, size, FixedClock(at), start_day=first_day)
    _SERVER = SimServer(market, plan_limit=plan_limit, window=window, daily_limit=daily_limit)


def _serve(method: str, url: str, headers: dict[str, str], now: datetime) -> Answer:
    assert _SERVER is not None, "the simulated market process was not started"
    clock = _SERVER.market.clock
    clock.at = now  # type: ignore[attr-defined]  # the app's market clock is the truth
    return _SERVER.handle(method, url, headers)


def _warm() -> int:
    """Build the current simulated day before the first request needs it."""
    assert _SERVER is not None
    _SERVER.market.now_state()
    return len(_SERVER.market.securities)


class ProcessMarketTransport(httpx.AsyncBaseTransport):
    """The simulated market in a process of its own, like a real provider on the network.

    Its price paths, chains and day files are built on the other core, and the app's event
    loop shares its GIL with nothing of the simulation's. The app's market clock is sent with
    each request, so both sides agree on the simulated time.
    """

    def __init__(
        self,
        *,
        seed: int,
        size: int,
        clock: MarketClock,
        first_day: date,
        plan_limit: int = 1597,
        latency: float = 0.03,
        window: float = 60.0,
        daily_limit: int | None = None,
    ):
        self.clock = clock
        self.latency = latency
        self.requests = 0
        self._closed = False
        self._pool = spawn_pool(
            _start_server, (seed, size, first_day, clock.now(), plan_limit, window, daily_limit)
        )
        # Build today's market now, while the app starts up.
        self._warming = self._pool.submit(_warm)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.latency:
            await anyio.sleep(self.latency)
        loop = asyncio.get_running_loop()
        status, headers, body = await loop.run_in_executor(
            self._pool,
            _serve,
            request.method,
            str(request.url),
            dict(request.headers),
            self.clock.now(),
        )
        return httpx.Response(status, headers=headers, content=body)

    async def aclose(self) -> None:
        """Stop the market's process (each client sharing this transport calls this)."""
        if not self._closed:
            self._closed = True
            await shutdown_pool(self._pool)
