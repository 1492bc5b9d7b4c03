"""FINRA's keyless equity files: the twice-monthly short interest file and the daily
consolidated (CNMS) short sale volume file.

Wire facts (the team's research notes, reference/public-feeds.md section 4; each from several
3rd-party parsers, none from FINRA's own pages):

Short interest, `GET https://cdn.finra.org/equity/otcmarket/biweekly/shrt{YYYYMMDD}.csv`:
- `YYYYMMDD` is the settlement date: the 15th and the last business day of each month, rolled
  back for weekends and holidays; the file comes about 7-9 business days later. A date that is
  not (yet) a published settlement date answers 403, so the newest is found by probing back.
- Pipe-delimited despite `.csv`, with the 14-column header `accountingYearMonthNumber|
  symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|
  currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|
  averageDailyVolumeQuantity|daysToCoverQuantity|revisionFlag|changePercent|
  changePreviousNumber|settlementDate`; `settlementDate` is `YYYY-MM-DD`.
- `symbolCode` has no share-class separators (`BRKB`): it is matched to the universe by
  stripping non-alphanumerics on both sides; a stripped form two universe symbols share is
  skipped (whose it is cannot be told).
- `daysToCoverQuantity` is clamped to 1.00-999.99, so days to cover is computed here from the
  current position and FINRA's average daily volume.

Short sale volume, `GET https://cdn.finra.org/equity/regsho/daily/CNMSshvol{YYYYMMDD}.txt`:
- Pipe-delimited, header `Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market`;
  `Date` is `YYYYMMDD`; ShortVolume and TotalVolume carry 6 decimals in 2025-26 files
  (fractional shares), so they are read as floats. A line without 6 fields or a numeric date
  (a trailer, a blank) is skipped.
- Posted by about 18:00 ET on the trade date (3rd-party, UNVERIFIED); weekends and holidays
  answer 404; S3's `AccessDenied` XML (403) for dates it does not hold.
- This is short *volume* (today's selling short), not short interest.

FINRA's CDN is said to refuse requests without a browser-like or descriptive User-Agent with a
403 (one 3rd-party note, UNVERIFIED): the client sends a descriptive one.

Outside text (symbols) is cleaned (`sanitize.clean`) where it is read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import httpx

from .. import market_hours as mh
from ..fundamentals import ShortInterest, ShortVolume
from ..sanitize import clean
from .errors import MalformedResponse, RateLimited, SourceError
from .http import Reachability, get_with_retries
from .offload import THREADS, Offloader

log = logging.getLogger(__name__)

DEFAULT_SHORT_INTEREST_URL = "https://cdn.finra.org/equity/otcmarket/biweekly/"
DEFAULT_SHORT_VOLUME_URL = "https://cdn.finra.org/equity/regsho/daily/"
#: Sent when no [sec] user_agent is configured: descriptive, without an email address.
#: FINRA's rule that a bare User-Agent is refused is 3rd-party and UNVERIFIED.
DEFAULT_USER_AGENT = "momoscan (+https://github.com/momoscan/momoscan)"

SHORT_INTEREST = "FINRA short interest"
SHORT_VOLUME = "FINRA short volume"

SI_HEADER = (
    "accountingyearmonthnumber",
    "symbolcode",
    "issuename",
    "issuerservicesgroupexchangecode",
    "marketclasscode",
    "currentshortpositionquantity",
    "previousshortpositionquantity",
    "stocksplitflag",
    "averagedailyvolumequantity",
    "daystocoverquantity",
    "revisionflag",
    "changepercent",
    "changepreviousnumber",
    "settlementdate",
)
SV_HEADER = ("date", "symbol", "shortvolume", "shortexemptvolume", "totalvolume", "market")

#: FINRA posts the day's short volume file by about 18:00 ET (3rd-party, UNVERIFIED).
SHORT_VOLUME_AT = time(18, 0)
#: How many settlement dates back a probe for the newest short interest file goes.
SETTLEMENT_CANDIDATES = 4
#: How many trading days back a short volume read goes when a day's file is missing.
VOLUME_LOOKBACK = 3

_KEY = re.compile(r"[^A-Z0-9]")
_DAY = re.compile(r"^\d{8}$")


class FinraNotPublished(SourceError):
    """FINRA has no file for the date(s) asked: a short interest file not published yet (403),
    or a day without a short volume file (404: a weekend, a holiday, before ~18:00 ET)."""


@dataclass(frozen=True, slots=True)
class ShortInterestFile:
    """One settlement date's short interest as read.

    `rows` are matched to the universe's spellings (FINRA's own when no universe was given);
    `skipped` counts malformed rows, `collisions` FINRA symbols two universe symbols share."""

    settlement: date
    rows: list[ShortInterest]
    skipped: int
    collisions: int = 0


@dataclass(frozen=True, slots=True)
class ShortVolumeFile:
    """One trade date's consolidated short sale volume as read (`rows` as above)."""

    day: date
    rows: list[ShortVolume]
    skipped: int


