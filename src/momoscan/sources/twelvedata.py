"""Twelve Data: batched /quote, /api_usage and /market_movers over httpx, with every documented
answer shape.

Wire facts (../shared/reference/market-data-apis.md, section 1): numbers arrive as strings, any
field may be null; one symbol gives a flat object, several give an object keyed by symbol whose
values are quotes or per-symbol error envelopes; errors come as `{"code", "message", "status":
"error"}` with HTTP 200 or with a 4xx/5xx status; gateways answer HTML. Each symbol costs one
credit; `api-credits-used` and `api-credits-left` headers report the minute's count.

/market_movers/{market} (Pro plans and up, 100 credits a request) lists the day's biggest
gainers or losers with its numbers as JSON numbers (TD-OAS GetMarketMovers); recorded answers
carry rows from earlier days and changes that do not add up (see `parse_movers`).

The key travels in the `Authorization: apikey ...` header, never in the URL.

Outside text is data: every string the answers carry (names, exchanges, MICs, symbols, error
messages) goes through `sanitize.clean` here, where it is parsed, so no escape sequence, control
character or bidi override reaches any output. A server's words that become an error go through
the client's `Redactor` too: a 400 whose message echoes the key never carries it further.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import anyio
import httpx
import msgspec

from .. import market_hours as mh
from ..models import MoverRow, MoversAnswer, Quote, QuoteBatch, SymbolError
from ..redact import Redactor
from ..sanitize import clean
from .errors import AuthError, MalformedResponse, PermissionDenied, RateLimited
from .http import Sleep, get_with_retries
from .ratelimit import CreditBudget

log = logging.getLogger(__name__)

MAX_BATCH = 120
#: /market_movers: credits a request and rows at most (TD-OAS x-api-credits-cost, outputsize).
MOVERS_CREDITS = 100
MOVERS_MAX_ROWS = 50
#: The smallest plan (credits a minute) that may have /market_movers: Twelve Data sells it from
#: its Pro plans (TD-OAS x-starting-plan), the smallest of which has 610; Grow's largest has 377
#: (../shared/reference/market-data-apis.md 1.4). A smaller plan is never charged for asking.
PRO_PLAN_CREDITS = 610
KEY_HINT = "Set TWELVEDATA_API_KEY or [twelvedata] api_key in your config file"


@dataclass(frozen=True, slots=True)
class ApiUsage:
    current_usage: int
    plan_limit: int
    daily_usage: int | None = None
    plan_daily_limit: int | None = None


# ---------------------------------------------------------------------------------------------
# Parsing: pure functions over bytes, testable without HTTP.


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None  # NaN and Infinity are no numbers


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _is_error(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("status") == "error" and "code" in obj


def _message(obj: dict[str, Any]) -> str:
    return _say(str(obj.get("message") or ""))


def _say(message: str) -> str:
    """An error envelope's message as text for a sentence: cleaned, one line, without the
    Markdown bold (`**apikey**`) Twelve Data writes."""
    return clean(message).replace("**", "").strip() or "no message"


def _text(value: str | None) -> str:
    return clean(value) if value else ""


def parse_quote(obj: dict[str, Any], symbol: str) -> Quote | SymbolError:
    """One quote object (or an error envelope in its place) read field by field, leniently:
    a number that will not parse becomes a missing value, not a lost quote."""
    numbers: dict[str, float | int | None] = {name: _num(obj.get(name)) for name in _NUMBER_FIELDS}
    numbers.update({name: _int(obj.get(name)) for name in _INT_FIELDS})
    texts = {
        name: clean(str(obj[name])) if obj.get(name) is not None else None for name in _TEXT_FIELDS
    }
    market_open = obj.get("is_market_open")
    wire = _Wire(
        **numbers,  # type: ignore[arg-type]
        **texts,  # type: ignore[arg-type]
        is_market_open=market_open if isinstance(market_open, bool) else None,
        code=_int(obj.get("code")),
    )
    return _from_wire(wire, symbol)


class ErrorEnvelope(Exception):
    """The whole answer was an error envelope; the caller maps `code` to a policy. `message`
    is the server's, cleaned (`_say`) here whoever raises it."""

    def __init__(self, code: int | None, message: str):
        message = _say(message)
        super().__init__(message)
        self.code = code
        self.message = message


