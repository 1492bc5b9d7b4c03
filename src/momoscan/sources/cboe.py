"""Cboe's keyless delayed option chains (cdn.cboe.com/api/global/delayed_quotes/options).

Unofficial, no SLA, about 15 minutes behind. One JSON document per underlying holds every listed
contract with today's volume, open interest and IV; strike, expiry and right are not fields and
come from the OSI symbol. An SPX chain is ~30,000 contracts and 13 MB, so parsing is written for
speed and runs in a worker thread.

The option symbols are the only text a chain brings in: a record whose symbol holds a control
character or an escape sequence (`sanitize.is_clean`) is refused and skipped like any other
malformed record, never mended into another contract's name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import msgspec
from aiolimiter import AsyncLimiter

from momoscan.models import OptionChain, UnderlyingVolume

from ..sanitize import is_clean
from ..symbols import INDEX_ROOTS, cboe_name, watchlist_entry
from .errors import MalformedResponse, NoOptions, RateLimited, SourceError
from .http import Reachability, get_with_retries
from .offload import THREADS, Offloader
from .osi import parse_osi

log = logging.getLogger(__name__)

#: Cash indexes, whose chains Cboe serves under a leading underscore (`_SPX.json`).
INDEX_SYMBOLS: frozenset[str] = INDEX_ROOTS

#: Cboe writes `last_trade_time` in exchange (US Eastern) time without an offset.
EASTERN = ZoneInfo("America/New_York")

DEFAULT_BASE_URL = "https://cdn.cboe.com"


def _plain_symbol(symbol: str) -> str:
    """The symbol as momoscan spells it: `BRK.B`, or an index's bare root (`SPX`).

    Raises:
        ValueError: not a stock symbol or an index root.
    """
    return watchlist_entry(symbol)


def chain_url_symbol(symbol: str) -> str:
    """The name Cboe files a chain under: `_SPX` for an index, `AAPL` for a stock or ETF."""
    return cboe_name(symbol)


def _as_of(raw: object, symbol: str) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        log.warning("Cboe chain for %s: unreadable timestamp %r; age unknown.", symbol, raw)
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


class _Record(msgspec.Struct, gc=False):
    """The fields of a Cboe option record that momoscan uses; the rest is skipped unread.

    Untracked by the garbage collector (its fields are scalars and strings, so it can hold no
    cycle): 38,000 records of a chain then neither trigger nor slow collections."""

    option: str
    volume: float | None = None
    open_interest: float | None = None
    iv: float | None = None
    last_trade_price: float | None = None
    last_trade_time: str | None = None


class _Data(msgspec.Struct):
    options: list[_Record]
    current_price: float | None = None


class _Document(msgspec.Struct):
    data: _Data
    timestamp: str | None = None


_DOCUMENT = msgspec.json.Decoder(_Document)
_ANY = msgspec.json.Decoder()


class _Columns:
    """Accumulates contracts column by column, parsing each OSI head and strike once."""

    def __init__(self) -> None:
        self.symbols: list[str] = []
        self.roots: list[str] = []
        self.expiries: list[date] = []
        self.strikes: list[float] = []
        self.rights: list[str] = []
        self.volumes: list[int] = []
        self.open_interest: list[int] = []
        self.ivs: list[float | None] = []
        self.lasts: list[float | None] = []
        self.last_trades: list[int | None] = []
        self.calls = 0
        self.puts = 0
        self._heads: dict[str, tuple[str, date, str]] = {}
        self._strikes: dict[str, float] = {}
        self._days: dict[str, int] = {}

    def _epoch(self, text: str) -> int:
        """Unix seconds of Cboe's "YYYY-MM-DDTHH:MM:SS", given in US Eastern time. The day's
        midnight is looked up once per date: a chain has thousands of trades a day."""
        base = self._days.get(text[:10])
        if base is None:
            day = date.fromisoformat(text[:10])
            base = int(datetime(day.year, day.month, day.day, tzinfo=EASTERN).timestamp())
            self._days[text[:10]] = base
        if len(text) < 19 or text[10] != "T":
            raise ValueError(text)
        return base + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])

    def add(
        self,
        osi: str,
        volume: float | None,
        oi: float | None,
        iv: float | None,
        last: float | None,
        traded_at: str | None,
    ) -> None:
        head = self._heads.get(osi[:-8])
        if head is None:
            if not is_clean(osi):
                raise ValueError(osi)  # parse_osi's strip() would let a control through
            root, expiry, right, strike = parse_osi(osi)
            head = self._heads[osi[:-8]] = (root, expiry, right.value)
            self._strikes[osi[-8:]] = strike
        tail = osi[-8:]
        strike_value = self._strikes.get(tail)
        if strike_value is None:
            if not (tail.isdigit() and tail.isascii()):
                raise ValueError(tail)
            strike_value = self._strikes[tail] = int(tail) / 1000
        trade = None if traded_at is None else self._epoch(traded_at)
        contracts = int(volume) if volume else 0
        # Appended only once every field has parsed: a bad record leaves no partial row.
        self.symbols.append(osi)
        self.roots.append(head[0])
        self.expiries.append(head[1])
        self.strikes.append(strike_value)
        self.rights.append(head[2])
        self.volumes.append(contracts)
        self.open_interest.append(int(oi) if oi else 0)
        self.ivs.append(float(iv) if iv else None)  # Cboe's 0.0 means "not computable"
        self.lasts.append(None if trade is None or not last else float(last))
        self.last_trades.append(trade)
        if head[2] == "C":
            self.calls += contracts
        else:
            self.puts += contracts

    def __len__(self) -> int:
        return len(self.symbols)

    def extend(self, records: list[_Record]) -> bool:
        """All of a well-formed chain's records at once, a column at a time (comprehensions
        over 30,000 records rather than a method call each: about twice as fast). False, with
        nothing added, if any record does not parse: the caller then adds them one by one,
        skipping the bad ones."""
        try:
            symbols = [r.option for r in records]
            examples = {s[:-8]: s for s in symbols}
            if not all(is_clean(head) for head in examples):
                return False
            heads = {key: parse_osi(osi) for key, osi in examples.items()}
            head_of = {key: (h[0], h[1], h[2].value) for key, h in heads.items()}
            tails = {s[-8:] for s in symbols}
            if not all(t.isdigit() and t.isascii() for t in tails):
                return False
            strike_of = {t: int(t) / 1000 for t in tails}
            minutes: dict[str, int] = {}
            # Each distinct time is read once: a chain's trades share them by the thousand.
            stamps: dict[str, int] = {}
            trades = [
                None
                if (t := r.last_trade_time) is None
                else e
                if (e := stamps.get(t)) is not None
                else self._stamp(t, minutes, stamps)
                for r in records
            ]
            rows = [head_of[s[:-8]] for s in symbols]
            volumes = [int(v) if (v := r.volume) else 0 for r in records]
        except (TypeError, ValueError, KeyError):
            return False
        self.symbols = symbols
        self.roots = [h[0] for h in rows]
        self.expiries = [h[1] for h in rows]
        self.rights = [h[2] for h in rows]
        self.strikes = [strike_of[s[-8:]] for s in symbols]
        self.volumes = volumes
        self.open_interest = [int(v) if (v := r.open_interest) else 0 for r in records]
        self.ivs = [float(v) if (v := r.iv) else None for r in records]
        self.lasts = [
            None if t is None or not (p := r.last_trade_price) else float(p)
            for r, t in zip(records, trades, strict=True)
        ]
        self.last_trades = trades
        self.calls = sum(v for v, h in zip(volumes, self.rights, strict=True) if h == "C")
        self.puts = sum(volumes) - self.calls
        return True

    def _stamp(self, text: str, minutes: dict[str, int], stamps: dict[str, int]) -> int:
        """`_epoch` of `text`, kept in `stamps`, with its minute kept in `minutes`: a chain's
        trades share minutes by the thousand.

        Raises:
            ValueError: `text` is not a "YYYY-MM-DD HH:MM:SS..." time."""
        base = minutes.get(text[:16])
        if base is None:
            base = minutes[text[:16]] = self._epoch(text[:16] + ":00")
        if len(text) < 19 or text[16] != ":" or not text[17:19].isdigit():
            raise ValueError(text)
        epoch = stamps[text] = base + int(text[17:19])
        return epoch

    def chain(
        self, underlying: str, as_of: datetime | None, price: float | None, skipped: int
    ) -> OptionChain:
        return OptionChain(
            underlying,
            as_of,
            price,
            self.symbols,
            self.roots,
            self.expiries,
            self.strikes,
            self.rights,
            self.volumes,
            self.open_interest,
            self.ivs,
            self.lasts,
            self.last_trades,
            call_volume=self.calls,
            put_volume=self.puts,
            skipped=skipped,
        )


def _price(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value:
        return float(value)
    return None


def parse_chain(
    content: bytes, symbol: str, *, loads: Callable[[bytes], Any] | None = None
) -> OptionChain:
    """Turn a Cboe delayed-quotes options document into an OptionChain for `symbol`.

    The typed decoder reads a well-formed document in one pass, skipping the fields momoscan
    does not use. A document it refuses (a record without `option`, a number sent as a string)
    is read again leniently, record by record: bad records are skipped and counted in a
    warning, the rest kept. `last` is None for a contract that never traded.

    `loads` forces the lenient reader with another JSON parser (the benchmark compares the
    standard library's `json.loads` on the same path).

    Raises:
        MalformedResponse: the body is not JSON or has no `data.options` list.
    """
    underlying = _plain_symbol(symbol)
    columns = _Columns()
    skipped = 0
    first_bad: object = None
    try:
        if loads is not None:
            raise msgspec.ValidationError("the lenient reader was asked for")
        doc = _DOCUMENT.decode(content)
        for rec in [] if columns.extend(doc.data.options) else doc.data.options:
            try:
                columns.add(
                    rec.option,
                    rec.volume,
                    rec.open_interest,
                    rec.iv,
                    rec.last_trade_price,
                    rec.last_trade_time,
                )
            except (TypeError, ValueError):
                skipped += 1
                first_bad = first_bad or rec.option
        as_of_raw: object = doc.timestamp
        price = _price(doc.data.current_price)
    except msgspec.ValidationError:
        columns = _Columns()
        skipped = 0
        try:
            raw = (loads or _ANY.decode)(content)
        except ValueError:  # json.JSONDecodeError; msgspec's DecodeError is caught below
            raise MalformedResponse(
                f"Cboe's answer for the {underlying} option chain is not JSON (a web page or "
                "a cut-off answer)."
            ) from None
        data = raw.get("data") if isinstance(raw, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("options"), list):
            raise MalformedResponse(
                f"Cboe's answer for the {underlying} option chain has no data.options list; "
                "the delayed-quotes format may have changed."
            ) from None
        for rec in data["options"]:
            try:
                columns.add(
                    rec["option"],
                    rec.get("volume"),
                    rec.get("open_interest"),
                    rec.get("iv"),
                    rec.get("last_trade_price"),
                    rec.get("last_trade_time"),
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                skipped += 1
                if skipped == 1:
                    first_bad = (
                        rec.get("option", "<no option key>") if isinstance(rec, dict) else rec
                    )
        as_of_raw = raw.get("timestamp")
        price = _price(data.get("current_price"))
    except msgspec.DecodeError:
        raise MalformedResponse(
            f"Cboe's answer for the {underlying} option chain is not JSON (a web page or a "
            "cut-off answer)."
        ) from None
    if skipped:
        log.warning(
            "Cboe chain for %s: skipped %d of %d records with a missing or malformed option "
            "symbol or field (first: %r).",
            underlying,
            skipped,
            len(columns) + skipped,
            first_bad,
        )
    return columns.chain(underlying, _as_of(as_of_raw, underlying), price, skipped)


#: Fields of an option record momoscan reads, and the others a recorded chain carries
#: (market-data-apis.md §3.1, from OpenBB's recording of CLX.json).
RECORD_FIELDS_USED = frozenset(
    {"option", "volume", "open_interest", "iv", "last_trade_price", "last_trade_time"}
)
RECORD_FIELDS_KNOWN = RECORD_FIELDS_USED | {
    "bid",
    "bid_size",
    "ask",
    "ask_size",
    "delta",
    "gamma",
    "vega",
    "theta",
    "rho",
    "theo",
    "change",
    "open",
    "high",
    "low",
    "tick",
    "percent_change",
    "prev_day_close",
}


def chain_field_report(content: bytes) -> tuple[list[str], list[str]]:
    """For `momoscan check`: the fields momoscan reads that the document or its first option
    record lacks, and the record fields the recordings do not show. ([], []) if unreadable."""
    try:
        raw = _ANY.decode(content)
    except msgspec.DecodeError:
        return [], []
    if not isinstance(raw, dict):
        return [], []
    missing = [key for key in ("timestamp", "data") if key not in raw]
    data = raw.get("data")
    records = data.get("options") if isinstance(data, dict) else None
    if isinstance(data, dict) and "current_price" not in data:
        missing.append("data.current_price")
    first = records[0] if isinstance(records, list) and records else None
    if not isinstance(first, dict):
        return missing + (["data.options"] if records is None else []), []
    missing += [f"option.{f}" for f in sorted(RECORD_FIELDS_USED - first.keys())]
    unknown = [f"option.{f}" for f in sorted(first.keys() - RECORD_FIELDS_KNOWN)]
    return missing, unknown


def aggregate(chain: OptionChain, day: date) -> UnderlyingVolume:
    """The chain's volume so far, in contracts, as the day's total for its underlying."""
    return UnderlyingVolume(
        day=day,
        underlying=chain.underlying,
        total=chain.call_volume + chain.put_volume,
        calls=chain.call_volume,
        puts=chain.put_volume,
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
        timeout: float = 30.0,
        offload: Offloader = THREADS,
    ) -> None:
        self._http = http
        self._timeout = timeout
        self._offload = offload
        self._base_url = base_url.rstrip("/")
        self._semaphore = anyio.Semaphore(max_concurrency)
        #: The host's reachability: one request that cannot connect stops the others' tries.
        self.reach = Reachability()
        self._limiter = AsyncLimiter(requests_per_minute, 60)

    def chain_url(self, symbol: str) -> str:
        return f"{self._base_url}/api/global/delayed_quotes/options/{chain_url_symbol(symbol)}.json"

    async def fetch_chain(self, symbol: str) -> OptionChain:
        """The delayed chain of `symbol` (a stock, ETF or index, without underscore).

        Raises:
            NoOptions: Cboe lists no options for the symbol (403/404).
            SourceError: Cboe refused the request otherwise.
            RateLimited: Cboe answered 429.
            ServiceError: Cboe kept failing (5xx, timeouts) after retries.
            MalformedResponse: the body is not a chain.
        """
        name = _plain_symbol(symbol)
        url = self.chain_url(name)
        async with self._semaphore:
            await self._limiter.acquire()
            response = await get_with_retries(
                self._http,
                url,
                what=f"Cboe chain for {name}",
                timeout=self._timeout,
                reach=self.reach,
            )
            status = response.status_code
            if status in (403, 404):
                raise NoOptions(
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
            return await self._offload.run(parse_chain, content, name)
