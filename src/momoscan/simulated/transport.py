"""The simulated market behind an httpx transport, answering in the providers' own wire formats.

Mounted under the real clients, it makes the demo exercise the same code as live mode: Twelve
Data's /quote batches and /api_usage (numbers as strings, per-symbol errors, credit headers, an
in-body 429 when the plan's credits for the minute are spent), /market_movers/stocks (numbers
as numbers, 100 credits, Pro plans only), Cboe's delayed-quotes option
chains, OCC's daily volume CSV, Nasdaq Trader's halts RSS and Rule 201 files
(`simulated.halts`), SEC EDGAR's ticker map and current-filings feed (`simulated.sec`) and
company facts (`simulated.facts`), and FINRA's short interest and short volume files
(`simulated.finra`).
Requests are routed by path, whatever the host, so a user's configured base URLs keep working
in demo.

The simulated universe reaches the app as listings, not through a wire format (it stands in for
nasdaq-data-link, which has no transport to mount): `tickers()` is where those become `Ticker`s,
so it cleans their text (`sanitize.clean`) as a parser would (the `td_hostile_name` fault puts
escape sequences in some names).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import math
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote

import anyio
import httpx
import numpy as np
import orjson

from .. import market_hours as mh
from ..clock import MarketClock
from ..models import Session, Ticker
from ..processes import shutdown_pool, spawn_importing
from ..sanitize import clean
from .facts import facts_answer, is_facts_path
from .faults import (
    CBOE_REQUEST,
    FACTS_REQUEST,
    HALTS_REQUEST,
    OCC_NO_RECORD,
    OCC_REQUEST,
    OCC_TOO_OLD,
    SEC_REQUEST,
    TD_REQUEST,
    FaultDice,
    FaultPlan,
    Trickle,
    TrickleStream,
    access_denied,
    cboe_page,
    cloudfront_error,
    csv_variant,
    hostile_name,
    occ_maintenance,
    occ_not_yet,
    occ_server_error,
    out_of_credits,
    stale_quote,
    truncate,
    truncate_rows,
    twelvedata_gateway_error,
    twelvedata_maintenance,
)
from .finra import finra_answer, is_finra_path
from .halts import feed_answer, ssr_answer
from .history import Columns
from .market import OPEN_MINUTE, AnyDay, SimMarket
from .options import ChainFactory, occ_csv
from .sec import is_sec_path, sec_answer

if TYPE_CHECKING:
    from .past import PastColumns

    # Imported where a stream starts: websockets is 5 MB the market's process seldom needs.
    from .stream_server import SimStreamServer

MAX_SYMBOLS = 120
#: Seconds between two asks whether the demo's past is made (`past_columns`).
PAST_POLL = 0.2
#: /market_movers: credits a request, and the smallest plan that has it. Twelve Data sells it
#: from its Pro plans (TD-OAS x-starting-plan "Pro"); Pro's smallest is 610 credits a minute,
#: Grow's largest 377 (../shared/reference/market-data-apis.md 1.4).
MOVERS_CREDITS = 100
PRO_PLAN_CREDITS = 610
MOVERS_MARKETS = ("stocks", "etf", "mutual_funds", "forex", "crypto")


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


def quote_objects(
    market: SimMarket, symbols: Sequence[str], requested: str, *, prepost: bool = False
) -> dict[str, object]:
    """Twelve Data quote objects (or per-symbol errors) for `symbols` at the market clock's now.

    The quote is the daily bar of the latest regular session, as /quote's default 1day
    interval gives it: in the session, today's so far; before the open, the previous session's
    (its close, volume and change); after the close, today's as it closed at 16:00 (13:00 on
    half days). Its volume is the regular session's. With `prepost` (Pro plans) outside the
    session, `extended_price`, `extended_percent_change` (from the bar's close) and
    `extended_timestamp` (a string of digits, as the spec shows it) carry the pre-market or
    after-hours price.
    """
    sim_day, minute, now = market.now_state()
    session = (
        mh.session_at(now) if mh.is_trading_day(now.astimezone(mh.ET).date()) else Session.CLOSED
    )
    is_open = session is Session.OPEN
    last_regular = sim_day.close_minute - 1
    bar: AnyDay
    if minute < OPEN_MINUTE:
        # Before the open: the previous session's bar.
        bar = market.session_before(sim_day.day)
        bar_minute = bar.close_minute - 1
    else:
        bar, bar_minute = sim_day, min(minute, last_regular)
    extended = prepost and not is_open
    day_text = bar.day.isoformat()
    bar_ts = int(bar.at_minute(OPEN_MINUTE).timestamp())
    last_ts = int(bar.at_minute(bar_minute).timestamp())
    ext_ts = str(int(sim_day.at_minute(minute).timestamp()))
    known = [(s, market.index.get(s.upper())) for s in symbols]
    rows = [i for _, i in known if i is not None and market.securities[i].kind != "index"]
    highs: list[float] = []
    lows: list[float] = []
    opens: list[float] = []
    lasts: list[float] = []
    volumes: list[float] = []
    prev: list[float] = []
    if rows:
        high, low = bar.high_low(rows, bar_minute)
        highs, lows = high.tolist(), low.tolist()
        opens = bar.price_at(rows, OPEN_MINUTE).tolist()
        lasts = bar.price_at(rows, bar_minute).tolist()
        volumes = (
            bar.cum_volume_at(rows, bar_minute) - bar.cum_volume_at(rows, OPEN_MINUTE - 1)
        ).tolist()
        prev = bar.prev_close[rows].tolist()
    now_prices = sim_day.price_at(rows, minute).tolist() if rows and extended else []
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
        quote: dict[str, object] = {
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
        if extended:
            ext = now_prices[k]
            quote["extended_change"] = _fmt(ext - price)
            quote["extended_percent_change"] = _fmt((ext - price) / price * 100.0)
            quote["extended_price"] = _fmt(ext)
            quote["extended_timestamp"] = ext_ts
        out[symbol] = quote
    return out


def movers_objects(
    market: SimMarket, direction: str, outputsize: int, price_greater_than: float = 0.0
) -> list[dict[str, object]]:
    """Twelve Data /market_movers/stocks rows at the market clock's now: the stocks with the
    biggest % change from the previous close, gainers (highest first, up only) or losers.

    From the regular session, as /quote's daily bar is: before the open the previous
    session's movers, after the close the day's as it closed (whether Twelve Data's list
    follows pre-market trading is not documented). Numbers are JSON numbers (TD-OAS); the
    `datetime` is the row's last minute, in the exchange's time.
    """
    sim_day, minute, _ = market.now_state()
    bar: AnyDay
    if minute < OPEN_MINUTE:
        bar = market.session_before(sim_day.day)
        bar_minute = bar.close_minute - 1
    else:
        bar, bar_minute = sim_day, min(minute, sim_day.close_minute - 1)
    n = len(market.stocks)  # the stocks come first among the securities
    price = bar.price_at(slice(0, n), bar_minute).astype(np.float64)
    prev = bar.prev_close[:n]
    pct = (price - prev) / prev * 100.0
    eligible = price > price_greater_than
    if direction == "gainers":
        eligible &= pct > 0
        order = np.argsort(-pct, kind="stable")
    else:
        eligible &= pct < 0
        order = np.argsort(pct, kind="stable")
    picked = [int(i) for i in order if eligible[i]][:outputsize]
    if not picked:
        return []
    high, low = bar.high_low(picked, bar_minute)
    highs, lows = high.tolist(), low.tolist()
    volumes = (
        bar.cum_volume_at(picked, bar_minute) - bar.cum_volume_at(picked, OPEN_MINUTE - 1)
    ).tolist()
    stamp = bar.at_minute(bar_minute).strftime("%Y-%m-%d %H:%M:%S")
    rows: list[dict[str, object]] = []
    for k, i in enumerate(picked):
        sec = market.stocks[i]
        rows.append(
            {
                "symbol": sec.symbol,
                "name": sec.name,
                "exchange": sec.exchange.replace("NYSEMKT", "NYSE"),
                "mic_code": sec.mic,
                "datetime": stamp,
                "last": round(float(price[i]), 5),
                "high": round(float(highs[k]), 5),
                "low": round(float(lows[k]), 5),
                "volume": int(volumes[k]),
                "change": round(float(price[i] - prev[i]), 5),
                "percent_change": round(float(pct[i]), 5),
            }
        )
    return rows


Answer = tuple[int, dict[str, str], bytes]


class Reply(NamedTuple):
    """An answer of the simulated market, and how slowly to send its body (None: at once)."""

    status: int
    headers: dict[str, str]
    body: bytes
    trickle: Trickle | None = None


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Answer:
    return (
        status,
        {"content-type": "application/json; charset=utf-8", **(headers or {})},
        orjson.dumps(body),
    )


def _text(body: bytes) -> Answer:
    return 200, {"content-type": "text/plain"}, body


class SimServer:
    """The providers' endpoints over a `SimMarket`, answered synchronously: in a worker thread
    of the app's process, or in a process of its own (`ProcessMarketTransport`).

    Routes by path, whatever the host, so configured base URLs keep working in demo.

    Args:
        plan_limit: credits per window the simulated Twelve Data plan allows.
        window: length of the credit window (60 s like the real API; benches scale it down).
        faults: answer like the real providers do when things go wrong, this often (see
            `faults`); None (or a plan with every rate 0) answers exactly as before.

    Attributes:
        injected: how many of each fault were sent (a response, a symbol or a file each).
    """

    def __init__(
        self,
        market: SimMarket,
        *,
        plan_limit: int = 1597,
        window: float = 60.0,
        daily_limit: int | None = None,
        wall: Callable[[], float] = time.time,
        faults: FaultPlan | None = None,
    ):
        self.market = market
        self.meter = CreditMeter(plan_limit, window=window, wall=wall, daily_limit=daily_limit)
        self.chains = ChainFactory(market)
        self._wall = wall
        self.faults = faults if faults is not None and faults.active else None
        self._dice = FaultDice(self.faults, market.seed) if self.faults is not None else None
        self.injected: Counter[str] = self._dice.injected if self._dice else Counter()

    def handle(self, method: str, url: str, headers: dict[str, str]) -> Answer:
        """The answer to a request, its body whole (a trickled one too)."""
        status, out_headers, body, _ = self.respond(method, url, headers)
        return status, out_headers, body

    def respond(self, method: str, url: str, headers: dict[str, str]) -> Reply:
        """The answer to a request, with the plan for trickling its body if it trickles."""
        parsed = httpx.URL(url)
        if self._dice is not None:
            return self._faulty(self._dice, parsed, headers)
        path = parsed.path
        if path.endswith("/quote"):
            return Reply(*self._quote(parsed, headers))
        if path.endswith("/api_usage"):
            return Reply(*self._api_usage(headers))
        if "/market_movers/" in path:
            return Reply(*self._movers(parsed, headers))
        if "/delayed_quotes/options/" in path:
            return Reply(*self._chain(path))
        if path.endswith("/volume-query"):
            return Reply(*self._occ(parsed))
        if path.endswith("/rss.aspx"):
            return Reply(*feed_answer(self.market, dict(parsed.params), self.market.clock.now()))
        if "/shorthalts/" in path:
            return Reply(*ssr_answer(self.market, path, self.market.clock.now()))
        if is_sec_path(path):
            return Reply(*sec_answer(self.market, parsed, headers, self.market.clock.now()))
        if is_facts_path(path):
            return Reply(*facts_answer(self.market, path, headers, self.market.clock.now()))
        if is_finra_path(path):
            return Reply(*finra_answer(self.market, path, self.market.clock.now()))
        return Reply(404, {"content-type": "text/plain"}, b"Not Found")

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

    def _quote(
        self, url: httpx.URL, headers: dict[str, str], dice: random.Random | None = None
    ) -> Answer:
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
            # Twelve Data has long answered this with HTTP 200 and the error in the body.
            body = out_of_credits(used, self.meter.limit)
            return _json(200, body, self._credits(*self.meter.peek()))
        prepost = url.params.get("prepost", "").lower() == "true"
        objects = quote_objects(self.market, symbols, raw, prepost=prepost)
        if dice is not None:
            self._symbol_faults(objects, symbols, raw, dice)
        payload = objects[symbols[0]] if len(symbols) == 1 else objects
        return _json(200, payload, self._credits(used, left, batch=len(symbols) > 1))

    def _symbol_faults(
        self, objects: dict[str, object], symbols: list[str], raw: str, dice: random.Random
    ) -> None:
        """Halted stocks' stale quotes, per-symbol errors inside a batch, and hostile names,
        in place."""
        assert self.faults is not None and self._dice is not None
        stale_rate = self.faults.td_stale
        error_rate = self.faults.td_symbol_error if len(symbols) > 1 else 0.0
        if not stale_rate and not error_rate and not self.faults.td_hostile_name:
            return
        sim_day, _, _ = self.market.now_state()
        stale = errors = hostile = 0
        for symbol in symbols:
            quote = objects[symbol]
            if not isinstance(quote, dict) or quote.get("status") == "error":
                continue
            if error_rate and dice.random() < error_rate:
                objects[symbol] = _not_found(symbol, raw)
                errors += 1
                continue
            if stale_rate and self._dice.unit("td_stale", symbol, sim_day.day) < stale_rate:
                index = self.market.index[symbol.upper()]
                quote = objects[symbol] = stale_quote(
                    quote,
                    last_close=float(sim_day.prev_close[index]),
                    today=sim_day.day,
                    rng=self._dice.sticky("td_stale", symbol, sim_day.day),
                )
                stale += 1
            name = self._hostile(str(quote.get("symbol") or symbol), str(quote.get("name") or ""))
            if name is not None:
                quote["name"] = name
                hostile += 1
        self._dice.count("td_symbol_error", errors)
        self._dice.count("td_stale", stale)
        self._dice.count("td_hostile_name", hostile)

    def _hostile(self, symbol: str, name: str) -> str | None:
        """The hostile form of `symbol`'s name under `td_hostile_name` (the same symbols, and
        the same form, every time), or None for a symbol the fault leaves alone."""
        rate = self.faults.td_hostile_name if self.faults is not None else 0.0
        if not rate or self._dice is None or self._dice.unit("td_hostile_name", symbol) >= rate:
            return None
        return hostile_name(name, self._dice.sticky("td_hostile_name", symbol))

    def listings(self) -> list[Ticker]:
        """The simulated universe's stocks as listings, as the source sends them: under
        `td_hostile_name`, the same names carry the same escape sequences as in /quote."""
        tickers = [s.ticker() for s in self.market.stocks]
        if self.faults is None or not self.faults.td_hostile_name:
            return tickers
        return [
            t
            if (name := self._hostile(t.symbol, t.name)) is None
            else dataclasses.replace(t, name=name)
            for t in tickers
        ]

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

    def _movers(self, url: httpx.URL, headers: dict[str, str]) -> Answer:
        """/market_movers/{market}: the documented 403 below a Pro plan (not charged), 100
        credits a request otherwise, the in-body 429 when the minute's credits are short."""
        if not self._authorised(headers):
            return self._unauthorised()
        market = url.path.rsplit("/", 1)[-1]
        credits = self._credits(*self.meter.peek())
        if market not in MOVERS_MARKETS:
            body = _error(404, f"**market** {market} not found. Use one of {MOVERS_MARKETS}.")
            return _json(404, body, credits)
        if self.meter.limit < PRO_PLAN_CREDITS:
            body = _error(
                403,
                "**/market_movers** is available exclusively with pro or higher plans. Consider "
                "upgrading your API Key at https://twelvedata.com/pricing",
            )
            return _json(403, body, credits)
        params = url.params
        direction = params.get("direction", "gainers").lower()
        try:
            outputsize = int(params.get("outputsize", "30"))
            floor = float(params.get("price_greater_than", "0") or 0)
        except ValueError:
            outputsize = 0
            floor = 0.0
        if direction not in ("gainers", "losers") or not 1 <= outputsize <= 50:
            body = _error(
                400, "**direction** must be gainers or losers and **outputsize** from 1 to 50."
            )
            return _json(400, body, credits)
        accepted, used, left = self.meter.charge(MOVERS_CREDITS)
        if not accepted:
            return _json(
                200, out_of_credits(used, self.meter.limit), self._credits(*self.meter.peek())
            )
        # The simulated market lists stocks only (its ETFs and indexes are options products).
        rows = (
            movers_objects(self.market, direction, outputsize, floor) if market == "stocks" else []
        )
        return _json(200, {"values": rows, "status": "ok"}, self._credits(used, left))

    # -- Cboe --------------------------------------------------------------------------------

    def _chain_symbol(self, path: str) -> str | None:
        """The underlying a chain path asks for, or None if Cboe would refuse it."""
        name = path.rsplit("/", 1)[-1]
        symbol = name.removesuffix(".json").lstrip("_").upper()
        index = self.market.index.get(symbol)
        if index is None:
            return None
        sec = self.market.securities[index]
        # Cboe's CDN wants the underscore exactly for indexes.
        if (sec.kind == "index") != name.startswith("_") or sec.options_volume <= 0:
            return None
        return symbol

    def _chain(self, path: str, *, previous_session: bool = False) -> Answer:
        symbol = self._chain_symbol(path)
        body = None
        if symbol is not None:
            body = self.chains.chain_body(symbol, previous_session=previous_session)
        if body is None:
            return access_denied()
        return 200, {"content-type": "application/json"}, body

    # -- OCC ---------------------------------------------------------------------------------

    def _occ_day(self, url: httpx.URL) -> Answer | date:
        """OCC's plain-text answer to a volume query, or the day whose file it sends."""
        params = url.params
        if params.get("format", "").lower() != "csv":
            return _text(b"Report Format is Required")
        try:
            day = datetime.strptime(params.get("reportDate", ""), "%Y%m%d").date()
        except ValueError:
            return _text(b"Invalid Report Date")
        now = self.market.clock.now()
        latest = self.market.trading_days_published(now)
        if day > latest:
            return _text(occ_not_yet(latest))
        if day < _two_years_before(now.astimezone(mh.ET).date()):
            return _text(OCC_TOO_OLD)
        if not mh.is_trading_day(day):
            return _text(OCC_NO_RECORD)
        return day

    def _occ(self, url: httpx.URL) -> Answer:
        answer = self._occ_day(url)
        if isinstance(answer, date):
            return 200, {"content-type": "text/csv"}, occ_csv(self.market, answer)
        return answer

    # -- faults ------------------------------------------------------------------------------

    def _faulty(self, dice: FaultDice, url: httpx.URL, headers: dict[str, str]) -> Reply:
        plan = dice.plan
        path = url.path
        minute = self.market.clock.now().astimezone(mh.ET).strftime("%Y-%m-%dT%H:%M")
        if path.endswith(("/quote", "/api_usage")) or "/market_movers/" in path:
            return self._td_faulty(dice, plan, url, headers, minute)
        if "/delayed_quotes/options/" in path:
            return self._cboe_faulty(dice, plan, path, minute)
        if path.endswith("/volume-query"):
            return self._occ_faulty(dice, plan, url, minute)
        if path.endswith("/rss.aspx"):
            rng = dice.request(url.raw_path.decode("ascii"), minute)
            kind = plan.pick(HALTS_REQUEST, rng.random())
            if kind is not None:
                dice.count(kind)
            now = self.market.clock.now()
            return Reply(*feed_answer(self.market, dict(url.params), now, kind, rng))
        if "/shorthalts/" in path:
            rng = dice.request(path, minute)
            html = rng.random() < plan.ssr_html
            dice.count("ssr_html", int(html))
            return Reply(*ssr_answer(self.market, path, self.market.clock.now(), html=html))
        if is_sec_path(path):
            rng = dice.request(url.raw_path.decode("ascii"), minute)
            kind = plan.pick(SEC_REQUEST, rng.random())
            if kind == "sec_truncated" and not path.endswith(".json"):
                kind = None  # only the ticker map is cut short
            if kind is not None:
                dice.count(kind)
            now = self.market.clock.now()
            return Reply(*sec_answer(self.market, url, headers, now, kind, rng))
        if is_facts_path(path):
            rng = dice.request(path, minute)
            kind = plan.pick(FACTS_REQUEST, rng.random())
            dice.count(kind or "", int(kind is not None))
            # A company without its dei concepts stays so (per company, for good).
            no_shares = dice.unit("facts_no_shares", path) < plan.facts_no_shares
            dice.count("facts_no_shares", int(no_shares))
            now = self.market.clock.now()
            answer = facts_answer(self.market, path, headers, now, kind, rng, no_shares=no_shares)
            return Reply(*answer)
        if is_finra_path(path):
            rng = dice.request(path, minute)
            name = "finra_403" if path.endswith(".csv") else "finra_404"
            hit = rng.random() < plan.rate(name)
            dice.count(name, int(hit))
            now = self.market.clock.now()
            return Reply(*finra_answer(self.market, path, now, name if hit else None))
        return Reply(404, {"content-type": "text/plain"}, b"Not Found")

    def _td_faulty(
        self,
        dice: FaultDice,
        plan: FaultPlan,
        url: httpx.URL,
        headers: dict[str, str],
        minute: str,
    ) -> Reply:
        quote = url.path.endswith("/quote")
        movers = "/market_movers/" in url.path
        if not self._authorised(headers):
            return Reply(*(self._quote(url, headers) if quote else self._api_usage(headers)))
        rng = dice.request(url.raw_path.decode("ascii"), minute)
        kind = plan.pick(TD_REQUEST, rng.random())
        if quote and dice.take_burst():
            kind = "td_429"
        elif kind == "td_429":
            if quote:
                dice.start_burst(rng.randint(2, 4))
            else:
                kind = None  # /api_usage tells the usage, it is not refused for it
        if kind == "td_5xx":
            dice.count(kind)
            return Reply(*twelvedata_gateway_error(rng))
        if kind == "td_html":
            dice.count(kind)
            return Reply(*twelvedata_maintenance())
        if kind == "td_429":
            dice.count(kind)
            limit = self.meter.limit
            used = limit + rng.randint(1, max(1, limit // 10))
            return Reply(*_json(200, out_of_credits(used, limit), self._credits(used, 0)))
        if quote:
            # A body cut short shows none of its symbols: fault them only in whole ones.
            status, out, body = self._quote(url, headers, None if kind == "td_truncated" else rng)
        elif movers:
            status, out, body = self._movers(url, headers)
        else:
            status, out, body = self._api_usage(headers)
        return self._mangled(dice, kind, rng, status, out, body)

    def _mangled(
        self,
        dice: FaultDice,
        kind: str | None,
        rng: random.Random,
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> Reply:
        """A successful answer cut short or trickled, as `kind` says."""
        if status != 200 or kind is None:
            return Reply(status, headers, body)
        if kind.endswith("_truncated"):
            dice.count(kind)
            return Reply(status, headers, truncate(body, rng))
        if kind.endswith("_trickle"):
            dice.count(kind)
            return Reply(status, headers, body, dice.plan.trickle())
        return Reply(status, headers, body)

    def _cboe_faulty(self, dice: FaultDice, plan: FaultPlan, path: str, minute: str) -> Reply:
        if self._chain_symbol(path) is None:
            return Reply(*access_denied())
        rng = dice.request(path, minute)
        kind = plan.pick(CBOE_REQUEST, rng.random())
        if kind == "cboe_5xx":
            dice.count(kind)
            return Reply(*cloudfront_error(rng))
        if kind == "cboe_403":
            dice.count(kind)
            return Reply(*access_denied())
        if kind == "cboe_html":
            dice.count(kind)
            return Reply(*cboe_page())
        if kind == "cboe_stale":
            dice.count(kind)
            return Reply(*self._chain(path, previous_session=True))
        return self._mangled(dice, kind, rng, *self._chain(path))

    def _occ_faulty(self, dice: FaultDice, plan: FaultPlan, url: httpx.URL, minute: str) -> Reply:
        day = self._occ_day(url)
        if not isinstance(day, date):
            return Reply(*day)
        today = minute[:10]
        if plan.occ_html and dice.unit("occ_html", day, today) < plan.occ_html:
            # The report day's page stays down for the (simulated) day, retries or not.
            dice.count("occ_html")
            return Reply(*occ_maintenance())
        rng = dice.request(url.raw_path.decode("ascii"), minute)
        kind = plan.pick(OCC_REQUEST, rng.random())
        if kind == "occ_5xx":
            dice.count(kind)
            return Reply(*occ_server_error(rng))
        text = {
            "occ_no_record": OCC_NO_RECORD,
            "occ_late": occ_not_yet(mh.previous_trading_day(day)),
            "occ_too_old": OCC_TOO_OLD,
        }.get(kind or "")
        if text is not None:
            assert kind is not None
            dice.count(kind)
            return Reply(*_text(text))
        comma = rng.random() < plan.occ_comma
        crlf = rng.random() < plan.occ_crlf
        body = csv_variant(occ_csv(self.market, day), comma=comma, crlf=crlf)
        dice.count("occ_comma", int(comma))
        dice.count("occ_crlf", int(crlf))
        if kind == "occ_truncated":
            dice.count(kind)
            body = truncate_rows(body, rng)
        return Reply(200, {"content-type": "text/csv"}, body)


def _two_years_before(today: date) -> date:
    """OCC keeps two years of daily volume."""
    try:
        return today.replace(year=today.year - 2)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 2, day=28)


def _cleaned(*fields: str) -> Ticker:
    """A listing's fields, cleaned of escape sequences and controls, as a Ticker."""
    return Ticker(*(clean(f) for f in fields))


def _response(reply: Reply) -> httpx.Response:
    status, headers, body, trickle = reply
    if trickle is None:
        return httpx.Response(status, headers=headers, content=body)
    return httpx.Response(status, headers=headers, stream=TrickleStream(body, trickle))


class SimulatedMarketTransport(httpx.AsyncBaseTransport):
    """The simulated market in the app's own process, answering from worker threads.

    Deterministic and quick to start: what the tests use. (The app and the headless CLI run
    the market in a process of its own, `ProcessMarketTransport`, so that its work never
    competes with the app's event loop.)

    Args:
        latency: seconds each answer takes, as a real network would.
        faults: how often to answer as the real providers do when things go wrong (see
            `momoscan.simulated.faults`); a trickled body is trickled here, on the app's side.
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
        faults: FaultPlan | None = None,
    ):
        self.server = SimServer(
            market,
            plan_limit=plan_limit,
            window=window,
            daily_limit=daily_limit,
            wall=wall,
            faults=faults,
        )
        self.market = market
        self.meter = self.server.meter
        self.faults = self.server.faults
        self.latency = latency
        self.requests = 0
        self.streamer: SimStreamServer | None = None

    async def tickers(self) -> list[Ticker]:
        """The simulated universe (its stocks as listings), built off the event loop, its
        text cleaned (see the module docstring)."""
        return await anyio.to_thread.run_sync(
            lambda: [_cleaned(*dataclasses.astuple(t)) for t in self.server.listings()]
        )

    async def stream_url(self, clock: MarketClock, *, tick: float = 1.0) -> str:
        """The simulated price stream's URL (`ws://127.0.0.1:<port>/v1/quotes/price`), its
        server started on first use on `clock` (the app's market clock)."""
        if self.streamer is None:
            from .stream_server import SimStreamServer

            self.streamer = await anyio.to_thread.run_sync(
                lambda: SimStreamServer(self.market, clock, tick=tick, faults=self.faults).start()
            )
        return self.streamer.url

    async def aclose(self) -> None:
        if self.streamer is not None:
            streamer, self.streamer = self.streamer, None
            await anyio.to_thread.run_sync(streamer.stop)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.latency:
            await anyio.sleep(self.latency)
        reply = await anyio.to_thread.run_sync(
            self.server.respond, request.method, str(request.url), dict(request.headers)
        )
        return _response(reply)

    async def injected(self) -> dict[str, int]:
        """How many of each fault the market has sent."""
        return dict(self.server.injected)

    async def session_rows(self, tiers: Sequence[str]) -> list[tuple[str, int, float, int]]:
        """The session so far as intraday history rows (`simulated.history.session_rows`)."""
        from .history import session_rows

        return await anyio.to_thread.run_sync(session_rows, self.market, list(tiers))

    async def past_columns(self, tiers: Sequence[str], min_price: float) -> PastColumns:
        """The simulated month before the market's first day (`simulated.past.make_past`)."""
        from .past import make_past

        return await anyio.to_thread.run_sync(make_past, self.market, list(tiers), min_price)


# -- the market in a process of its own ------------------------------------------------------

_SERVER: SimServer | None = None
_START_ERROR: Exception | None = None
_STREAMER: SimStreamServer | None = None


def _start_server(
    seed: int,
    size: int,
    first_day: date,
    at: datetime,
    plan_limit: int,
    window: float,
    daily_limit: int | None,
    faults: FaultPlan | None = None,
    runners: str = "mixed",
    calendar: Calendar | None = None,
) -> None:
    global _SERVER, _START_ERROR
    from ..clock import FixedClock

    try:
        _return_freed_memory()
        if calendar is not None:
            _use_calendar(calendar)
        market = SimMarket(seed, size, FixedClock(at), start_day=first_day, runners=runners)
        _SERVER = SimServer(
            market, plan_limit=plan_limit, window=window, daily_limit=daily_limit, faults=faults
        )
    except Exception as exc:
        _START_ERROR = exc  # every later request says why (`_server`)
        raise


def _server() -> SimServer:
    """The market's process's server.

    Raises:
        RuntimeError: `_start_server` failed (its error is the cause) or never ran.
    """
    if _SERVER is None:
        raise RuntimeError("the simulated market did not start") from _START_ERROR
    return _SERVER


def _serve(method: str, url: str, headers: dict[str, str], now: datetime) -> Reply:
    server = _server()
    clock = server.market.clock
    clock.at = now  # type: ignore[attr-defined]  # the app's market clock is the truth
    reply = server.respond(method, url, headers)
    if len(reply.body) >= _TRIM_AFTER:
        _trim()  # a big chain's records are freed: give their pages back
    return reply


Calendar = mh.CalendarYears


def _calendar(first_day: date) -> Calendar:
    """The NYSE calendar of the years the market's process is likely to consult (the year
    before `first_day`'s to three after it, for the expiries of LEAPs), read in the app's
    process, which has it already."""
    return mh.export_calendar(range(first_day.year - 1, first_day.year + 4))


def _use_calendar(calendar: Calendar) -> None:
    """Answer `market_hours`' calendar queries for `calendar`'s years from it, in the market's
    process: the `holidays` package it is otherwise read from loads some 300 countries'
    modules to answer for one exchange (16 MB of the process, near a third of it at 546
    symbols). Other years are still read from `holidays`, as before."""
    mh.install_calendar(calendar)


def _return_freed_memory() -> None:
    """Have glibc's malloc hand blocks of 256 KiB and more back to the system when freed.

    By default its threshold for that rises to the largest block freed so far (up to 32 MiB),
    after which a day's build temporaries and a big chain's buffers are reused from the heap
    and stay resident long after they are freed: in the market's process that was 40 MB and
    more kept after one SPX chain. Only where glibc's `mallopt` exists (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
    mallopt(m_mmap_threshold, 256 * 1024)
    mallopt(m_trim_threshold, 1024 * 1024)
    # The process serves from one thread (a build and the stream have one more each): a heap
    # per thread would only scatter what is freed.
    mallopt(m_arena_max, 2)
    global _MALLOC_TRIM
    _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim


#: Bodies from this size on are followed by a `_trim`.
_TRIM_AFTER = 1 << 20
_MALLOC_TRIM: Callable[[int], int] | None = None


def _trim() -> None:
    """Return the free pages inside the heap to the system (glibc's `malloc_trim`), where
    small freed objects (a chain's 40,000 records) would otherwise stay resident."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _build_today(market: SimMarket) -> None:
    market.now_state()
    _trim()


def _warm() -> int:
    """Start building the current simulated day in a thread of the market's process, and
    return at once: requests that do not need the day's paths (/api_usage, the universe)
    are answered meanwhile, and those that do wait for the build (`SimMarket.day_for` holds
    its lock while it builds). Returns the number of securities."""
    market = _server().market
    threading.Thread(
        target=_build_today, args=(market,), name="momoscan-sim-warm", daemon=True
    ).start()
    return len(market.securities)


def _injected() -> dict[str, int]:
    return dict(_server().injected)


def _tickers() -> list[tuple[str, ...]]:
    """The listings as tuples of Ticker's fields: 8,000 objects would each unpickle through a
    Python __setstate__ in the app's result thread, holding the GIL its event loop needs."""
    return [dataclasses.astuple(t) for t in _server().listings()]


def _session_columns(tiers: list[str], now: datetime, step: int) -> Columns:
    from .history import session_columns

    market = _server().market
    market.clock.at = now  # type: ignore[attr-defined]
    return session_columns(market, tiers, step)


#: The demo's past being made on a thread of the market's process (`_past_start`).
_PAST: concurrent.futures.Future[PastColumns] | None = None


def _past_start(tiers: list[str], min_price: float) -> None:
    """Start making the demo's past (`simulated.past.make_past`) on a thread of the market's
    process, and return at once: its second or two of numpy then runs beside the requests
    this process serves (one at a time) instead of holding them up."""
    global _PAST
    if _PAST is not None:
        return
    from .past import make_past

    future: concurrent.futures.Future[PastColumns] = concurrent.futures.Future()

    def make() -> None:
        try:
            future.set_result(make_past(_server().market, tiers, min_price))
        except BaseException as exc:  # handed to the app's side by `_past_take`
            future.set_exception(exc)

    _PAST = future
    threading.Thread(target=make, name="momoscan-sim-past", daemon=True).start()


def _past_take() -> PastColumns | None:
    """The past once made (then forgotten here), None while it is being made; its error
    raised here."""
    global _PAST
    future = _PAST
    if future is None or not future.done():
        return None
    _PAST = None
    return future.result()


def _stream_url(clock: MarketClock, tick: float) -> str:
    """Start the price stream in the market's process, on the app's clock (a SpeedClock runs
    the same in both processes: it reads the one wall clock), and say where it listens."""
    global _STREAMER
    server = _server()
    if _STREAMER is None:
        from .stream_server import SimStreamServer

        _STREAMER = SimStreamServer(server.market, clock, tick=tick, faults=server.faults)
        _STREAMER.start()
    return _STREAMER.url


class ProcessMarketTransport(httpx.AsyncBaseTransport):
    """The simulated market in a process of its own, like a real provider on the network.

    Its price paths, chains and day files are built on the other core, and the app's event
    loop shares its GIL with nothing of the simulation's. The app's market clock is sent with
    each request, so both sides agree on the simulated time. A trickled body (see `faults`) is
    trickled on the app's side.
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
        faults: FaultPlan | None = None,
        runners: str = "mixed",
        pool: ProcessPoolExecutor | None = None,
    ):
        self.clock = clock
        self.latency = latency
        self.faults = faults if faults is not None and faults.active else None
        self.requests = 0
        self._closed = False
        # The process may be started already (`spawn_importing(__name__)`, the app's first
        # step in demo, so that its imports overlap the app's start-up). Its one worker runs
        # tasks in order: the market is built before any request is served.
        self._pool = pool if pool is not None else spawn_importing(__name__)
        self._pool.submit(
            _start_server,
            seed,
            size,
            first_day,
            clock.now(),
            plan_limit,
            window,
            daily_limit,
            self.faults,
            runners,
            _calendar(first_day),
        )
        # Build today's market now, while the app starts up.
        self._pool.submit(_warm)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.latency:
            await anyio.sleep(self.latency)
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(
            self._pool,
            _serve,
            request.method,
            str(request.url),
            dict(request.headers),
            self.clock.now(),
        )
        return _response(reply)

    async def injected(self) -> dict[str, int]:
        """How many of each fault the market's process has sent."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _injected)

    async def tickers(self) -> list[Ticker]:
        """The simulated universe (its stocks as listings), from the market's process."""
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(self._pool, _tickers)
        return await anyio.to_thread.run_sync(lambda: [_cleaned(*row) for row in rows])

    async def session_rows(self, tiers: Sequence[str]) -> list[tuple[str, int, float, int]]:
        """The session so far as intraday history rows, computed in the market's process (and
        sent as columns, `simulated.history.session_columns`)."""
        from .history import bucket_minutes, expand

        loop = asyncio.get_running_loop()
        columns = await loop.run_in_executor(
            self._pool, _session_columns, list(tiers), self.clock.now(), bucket_minutes()
        )
        # Up to 400,000 rows late in the session: built on a worker thread, not the loop.
        return await anyio.to_thread.run_sync(expand, columns)

    async def past_columns(self, tiers: Sequence[str], min_price: float) -> PastColumns:
        """The simulated month before the market's first day, made in the market's process
        (`simulated.past.make_past`) and sent as columns."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, _past_start, list(tiers), min_price)
        while True:
            past = await loop.run_in_executor(self._pool, _past_take)
            if past is not None:
                return past
            await anyio.sleep(PAST_POLL)

    async def stream_url(self, clock: MarketClock, *, tick: float = 1.0) -> str:
        """The simulated price stream's URL, its server started in the market's process."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _stream_url, clock, tick)

    async def aclose(self) -> None:
        """Stop the market's process (each client sharing this transport calls this)."""
        if not self._closed:
            self._closed = True
            await shutdown_pool(self._pool)