#: A number the decoder accepts: finite (a bound any real price or volume is far inside), so that
#: an answer with NaN or Infinity anywhere is read again leniently, field by field.
Finite = Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]


class _Wire(msgspec.Struct, gc=False):
    """One quote object or error envelope as sent, every field optional. Decoded non-strictly,
    so the API's numbers-as-strings become numbers in the decoder itself (no dicts built).
    Untracked by the garbage collector (scalars and strings only: no cycle possible)."""

    symbol: str | None = None
    name: str | None = None
    exchange: str | None = None
    mic_code: str | None = None
    timestamp: int | None = None
    last_quote_at: int | None = None
    open: Finite | None = None
    high: Finite | None = None
    low: Finite | None = None
    close: Finite | None = None
    volume: int | None = None
    previous_close: Finite | None = None
    percent_change: Finite | None = None
    average_volume: int | None = None
    is_market_open: bool | None = None
    extended_price: Finite | None = None
    extended_percent_change: Finite | None = None
    extended_timestamp: int | None = None  # a string of digits on the wire (TD-OAS)
    datetime: str | None = None
    code: int | None = None
    message: str | None = None
    status: str | None = None


_ONE = msgspec.json.Decoder(_Wire, strict=False)
_NUMBER_FIELDS = (
    "open",
    "high",
    "low",
    "close",
    "previous_close",
    "percent_change",
    "extended_price",
    "extended_percent_change",
)
#: Unix seconds and share counts: integers on the wire (as digits or as strings of digits).
_INT_FIELDS = ("timestamp", "last_quote_at", "volume", "average_volume", "extended_timestamp")
_TEXT_FIELDS = ("symbol", "name", "exchange", "mic_code", "datetime", "message", "status")
_MANY = msgspec.json.Decoder(dict[str, _Wire], strict=False)
_ANY = msgspec.json.Decoder()


def _from_wire(w: _Wire, symbol: str) -> Quote | SymbolError:
    """One quote from its wire struct, whose numbers are finite or None (the typed decoder's
    bounds, or `_num` on the lenient path, see to that)."""
    if w.status == "error" and w.code is not None:
        return SymbolError(symbol, w.code, _say(w.message or ""))
    price = w.close
    change = w.percent_change
    extended = w.extended_price
    # The quote's own time: the last minute candle; failing that, the bar's opening time or,
    # in answers older than 2022, only the bar's date (read as that day's 09:30 ET open).
    stamp = w.last_quote_at or w.timestamp or _bar_open(w.datetime)
    volume, average = w.volume, w.average_volume
    regular_price = regular_change = None
    if extended and not w.is_market_open and price:
        # Pre-market or after hours (asked for with prepost): the extended price is what trades
        # now, at its own time. Its change is reckoned here from the close before the current
        # session (what Twelve Data's extended_percent_change is measured from is not
        # documented): before the open the daily bar is the previous session's, so that is its
        # close (the gap); after the close the bar is today's, and that is its previous_close.
        ext_stamp = w.extended_timestamp
        before_open = bool(ext_stamp and stamp and _et_day(ext_stamp) > _et_day(stamp))
        reference = price if before_open else w.previous_close
        regular_price, regular_change = price, change
        price = extended
        change = (extended - reference) / reference * 100.0 if reference else None
        stamp = ext_stamp or stamp
        if before_open:
            volume = None  # the bar's volume is the previous session's, not today's
    if price is None or price <= 0:
        return SymbolError(symbol, None, "the quote has no price")
    return Quote(
        symbol,
        price,
        w.open,
        w.high,
        w.low,
        w.previous_close,
        change,
        volume,
        average,
        w.is_market_open,
        stamp,
        _text(w.name),
        _text(w.exchange),
        _text(w.mic_code),
        "poll",
        regular_price is not None,
        regular_price,
        regular_change,
    )


def _et_day(stamp: int | None) -> str:
    return datetime.fromtimestamp(stamp, mh.ET).date().isoformat() if stamp else ""


