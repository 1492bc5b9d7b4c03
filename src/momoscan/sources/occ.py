"""OCC's keyless daily option volume by underlying (marketdata.theocc.com/volume-query).

One CSV per trading day covers every underlying (~4,400 of them, ~130k rows, ~5 MB): a row per
underlying, option root, account type (C/F/M), call or put and exchange. OCC counts both sides of
each trade, so the quantities add up to twice the contracts traded; this module halves them.
A day is published the next day (T+1); before that OCC answers with a tiny "no data" body.
"""

from __future__ import annotations

import csv
import logging
from datetime import date

import anyio
import anyio.to_thread
import httpx
from aiolimiter import AsyncLimiter

from momoscan.models import UnderlyingVolume

from .errors import MalformedResponse, RateLimited, SourceError
from .http import get_with_retries
from .offload import THREADS, Offloader

log = logging.getLogger(__name__)

OCC_HEADER = ("quantity", "underlying", "symbol", "actype", "porc", "exchange", "actdate")
DEFAULT_BASE_URL = "https://marketdata.theocc.com"

#: A body shorter than this without the header is OCC's "no data" reply, not a broken file.
NO_DATA_MAX_BYTES = 200

_N_FIELDS = len(OCC_HEADER)
#: Stands for an unreadable actdate in the per-file cache (no real file is dated year 1).
_BAD_DAY = date.min


def _header_of(line: str) -> tuple[str, ...]:
    return tuple(f.strip().strip('"').lower() for f in line.split(","))


def _actdate(text: str) -> date | None:
    """MM/DD/YYYY, strictly (a row cut inside its date must not pass as another date)."""
    s = text.strip()
    if len(s) != 10 or s[2] != "/" or s[5] != "/":
        return None
    mm, dd, yyyy = s[:2], s[3:5], s[6:]
    if not (mm.isdigit() and dd.isdigit() and yyyy.isdigit() and s.isascii()):
        return None
    try:
        return date(int(yyyy), int(mm), int(dd))
    except ValueError:
        return None


def parse_volume_csv(
    content: bytes | str, expected_day: date | None = None
) -> tuple[date | None, list[UnderlyingVolume], int]:
    """Read one OCC daily volume CSV.

    Returns:
        (the file's activity date, per-underlying volumes in contracts (OCC's sides halved,
        calls and puts separately), the number of malformed lines skipped). The volumes are
        sorted by total, largest first. (None, [], 0) means OCC has not published the day yet.

    Raises:
        MalformedResponse: the body is neither the volume CSV nor a "no data" reply, it mixes
            activity dates, or its date is not `expected_day`.
    """
    size = len(content)
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    n = len(lines)
    start = 0
    while start < n and not lines[start].strip():
        start += 1
    if start == n or _header_of(lines[start]) != OCC_HEADER:
        if size < NO_DATA_MAX_BYTES:
            return None, [], 0
        first = lines[start][:80] if start < n else ""
        raise MalformedResponse(
            f"OCC's volume answer is not the expected CSV (it starts with {first!r}); "
            "the volume-query format may have changed."
        )

    # OCC writes no quotes; should a line ever carry one, that line goes through the csv module.
    quoted = '"' in text
    calls: dict[str, int] = {}
    puts: dict[str, int] = {}
    dates: dict[str, date] = {}  # actdate text as written -> date, or _BAD_DAY
    seen: set[date] = set()
    bad = 0
    last_raw = ""
    day = _BAD_DAY
    calls_get = calls.get
    puts_get = puts.get
    for i in range(start + 1, n):
        line = lines[i]
        fields = line.split(",")
        if len(fields) != _N_FIELDS or (quoted and '"' in line):
            if not line.strip():
                continue
            if quoted and '"' in line:
                fields = next(csv.reader([line]), [])
            if len(fields) != _N_FIELDS:
                bad += 1
                continue
        try:
            qty = int(fields[0])
        except ValueError:
            bad += 1
            continue
        underlying = fields[1].strip()
        porc = fields[4]
        if porc != "C" and porc != "P":
            porc = porc.strip()
        if qty < 0 or not underlying or (porc != "C" and porc != "P"):
            bad += 1
            continue
        raw_day = fields[6]
        if raw_day != last_raw:  # one date per file: a compare is cheaper than a lookup
            cached = dates.get(raw_day)
            if cached is None:
                cached = dates[raw_day] = _actdate(raw_day) or _BAD_DAY
                seen.add(cached)
            day = cached
            last_raw = raw_day
        if day is _BAD_DAY:
            bad += 1
            continue
        if porc == "C":
            calls[underlying] = calls_get(underlying, 0) + qty
        else:
            puts[underlying] = puts_get(underlying, 0) + qty

    seen.discard(_BAD_DAY)
    if len(seen) > 1:
        listed = ", ".join(sorted(d.isoformat() for d in seen))
        raise MalformedResponse(f"OCC's volume file mixes activity dates ({listed}); not used.")
    activity = next(iter(seen), None)
    if activity is not None and expected_day is not None and activity != expected_day:
        raise MalformedResponse(
            f"OCC answered the volume for {expected_day} with the file of {activity}; not used."
        )
    if activity is None:
        if bad:
            raise MalformedResponse(
                f"OCC's volume file has the right header but none of its {bad} rows could be "
                "read; the volume-query format may have changed."
            )
        # A header and no row at all: nothing published for the day.
        return None, [], 0

    volumes: list[UnderlyingVolume] = []
    for underlying in calls.keys() | puts.keys():
        c = calls_get(underlying, 0) // 2
        p = puts_get(underlying, 0) // 2
        volumes.append(UnderlyingVolume(activity, underlying, c + p, c, p, "occ"))
    volumes.sort(key=lambda v: (-v.total, v.underlying))
    return activity, volumes, bad


