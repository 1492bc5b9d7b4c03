"""OCC's keyless daily option volume by underlying (marketdata.theocc.com/volume-query).

One CSV per trading day covers every underlying (~4,400 of them, ~130k rows, ~5 MB): a row per
underlying, option root, account type (C/F/M), call or put and exchange. OCC counts both sides of
each trade, so the quantities add up to twice the contracts traded; this module halves them.
A day is published the next day (T+1). Instead of a file, OCC may answer in plain text: "No
record(s) found" (nothing traded), "Report date cannot be greater than MM/DD/YYYY" (not published
yet) or "Report date cannot be prior to 2 years" (outside its history); public parsers record
the file itself both as plain 7-column LF rows and with CRLF line endings and a trailing comma on
every row (an 8th, empty field). All of these are read; an HTML page or a truncated file is
refused for that day only.

Outside text is data: the underlyings (the only text a file brings in) and OCC's plain-text
answers are cleaned (`sanitize.clean`) where they are read.
"""

from __future__ import annotations

import csv
import enum
import logging
from dataclasses import dataclass, field
from datetime import date

import anyio
import anyio.to_thread
import httpx
from aiolimiter import AsyncLimiter

from momoscan.models import UnderlyingVolume

from ..sanitize import clean
from .errors import MalformedResponse, RateLimited, SourceError
from .http import Reachability, get_with_retries
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
    fields = [f.strip().strip('"').lower() for f in line.split(",")]
    while fields and not fields[-1]:  # a trailing comma writes an empty last column
        fields.pop()
    return tuple(fields)


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


class OccStatus(enum.StrEnum):
    """What OCC's answer for one day means."""

    PUBLISHED = "published"  # the day's file
    NO_TRADING = "no_trading"  # "No record(s) found": nothing traded that day
    NOT_YET = "not_yet"  # "Report date cannot be greater than ...": ask again later
    OUT_OF_WINDOW = "out_of_window"  # "Report date cannot be prior to 2 years": never there


@dataclass(frozen=True, slots=True)
class OccDay:
    """OCC's answer for one day, read.

    `rows` (and `volumes`, the same as objects) are in contracts (OCC's two sides halved),
    calls and puts apart, largest first; empty unless `status` is PUBLISHED. `skipped` counts
    malformed rows left out; `tolerated` names the shapes the reader accepted that differ from
    the plain 7-column LF file (for `momoscan check`); `answer` is OCC's own text when it sent
    no file.
    """

    day: date
    status: OccStatus
    #: (underlying, total, calls, puts) in contracts, largest first: plain tuples, as the day
    #: crosses from the parse worker's process (thousands of objects would unpickle one
    #: Python call each, holding the GIL the event loop needs).
    rows: list[tuple[str, int, int, int]] = field(default_factory=list)
    skipped: int = 0
    tolerated: tuple[str, ...] = ()
    answer: str = ""

    @property
    def volumes(self) -> list[UnderlyingVolume]:
        """`rows` as objects, of the day OCC reported."""
        return [UnderlyingVolume(self.day, u, t, c, p, "occ") for u, t, c, p in self.rows]


#: OCC's plain-text answers instead of a file, by their opening words (lower case). Recorded
#: by public parsers of the volume query; the "2 years" window is OCC's history limit.
_PLAIN_ANSWERS: tuple[tuple[str, OccStatus], ...] = (
    ("no record", OccStatus.NO_TRADING),
    ("no data", OccStatus.NOT_YET),
    ("report date cannot be greater than", OccStatus.NOT_YET),
    ("report date cannot be prior to", OccStatus.OUT_OF_WINDOW),
)


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:512].lower()
    return head.startswith("<") or "<html" in head or "<body" in head