def _bar_open(text: str | None) -> int | None:
    """Unix seconds of a `datetime` field: "2021-07-01" (a daily bar: its 09:30 ET open) or
    "2021-07-01 15:59:00" (an intraday bar, in the exchange's time, the API's default)."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if len(text.strip()) <= 10:
        parsed = datetime.combine(parsed.date(), mh.OPEN)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=mh.ET)
    return int(parsed.timestamp())


def parse_quote_body(
    body: bytes, requested: Sequence[str]
) -> tuple[list[Quote], list[SymbolError]]:
    """A /quote answer into good quotes and, kept apart, the symbols it refused.

    The typed decoder handles every well-formed answer in one pass; an answer it cannot take
    (an empty string for a number, an odd value under a symbol) falls back to a lenient
    field-by-field reading, so one bad field costs one symbol at most, never the batch.

    Raises:
        ErrorEnvelope: the answer as a whole is an error (bad key, no credits...).
        MalformedResponse: the body is not JSON or not a quote answer at all.
    """
    try:
        if len(requested) == 1:
            wire = _ONE.decode(body)
            if not (wire.status == "error" and wire.code is not None):
                items: list[tuple[str, _Wire]] = [(wire.symbol or requested[0], wire)]
                return _collect(items, requested)
            raise ErrorEnvelope(wire.code, wire.message or "")
        return _collect(list(_MANY.decode(body).items()), requested)
    except msgspec.DecodeError as exc:
        if isinstance(exc, msgspec.ValidationError):
            return _parse_lenient(body, requested)
        raise MalformedResponse("Twelve Data answered with something that is not JSON.") from None


def _collect(
    items: list[tuple[str, _Wire]], requested: Sequence[str]
) -> tuple[list[Quote], list[SymbolError]]:
    wanted = {s.upper(): s for s in requested}
    quotes: list[Quote] = []
    errors: list[SymbolError] = []
    exact = True  # every key is a requested symbol as asked (the usual answer)
    for key, wire in items:
        symbol = wanted.get(key)
        if symbol is None:
            exact = False
            upper = clean(key).upper()
            symbol = wanted.get(upper, upper)
        result = _from_wire(wire, symbol)
        if result.__class__ is Quote:
            quotes.append(result)
        else:
            errors.append(result)  # type: ignore[arg-type]
    # Keys are unique: as many exact keys as symbols asked means none is missing.
    if not exact or len(items) < len(wanted):
        seen = {q.symbol for q in quotes} | {e.symbol for e in errors}
        errors.extend(
            SymbolError(s, None, "missing from Twelve Data's answer")
            for s in requested
            if s not in seen
        )
    return quotes, errors


def _parse_lenient(body: bytes, requested: Sequence[str]) -> tuple[list[Quote], list[SymbolError]]:
    payload = _ANY.decode(body)
    if not isinstance(payload, dict):
        raise MalformedResponse("Twelve Data answered with JSON that is not a quote object.")
    if _is_error(payload):
        raise ErrorEnvelope(_int(payload.get("code")), _message(payload))
    wanted = {s.upper(): s for s in requested}
    quotes: list[Quote] = []
    errors: list[SymbolError] = []
    # A single symbol comes back flat; several come back keyed by symbol.
    flat = isinstance(payload.get("symbol"), str) and len(requested) == 1
    pairs: list[tuple[str, Any]] = (
        [(str(payload["symbol"]), payload)] if flat else list(payload.items())
    )
    seen: set[str] = set()
    for key, value in pairs:
        upper = clean(str(key)).upper()
        symbol = wanted.get(upper, upper)
        seen.add(symbol)
        if not isinstance(value, dict):
            errors.append(SymbolError(symbol, None, "the answer for this symbol is not an object"))
            continue
        result = parse_quote(value, symbol)
        if isinstance(result, Quote):
            quotes.append(result)
        else:
            errors.append(result)
    errors.extend(
        SymbolError(s, None, "missing from Twelve Data's answer")
        for s in requested
        if s not in seen
    )
    return quotes, errors


#: /quote fields momoscan reads (TD-OAS GetQuote_200_response); `datetime` stands in for the
#: timestamps in answers older than 2022.
QUOTE_FIELDS_USED: frozenset[str] = frozenset(
    {
        "symbol",
        "name",
        "exchange",
        "mic_code",
        "datetime",
        "timestamp",
        "last_quote_at",
        "close",
        "previous_close",
        "percent_change",
        "volume",
        "average_volume",
        "is_market_open",
    }
)
#: Every /quote field the spec documents (TD-OAS), plus the spellings seen in third-party
#: models (`rolling_1d_change`...): what a quote may carry without being news.
QUOTE_FIELDS_KNOWN: frozenset[str] = QUOTE_FIELDS_USED | {
    "currency",
    "open",
    "high",
    "low",
    "change",
    "fifty_two_week",
    "rolling_1day_change",
    "rolling_7day_change",
    "rolling_period_change",
    "rolling_1d_change",
    "rolling_7d_change",
    "rolling_change",
    "extended_change",
    "extended_percent_change",
    "extended_price",
    "extended_timestamp",
}


def quote_field_report(body: bytes) -> tuple[list[str], list[str]]:
    """For `momoscan check`: the fields momoscan reads that a one-symbol /quote answer lacks,
    and the fields it carries that the spec does not document. ([], []) for an error."""
    try:
        payload = _ANY.decode(body)
    except msgspec.DecodeError:
        return [], []
    if not isinstance(payload, dict) or _is_error(payload):
        return [], []
    missing = sorted(QUOTE_FIELDS_USED - payload.keys())
    # Old answers have only `datetime`; newer ones the timestamps: either is enough.
    if "last_quote_at" in payload or "timestamp" in payload:
        missing = [f for f in missing if f != "datetime"]
    elif "datetime" in payload:
        missing = [f for f in missing if f not in ("timestamp", "last_quote_at")]
    unknown = sorted(k for k in payload if k not in QUOTE_FIELDS_KNOWN)
    return missing, unknown


def parse_api_usage(body: bytes) -> ApiUsage:
    try:
        payload = _ANY.decode(body)
    except msgspec.DecodeError:
        raise MalformedResponse("Twelve Data's /api_usage answer is not JSON.") from None
    if _is_error(payload):
        raise ErrorEnvelope(_int(payload.get("code")), _message(payload))
    limit = _int(payload.get("plan_limit")) if isinstance(payload, dict) else None
    if not limit:
        raise MalformedResponse("Twelve Data's /api_usage answer has no plan_limit.")
    return ApiUsage(
        current_usage=_int(payload.get("current_usage")) or 0,
        plan_limit=limit,
        daily_usage=_int(payload.get("daily_usage")),
        plan_daily_limit=_int(payload.get("plan_daily_limit")),
    )


def _movers_time(text: Any) -> tuple[date | None, int | None]:
    """A movers row's `datetime`: the spec's example is ISO with a Z ("2023-10-01T12:00:00Z");
    recorded answers give "2024-11-22 09:30:00" in the exchange's time, and that 09:30 is the
    daily bar's open, not when the stock traded: the day is kept, the time is not."""
    if not isinstance(text, str) or not text.strip():
        return None, None
    raw = text.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None, None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=mh.ET)
    local = parsed.astimezone(mh.ET)
    if len(raw) <= 10 or local.time() == mh.OPEN:
        return local.date(), None
    return local.date(), int(parsed.timestamp())


