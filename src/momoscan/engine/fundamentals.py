"""The fundamentals step: each universe name's float and shares outstanding from SEC's
company facts (refreshed every `[sec] facts_refresh_days`, weekly by default), and FINRA's
short interest (a new settlement date twice a month) and consolidated short sale volume (a
file a trading day, posted by about 18:00 ET). Keyless and free of credits.

SEC requests all go through the process's one `SecHttp` (its limiter keeps the process under
SEC's 10 a second, the filings step's requests included), so this step never bursts past it;
it also spreads its own out:
- in the cycle (after the quotes, so the tables are known), the names that matter now: the
  watchlist, then the names on screen, up to `per_cycle` of them (the demo shows floats from
  its first screen);
- beside the cycles (`watch`, a collector's task), the rest of the universe at
  `per_second` requests a second at most, the most watched first.
A fair-access block (`SecBlocked`: a 403 page or a 429) stops every facts request until it is
lifted; without a User-Agent nothing is asked of SEC, and the report says once how to set it.

FINRA is read in the cycle: short interest once a trading day (only a settlement date newer
than the one stored is probed for), short volume at the start for the previous trading day
and after 18:00 ET for the day itself. Each unit owns its failure: one line a source on the
report, never failing the cycle (`Failure.side`).

Float as a share count is an ESTIMATE (`fundamentals.estimate_float`): the public float is a
dollar amount as of the filer's second fiscal quarter end, divided by a close on that date
when the store has one (intraday history), else by the latest close; capped at the shares
outstanding; the shares outstanding stand in without a public float.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import date
from typing import Protocol

import anyio

from .. import market_hours as mh
from .. import queries
from ..fundamentals import FloatFigure, ShortInterest, ShortVolume, estimate_float
from ..queries import fundamentals as fq
from ..sources.errors import SourceError
from ..sources.finra import short_volume_day
from ..store import SHORT_INTEREST_SETTLEMENT, SHORT_VOLUME_DAY, Store, StoreError
from .context import Failure, RefreshReport, StepContext, owned

log = logging.getLogger(__name__)

FACTS_SOURCE = "SEC company facts"
SI_SOURCE = "FINRA short interest"
SV_SOURCE = "FINRA short volume"
#: Names on screen whose facts a cycle fetches at most (the SEC limiter paces them).
PER_CYCLE = 40
#: Facts requests a second beside the cycles (SEC allows 10 for all of a user's traffic).
PER_SECOND = 2.0
#: Names the background task takes at a time before it looks at the order again.
BACKGROUND_BATCH = 20
#: Wall seconds the background task waits when nothing is due.
IDLE_WAIT = 600.0
#: Wall seconds before a company whose facts failed (cut off, 5xx) is asked again.
FACTS_RETRY = 3600.0
#: Wall seconds before FINRA is asked again after a failure or a missing file.
FINRA_RETRY = 1800.0
#: Wall seconds before probing again for a short interest file newer than the stored one.
SI_RECHECK = 3 * 3600.0


class CompanyFactsLike(Protocol):
    """What `SecFactsClient.company` answers (sources/sec_facts.py's `CompanyFacts`)."""

    @property
    def shares_outstanding(self) -> int | None: ...
    @property
    def shares_as_of(self) -> date | None: ...
    @property
    def public_float_usd(self) -> float | None: ...
    @property
    def float_as_of(self) -> date | None: ...


class FactsSource(Protocol):
    """SEC's company facts (`SecFactsClient`); raises `SourceError` (`SecBlocked` included)."""

    async def company(self, cik: int) -> CompanyFactsLike: ...


class ShortInterestLike(Protocol):
    @property
    def settlement(self) -> date: ...
    @property
    def rows(self) -> Sequence[ShortInterest]: ...


class ShortVolumeLike(Protocol):
    @property
    def day(self) -> date: ...
    @property
    def rows(self) -> Sequence[ShortVolume]: ...


class FinraSource(Protocol):
    """FINRA's files (`FinraClient`); raises `SourceError` (`FinraNotPublished` for a file
    not out yet)."""

    async def short_interest(
        self,
        today: date,
        universe: Collection[str] | None = None,
        *,
        newer_than: date | None = None,
    ) -> ShortInterestLike: ...

    async def short_volume(
        self, day: date, universe: Collection[str] | None = None
    ) -> ShortVolumeLike: ...


#: symbols -> {symbol: CIK} for those the SEC's ticker map knows.
CikLookup = Callable[[Sequence[str]], Awaitable[dict[str, int]]]


def fetch_order(
    universe: Sequence[str], watchlist: Sequence[str], on_screen: Sequence[str]
) -> list[str]:
    """The universe's symbols in the order their facts are worth fetching: the watchlist,
    then the names on screen, then the rest (the universe's own order)."""
    members = set(universe)
    first = [s for s in (*watchlist, *on_screen) if s in members]
    return list(dict.fromkeys([*first, *universe]))


class FundamentalsStep:
    """Fetches floats, short interest and short volume for the engine (module docstring).

    Args:
        facts: SEC's company facts, or None when they are not read (`off_reason` says why,
            once, in the first report: no User-Agent configured).
        finra: FINRA's files, or None when they are not read.
        ciks: symbols -> CIKs (the SEC ticker map the filings step keeps; by default
            `queries.filings.cik_map` on the store).
        refresh_days: a float figure older than this many days is fetched again.
        per_cycle: names on screen a cycle fetches at most.
        per_second: facts requests a second beside the cycles.
        sleep: waits that many wall seconds (tests pass one that moves a fake clock).
    """

    def __init__(
        self,
        ctx: StepContext,
        facts: FactsSource | None,
        finra: FinraSource | None,
        *,
        ciks: CikLookup | None = None,
        refresh_days: float = 7.0,
        per_cycle: int = PER_CYCLE,
        per_second: float = PER_SECOND,
        off_reason: str = "",
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ):
        self.ctx = ctx
        self.facts = facts
        self.finra = finra
        self._ciks = ciks or self._stored_ciks
        self.refresh_seconds = refresh_days * 86400.0
        self.per_cycle = per_cycle
        self.per_second = per_second
        self._sleep = sleep
        self._off_reason = off_reason
        self._said_off = False
        self._inflight: set[int] = set()
        self._failed: dict[int, float] = {}  # CIK -> wall seconds it may be asked again
        self._blocked_until = -math.inf  # wall seconds
        self._si_checked: date | None = None  # the ET day short interest was last probed
        self._si_due = -math.inf  # wall seconds
        self._sv_due = -math.inf
        self._failures: dict[tuple[str, str], Failure] = {}
        self._listeners: list[Callable[[], None]] = []
        self.fetched = 0

    @property
    def enabled(self) -> bool:
        return self.facts is not None or self.finra is not None

    def listen(self, callback: Callable[[], None]) -> None:
        """Call `callback` after the background task stored figures (viewers read again)."""
        self._listeners.append(callback)

    async def _stored_ciks(self, symbols: Sequence[str]) -> dict[str, int]:
        from ..queries.filings import cik_map

        return await self.ctx.store.call(cik_map, list(symbols))

    # -- the cycle ---------------------------------------------------------------------------

    async def run(self, report: RefreshReport) -> None:
        """In the cycle: FINRA's files when due, then the facts of the names that matter now
        (watchlist, on screen) that are due; and what the background task found wrong."""
        if self.facts is None and self._off_reason and not self._said_off:
            self._said_off = True
            report.messages.append(self._off_reason)
        if self.finra is not None:
            await self._finra(report)
        if self.facts is not None:
            order = await self._order(screen_only=True)
            due = await self._due(order, self.per_cycle)
            await self._fetch(due, report, pace=0.0)
        report.fail_between(self._failures)

    async def watch(self) -> None:
        """Until cancelled: the rest of the universe's facts, `per_second` at most, the most
        watched first; a database that cannot be written costs that batch."""
        if self.facts is None:
            return
        while True:
            wait = IDLE_WAIT
            try:
                blocked = self._blocked_until - self.ctx.wall()
                if blocked > 0:
                    wait = blocked
                else:
                    due = await self._due(await self._order(screen_only=False), BACKGROUND_BATCH)
                    if due:
                        scratch = RefreshReport(run_id=0)
                        stored = await self._fetch(due, scratch, pace=1.0 / self.per_second)
                        for failure in scratch.failures:
                            self._failures[(failure.source, failure.item)] = failure
                        if stored:
                            for listener in self._listeners:
                                listener()
                        wait = 1.0 / self.per_second
            except (StoreError, sqlite3.Error) as exc:
                log.info("facts not stored: %s", exc)
            except Exception:
                # A bug must not end the collector's task group: said in the log, tried later.
                log.exception("%s: the background fetch failed unexpectedly", FACTS_SOURCE)
            await self._sleep(wait)

    # -- facts -------------------------------------------------------------------------------

    async def _order(self, *, screen_only: bool) -> list[str]:
        ctx = self.ctx
        tiers = ctx.settings.universe.cap_tiers
        # The tables as filtered ([scan] max_float, min_float): a name whose float is not
        # known yet stays in them, so it is the one to read first.
        on_screen = await ctx.store.call(
            queries.hot_symbols,
            tiers,
            ctx.settings.universe.min_price,
            ctx.settings.scan.float_bounds,
        )
        watched = ctx.watched()
        if screen_only:
            return list(dict.fromkeys([*watched, *on_screen]))
        universe = await ctx.store.call(queries.universe_symbol_list)
        return fetch_order([*universe, *watched], watched, on_screen)

    async def _due(self, order: Sequence[str], limit: int) -> list[tuple[str, int]]:
        """Up to `limit` (symbol, CIK) of `order` whose figure is missing or older than the
        refresh period, in order; a CIK once (its first symbol; the others share its facts)."""
        if not order or limit <= 0:
            return []
        fetched = await self.ctx.store.call(fq.float_fetched, list(order))
        stale_before = self.ctx.wall() - self.refresh_seconds
        stale = [s for s in order if fetched.get(s, -math.inf) < stale_before]
        if not stale:
            return []
        ciks = await self._ciks(stale)
        out: list[tuple[str, int]] = []
        seen: set[int] = set()
        wall = self.ctx.wall()
        for symbol in stale:
            cik = ciks.get(symbol)
            if cik is None or cik in seen or cik in self._inflight:
                continue
            if self._failed.get(cik, -math.inf) > wall:
                continue
            seen.add(cik)
            out.append((symbol, cik))
            if len(out) >= limit:
                break
        return out

    async def _fetch(
        self, due: Sequence[tuple[str, int]], report: RefreshReport, *, pace: float
    ) -> bool:
        """Fetch and store the facts of `due`; whether anything was stored. A fair-access
        block stops the rest (said once); another failure costs that company only."""
        from ..sources.sec import SecBlocked, SecUserAgentMissing

        assert self.facts is not None
        facts = self.facts
        if not due or self.ctx.wall() < self._blocked_until:
            return False
        got: dict[int, CompanyFactsLike] = {}
        for n, (symbol, cik) in enumerate(due):
            if n and pace > 0:
                await self._sleep(pace)
            self._inflight.add(cik)
            try:
                answer = await facts.company(cik)
            except SecBlocked as exc:
                self._blocked_until = self.ctx.wall() + exc.retry_after
                report.fail(FACTS_SOURCE, "fair access", _words(exc), side=True)
                break
            except SecUserAgentMissing as exc:
                self._blocked_until = math.inf
                report.fail(FACTS_SOURCE, "User-Agent", _words(exc), side=True)
                break
            except SourceError as exc:
                self._failed[cik] = self.ctx.wall() + FACTS_RETRY
                report.fail(FACTS_SOURCE, symbol, _words(exc), side=True)
                continue
            except Exception:
                self._failed[cik] = self.ctx.wall() + FACTS_RETRY
                log.exception("%s (%s) failed unexpectedly", FACTS_SOURCE, symbol)
                report.fail(
                    FACTS_SOURCE,
                    symbol,
                    "failed unexpectedly; the log file has the details",
                    side=True,
                )
                continue
            finally:
                self._inflight.discard(cik)
            got[cik] = answer
            self._failed.pop(cik, None)
            self.fetched += 1
        if not got:
            return False
        # Every universe symbol of a fetched CIK (share classes) takes its figures.
        universe = await self.ctx.store.call(queries.universe_symbol_list)
        cik_of = {**await self._ciks([*universe, *self.ctx.watched()]), **dict(due)}
        symbols = [s for s, c in cik_of.items() if c in got]
        closes = await self.ctx.store.call(
            fq.closes_for_float, {s: got[cik_of[s]].float_as_of for s in symbols}
        )
        now = self.ctx.wall()
        figures = []
        for symbol in symbols:
            f = got[cik_of[symbol]]
            at_date, recent = closes.get(symbol, (None, None))
            float_shares, basis = estimate_float(
                f.shares_outstanding,
                f.public_float_usd,
                close_at_float_date=at_date,
                recent_close=recent,
            )
            figures.append(
                FloatFigure(
                    symbol=symbol,
                    cik=cik_of[symbol],
                    shares_outstanding=f.shares_outstanding,
                    shares_as_of=f.shares_as_of,
                    public_float_usd=f.public_float_usd,
                    float_as_of=f.float_as_of,
                    float_shares=float_shares,
                    float_basis=basis,
                    fetched_at=now,
                )
            )
        await self.ctx.store.call(Store.store_floats, figures)
        return True

    # -- FINRA -------------------------------------------------------------------------------

    async def _finra(self, report: RefreshReport) -> None:
        assert self.finra is not None
        finra = self.finra
        ctx = self.ctx
        now = ctx.clock.now()
        wall = ctx.wall()
        today = now.astimezone(mh.ET).date()
        universe: list[str] | None = None

        async def members() -> list[str]:
            nonlocal universe
            if universe is None:
                held = await ctx.store.call(queries.universe_symbol_list)
                universe = list(dict.fromkeys([*held, *ctx.watched()]))
            return universe

        if self._si_checked != today and wall >= self._si_due:
            await self._short_interest(report, today, await members())
        wanted = short_volume_day(now)
        if wall >= self._sv_due:
            stored_day = await ctx.store.call(Store.get_meta, SHORT_VOLUME_DAY)
            if not stored_day or stored_day < wanted.isoformat():
                symbols = await members()
                volume = await owned(
                    report,
                    SV_SOURCE,
                    wanted.isoformat(),
                    lambda: finra.short_volume(wanted, symbols),
                    then="the short volume shown is of the last file read",
                    side=True,
                )
                if volume is None or volume.day < wanted:
                    self._sv_due = wall + FINRA_RETRY
                if volume is not None:
                    await ctx.store.call(Store.store_short_volume, list(volume.rows))

    async def _short_interest(self, report: RefreshReport, today: date, symbols: list[str]) -> None:
        """The newest settlement's file, when one newer than the stored one is out."""
        from ..sources.finra import FinraNotPublished

        assert self.finra is not None
        ctx = self.ctx
        wall = ctx.wall()
        stored = await ctx.store.call(Store.get_meta, SHORT_INTEREST_SETTLEMENT)
        newer_than = date.fromisoformat(stored) if stored else None
        try:
            answer = await self.finra.short_interest(today, symbols, newer_than=newer_than)
        except FinraNotPublished as exc:
            if newer_than is None:
                report.fail(SI_SOURCE, "newest settlement", str(exc), side=True)
                self._si_due = wall + FINRA_RETRY
            else:
                # The usual case between two publications: the stored file is the newest.
                log.info("%s: nothing newer than %s yet (%s)", SI_SOURCE, newer_than, exc)
                self._si_due = wall + SI_RECHECK
            return
        except SourceError as exc:
            message = f"{str(exc).rstrip('.')}; the short interest shown is of the last file read"
            report.fail(SI_SOURCE, "newest settlement", message, side=True)
            self._si_due = wall + FINRA_RETRY
            return
        except Exception:
            # An answer nobody foresaw costs this source alone, never the cycle.
            log.exception("%s failed unexpectedly", SI_SOURCE)
            message = "failed unexpectedly; the log file has the details"
            report.fail(SI_SOURCE, "newest settlement", message, side=True)
            self._si_due = wall + FINRA_RETRY
            return
        self._si_checked = today
        await ctx.store.call(Store.store_short_interest, list(answer.rows))


def _words(exc: Exception) -> str:
    """The client's sentence without its leading name of the source (the report's line
    names it): "CIK 320193: the answer is not whole JSON ..."."""
    text = str(exc)
    prefix = f"{FACTS_SOURCE} of "
    return text[len(prefix) :] if text.startswith(prefix) else text