def finra_key(symbol: str) -> str:
    """A symbol without separators, upper case: FINRA's `symbolCode` (`BRK.B` -> `BRKB`)."""
    return _KEY.sub("", symbol.upper())


def universe_keys(universe: Iterable[str]) -> tuple[dict[str, str], set[str]]:
    """(stripped form -> universe symbol, stripped forms two or more symbols share).

    A shared form is left out of the mapping: FINRA's `ABC` may be `ABC` or `AB.C` (its
    symbols have no separators), and which cannot be told."""
    mapping: dict[str, str] = {}
    shared: set[str] = set()
    for symbol in universe:
        key = finra_key(symbol)
        if not key:
            continue
        if key in mapping and mapping[key] != symbol:
            shared.add(key)
        mapping.setdefault(key, symbol)
    for key in shared:
        mapping.pop(key, None)
    return mapping, shared


def settlement_dates(on_or_before: date, count: int) -> list[date]:
    """The `count` newest short interest settlement dates on or before `on_or_before`, newest
    first: the 15th and the month's last day, each rolled back to a trading day
    (market_hours' NYSE calendar)."""
    out: list[date] = []
    year, month = on_or_before.year, on_or_before.month
    while len(out) < count:
        first_next = date(year + (month == 12), month % 12 + 1, 1)
        for nominal in (first_next - timedelta(days=1), date(year, month, 15)):
            settled = mh.last_trading_day(nominal)
            if settled <= on_or_before and settled not in out and len(out) < count:
                out.append(settled)
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return sorted(out, reverse=True)


def short_volume_day(now: datetime) -> date:
    """The trade date whose short volume file should be out at `now`: the day itself from
    18:00 ET on a trading day, else the trading day before."""
    local = now.astimezone(mh.ET)
    today = local.date()
    if mh.is_trading_day(today) and local.time() >= SHORT_VOLUME_AT:
        return today
    return mh.previous_trading_day(today)


def _looks_like_markup(text: str) -> bool:
    head = text.lstrip()[:512].lower()
    return head.startswith(("<", "<!doctype"))