def _one_line(text: str, limit: int = 80) -> str:
    """Outside text for a message: cleaned (`sanitize.clean`: escape sequences go whole), one
    line, printable, cut to `limit` characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in clean(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_volume_csv(
    content: bytes | str, expected_day: date | None = None
) -> tuple[date | None, list[UnderlyingVolume], int]:
    """Read one OCC daily volume CSV.

    Returns:
        (the file's activity date, per-underlying volumes in contracts (OCC's sides halved,
        calls and puts separately), the number of malformed lines skipped). The volumes are
        sorted by total, largest first. (None, [], 0) means OCC sent no file (a short plain
        "no data" answer, or a header and no row).

    Raises:
        MalformedResponse: the body is neither the volume CSV nor a short plain answer (an
            HTML page, say), was cut short, mixes activity dates, or its date is not
            `expected_day`.
    """
    activity, rows, bad, _ = _read_csv(content, expected_day)
    if activity is None:
        return None, [], bad
    volumes = [UnderlyingVolume(activity, u, t, c, p, "occ") for u, t, c, p in rows]
    return activity, volumes, bad


def parse_day(content: bytes | str, day: date) -> OccDay:
    """OCC's answer for `day`: the file, or what its plain-text answer means.

    Raises:
        MalformedResponse: an HTML page, a truncated or unreadable file, another day's file.
    """
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    plain = text.lstrip("\ufeff").strip()
    lowered = plain.lower()
    for opening, status in _PLAIN_ANSWERS:
        if lowered.startswith(opening):
            return OccDay(day, status, answer=_one_line(plain))
    activity, rows, bad, tolerated = _read_csv(text, day)
    if activity is None:
        return OccDay(day, OccStatus.NOT_YET, answer=_one_line(plain) or "an empty answer")
    return OccDay(day, OccStatus.PUBLISHED, rows, bad, tolerated)


def _read_csv(
    content: bytes | str, expected_day: date | None
) -> tuple[date | None, list[tuple[str, int, int, int]], int, tuple[str, ...]]:
    """(activity date, (underlying, total, calls, puts) rows largest first, rows skipped,
    shapes tolerated); see `parse_volume_csv`."""
    size = len(content)
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    if text.startswith("\ufeff"):
        text = text[1:]
    tolerated: list[str] = []
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
        tolerated.append("CRLF line endings")
    if _looks_like_html(text):
        raise MalformedResponse(
            f"OCC answered the volume{_for(expected_day)} with a web page ("
            f"{_one_line(_html_title(text)) or 'maintenance?'}) instead of the CSV."
        )
    lines = text.split("\n")
    n = len(lines)
    start = 0
    while start < n and not lines[start].strip():
        start += 1
    if start == n or _header_of(lines[start]) != OCC_HEADER:
        if size < NO_DATA_MAX_BYTES:
            return None, [], 0, ()
        first = lines[start][:80] if start < n else ""
        raise MalformedResponse(
            f"OCC's volume answer{_for(expected_day)} is not the expected CSV (it starts with "
            f"{_one_line(first)!r}); the volume-query format may have changed."
        )
    # A body that stops inside a row was cut short: its totals would be wrong, so the day is
    # not used (the caller asks again on a later cycle).
    last = lines[-1]
    if n - 1 > start and last.strip() and not _complete_row(last):
        raise MalformedResponse(
            f"OCC's volume file{_for(expected_day)} was cut short (its last row is incomplete)."
        )

    # OCC writes no quotes; should a line ever carry one, that line goes through the csv module.
    quoted = '"' in text
    calls: dict[str, int] = {}
    puts: dict[str, int] = {}
    dates: dict[str, date] = {}  # actdate text as written -> date, or _BAD_DAY
    seen: set[date] = set()
    bad = 0
    trailing = 0
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
            if len(fields) > _N_FIELDS and not "".join(fields[_N_FIELDS:]).strip():
                # Rows ending with a comma: an 8th, empty field after actdate.
                fields = fields[:_N_FIELDS]
                trailing += 1
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
    if trailing:
        tolerated.append("rows end with an empty 8th field")

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
                f"OCC's volume file{_for(expected_day)} has the right header but none of its "
                f"{bad} rows could be read; the volume-query format may have changed."
            )
        # A header and no row at all: nothing published for the day.
        return None, [], 0, ()

    # The underlyings are the file's only text: cleaned once each (a few thousand), not per
    # row. One that cleans to nothing is a malformed row; one that cleans to another's name
    # adds to it, as its rows would have.
    totals: dict[str, list[int]] = {}
    for written in calls.keys() | puts.keys():
        underlying = clean(written).strip()
        if not underlying:
            bad += 1
            continue
        c = calls_get(written, 0) // 2
        p = puts_get(written, 0) // 2
        total = totals.setdefault(underlying, [0, 0])
        total[0] += c
        total[1] += p
    rows = [(u, c + p, c, p) for u, (c, p) in totals.items()]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return activity, rows, bad, tuple(tolerated)


def _for(day: date | None) -> str:
    return f" for {day}" if day else ""


def _html_title(text: str) -> str:
    lowered = text.lower()
    start = lowered.find("<title>")
    end = lowered.find("</title>", start)
    if start < 0 or end < 0:
        return ""
    return text[start + len("<title>") : end]


def _complete_row(line: str) -> bool:
    """Whether a row has all seven fields and a whole date: a body that ends on a row failing
    this was cut inside it."""
    fields = line.rstrip("\r").split(",")
    if len(fields) > _N_FIELDS and not "".join(fields[_N_FIELDS:]).strip():
        fields = fields[:_N_FIELDS]
    return len(fields) == _N_FIELDS and _actdate(fields[6]) is not None


class OccClient:
    """Fetches OCC's daily volume files, politely: few at a time and few per minute."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        max_concurrency: int = 2,
        requests_per_minute: int = 20,
        timeout: float = 90.0,
        offload: Offloader = THREADS,
    ) -> None:
        self._timeout = timeout
        self._offload = offload
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._semaphore = anyio.Semaphore(max_concurrency)
        #: The host's reachability: one request that cannot connect stops the others' tries.
        self.reach = Reachability()
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

    async def fetch_day(self, day: date) -> OccDay:
        """Every underlying's option volume on `day`, in contracts, or what OCC said instead.

        OCC answers a weekend or holiday with "No record(s) found" and a day it has not
        published yet (it publishes T+1) with "Report date cannot be greater than ...".

        Raises:
            SourceError: OCC refused the request (4xx); RateLimited for a 429.
            ServiceError: OCC kept failing (5xx, timeouts) after retries.
            MalformedResponse: an HTML page, a truncated or unreadable file, another day's file.
        """
        what = f"OCC volume for {day}"
        async with self._semaphore:
            await self._limiter.acquire()
            response = await get_with_retries(
                self._http,
                f"{self._base_url}/volume-query",
                params=self.params(day),
                what=what,
                timeout=self._timeout,
                reach=self.reach,
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
            result = await self._offload.run(parse_day, response.content, day)
        if result.skipped:
            log.warning("%s: skipped %d malformed lines.", what, result.skipped)
        if result.status is not OccStatus.PUBLISHED:
            log.info("%s: %s (%s).", what, result.status.value, result.answer)
        return result
