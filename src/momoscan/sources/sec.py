"""SEC EDGAR, keyless: the ticker map (`company_tickers_exchange.json`) and the current-filings
Atom feed, behind one fair-access gate (`SecHttp`) that every SEC request of the process goes
through (helper clients, such as the company facts reader, take the same `SecHttp`).

Wire facts (the team's research notes, reference/public-feeds.md §3, from recorded responses
and the SEC's own pages):
- Fair access: a declared User-Agent with a contact ("Sample Company Name
  AdminContact@<sample company domain>.com") and `Accept-Encoding: gzip, deflate`; at most 10
  requests a second, all machines together. An undeclared or library-default User-Agent gets
  HTTP 403 with an HTML page ("Please declare your traffic by updating your user agent");
  going over the rate limits the IP "for a brief period" until the rate has stayed below the
  threshold for 10 minutes. Some clients report 429 instead (unconfirmed). A 403 with S3's
  `<Error><Code>AccessDenied</Code>` XML is a missing file, not a block (recorded).
- `company_tickers_exchange.json`: `{"fields":["cik","name","ticker","exchange"],"data":[[...]]}`,
  `cik` an integer, `exchange` "Nasdaq", "NYSE", "OTC", "CBOE" or null; share classes written
  with "-" (`BRK-B`); one CIK may have several tickers.
- Current filings (`/cgi-bin/browse-edgar?action=getcurrent&...&output=atom`): ISO-8859-1 Atom,
  newest first, `count` at most 100, paged by `start`; one entry per entity per accession
  (a Form 4 has a (Reporting) and an (Issuer) entry); the title is `FORM - NAME (CIK) (Role)`
  and names may hold " - " (parsed from the right); `<updated>` is the acceptance time with a
  real US/Eastern offset; the summary is escaped HTML holding `AccNo:` and, for an 8-K, one
  `Item X.XX: Title` per item. A page far back answers 503 with an HTML page: paging stops at
  the first page that is not the Atom, or is short.

Outside text (names, forms, links) is cleaned (`sanitize.clean`) where it is read.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime

import anyio
import httpx

from .. import market_hours as mh
from ..filings import Filing, kind_of
from ..sanitize import clean
from .errors import MalformedResponse, RateLimited, ServiceError, SourceError
from .http import backoff_delay, describe_transport_error
from .pages import looks_like_html, one_line, page_title

log = logging.getLogger(__name__)

SEC = "SEC EDGAR"
DEFAULT_TICKERS_URL = "https://www.sec.gov/files/company_tickers_exchange.json"
DEFAULT_CURRENT_URL = "https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent"
DEFAULT_FACTS_URL = "https://data.sec.gov/api/xbrl/companyfacts/"
#: The SEC's limit is 10 requests a second for all of a user's machines; momoscan keeps under it.
MAX_PER_SECOND = 8.0
#: Seconds to stay away after a block: the SEC lifts it once the rate has stayed below the
#: threshold for 10 minutes ("Request Rate Threshold Exceeded" page, public-feeds.md §3.1).
BLOCK_SECONDS = 600.0
#: The feed's largest page (public-feeds.md §3.4).
PAGE_SIZE = 100
#: What `[sec] user_agent` should look like, for the messages.
UA_HINT = '[sec] user_agent = "Your Name you@example.com"'
ATOM = "{http://www.w3.org/2005/Atom}"
#: The demo's User-Agent: the simulated SEC, like the real one, wants a declared name and
#: contact; the demo declares this one so that it shows filings without any setting.
DEMO_USER_AGENT = "momoscan demo demo@momoscan.invalid"

_TITLE = re.compile(r"^(?P<form>.+?) - (?P<name>.*) \((?P<cik>\d{1,10})\) \((?P<role>[^()]*)\)$")
_ACCESSION = re.compile(r"(\d{10}-\d{2}-\d{6})")
_ITEM = re.compile(r"Item\s+(\d{1,2}\.\d{2})\b")
#: Which entity of an accession names the company: the issuer of a Form 4, the subject
#: company of a Schedule 13D/G, the filer of an 8-K; a reporting owner only when nothing else.
_ROLE_RANK = {"issuer": 0, "subject": 1, "filer": 2, "filed by": 3, "reporting": 4}


class SecUserAgentMissing(SourceError):
    """No User-Agent is configured: the SEC refuses undeclared traffic, so nothing is sent."""


class SecBlocked(RateLimited):
    """EDGAR refused for fair access (429, or a 403 with a web page). `retry_after`: seconds
    before anything is sent again (at least `BLOCK_SECONDS`); `status` the HTTP status that
    started the back-off (403 or 429)."""

    def __init__(self, message: str, *, retry_after: float, status: int = 0):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class SecNotFound(SourceError):
    """No such file (404, or a 403 whose body is S3's AccessDenied XML)."""


def _retry_after(response: httpx.Response) -> float:
    """Retry-After in seconds (a number of seconds; an HTTP date is read as 0)."""
    try:
        return max(0.0, float(response.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


class RequestPace:
    """At most `per_second` requests started in any one-second span (a sliding window over
    the last starts). `clock`: monotonic seconds; `sleep`: waits (tests pass fake ones)."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ):
        self.limit = max(1, math.floor(per_second))
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque(maxlen=self.limit)
        self._lock = anyio.Lock()

    async def wait(self) -> None:
        """Return when one more request may start (and count it as started)."""
        async with self._lock:
            while len(self._starts) == self.limit:
                wait = self._starts[0] + 1.0 - self._clock()
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._starts.append(self._clock())


class SecHttp:
    """Every SEC request of the process: the declared User-Agent, the pace and the back-off.

    Args:
        http: the client to send with (its transport is the simulated market in demo).
        user_agent: "Your Name you@example.com"; empty: every call raises
            `SecUserAgentMissing` and nothing is sent (it is never guessed).
        max_per_second: requests a second, all SEC clients of the process together.
        timeout: seconds one try may take in all (connect to the body's last byte).
        attempts: tries of one request (5xx, timeouts and dropped connections are retried).
        clock: monotonic seconds, for the pace and the back-off (tests pass a fake one).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        user_agent: str,
        max_per_second: float = MAX_PER_SECOND,
        timeout: float = 30.0,
        attempts: int = 2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ):
        self._http = http
        self.user_agent = user_agent.strip()
        self._pace = RequestPace(max_per_second, clock=clock, sleep=sleep)
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._clock = clock
        self._sleep = sleep
        self._blocked_until = -math.inf
        self._blocked_why = ""
        self._blocked_status = 0
        self.requests = 0

    @property
    def blocked_for(self) -> float:
        """Seconds left of a fair-access back-off (0 when none)."""
        return max(0.0, self._blocked_until - self._clock())

    def _block(self, why: str, retry_after: float, status: int) -> SecBlocked:
        wait = max(BLOCK_SECONDS, retry_after)
        self._blocked_until = self._clock() + wait
        self._blocked_why = why
        self._blocked_status = status
        return SecBlocked(
            f"{why}; no request for {math.ceil(wait / 60)} minutes.",
            retry_after=wait,
            status=status,
        )

    async def get(self, url: str, *, what: str) -> httpx.Response:
        """GET `url` (a 200, its body read) within the fair-access rules.

        Raises:
            SecUserAgentMissing: no User-Agent configured (nothing sent).
            SecBlocked: a 429, or a 403 with a web page: no request for `retry_after` seconds,
                and every call until then raises it without sending.
            SecNotFound: 404, or a 403 with S3's AccessDenied XML.
            ServiceError: 5xx, timeouts or dropped connections after the tries.
            SourceError: any other non-200.
        """
        if not self.user_agent:
            raise SecUserAgentMissing(
                f"{SEC}: no User-Agent is set, and the SEC refuses undeclared traffic; set "
                f"{UA_HINT} in the config file."
            )
        if self.blocked_for > 0:
            raise SecBlocked(
                f"{self._blocked_why}; no request for another "
                f"{math.ceil(self.blocked_for / 60)} minutes.",
                retry_after=self.blocked_for,
                status=self._blocked_status,
            )
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"}
        why = ""
        for attempt in range(self._attempts):
            if attempt:
                await self._sleep(backoff_delay(attempt - 1, 1.0, 8.0))
            await self._pace.wait()
            self.requests += 1
            try:
                with anyio.fail_after(self._timeout):
                    response = await self._http.get(url, headers=headers)
            except TimeoutError:
                why = f"no complete answer within {self._timeout:g} s"
                continue
            except httpx.TransportError as exc:
                why = describe_transport_error(exc)
                continue
            status = response.status_code
            if status == 200:
                return response
            if status >= 500:
                page = page_title(response.text) if looks_like_html(response.text) else ""
                why = f"HTTP {status}" + (f" ({page})" if page else "")
                continue
            body = response.content[:2048]
            if status == 429:
                raise self._block(
                    f"{what}: refused for too many requests (HTTP 429)", _retry_after(response), 429
                )
            if status == 403 and b"AccessDenied" in body and b"<Error>" in body:
                raise SecNotFound(f"{what}: no such file (HTTP 403 AccessDenied).")
            if status == 403:
                raise self._block(
                    f"{what}: refused (HTTP 403); the SEC wants a declared User-Agent with a "
                    f"contact, at most 10 requests a second: check {UA_HINT}",
                    _retry_after(response),
                    403,
                )
            if status == 404:
                raise SecNotFound(f"{what}: no such file (HTTP 404).")
            raise SourceError(f"{what}: answered HTTP {status}.")
        raise ServiceError(f"{what} failed after {self._attempts} tries: {why}.")


def sec_user_agent(configured: str, *, demo: bool) -> tuple[str, str]:
    """The User-Agent to declare and, when there is none, the one line saying how to set it.

    The configured one when set; the demo's own (`DEMO_USER_AGENT`) in the demo, which talks
    to the simulated SEC; else none ("", and the sentence for the log)."""
    agent = configured.strip() or (DEMO_USER_AGENT if demo else "")
    if agent:
        return agent, ""
    return "", (
        f"{SEC} (filings, float) is off: the SEC refuses clients that do not declare who they "
        f"are; set {UA_HINT} in the config file to turn it on."
    )


# -- the ticker map ---------------------------------------------------------------------------

TickerRow = tuple[int, str, str, str]  # (cik, ticker, name, exchange)


def _ticker_row(cik: object, ticker: object, name: object, exchange: object) -> TickerRow | None:
    if isinstance(cik, bool) or not isinstance(ticker, str):
        return None
    try:
        number = int(cik)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    symbol = clean(ticker).strip().upper()
    if number <= 0 or not symbol:
        return None
    return (
        number,
        symbol,
        clean(name).strip() if isinstance(name, str) else "",
        clean(exchange).strip() if isinstance(exchange, str) else "",
    )


def parse_ticker_map(body: bytes) -> tuple[list[TickerRow], int]:
    """Read `company_tickers_exchange.json` (or `company_tickers.json`, its older sibling:
    `{"0": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."}, ...}`).

    Returns:
        The rows (cik, ticker as the SEC writes it, name, exchange; "" for a null exchange)
        and how many rows were skipped as malformed.

    Raises:
        MalformedResponse: not JSON (a truncated download), or neither shape.
    """
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body[:512].decode("utf-8", "replace")
        if looks_like_html(text):
            raise MalformedResponse(
                f"{SEC} ticker map: a web page ({page_title(text) or 'no title'}) came "
                "instead of the JSON."
            ) from None
        raise MalformedResponse(
            f"{SEC} ticker map: the answer is not whole JSON ({len(body)} bytes; cut short?)."
        ) from None
    rows: list[TickerRow] = []
    skipped = 0
    if isinstance(doc, dict) and isinstance(doc.get("fields"), list):
        fields = [str(f).lower() for f in doc["fields"]]
        try:
            at = {name: fields.index(name) for name in ("cik", "ticker", "name")}
        except ValueError:
            raise MalformedResponse(
                f"{SEC} ticker map: its fields are {fields[:6]}, without cik, ticker and name."
            ) from None
        exchange_at = fields.index("exchange") if "exchange" in fields else None
        data = doc.get("data")
        for raw in data if isinstance(data, list) else []:
            if not isinstance(raw, list) or len(raw) < len(fields):
                skipped += 1
                continue
            exchange = raw[exchange_at] if exchange_at is not None else None
            row = _ticker_row(raw[at["cik"]], raw[at["ticker"]], raw[at["name"]], exchange)
            if row is None:
                skipped += 1
            else:
                rows.append(row)
    elif isinstance(doc, dict):
        for raw in doc.values():
            if not isinstance(raw, dict):
                skipped += 1
                continue
            row = _ticker_row(raw.get("cik_str"), raw.get("ticker"), raw.get("title"), None)
            if row is None:
                skipped += 1
            else:
                rows.append(row)
    else:
        raise MalformedResponse(f"{SEC} ticker map: the JSON is not the ticker map.")
    if not rows:
        raise MalformedResponse(f"{SEC} ticker map: no tickers in it.")
    if skipped:
        log.warning("%s ticker map: skipped %d malformed row(s).", SEC, skipped)
    return rows, skipped


# -- the current-filings feed -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of the feed: a filing as one of its entities sees it. `role` is "Filer",
    "Issuer", "Subject", "Reporting" (lower-cased in `rank`)."""

    filing: Filing
    role: str

    @property
    def rank(self) -> int:
        return _ROLE_RANK.get(self.role.lower(), 5)


@dataclass(frozen=True, slots=True)
class AtomPage:
    """One page of the feed as read: its `updated` (Unix seconds, None when missing), its
    entries in feed order (newest first), how many `<entry>` elements it held (a page with
    fewer than asked is the last) and how many were skipped as malformed."""

    updated: float | None
    entries: list[FeedEntry]
    size: int
    skipped: int


@dataclass(frozen=True, slots=True)
class FilingsPage:
    """What one poll of the feed read: `filings` one per accession (the company's entity:
    Issuer, Subject or Filer before a Reporting owner), newest first, `symbol` "" (the caller
    maps the CIK); `pages` requested; `skipped` malformed entries; `reached_known` whether
    paging stopped at filings read before (else at the feed's end, a short or non-Atom page,
    or the page limit); `updated` the first page's time (Unix seconds)."""

    filings: list[Filing]
    pages: int
    skipped: int
    reached_known: bool
    updated: float | None


def _instant(text: str) -> float | None:
    """An ISO time with its offset as Unix seconds; one without an offset is read as
    US/Eastern (never seen: the feed writes -05:00 or -04:00)."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=mh.ET)
    return at.timestamp()


def _index_url(cik: int, accession: str) -> str:
    return (
        f"https://www.sec.gov/Archives/edgar/data/{cik}/{accession.replace('-', '')}/"
        f"{accession}-index.htm"
    )


def _entry(element: ET.Element) -> FeedEntry | None:
    """One `<entry>` as a FeedEntry, or None when it lacks what identifies a filing."""
    title = " ".join(clean(element.findtext(f"{ATOM}title") or "").split())
    match = _TITLE.match(title)
    summary = element.findtext(f"{ATOM}summary") or ""
    accession_match = _ACCESSION.search(element.findtext(f"{ATOM}id") or "") or _ACCESSION.search(
        summary
    )
    accepted_at = _instant(element.findtext(f"{ATOM}updated") or "")
    if match is None or accession_match is None or accepted_at is None:
        return None
    category = element.find(f"{ATOM}category")
    form = clean(category.get("term", "") if category is not None else "").strip()
    form = form or match.group("form").strip()
    if not form:
        return None
    items = tuple(dict.fromkeys(_ITEM.findall(summary)))
    cik = int(match.group("cik"))
    accession = accession_match.group(1)
    link = element.find(f"{ATOM}link")
    href = clean(link.get("href", "") if link is not None else "").strip()
    url = href if href.startswith("https://www.sec.gov/") else _index_url(cik, accession)
    return FeedEntry(
        Filing(
            accession=accession,
            cik=cik,
            symbol="",
            form=form,
            items=items,
            accepted_at=accepted_at,
            company=match.group("name").strip(),
            url=url,
            kind=kind_of(form, items),
        ),
        match.group("role").strip(),
    )


def parse_current(body: bytes) -> AtomPage:
    """Read one page of the current-filings feed (ISO-8859-1 bytes, as served).

    A malformed entry (no accession, title or time) is logged and skipped; the rest are kept.

    Raises:
        MalformedResponse: empty, a web page, a DTD, not XML, or not an Atom feed.
    """
    text = body[:2048].decode("latin-1")
    if not body.strip():
        raise MalformedResponse(f"{SEC} current filings: the answer was empty.")
    if looks_like_html(text):
        page = page_title(body.decode("latin-1")) or "no title"
        raise MalformedResponse(
            f"{SEC} current filings: a web page ({page}) came instead of the Atom feed."
        )
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise MalformedResponse(f"{SEC} current filings: the answer declares a DTD; not the feed.")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedResponse(
            f"{SEC} current filings: the answer is not readable XML ({exc})."
        ) from None
    if root.tag != f"{ATOM}feed":
        raise MalformedResponse(
            f"{SEC} current filings: XML but not an Atom feed (root <{one_line(root.tag)}>)."
        )
    updated = _instant(root.findtext(f"{ATOM}updated") or "")
    entries: list[FeedEntry] = []
    skipped = 0
    elements = root.findall(f"{ATOM}entry")
    for element in elements:
        entry = _entry(element)
        if entry is None:
            skipped += 1
            log.warning(
                "%s current filings: skipped a malformed entry (%s).",
                SEC,
                one_line(element.findtext(f"{ATOM}title") or "no title"),
            )
            continue
        entries.append(entry)
    return AtomPage(updated, entries, len(elements), skipped)


def merge_entries(entries: list[FeedEntry]) -> list[Filing]:
    """One filing per accession, from its company's entry (`FeedEntry.rank`: Issuer, then
    Subject, then Filer, a Reporting owner last), in the feed's order (newest first)."""
    best: dict[str, FeedEntry] = {}
    for entry in entries:
        known = best.get(entry.filing.accession)
        if known is None or entry.rank < known.rank:
            best[entry.filing.accession] = entry
    ordered = sorted(best.values(), key=lambda e: -e.filing.accepted_at)
    return [e.filing for e in ordered]


class SecClient:
    """The ticker map and the current-filings feed, through the process's one `SecHttp`.

    Args:
        sec: the fair-access gate (shared with every other SEC client of the process).
        tickers_url: `company_tickers_exchange.json`'s URL.
        current_url: the current-filings feed's URL (`action=getcurrent` included).
    """

    def __init__(
        self,
        sec: SecHttp,
        *,
        tickers_url: str = DEFAULT_TICKERS_URL,
        current_url: str = DEFAULT_CURRENT_URL,
    ):
        self.sec = sec
        self.tickers_url = tickers_url
        self.current_url = current_url

    async def ticker_map(self) -> list[TickerRow]:
        """The SEC's ticker map: (cik, ticker, name, exchange) rows, tickers as the SEC writes
        them (`BRK-B`), exchange "" when null.

        Raises:
            The errors of `SecHttp.get`, and MalformedResponse for a body that is not the map.
        """
        response = await self.sec.get(self.tickers_url, what=f"{SEC} ticker map")
        rows, _ = parse_ticker_map(response.content)
        return rows

    def page_url(self, start: int, count: int = PAGE_SIZE) -> str:
        url = httpx.URL(self.current_url).copy_merge_params(
            {
                "action": "getcurrent",
                "type": "",
                "company": "",
                "dateb": "",
                "owner": "include",
                "start": str(start),
                "count": str(count),
                "output": "atom",
            }
        )
        return str(url)

    async def current_filings(
        self,
        known: Collection[str] = (),
        *,
        since: float | None = None,
        count: int = PAGE_SIZE,
        max_pages: int = 40,
    ) -> FilingsPage:
        """The newest filings, one per accession, paging back from the newest until a page
        holds an accession in `known` or one accepted before `since` (Unix seconds), a page
        is short or not the Atom feed (the feed's end, or its 503 far back), or `max_pages`.

        A typical poll a minute apart is one page. Entries older than `since` or already in
        `known` are left out.

        Raises:
            The errors of `SecHttp.get` and MalformedResponse, for the first page only (a
            later page's failure ends the paging with what was read).
        """
        count = max(1, min(PAGE_SIZE, count))
        entries: list[FeedEntry] = []
        skipped = 0
        updated: float | None = None
        reached = False
        pages = 0
        for page_no in range(max(1, max_pages)):
            what = f"{SEC} current filings"
            try:
                response = await self.sec.get(self.page_url(page_no * count, count), what=what)
                page = parse_current(response.content)
            except SourceError as exc:
                if page_no == 0:
                    raise
                log.info("%s: paging stopped at page %d: %s", SEC, page_no + 1, exc)
                break
            finally:
                pages += 1
            if page_no == 0:
                updated = page.updated
            skipped += page.skipped
            for entry in page.entries:
                old = entry.filing.accession in known or (
                    since is not None and entry.filing.accepted_at < since
                )
                if old:
                    reached = True
                else:
                    entries.append(entry)
            if reached or page.size < count:
                break
        return FilingsPage(merge_entries(entries), pages, skipped, reached, updated)
