"""The filings step: SEC EDGAR's current-filings feed, polled during EDGAR's day (04:00-20:00
ET on weekdays, on the market clock) every `[sec] poll_seconds` of the feed's clock (the
demo's market runs faster than the wall, as for the halts feed), its filings mapped to the
universe through the SEC's ticker map (read once a day) and stored as they land, costing no
credits.

Only a collector polls (viewers read the tables). Like the halts step, the cycle polls when a
poll is due, first thing, and a collector also runs `watch` beside its cycles (attach.py).
Each read owns its failure: a 403 or 429 (a fair-access block: `SecHttp` sends nothing for
ten minutes or more) or an unreachable host is one line of the cycle's report, never the
cycle's failure. Without a User-Agent the step is off: one log line says how to set it.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, time
from typing import Protocol, TypeVar

import anyio

from .. import market_hours as mh
from .. import queries
from ..filings import Filing
from ..sources.errors import SourceError
from ..store import Store, StoreError
from .context import Failure, RefreshReport, StepContext, owned

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The source as a report names it (one line a unit: "current filings", "ticker map").
SEC_SOURCE = "SEC EDGAR"
#: EDGAR's day as polled (US/Eastern): the extended session's hours.
DAY_START = time(4, 0)
DAY_END = time(20, 0)
#: Wall seconds between two reads of the ticker map (it changes with listings, daily at most).
TICKERS_EVERY = 86400.0
#: After a failed read of the ticker map, wall seconds before another try.
TICKERS_RETRY = 900.0
#: A restart pages back to the newest filing read before, less this (market seconds), so a
#: filing accepted in the same second is not missed.
SEEN_SLACK = 300.0
#: Accessions remembered (market seconds) to know where the new ones end.
REMEMBER = 2 * 86400.0


class FilingsPageLike(Protocol):
    """What `SecClient.current_filings` answers (sources/sec.py's `FilingsPage`)."""

    @property
    def filings(self) -> Sequence[Filing]: ...
    @property
    def pages(self) -> int: ...
    @property
    def skipped(self) -> int: ...


class FilingsSource(Protocol):
    """The ticker map and the current-filings feed (`SecClient`). Both raise `SourceError`
    with a sentence when they cannot answer."""

    async def ticker_map(self) -> list[tuple[int, str, str, str]]: ...

    async def current_filings(
        self,
        known: Collection[str] = (),
        *,
        since: float | None = None,
        count: int = 100,
        max_pages: int = 40,
    ) -> FilingsPageLike: ...


def edgar_hours(now: datetime) -> bool:
    """Whether `now` is in the polled day: a weekday, 04:00-20:00 US/Eastern."""
    et = now.astimezone(mh.ET)
    return et.weekday() < 5 and DAY_START <= et.time() < DAY_END


class FilingsStep:
    """Polls SEC EDGAR for the engine (see the module docstring).

    Args:
        client: the SEC client, or None when the SEC is not read (nothing is polled).
        poll_seconds: seconds of the market clock between two reads of the feed.
        off_reason: why `client` is None, said once in the log (how to set the User-Agent).
        sleep: waits that many wall seconds (tests pass one that moves a fake clock).
    """

    def __init__(
        self,
        ctx: StepContext,
        client: FilingsSource | None,
        *,
        poll_seconds: float,
        off_reason: str = "",
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ):
        self.ctx = ctx
        self.client = client
        self.poll_seconds = poll_seconds
        self.off_reason = off_reason
        self._said_off = False
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._polled_at = -math.inf  # wall seconds of the last poll's start
        self._tickers_due = -math.inf  # wall seconds when the ticker map is read next
        self._seen: dict[str, float] = {}  # accession -> accepted_at, read from the feed
        self._failures: dict[tuple[str, str], Failure] = {}
        self._listeners: list[Callable[[], None]] = []
        self.polls = 0

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def listen(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) after each poll that stored new filings."""
        self._listeners.append(callback)

    @property
    def pace(self) -> float:
        """Wall seconds between two polls: `poll_seconds` of the market clock (at the demo's
        5x, a minute of the feed is 12 wall seconds)."""
        speed = float(getattr(self.ctx.clock, "speed", 1.0) or 1.0)
        return self.poll_seconds / max(1.0, speed)

    def due(self) -> bool:
        return self.ctx.wall() - self._polled_at >= self.pace

    def _off(self) -> bool:
        """True (and the reason logged, once a run) when the SEC is not read."""
        if self.client is not None:
            return False
        if self.off_reason and not self._said_off:
            self._said_off = True
            log.warning("%s", self.off_reason)
        return True

    async def run(self, report: RefreshReport) -> None:
        """In the cycle: poll when due, and put on `report` what polls between cycles found
        wrong (one line a unit)."""
        if self._off():
            return
        async with self._lock:
            if self.due():
                await self._poll(report)
            report.fail_between(self._failures)

    async def watch(self) -> None:
        """Until cancelled: poll every `pace` wall seconds, beside the cycles."""
        if self._off():
            return
        while True:
            async with self._lock:
                if self.due():
                    scratch = RefreshReport(run_id=0)
                    try:
                        await self._poll(scratch)
                    except (StoreError, sqlite3.Error) as exc:
                        log.info("filings not stored: %s", exc)
                    for failure in scratch.failures:
                        self._failures[(failure.source, failure.item)] = failure
            wait = self._polled_at + self.pace - self.ctx.wall()
            await self._sleep(max(1.0, wait))

    async def _poll(self, report: RefreshReport) -> int:
        """One read of the feed (and of the ticker map when due); how many filings were new."""
        assert self.client is not None
        ctx = self.ctx
        wall = ctx.wall()
        self._polled_at = wall
        now = ctx.clock.now()
        if not edgar_hours(now):
            return 0
        self.polls += 1
        await self._tickers(report, wall)
        by_cik = await ctx.store.call(_universe_ciks)
        if not by_cik:
            return 0  # no map yet (its failure is said), or no universe yet
        since = await self._since(now.timestamp())
        client = self.client
        page = await owned(
            report,
            SEC_SOURCE,
            "current filings",
            lambda: _unprefixed(client.current_filings(tuple(self._seen), since=since)),
            then="the filings shown are those of the last read",
            side=True,
        )
        if page is None:
            return 0
        self._failures.pop((SEC_SOURCE, "current filings"), None)
        if page.skipped:
            log.info("SEC current filings: %d malformed entries skipped", page.skipped)
        for f in page.filings:
            self._seen[f.accession] = f.accepted_at
        newest = max((f.accepted_at for f in page.filings), default=None)
        self._forget(now.timestamp())
        mine = [replace(f, symbol=by_cik[f.cik][0]) for f in page.filings if f.cik in by_cik]
        added = await ctx.store.call(Store.store_filings, mine, seen_at=newest)
        if added:
            for listener in self._listeners:
                listener()
        return int(added)

    async def _tickers(self, report: RefreshReport, wall: float) -> None:
        """Read the ticker map when the stored one is a day old (or missing); a failed read
        keeps the stored map and is tried again in `TICKERS_RETRY`."""
        if wall < self._tickers_due:
            return
        assert self.client is not None
        client = self.client
        fetched = await self.ctx.store.call(Store.sec_tickers_fetched_at)
        if fetched is not None and wall - fetched < TICKERS_EVERY:
            self._tickers_due = fetched + TICKERS_EVERY
            return
        then = (
            "the map read before is kept"
            if fetched is not None
            else "filings are not mapped to symbols until it is read"
        )
        rows = await owned(
            report,
            SEC_SOURCE,
            "ticker map",
            lambda: _unprefixed(client.ticker_map()),
            then=then,
            side=True,
        )
        if rows is None:
            self._tickers_due = wall + TICKERS_RETRY
            return
        self._failures.pop((SEC_SOURCE, "ticker map"), None)
        await self.ctx.store.call(Store.replace_sec_tickers, rows, fetched_at=wall)
        self._tickers_due = wall + TICKERS_EVERY

    async def _since(self, now: float) -> float:
        """How far back this poll pages: to the newest filing read before (less a slack),
        and never before today's midnight (US/Eastern)."""
        midnight = datetime.combine(
            datetime.fromtimestamp(now, mh.ET).date(), time(0, 0), tzinfo=mh.ET
        ).timestamp()
        if self._seen:
            newest = max(self._seen.values())
        else:
            stored: float | None = await self.ctx.store.call(Store.filings_seen_at)
            newest = -math.inf if stored is None else stored
        return max(midnight, newest - SEEN_SLACK)

    def _forget(self, now: float) -> None:
        old = [a for a, at in self._seen.items() if at < now - REMEMBER]
        for accession in old:
            del self._seen[accession]


async def _unprefixed(answer: Awaitable[T]) -> T:
    """`answer`, with a `SourceError`'s sentence said without its leading "SEC EDGAR ...: "
    (the report's line names the source and the unit)."""
    try:
        return await answer
    except SourceError as exc:
        text = str(exc)
        head, _, rest = text.partition(": ")
        raise SourceError(rest if rest and head.startswith(SEC_SOURCE) else text) from None


def _universe_ciks(store: Store) -> dict[int, list[str]]:
    """CIK -> the universe symbols it maps to (sorted), from the stored ticker map."""
    out: dict[int, list[str]] = {}
    for symbol, cik in sorted(queries.cik_map(store).items()):
        out.setdefault(cik, []).append(symbol)
    return out