def _int(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def _lines(body: bytes, what: str) -> list[list[str]]:
    text = body.decode("utf-8", "replace").lstrip("\ufeff")
    if not text.strip():
        raise MalformedResponse(f"{what}: the file was empty.")
    if _looks_like_markup(text):
        raise MalformedResponse(f"{what}: a web page or XML came instead of the file.")
    return [line.split("|") for line in text.splitlines() if line.strip()]


def _header(rows: list[list[str]], expected: tuple[str, ...], what: str) -> None:
    header = tuple(f.strip().lower() for f in rows[0])
    if header[: len(expected)] != expected:
        start = " ".join(clean("|".join(rows[0])).split())[:60]
        raise MalformedResponse(
            f"{what}: not the expected file (it starts with {start!r}); the format may have "
            "changed."
        )


def _matcher(universe: Collection[str] | None) -> tuple[dict[str, str] | None, set[str]]:
    if universe is None:
        return None, set()
    return universe_keys(universe)


def parse_short_interest(
    body: bytes, settlement: date, universe: Collection[str] | None = None
) -> ShortInterestFile:
    """Read the short interest file of `settlement`.

    Args:
        universe: the symbols to keep, in their own spelling (FINRA's are matched by their
            stripped forms); None keeps every row under FINRA's spelling.

    Returns:
        The file's rows (shares; days to cover = current position / FINRA's average daily
        volume, None without a volume), the rows skipped as malformed and the collisions.

    Raises:
        MalformedResponse: empty, a web page or XML, or not the 14-column header.
    """
    what = f"{SHORT_INTEREST} of {settlement}"
    rows = _lines(body, what)
    _header(rows, SI_HEADER, what)
    mapping, shared = _matcher(universe)
    out: dict[str, ShortInterest] = {}
    skipped = collisions = 0
    for row in rows[1:]:
        if len(row) < len(SI_HEADER):
            skipped += 1
            continue
        code = clean(row[1]).strip().upper()
        current = _int(row[5])
        if not code or current is None or current < 0:
            skipped += 1
            continue
        if mapping is not None:
            key = finra_key(code)
            if key in shared:
                collisions += 1
                continue
            symbol = mapping.get(key)
            if symbol is None:
                continue
        else:
            symbol = code
        try:
            settled = date.fromisoformat(row[13].strip())
        except ValueError:
            settled = settlement
        volume = _int(row[8])
        volume = volume if volume is not None and volume > 0 else None
        out[symbol] = ShortInterest(
            symbol=symbol,
            settlement=settled,
            short_shares=current,
            previous_shares=_int(row[6]),
            avg_daily_volume=volume,
            days_to_cover=None if volume is None else round(current / volume, 2),
        )
    if skipped:
        log.warning("%s: skipped %d malformed row(s).", what, skipped)
    if collisions:
        log.info("%s: %d symbol(s) matched two universe symbols; left out.", what, collisions)
    return ShortInterestFile(settlement, list(out.values()), skipped, collisions)


def parse_short_volume(
    body: bytes, day: date, universe: Collection[str] | None = None
) -> ShortVolumeFile:
    """Read the CNMS short sale volume file of trade date `day`.

    Returns:
        The rows (shares, floats: the wire's decimals), matched as `parse_short_interest`'s;
        lines without 6 fields or a numeric `YYYYMMDD` date, or with unreadable volumes,
        counted as skipped (a trailer line is one).

    Raises:
        MalformedResponse: empty, a web page or XML, or not the expected header.
    """
    what = f"{SHORT_VOLUME} of {day}"
    rows = _lines(body, what)
    _header(rows, SV_HEADER, what)
    mapping, shared = _matcher(universe)
    out: dict[str, ShortVolume] = {}
    skipped = 0
    for row in rows[1:]:
        if len(row) != len(SV_HEADER) or not _DAY.match(row[0].strip()):
            skipped += 1
            continue
        try:
            traded = datetime.strptime(row[0].strip(), "%Y%m%d").date()
            short = float(row[2])
            total = float(row[4])
        except ValueError:
            skipped += 1
            continue
        code = clean(row[1]).strip().upper()
        if not code or short < 0 or total < 0:
            skipped += 1
            continue
        if mapping is not None:
            key = finra_key(code)
            if key in shared or key not in mapping:
                continue
            symbol = mapping[key]
        else:
            symbol = code
        out[symbol] = ShortVolume(symbol, traded, short, total)
    if skipped:
        log.info("%s: skipped %d line(s) that are not data.", what, skipped)
    return ShortVolumeFile(day, list(out.values()), skipped)


class FinraClient:
    """Reads FINRA's short interest and short sale volume files. Keyless; the caller paces it
    (a file a day is all there is).

    Args:
        http: the client to send with (its transport is the simulated market in demo).
        short_interest_url: the folder of the `shrt{YYYYMMDD}.csv` files.
        short_volume_url: the folder of the `CNMSshvol{YYYYMMDD}.txt` files.
        user_agent: a descriptive User-Agent (the [sec] one when set; `DEFAULT_USER_AGENT`
            otherwise).
        timeout: seconds one request may take in all (a short interest file is ~2.5 MB).
        offload: where the files are parsed (a worker process for the megabytes).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        short_interest_url: str = DEFAULT_SHORT_INTEREST_URL,
        short_volume_url: str = DEFAULT_SHORT_VOLUME_URL,
        user_agent: str = "",
        timeout: float = 60.0,
        attempts: int = 2,
        offload: Offloader = THREADS,
    ) -> None:
        self._http = http
        self.short_interest_url = short_interest_url.rstrip("/") + "/"
        self.short_volume_url = short_volume_url.rstrip("/") + "/"
        self.user_agent = user_agent.strip() or DEFAULT_USER_AGENT
        self._timeout = timeout
        self._attempts = attempts
        self._offload = offload
        self.reach = Reachability()

    def short_interest_file_url(self, settlement: date) -> str:
        return f"{self.short_interest_url}shrt{settlement:%Y%m%d}.csv"

    def short_volume_file_url(self, day: date) -> str:
        return f"{self.short_volume_url}CNMSshvol{day:%Y%m%d}.txt"

    async def _get(self, url: str, what: str) -> httpx.Response:
        response = await get_with_retries(
            self._http,
            url,
            headers={"User-Agent": self.user_agent},
            what=what,
            timeout=self._timeout,
            attempts=self._attempts,
            reach=self.reach,
        )
        if response.status_code == 429:
            raise RateLimited(f"{what}: refused for too many requests (HTTP 429).")
        return response

    async def short_interest_on(
        self, settlement: date, universe: Collection[str] | None = None
    ) -> ShortInterestFile:
        """The file of one settlement date.

        Raises:
            FinraNotPublished: 403 or 404 (not a settlement date, or not published yet).
            ServiceError, RateLimited: 5xx/timeouts after retries; 429.
            SourceError: another non-200. MalformedResponse: not the file.
        """
        what = f"{SHORT_INTEREST} of {settlement}"
        response = await self._get(self.short_interest_file_url(settlement), what)
        if response.status_code in (403, 404):
            raise FinraNotPublished(f"{what}: not published (HTTP {response.status_code}).")
        if response.status_code != 200:
            raise SourceError(f"{what}: the file answered HTTP {response.status_code}.")
        wanted = None if universe is None else list(universe)
        return await self._offload.run(parse_short_interest, response.content, settlement, wanted)

    async def short_interest(
        self,
        today: date,
        universe: Collection[str] | None = None,
        *,
        candidates: int = SETTLEMENT_CANDIDATES,
        newer_than: date | None = None,
    ) -> ShortInterestFile:
        """The newest published short interest file: settlement dates on or before `today`
        probed newest first (a 403 means not published yet), at most `candidates` of them,
        none at or before `newer_than` (the one already stored).

        Raises:
            FinraNotPublished: none of the candidates is published (or none is newer than
                `newer_than`).
            ServiceError, RateLimited, SourceError, MalformedResponse: as `short_interest_on`.
        """
        tried: list[date] = []
        for settlement in settlement_dates(today, candidates):
            if newer_than is not None and settlement <= newer_than:
                break
            tried.append(settlement)
            try:
                return await self.short_interest_on(settlement, universe)
            except FinraNotPublished:
                continue
        if not tried:
            raise FinraNotPublished(
                f"{SHORT_INTEREST}: nothing newer than the settlement of {newer_than} is due."
            )
        raise FinraNotPublished(
            f"{SHORT_INTEREST}: no file published for the settlement dates "
            f"{tried[-1]} .. {tried[0]} (HTTP 403)."
        )

    async def short_volume(
        self,
        day: date,
        universe: Collection[str] | None = None,
        *,
        lookback: int = VOLUME_LOOKBACK,
    ) -> ShortVolumeFile:
        """The CNMS file of `day`, else of the trading days before it (a 404 or 403 is a day
        without a file), at most `lookback` days back.

        Raises:
            FinraNotPublished: none of those days has a file.
            ServiceError, RateLimited, SourceError, MalformedResponse: as `short_interest_on`.
        """
        wanted = day
        for _ in range(max(1, lookback)):
            what = f"{SHORT_VOLUME} of {day}"
            response = await self._get(self.short_volume_file_url(day), what)
            if response.status_code in (403, 404):
                day = mh.previous_trading_day(day)
                continue
            if response.status_code != 200:
                raise SourceError(f"{what}: the file answered HTTP {response.status_code}.")
            symbols = None if universe is None else list(universe)
            return await self._offload.run(parse_short_volume, response.content, day, symbols)
        raise FinraNotPublished(
            f"{SHORT_VOLUME}: no file for {wanted} nor the {max(1, lookback) - 1} trading "
            "day(s) before (HTTP 404)."
        )
