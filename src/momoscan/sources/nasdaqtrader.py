"""Nasdaq Trader's keyless public feeds: the trade halts RSS and the daily Rule 201 (short sale
restriction) list.

Wire facts (the team's research notes, reference/public-feeds.md sections 1-2, from recorded
feeds and Nasdaq Trader's own field definitions):

Trade halts, `GET https://www.nasdaqtrader.com/rss.aspx?feed=tradehalts[&haltdate=MMDDYYYY]`:
- RSS 2.0 with the namespace `http://www.nasdaqtrader.com/` (prefix `ndaq:` on the wire; only
  the URI is trusted here). The channel's `pubDate` (RFC-822, GMT) is when the feed was made;
  `ttl` is 1 (minute): poll no more than once a minute.
- One `item` per halt event, newest first: `ndaq:HaltDate` (MM/DD/YYYY), `ndaq:HaltTime`
  (HH:MM:SS, recent feeds HH:MM:SS.fff; one parser reports "HH:MM:SS .fff", unconfirmed),
  `ndaq:IssueSymbol`, `ndaq:IssueName` (may be empty), `ndaq:Market`, `ndaq:ReasonCode`,
  `ndaq:PauseThresholdPrice` (empty in every recorded item), `ndaq:ResumptionDate`,
  `ndaq:ResumptionQuoteTime`, `ndaq:ResumptionTradeTime`. Empty fields are self-closed. The
  item's own `pubDate` is midnight ET of the halt day, not the halt time; `description` repeats
  the fields as an HTML table and is ignored.
- Every date and time is US/Eastern wall clock without an offset (inferred from the samples:
  halts cluster in 09:30-16:00 ET, evening news halts at 19:50).
- The resumption fields fill in on the same item and a code can change in place (T1 -> T3):
  the feed is re-read whole. A `D` item (security deletion) carries a "resumption" at 00:00:01
  of a later day: that is no resumption. Old unresolved halts stay in the feed for years.

Rule 201 list, `GET https://www.nasdaqtrader.com/dynamic/symdir/shorthalts/shorthalts{YYYYMMDD}.txt`:
- CSV (comma, quoted names that may carry trailing spaces) with the header
  `Symbol,Security Name,Market Category,Trigger Time`; Trigger Time is `M/D/YYYY h:mm:ss AM`
  in ET without zero padding. The last line is a 14-digit `yyyymmddhhmmss` creation stamp that
  marks the file complete. The file for day D holds the triggers of D-1 and D.
- A day without a file answers a non-200 or an HTML page with HTTP 200 (one project's warning),
  so the body is checked to be the CSV.

Outside text (symbols, names, markets, codes) is cleaned (`sanitize.clean`) where it is read.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime, time
from email.utils import parsedate_to_datetime

import httpx

from .. import market_hours as mh
from ..halts import Halt, ShortSaleRestriction
from ..sanitize import clean
from .errors import MalformedResponse, RateLimited, SourceError
from .http import Reachability, get_with_retries
from .pages import looks_like_html, one_line, page_title

log = logging.getLogger(__name__)

DEFAULT_HALTS_URL = "https://www.nasdaqtrader.com/rss.aspx?feed=tradehalts"
DEFAULT_SSR_URL = "https://www.nasdaqtrader.com/dynamic/symdir/shorthalts/"
#: The namespace of the halt fields, by URI (the prefix is the sender's choice).
NDAQ = "http://www.nasdaqtrader.com/"
SSR_HEADER = ("symbol", "security name", "market category", "trigger time")

HALTS = "Nasdaq Trader halts"
SSR = "Nasdaq Trader short sale list"

_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})(?:\s*\.(\d{1,6}))?$")
_STAMP = re.compile(r"^\d{14}$")


@dataclass(frozen=True, slots=True)
class HaltFeed:
    """The halts feed as read.

    `generated_at` is the channel's pubDate (when Nasdaq Trader made the feed), Unix seconds,
    None when missing or unreadable: a feed much older than a minute or two during the session
    is stale, which the caller judges. `halts` are deduplicated on `Halt.key`, newest first.
    `skipped` counts items left out as malformed (no symbol, no readable halt date or time).
    """

    generated_at: float | None
    halts: list[Halt]
    skipped: int


@dataclass(frozen=True, slots=True)
class SsrList:
    """One day's Rule 201 list as read.

    `day` is the file's trade date (the restrictions hold on it); `complete` says the 14-digit
    creation stamp ended the file (Nasdaq Trader's mark of a whole file); `restrictions` have
    source "list", their `trigger_day` being D-1 or D; `skipped` counts rows left out.
    """

    day: date
    complete: bool
    restrictions: list[ShortSaleRestriction]
    skipped: int


class SsrListMissing(SourceError):
    """Nasdaq Trader has no Rule 201 file for the day (a non-200, or a web page instead of the
    file): a weekend, a holiday, or a day not published yet. The previous trading day's list
    still says who is restricted by its D triggers."""


# -- halts ----------------------------------------------------------------------------------


def _text(item: ET.Element, name: str) -> str:
    """An `ndaq:` field's text, stripped; missing, self-closed and blank are all ""."""
    element = item.find(f"{{{NDAQ}}}{name}")
    if element is None or element.text is None:
        return ""
    return element.text.strip()


def _mdy(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%m/%d/%Y").date()
    except ValueError:
        return None


def _clock(text: str) -> time | None:
    """HH:MM:SS, HH:MM:SS.fff or HH:MM:SS .fff; None for anything else."""
    match = _TIME.match(text)
    if match is None:
        return None
    hh, mm, ss, frac = match.groups()
    micro = int((frac or "0").ljust(6, "0"))
    try:
        return time(int(hh), int(mm), int(ss), micro)
    except ValueError:
        return None


def _et(day: date, at: time) -> float:
    """US/Eastern wall clock to Unix seconds (zoneinfo America/New_York, DST included)."""
    return datetime.combine(day, at, tzinfo=mh.ET).timestamp()


def _price(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def _item(item: ET.Element) -> Halt | None:
    """One item as a Halt, or None when it lacks what identifies a halt."""
    symbol = clean(_text(item, "IssueSymbol") or (item.findtext("title") or "").strip()).strip()
    halt_day = _mdy(_text(item, "HaltDate"))
    halt_time = _clock(_text(item, "HaltTime"))
    if not symbol or halt_day is None or halt_time is None:
        return None
    reason = clean(_text(item, "ReasonCode")).strip()
    resume_day = _mdy(_text(item, "ResumptionDate")) or halt_day
    quote = _clock(_text(item, "ResumptionQuoteTime"))
    trade = _clock(_text(item, "ResumptionTradeTime"))
    if reason == "D":
        # A deletion's "resumption" (00:00:01 of a later day) is no resumption.
        quote = trade = None
    return Halt(
        symbol=symbol,
        halt_day=halt_day,
        halted_at=_et(halt_day, halt_time),
        reason=reason,
        market=clean(_text(item, "Market")).strip(),
        name=clean(_text(item, "IssueName")).strip(),
        resume_quote_at=None if quote is None else _et(resume_day, quote),
        resume_trade_at=None if trade is None else _et(resume_day, trade),
        threshold=_price(_text(item, "PauseThresholdPrice")),
    )


def parse_halts(body: bytes) -> HaltFeed:
    """Read the halts feed.

    Returns:
        The feed: its generation time, its halts (deduplicated on `Halt.key`, newest first;
        times in Unix seconds from the feed's ET wall clock) and how many items were skipped as
        malformed. An empty channel is a feed with no halts (weekends, holidays, quiet days).

    Raises:
        MalformedResponse: the body is a web page, not XML, or not the RSS channel.
    """
    text = body.decode("utf-8", "replace").lstrip("\ufeff")
    if not text.strip():
        raise MalformedResponse(f"{HALTS}: the answer was empty instead of the RSS feed.")
    if looks_like_html(text):
        page = page_title(text) or "no title"
        raise MalformedResponse(
            f"{HALTS}: the answer was a web page ({page}) instead of the RSS feed."
        )
    if "<!DOCTYPE" in text[:2048] or "<!ENTITY" in text[:2048]:
        # The feed declares no DTD; one that does is not the feed (and entities are a risk).
        raise MalformedResponse(f"{HALTS}: the answer declares a DTD; it is not the RSS feed.")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedResponse(f"{HALTS}: the answer is not readable XML ({exc}).") from None
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise MalformedResponse(
            f"{HALTS}: the answer is XML but not the RSS channel (root <{one_line(root.tag)}>)."
        )
    generated_at: float | None = None
    published = (channel.findtext("pubDate") or "").strip()
    if published:
        try:
            generated_at = parsedate_to_datetime(published).timestamp()
        except (TypeError, ValueError):
            generated_at = None
    by_key: dict[tuple[str, date, float], Halt] = {}
    skipped = 0
    for element in channel.iter("item"):
        halt = _item(element)
        if halt is None:
            skipped += 1
            continue
        known = by_key.get(halt.key)
        # The same event twice: keep what says more (a resumption over none).
        if known is None or (known.resume_trade_at is None and halt.resume_trade_at is not None):
            by_key[halt.key] = halt
    if skipped:
        log.warning("%s: skipped %d malformed item(s).", HALTS, skipped)
    halts = sorted(by_key.values(), key=lambda h: (-h.halted_at, h.symbol))
    return HaltFeed(generated_at, halts, skipped)


# -- the Rule 201 list ----------------------------------------------------------------------


def _trigger(text: str) -> datetime | None:
    """`M/D/YYYY h:mm:ss AM` (ET), as an aware datetime; None if it is not one."""
    try:
        naive = datetime.strptime(" ".join(text.split()), "%m/%d/%Y %I:%M:%S %p")
    except ValueError:
        return None
    return naive.replace(tzinfo=mh.ET)


def parse_ssr(body: bytes, day: date) -> SsrList:
    """Read the Rule 201 file for `day`.

    Returns:
        The list: its restrictions (source "list", trigger day and time from Trigger Time,
        ET), whether the creation stamp ended it, and how many rows were skipped.

    Raises:
        SsrListMissing: the body is a web page (Nasdaq Trader's answer for a day without a file).
        MalformedResponse: the body is empty or not the CSV (no header row).
    """
    text = body.decode("utf-8", "replace").lstrip("\ufeff")
    if looks_like_html(text):
        page = page_title(text) or "no title"
        raise SsrListMissing(
            f"{SSR} for {day}: a web page ({page}) came instead of the file; "
            "there may be none for that day yet."
        )
    rows = [r for r in csv.reader(io.StringIO(text)) if any(f.strip() for f in r)]
    if not rows:
        raise MalformedResponse(f"{SSR} for {day}: the file was empty.")
    header = tuple(f.strip().lower() for f in rows[0])
    if header[: len(SSR_HEADER)] != SSR_HEADER:
        raise MalformedResponse(
            f"{SSR} for {day}: not the expected CSV (it starts with "
            f"{one_line(','.join(rows[0]))!r}); the format may have changed."
        )
    complete = False
    skipped = 0
    restrictions: dict[tuple[str, date], ShortSaleRestriction] = {}
    for row in rows[1:]:
        if len(row) == 1 and _STAMP.match(row[0].strip()):
            complete = True
            continue
        if len(row) < len(SSR_HEADER):
            skipped += 1
            continue
        symbol = clean(row[0]).strip()
        at = _trigger(row[3])
        if not symbol or at is None:
            skipped += 1
            continue
        restriction = ShortSaleRestriction(
            symbol=symbol,
            trigger_day=at.date(),
            triggered_at=at.timestamp(),
            source="list",
            name=clean(row[1]).strip(),
        )
        restrictions.setdefault((symbol, restriction.trigger_day), restriction)
    if skipped:
        log.warning("%s for %s: skipped %d malformed row(s).", SSR, day, skipped)
    return SsrList(day, complete, list(restrictions.values()), skipped)


# -- the client -----------------------------------------------------------------------------


class NasdaqTraderClient:
    """Reads the halts feed and the daily Rule 201 list. Keyless; the caller paces the halts
    feed (no more than once a minute, its ttl) and the list (a few times a day).

    Args:
        http: the client to send with (its transport is the simulated market in demo).
        halts_url: the feed's URL, `feed=tradehalts` included.
        ssr_url: the folder of the `shorthalts{YYYYMMDD}.txt` files.
        timeout: seconds one request may take in all.
        attempts: tries of one request (5xx, timeouts, dropped connections are retried).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        halts_url: str = DEFAULT_HALTS_URL,
        ssr_url: str = DEFAULT_SSR_URL,
        timeout: float = 20.0,
        attempts: int = 2,
    ) -> None:
        self._http = http
        self.halts_url = halts_url
        self.ssr_url = ssr_url.rstrip("/") + "/"
        self._timeout = timeout
        self._attempts = attempts
        #: The host's reachability, shared by both feeds (one host).
        self.reach = Reachability()

    def ssr_file_url(self, day: date) -> str:
        return f"{self.ssr_url}shorthalts{day:%Y%m%d}.txt"

    async def _get(self, url: str, what: str) -> httpx.Response:
        response = await get_with_retries(
            self._http,
            url,
            what=what,
            timeout=self._timeout,
            attempts=self._attempts,
            reach=self.reach,
        )
        if response.status_code == 429:
            raise RateLimited(f"{what}: refused for too many requests (HTTP 429); poll less often.")
        return response

    async def halts(self, day: date | None = None) -> HaltFeed:
        """The halts feed now (today's halts and every older unresolved one), or with `day`
        that day's halts (`&haltdate=MMDDYYYY`; a weekend or holiday gives an empty feed).

        Raises:
            ServiceError: 5xx, timeouts or dropped connections after the retries
                (`Unreachable` when no try could connect).
            RateLimited: HTTP 429.
            SourceError: any other non-200.
            MalformedResponse: a web page, a body that is not XML or not the RSS channel.
        """
        what = HALTS if day is None else f"{HALTS} of {day}"
        url = httpx.URL(self.halts_url)
        if day is not None:
            # Added to the URL's own query (feed=tradehalts): `params` would replace it.
            url = url.copy_merge_params({"haltdate": day.strftime("%m%d%Y")})
        response = await self._get(str(url), what)
        if response.status_code != 200:
            raise SourceError(f"{what}: the feed answered HTTP {response.status_code}.")
        return parse_halts(response.content)

    async def ssr_list(self, day: date) -> SsrList:
        """The Rule 201 list for `day` (triggers of the trading day before and of `day`).

        Raises:
            SsrListMissing: no file for `day` (a non-200 other than 429 or 5xx, or a web page).
            ServiceError, RateLimited: as for `halts`.
            MalformedResponse: an empty body, or not the CSV.
        """
        what = f"{SSR} for {day}"
        response = await self._get(self.ssr_file_url(day), what)
        if response.status_code != 200:
            raise SsrListMissing(
                f"{what}: no file (HTTP {response.status_code}); there may be none for that "
                "day yet."
            )
        return parse_ssr(response.content, day)
