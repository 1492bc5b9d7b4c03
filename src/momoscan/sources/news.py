"""Finnhub's company news, the optional news provider: one symbol's articles of a span of days,
each as a `NewsItem` that becomes a `Filing` of form "NEWS" (so rows, cards and JSON show it
as they show a filing: "NEWS · 14m").

Wire facts (reference/public-feeds.md §5.1, Finnhub's API documentation):
- `GET {base}/company-news?symbol=AAPL&from=YYYY-MM-DD&to=YYYY-MM-DD`, the key in the
  `X-Finnhub-Token` header (Finnhub also takes `token=` in the query; momoscan never puts a key
  in a URL).
- The answer is a JSON array of articles: `datetime` (Unix seconds, UTC), `headline`, `id`
  (an integer), `url`, `source` ("Reuters"), `related` (the symbol asked), `category`,
  `summary`, `image`; an error is an object `{"error": "..."}`.
- 401 or 403: the key was refused; 429: over the plan's pace.
- The free tier allows 60 calls a minute (UNVERIFIED: Finnhub's pricing page, not confirmed
  against a live key), so a client sends at most `per_minute` (60) in any 60 seconds.
- Whether `from`/`to` are UTC or US/Eastern dates is UNVERIFIED; the caller asks by ET day.

Outside text (headlines, sources, links, error messages) is cleaned (`sanitize.clean`) where
it is read. The key never appears in a message, even when a server echoes it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import anyio
import httpx

from ..filings import Filing
from ..sanitize import clean
from .errors import AuthError, MalformedResponse, RateLimited, SourceError
from .http import Sleep, get_with_retries

log = logging.getLogger(__name__)

FINNHUB = "Finnhub news"
DEFAULT_BASE_URL = "https://finnhub.io/api/v1"
#: Finnhub's free tier: 60 calls a minute (UNVERIFIED, see the module docstring).
FREE_PER_MINUTE = 60
#: Seconds to stay away after a 429 that names no Retry-After.
BACKOFF_SECONDS = 60.0
#: The longest headline kept (characters); a row shows far fewer.
MAX_HEADLINE = 300
#: The form a news item is stored under (`Filing.form`).
NEWS_FORM = "NEWS"


@dataclass(frozen=True, slots=True)
class NewsItem:
    """One article: `id` Finnhub's, `at` Unix seconds (UTC instant), `headline`, `url`,
    `source` ("Reuters") and `related` (the symbols Finnhub relates it to) as cleaned text;
    `symbol` the symbol it was asked for."""

    id: int
    symbol: str
    at: float
    headline: str
    url: str
    source: str
    related: str

    def filing(self) -> Filing:
        """The item as the filings' record: form "NEWS", accession "finnhub:<id>", the
        headline as `company`, kind "news", no items, no CIK (0)."""
        return Filing(
            accession=f"finnhub:{self.id}",
            cik=0,
            symbol=self.symbol,
            form=NEWS_FORM,
            items=(),
            accepted_at=self.at,
            company=self.headline,
            url=self.url,
            kind="news",
        )


@dataclass(frozen=True, slots=True)
class NewsPage:
    """A symbol's articles (newest first) and how many were skipped as malformed."""

    items: list[NewsItem]
    skipped: int = 0


def _item(raw: object, symbol: str) -> NewsItem | None:
    if not isinstance(raw, dict):
        return None
    ident, at, headline = raw.get("id"), raw.get("datetime"), raw.get("headline")
    url, source, related = raw.get("url", ""), raw.get("source", ""), raw.get("related", "")
    if isinstance(ident, bool) or not isinstance(ident, int) or ident < 0:
        return None
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        return None
    if not math.isfinite(at) or at <= 0:
        return None
    if not isinstance(headline, str) or not all(isinstance(v, str) for v in (url, source, related)):
        return None
    text = " ".join(clean(headline).split())[:MAX_HEADLINE]
    link = clean(str(url)).strip()
    if not text:
        return None
    if link and not link.startswith(("https://", "http://")):
        link = ""
    return NewsItem(
        id=ident,
        symbol=symbol,
        at=float(at),
        headline=text,
        url=link,
        source=clean(str(source)).strip(),
        related=clean(str(related)).strip(),
    )