def parse_movers(body: bytes) -> MoversAnswer:
    """A /market_movers answer into rows, leniently: numbers as JSON numbers (the spec) or as
    strings (like /quote's), a row without a price or whose change does not add up (recorded:
    `"percent_change": 57499900` beside a change of 5.75 on a last of 5.59) left out and
    said why, never the whole answer.

    Raises:
        ErrorEnvelope: the answer is an error (no such plan, no credits...).
        MalformedResponse: not JSON, or no `values` list.
    """
    try:
        payload = _ANY.decode(body)
    except msgspec.DecodeError:
        raise MalformedResponse("Twelve Data's market movers answer is not JSON.") from None
    if _is_error(payload):
        raise ErrorEnvelope(_int(payload.get("code")), _message(payload))
    values = payload.get("values") if isinstance(payload, dict) else None
    if not isinstance(values, list):
        raise MalformedResponse("Twelve Data's market movers answer has no list of values.")
    rows: list[MoverRow] = []
    dropped: list[str] = []
    for item in values:
        symbol = item.get("symbol") if isinstance(item, dict) else None
        symbol = clean(symbol).strip() if isinstance(symbol, str) else None
        if not symbol:
            dropped.append("a row without a symbol")
            continue
        assert isinstance(item, dict)
        last, change, pct = (_num(item.get(k)) for k in ("last", "change", "percent_change"))
        if last is None or last <= 0 or change is None or pct is None:
            dropped.append(f"{symbol}: no price or change")
            continue
        prev = last - change
        # The three numbers must agree (to rounding): a row where they do not is not news.
        if prev <= 0 or abs(change / prev * 100.0 - pct) > max(0.5, abs(pct) * 0.01):
            dropped.append(
                f"{symbol}: its change ({change:g}) and percent change ({pct:g}) disagree"
            )
            continue
        day, stamp = _movers_time(item.get("datetime"))
        volume = _num(item.get("volume"))
        rows.append(
            MoverRow(
                symbol=symbol.upper(),
                name=clean(str(item.get("name") or "")),
                exchange=clean(str(item.get("exchange") or "")),
                mic=clean(str(item.get("mic_code") or "")),
                last=last,
                change=change,
                percent_change=pct,
                prev_close=prev,
                high=_num(item.get("high")),
                low=_num(item.get("low")),
                volume=None if volume is None else int(volume),
                day=day,
                quote_ts=stamp,
            )
        )
    return MoversAnswer(rows, dropped)


