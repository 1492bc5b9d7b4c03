"""The news step: the optional news provider (Finnhub's company news, with the user's key)
asked for the names that matter now, the watchlist first, then the names on screen, at most
`per_poll` (30) a poll every `[news] poll_seconds` of the wall clock, during 04:00-20:00 ET on
weekdays (the market clock), within the provider's 60 requests a minute (the client's own
pace). Each article is stored as a `Filing` of form "NEWS" (accession "finnhub:<id>"), so the
row's catalyst mark, the card and the JSON show it as they show a filing.

Only a collector polls, in its cycles (after the filings). Off (silently) without a provider and
a key. A failure costs this step only: one line of the cycle's report, and the poll stops there
(a refused key or a 429 would refuse the next names too).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from .. import market_hours as mh
from .. import queries
from ..filings import Filing
from ..sources.errors import MalformedResponse, SourceError
from ..store import Store
from .context import RefreshReport, StepContext
from .filings import edgar_hours

log = logging.getLogger(__name__)

NEWS_SOURCE = "Finnhub news"
#: Names asked a poll at most (half the free tier's minute: two polls a minute stay within it).
PER_POLL = 30


class NewsItemLike(Protocol):
    def filing(self) -> Filing: ...


class NewsPageLike(Protocol):
    @property
    def items(self) -> Sequence[NewsItemLike]: ...


class NewsSource(Protocol):
    """A symbol's articles of a span of ET days (`FinnhubNews`); raises `SourceError` with a
    sentence when it cannot answer."""

    async def company_news(self, symbol: str, start: date, end: date) -> NewsPageLike: ...


class NewsStep:
    """Polls the news provider for the engine (see the module docstring).

    Args:
        client: the provider's client, or None when news is off.
        poll_seconds: wall seconds between two polls.
        per_poll: names asked a poll at most.
    """

    def __init__(
        self,
        ctx: StepContext,
        client: NewsSource | None,
        *,
        poll_seconds: float,
        per_poll: int = PER_POLL,
    ):
        self.ctx = ctx
        self.client = client
        self.poll_seconds = poll_seconds
        self.per_poll = per_poll
        self._polled_at = -math.inf
        self.polls = 0

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def due(self) -> bool:
        return self.ctx.wall() - self._polled_at >= self.poll_seconds

    async def names(self) -> list[str]:
        """The names to ask for, in order: the watchlist, then the names on screen."""
        ctx = self.ctx
        on_screen = await ctx.store.call(
            queries.hot_symbols, ctx.settings.universe.cap_tiers, ctx.settings.universe.min_price
        )
        return list(dict.fromkeys([*ctx.watched(), *on_screen]))[: self.per_poll]

    async def run(self, report: RefreshReport) -> int:
        """In the cycle: poll when due; returns how many articles were new."""
        if self.client is None or not self.due():
            return 0
        self._polled_at = self.ctx.wall()
        now = self.ctx.clock.now()
        if not edgar_hours(now):
            return 0
        self.polls += 1
        day = now.astimezone(mh.ET).date()
        found: list[Filing] = []
        malformed: list[str] = []
        for symbol in await self.names():
            try:
                page = await self.client.company_news(symbol, day, day)
            except MalformedResponse:
                malformed.append(symbol)
                continue
            except SourceError as exc:
                report.fail(
                    NEWS_SOURCE,
                    "company news",
                    f"{str(exc).rstrip('.')}; the news shown is of the last read",
                    side=True,
                )
                break
            except Exception:
                # A bug or an answer nobody foresaw costs this step, never the cycle.
                log.exception("%s for %s failed unexpectedly", NEWS_SOURCE, symbol)
                report.fail(
                    NEWS_SOURCE, "company news", "failed unexpectedly (see the log)", side=True
                )
                break
            found.extend(item.filing() for item in page.items)
        if malformed:
            report.fail(
                NEWS_SOURCE,
                "company news",
                f"answers not in the documented shape for {', '.join(malformed[:5])}"
                + (" ..." if len(malformed) > 5 else ""),
                side=True,
            )
        if not found:
            return 0
        return int(await self.ctx.store.call(Store.store_filings, found))