def parse_company_news(body: bytes, symbol: str, *, secret: str = "") -> NewsPage:
    """Finnhub's company-news answer as `NewsPage` (newest first); an article that is not in
    the documented shape is logged and skipped.

    Raises:
        MalformedResponse: not JSON, or neither an array nor Finnhub's error object (whose
            text is said, cleaned, with `secret` taken out).
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponse(f"{FINNHUB} for {symbol}: the answer is not JSON.") from None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        said = _said(data["error"], secret)
        raise SourceError(f"{FINNHUB} for {symbol}: Finnhub said {said!r}.")
    if not isinstance(data, list):
        raise MalformedResponse(f"{FINNHUB} for {symbol}: the answer is not a list of articles.")
    items: list[NewsItem] = []
    skipped = 0
    for raw in data:
        item = _item(raw, symbol)
        if item is None:
            skipped += 1
            continue
        items.append(item)
    if skipped:
        log.info("%s for %s: %d malformed articles skipped", FINNHUB, symbol, skipped)
    items.sort(key=lambda i: (-i.at, -i.id))
    return NewsPage(items, skipped)


def _said(text: str, secret: str) -> str:
    flat = " ".join(clean(text).split())
    if secret:
        flat = flat.replace(secret, "***")
    return flat if len(flat) <= 80 else flat[:79] + "…"


class FinnhubNews:
    """Finnhub's company news, at most `per_minute` requests in any 60 seconds.

    Args:
        http: the HTTP client (no key in its headers; this client sends the key itself).
        api_key: the Finnhub key, sent only in the `X-Finnhub-Token` header.
        base_url: the API root ("https://finnhub.io/api/v1").
        per_minute: requests in any 60 seconds (the free tier's 60; UNVERIFIED).
        clock: monotonic seconds; sleep: waits between retries (tests pass fake ones).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        per_minute: int = FREE_PER_MINUTE,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ):
        self._http = http
        self._key = api_key
        self._base = base_url.rstrip("/")
        self.per_minute = max(1, per_minute)
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._blocked_until = -math.inf

    def room(self) -> int:
        """Requests that may be sent now without passing `per_minute` (0 while backing off)."""
        now = self._clock()
        if now < self._blocked_until:
            return 0
        while self._sent and self._sent[0] <= now - 60.0:
            self._sent.popleft()
        return self.per_minute - len(self._sent)

    async def company_news(self, symbol: str, start: date, end: date) -> NewsPage:
        """`symbol`'s articles published from `start` to `end` (dates, both included).

        Raises:
            RateLimited: a 429 (nothing is sent for its Retry-After, else 60 s), or this
                client's own pace is used up (nothing was sent).
            AuthError: 401 or 403, the key was refused.
            MalformedResponse: the answer is not the documented array.
            ServiceError: 5xx, timeouts or connection failures after retries.
            SourceError: any other status, or Finnhub's error object.
        """
        what = f"{FINNHUB} for {symbol}"
        if self._clock() < self._blocked_until:
            wait = self._blocked_until - self._clock()
            raise RateLimited(f"{what}: backing off after a 429, {wait:.0f} s more.")
        if self.room() <= 0:
            raise RateLimited(
                f"{what}: {self.per_minute} requests a minute used; the rest wait for the next "
                "poll."
            )
        self._sent.append(self._clock())
        response = await get_with_retries(
            self._http,
            f"{self._base}/company-news",
            params={"symbol": symbol, "from": start.isoformat(), "to": end.isoformat()},
            headers={"X-Finnhub-Token": self._key},
            what=what,
            timeout=self._timeout,
            attempts=3,
            sleep=self._sleep,
        )
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"{FINNHUB}: the key was refused (HTTP {status}); check [news] api_key or "
                "FINNHUB_API_KEY."
            )
        if status == 429:
            try:
                wait = max(1.0, float(response.headers.get("retry-after", "")))
            except ValueError:
                wait = BACKOFF_SECONDS
            self._blocked_until = self._clock() + wait
            raise RateLimited(f"{what}: too many requests (HTTP 429); backing off {wait:.0f} s.")
        if status != 200:
            raise SourceError(f"{what}: answered HTTP {status}.")
        return parse_company_news(response.content, symbol, secret=self._key)
