"""The halts step: Nasdaq Trader's trade halts feed, polled at its own pace (every
`[halts] poll_seconds` of the feed's clock, a minute at least: the feed's ttl; the demo's
market runs faster than the wall), and its daily Rule 201
list (at the start, then about every `SSR_EVERY` seconds), both stored as they land and costing
no credits; and Rule 201 found by the rule itself in the quotes momoscan receives (`SsrRule`).

Only a collector polls (viewers read the tables). The cycle polls when a poll is due, first
thing, so a `--once` reads the feed once and the scheduler plans on fresh halts; a collector
also runs `watch` beside its cycles (attach.py), so the pace holds whatever a cycle's length.
Each poll owns its failure: one `Failure` line a source, carried to the cycle's report (a
poll between cycles hands it to the next one), never failing the cycle. Comparisons with "now"
use the market clock (the simulated market's in the demo); the pace is kept in wall seconds.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Protocol, TypeVar

import anyio

from .. import market_hours as mh
from ..halts import Halt, ShortSaleRestriction
from ..models import Quote, Session, Tick
from ..sources.errors import SourceError
from ..store import Store, StoreError
from .context import Failure, RefreshReport, StepContext, owned

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The two sources as a report names them (one line each; the client's own names).
HALTS_SOURCE = "Nasdaq Trader halts"
SSR_SOURCE = "Nasdaq Trader short sale list"
#: Wall seconds between two reads of the day's Rule 201 list (it grows during the day and is
#: complete at about 16:30 ET; public-feeds.md 2), and before another try after a failure.
SSR_EVERY = 1800.0
SSR_RETRY = 300.0
#: A feed generated longer ago than this (market seconds) in the regular session is stale:
#: Nasdaq Trader regenerates it at least once a minute (its ttl).
STALE_AFTER = 600.0
#: The scheduler puts a halted name first from this many market seconds before its announced
#: resumption until `RESUME_TAIL` after it (a resumption is where a runner moves)...
RESUME_LEAD = 60.0
RESUME_TAIL = 180.0
#: ...and the stream favours it from this far ahead: the hot set is chosen once a cycle, so
#: it looks further ahead than a cycle (a LULD pause lasts five minutes).
STREAM_LEAD = 300.0
#: Rule 201: a fall of this fraction below the previous close (SEC Release 34-61595).
RULE_FALL = 0.10


class HaltFeedLike(Protocol):
    """What `NasdaqTraderClient.halts` answers (sources/nasdaqtrader.py's `HaltFeed`):
    when the feed was generated (Unix seconds, None when it does not say), its halts, and how
    many items were skipped as malformed."""

    @property
    def generated_at(self) -> float | None: ...
    @property
    def halts(self) -> Sequence[Halt]: ...
    @property
    def skipped(self) -> int: ...


class SsrListLike(Protocol):
    """What `NasdaqTraderClient.ssr_list` answers (`SsrList`): the file's trade day, whether
    its closing timestamp row was there, its restrictions, and rows skipped."""

    @property
    def day(self) -> date: ...
    @property
    def complete(self) -> bool: ...
    @property
    def restrictions(self) -> Sequence[ShortSaleRestriction]: ...
    @property
    def skipped(self) -> int: ...


class HaltSource(Protocol):
    """The halts feed and the Rule 201 list (`NasdaqTraderClient`). Both raise
    `SourceError` with a sentence when they cannot answer (a missing day's list included)."""

    async def halts(self, day: date | None = None) -> HaltFeedLike: ...
    async def ssr_list(self, day: date) -> SsrListLike: ...


class HaltStep:
    """Polls the halts feed and the Rule 201 list for the engine (see the module docstring).

    Args:
        client: the feeds' client, or None when halts are not read (nothing is polled).
        poll_seconds: wall seconds between two reads of the halts feed.
        sleep: waits that many wall seconds (tests pass one that moves a fake clock).
    """

    def __init__(
        self,
        ctx: StepContext,
        client: HaltSource | None,
        *,
        poll_seconds: float,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ):
        self.ctx = ctx
        self.client = client
        self.poll_seconds = poll_seconds
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._polled_at = -math.inf  # wall seconds of the last poll's start
        self._ssr_due = -math.inf  # wall seconds when the list is read next
        self._stale = False
        #: What polls between cycles found wrong, for the next cycle's report.
        self._failures: dict[tuple[str, str], Failure] = {}
        self._notes: list[str] = []
        self._listeners: list[Callable[[], None]] = []
        self._after_poll: list[Callable[[], Awaitable[None]]] = []
        self.polls = 0

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def listen(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) after each poll that stored something: the
        collector tells its viewers to read the tables again."""
        self._listeners.append(callback)

    def after_poll(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Await `hook` after each poll between cycles (`watch`) that stored something: the
        alerts step evaluates the halt, resume and ssr rules then. (A cycle's own poll needs
        none: the cycle evaluates every rule at its end.) The hook owns its failures."""
        self._after_poll.append(hook)

    @property
    def pace(self) -> float:
        """Wall seconds between two polls: `poll_seconds` of the feed's own clock, which in
        the demo is the simulated market's (at 5x, its minute is 12 wall seconds: a 5-minute
        LULD pause is seen while it lasts, as it would be live)."""
        speed = float(getattr(self.ctx.clock, "speed", 1.0) or 1.0)
        return self.poll_seconds / max(1.0, speed)

    def due(self) -> bool:
        return self.ctx.wall() - self._polled_at >= self.pace

    async def run(self, report: RefreshReport) -> None:
        """In the cycle: poll when due (first, so the quotes are planned on fresh halts), and
        put on `report` what polls between cycles found wrong."""
        if self.client is None:
            return
        async with self._lock:
            if self.due():
                await self._poll(report)
            # One line a unit: this cycle's own try says it when it failed too.
            report.fail_between(self._failures)
            report.messages.extend(self._notes)
            self._notes.clear()

    async def watch(self) -> None:
        """Until cancelled: poll every `pace` wall seconds, beside the cycles. A
        database that cannot be written costs that poll (the cycle says why)."""
        if self.client is None:
            return
        while True:
            stored = False
            async with self._lock:
                if self.due():
                    scratch = RefreshReport(run_id=0)
                    try:
                        stored = await self._poll(scratch)
                    except (StoreError, sqlite3.Error) as exc:
                        log.info("halts not stored: %s", exc)
                    for failure in scratch.failures:
                        self._failures[(failure.source, failure.item)] = failure
                    self._notes.extend(scratch.messages)
            if stored:
                for hook in self._after_poll:
                    await hook()
            wait = self._polled_at + self.pace - self.ctx.wall()
            await self._sleep(max(1.0, wait))

    async def _poll(self, report: RefreshReport) -> bool:
        """One read of the feed (and of the Rule 201 list when due); whether it stored
        anything."""
        assert self.client is not None
        client = self.client
        ctx = self.ctx
        wall = ctx.wall()
        self._polled_at = wall
        self.polls += 1
        now = ctx.clock.now()
        stored = False
        feed = await owned(
            report,
            HALTS_SOURCE,
            "feed",
            lambda: _unprefixed(client.halts(), HALTS_SOURCE),
            then="the halts shown are those of the last read",
            side=True,
        )
        if feed is not None:
            self._failures.pop((HALTS_SOURCE, "feed"), None)
            if feed.skipped:
                log.info("trade halts: %d malformed items skipped", feed.skipped)
            await ctx.store.call(Store.store_halts, list(feed.halts), seen_at=now.timestamp())
            stored = True
            self._check_stale(feed.generated_at, now, report)
        if wall >= self._ssr_due:
            today = mh.current_trading_day(now).isoformat()
            restrictions = await owned(
                report,
                SSR_SOURCE,
                today,
                lambda: self._ssr_list(now),
                then="the restrictions shown are those of the last read",
                side=True,
            )
            if restrictions is None:
                self._ssr_due = wall + SSR_RETRY
            else:
                self._failures.pop((SSR_SOURCE, today), None)
                self._ssr_due = wall + SSR_EVERY
                await ctx.store.call(Store.store_restrictions, restrictions, seen_at=wall)
                stored = True
        if stored:
            for listener in self._listeners:
                listener()
        return stored

    async def _ssr_list(self, now: datetime) -> list[ShortSaleRestriction]:
        """Today's list, else the previous trading day's (today's is not out yet early in
        the day; either holds the triggers that restrict today).

        Raises:
            SourceError: neither could be read; the message says why for both.
        """
        assert self.client is not None
        today = mh.current_trading_day(now)
        try:
            answer = await self.client.ssr_list(today)
        except SourceError as first:
            before = mh.previous_trading_day(today)
            try:
                answer = await self.client.ssr_list(before)
            except SourceError as second:
                raise SourceError(
                    f"{_words(first, SSR_SOURCE)}; nor the day before's: "
                    f"{_words(second, SSR_SOURCE)}"
                ) from None
        if answer.skipped:
            log.info("Rule 201 list of %s: %d rows skipped", answer.day, answer.skipped)
        return list(answer.restrictions)

    def _check_stale(
        self, generated_at: float | None, now: datetime, report: RefreshReport
    ) -> None:
        """Say once (until it is fresh again) that the feed was generated too long ago, in
        the regular session only (outside it, an old feed may be all there is)."""
        if generated_at is None or mh.session_at(now) is not Session.OPEN:
            return
        age = now.timestamp() - generated_at
        if age <= STALE_AFTER:
            self._stale = False
            return
        if not self._stale:
            self._stale = True
            report.messages.append(
                f"Nasdaq Trader's trade halts feed was generated {int(age // 60)} minutes ago "
                "(it is regenerated every minute): halts since then may be missing."
            )


def _words(exc: SourceError, source: str) -> str:
    """The client's sentence without its leading name of the source (the report's line
    names it), nor its full stop."""
    text = str(exc).rstrip(".")
    head, _, rest = text.partition(": ")
    return rest if rest and head.startswith(source) else text


async def _unprefixed(answer: Awaitable[T], source: str) -> T:
    """`answer`, with a `SourceError`'s sentence said without the source's name."""
    try:
        return await answer
    except SourceError as exc:
        raise SourceError(_words(exc, source) + ".") from None


class SsrRule:
    """Rule 201 by the rule itself: a name whose regular-session price is 10% or more below
    its previous close gets a restriction (source "rule") for the quote's US/Eastern day,
    triggered at the quote's time; once a name and day."""

    def __init__(self, ctx: StepContext):
        self.ctx = ctx
        self._known: set[tuple[str, date]] = set()

    def _found(
        self, symbol: str, ts: float | None, fell: bool, out: list[ShortSaleRestriction]
    ) -> None:
        if not fell:
            return
        at = self.ctx.clock.now() if ts is None else datetime.fromtimestamp(ts, mh.ET)
        # The rule is the regular session's: a fall seen before the open triggers at it
        # (Nasdaq's lists show 9:30:00 and 9:30:01 triggers).
        if mh.session_at(at) is not Session.OPEN:
            return
        day = at.astimezone(mh.ET).date()
        if (symbol, day) in self._known:
            return
        out.append(ShortSaleRestriction(symbol, day, at.timestamp(), "rule"))

    def from_quotes(self, quotes: Sequence[Quote]) -> list[ShortSaleRestriction]:
        """The restrictions these polled quotes trigger that were not found before."""
        out: list[ShortSaleRestriction] = []
        for q in quotes:
            if q.extended:
                continue
            if q.prev_close:
                fell = q.price <= (1.0 - RULE_FALL) * q.prev_close + 1e-9
            else:
                fell = q.change_pct is not None and q.change_pct <= -RULE_FALL * 100.0
            self._found(q.symbol, q.quote_ts, fell, out)
        return out

    def from_ticks(self, ticks: Sequence[Tick]) -> list[ShortSaleRestriction]:
        """The restrictions these streamed trades trigger that were not found before."""
        out: list[ShortSaleRestriction] = []
        for t in ticks:
            fell = t.change_pct is not None and t.change_pct <= -RULE_FALL * 100.0 + 1e-9
            self._found(t.symbol, t.ts, fell, out)
        return out

    async def record(self, found: Sequence[ShortSaleRestriction]) -> None:
        """Store what `from_quotes`/`from_ticks` found (nothing is written when empty)."""
        if not found:
            return
        await self.ctx.store.call(Store.store_restrictions, list(found), seen_at=self.ctx.wall())
        self._known.update((r.symbol, r.trigger_day) for r in found)