class OccClient:
    """Fetches OCC's daily volume files, politely: few at a time and few per minute."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        max_concurrency: int = 2,
        requests_per_minute: int = 20,
        offload: Offloader = THREADS,
    ) -> None:
        self._offload = offload
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._semaphore = anyio.Semaphore(max_concurrency)
        self._limiter = AsyncLimiter(requests_per_minute, 60)

    @staticmethod
    def params(day: date) -> dict[str, str]:
        """The volume-query parameters for every underlying's daily volume on `day`."""
        return {
            "reportDate": day.strftime("%Y%m%d"),
            "format": "csv",
            "volumeQueryType": "O",
            "symbolType": "ALL",
            "symbol": "",
            "reportType": "D",
            "accountType": "ALL",
            "productKind": "ALL",
            "porc": "BOTH",
        }

    async def fetch_day(self, day: date) -> list[UnderlyingVolume] | None:
        """Every underlying's option volume on `day` in contracts; None if not published yet.

        OCC answers a weekend or holiday like an unpublished day, so the caller should only ask
        for trading days.

        Raises:
            SourceError: OCC refused the request (4xx); RateLimited for a 429.
            ServiceError: OCC kept failing (5xx, timeouts) after retries.
            MalformedResponse: the answer is not the volume CSV or is another day's file.
        """
        what = f"OCC volume for {day}"
        async with self._semaphore:
            await self._limiter.acquire()
            response = await get_with_retries(
                self._http, f"{self._base_url}/volume-query", params=self.params(day), what=what
            )
            status = response.status_code
            if status == 429:
                raise RateLimited(
                    f"OCC refused the volume for {day} for too many requests (HTTP 429); "
                    "wait a few minutes."
                )
            if status != 200:
                raise SourceError(
                    f"OCC refused the request for the volume of {day} (HTTP {status})."
                )
            activity, volumes, bad = await self._offload.run(
                parse_volume_csv, response.content, day
            )
        if bad:
            log.warning("%s: skipped %d malformed lines.", what, bad)
        if activity is None:
            log.info("%s: not published yet.", what)
            return None
        return volumes