def _credits_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------


class TwelveDataClient:
    """Async client for /quote batches and /api_usage.

    Args:
        http: the run's client (its transport may be the simulated market).
        api_key: sent in the Authorization header; redacted from every error it builds.
        budget: the credit budget every /quote request draws from; None to skip (tests).
        secrets: other keys to redact from the server's words (the Settings' secrets).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: str,
        *,
        secrets: Sequence[str] = (),
        base_url: str = "https://api.twelvedata.com",
        budget: CreditBudget | None = None,
        retries: int = 3,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        sleep: Sleep = anyio.sleep,
        wall_clock: Any = None,
        window: float = 60.0,
        timeout: float = 20.0,
    ):
        self._http = http
        self._timeout = timeout
        self._headers = {"Authorization": f"apikey {api_key}", "Accept": "application/json"}
        self._redact = Redactor([api_key, *secrets])
        self._base = base_url.rstrip("/")
        self.budget = budget
        self._retries = retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._wall = wall_clock or time.time
        self._window = window
        self._retry_grants: list[tuple[float, int]] = []
        self.last_credits_used: int | None = None
        self.last_credits_left: int | None = None
        #: The last /quote body, for `momoscan check`'s field report.
        self.last_body = b""

    async def _get(self, path: str, params: dict[str, str], what: str) -> httpx.Response:
        """One GET with retries of 5xx, timeouts and dropped connections."""
        return await get_with_retries(
            self._http,
            f"{self._base}{path}",
            params=params,
            headers=self._headers,
            what=f"Twelve Data {what}",
            timeout=self._timeout,
            attempts=self._retries + 1,
            backoff_base=self._backoff_base,
            backoff_cap=self._backoff_cap,
            sleep=self._sleep,
        )

    def _raise_for(self, code: int | None, message: str, status: int) -> None:
        """The SourceError for an error answer; the server's `message` (cleaned by the parser)
        has the key redacted here, where it becomes ours."""
        code = code or status
        message = self._redact(message)
        if code == 401:
            raise AuthError(f"Twelve Data rejected the API key (401). {KEY_HINT}.")
        if code == 403:
            raise PermissionDenied(f"Twelve Data: your plan does not include this ({message}).")
        if code == 429:
            raise RateLimited(f"Twelve Data: out of API credits for this minute ({message}).")
        raise MalformedResponse(f"Twelve Data error {code}: {message}")

    def _note_credits(self, response: httpx.Response) -> None:
        used = _credits_header(response, "api-credits-used")
        left = _credits_header(response, "api-credits-left")
        self.last_credits_used, self.last_credits_left = used, left
        if left is not None and self.budget is not None:
            self.budget.sync_left(left)

    async def api_usage(self) -> ApiUsage:
        response = await self._get("/api_usage", {}, "/api_usage")
        try:
            usage = parse_api_usage(response.content)
        except ErrorEnvelope as exc:
            self._raise_for(exc.code, exc.message, response.status_code)
            raise  # unreachable: _raise_for always raises
        if response.status_code >= 400:
            self._raise_for(None, "unexpected status", response.status_code)
        return usage

    async def quote_batch(self, symbols: Sequence[str], *, extended: bool = False) -> QuoteBatch:
        """Quotes for up to 120 symbols in one request.

        The caller has taken the credits from the budget. A 429 is retried once after waiting
        for the next minute (with jitter), with the same symbols and the credits taken again.

        Raises:
            AuthError, PermissionDenied, RateLimited, ServiceError, MalformedResponse: the whole
            request failed; no symbol of it was stored.
        """
        if not symbols:
            return QuoteBatch([], [])
        if len(symbols) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} symbols per /quote request, not {len(symbols)}")
        params = {"symbol": ",".join(symbols)}
        if extended:
            params["prepost"] = "true"
        for attempt in range(2):
            response = await self._get("/quote", params, f"/quote ({len(symbols)} symbols)")
            self._note_credits(response)
            self.last_body = response.content
            try:
                quotes, errors = parse_quote_body(response.content, symbols)
            except ErrorEnvelope as exc:
                code = exc.code or response.status_code
                if code == 429 and attempt == 0:
                    await self._wait_next_minute()
                    if self.budget is not None:
                        await self.budget.take(len(symbols), minimum=len(symbols))
                        self._retry_grants.append((self._wall(), len(symbols)))
                    continue
                self._raise_for(exc.code, exc.message, response.status_code)
            except MalformedResponse:
                if response.status_code >= 400:
                    self._raise_for(None, f"HTTP {response.status_code}", response.status_code)
                raise
            else:
                if response.status_code >= 400:
                    self._raise_for(None, f"HTTP {response.status_code}", response.status_code)
                if errors and self._redact:
                    redact = self._redact
                    errors = [SymbolError(e.symbol, e.code, redact(e.message)) for e in errors]
                return QuoteBatch(quotes, errors, self.last_credits_used, self.last_credits_left)
        raise RateLimited("Twelve Data: still out of API credits after waiting a minute.")

    async def market_movers(
        self,
        direction: str = "gainers",
        *,
        outputsize: int = MOVERS_MAX_ROWS,
        price_greater_than: float | None = None,
    ) -> MoversAnswer:
        """The day's biggest US stock gainers (or losers) by % change from the previous close:
        /market_movers/stocks, 100 credits a request, Pro plans and up.

        The caller has taken the credits from the budget. Not retried after a 429: the probe
        is optional, and the next cycle decides again whether it is worth its credits.

        Raises:
            PermissionDenied: the plan lacks the endpoint (403).
            AuthError, RateLimited, ServiceError, MalformedResponse: as for /quote.
        """
        if direction not in ("gainers", "losers"):
            raise ValueError(f"direction is gainers or losers, not {direction!r}")
        params = {"direction": direction, "outputsize": str(max(1, min(outputsize, 50)))}
        if price_greater_than:
            params["price_greater_than"] = f"{price_greater_than:g}"
        response = await self._get(
            "/market_movers/stocks", params, f"/market_movers/stocks ({direction})"
        )
        self._note_credits(response)
        try:
            answer = parse_movers(response.content)
        except ErrorEnvelope as exc:
            self._raise_for(exc.code, exc.message, response.status_code)
            raise  # unreachable: _raise_for always raises
        except MalformedResponse:
            if response.status_code >= 400:
                self._raise_for(None, f"HTTP {response.status_code}", response.status_code)
            raise
        if response.status_code >= 400:
            self._raise_for(None, f"HTTP {response.status_code}", response.status_code)
        return answer

    def drain_retry_grants(self) -> list[tuple[float, int]]:
        """Credits taken again from the budget to retry after a 429, (when, how many), since
        the last call: the caller records them with the rest (they were spent all the same)."""
        grants, self._retry_grants = self._retry_grants, []
        return grants

    async def _wait_next_minute(self) -> None:
        """Until the next clock minute (Twelve Data's window), plus jitter so that clients
        refused together do not all come back in the same instant."""
        now = self._wall()
        window = self._window
        delay = window - (now % window) + random.uniform(window / 120, window / 20)
        log.warning("Twelve Data says the minute's credits are spent; waiting %.0f s", delay)
        await self._sleep(delay)
