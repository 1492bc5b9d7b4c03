"""The Engine: one refresh cycle runs the steps in order (universe, quotes, options), each
stored as it lands, and fills in one report.

The engine drives the sources and the store and knows nothing of screens: it reports progress
through a callback, which the TUI turns into messages and the headless CLI into a progress line.
All SQLite work runs on one dedicated thread (the single writer) so the event loop never waits
on the disk.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

import anyio

from .. import listings, queries, symbols
from .. import market_hours as mh
from ..clock import MarketClock
from ..config import Settings
from ..models import Progress, Session, Ticker
from ..sources.cboe import CboeClient
from ..sources.occ import OccClient
from ..sources.offload import THREADS, Offloader
from ..sources.ratelimit import CreditBudget
from ..sources.twelvedata import TwelveDataClient
from ..sources.twelvedata_ws import PriceStream
from ..sources.universe import UniverseSource
from ..store import Store, StoreError
from .alerts import AlertStep
from .context import ProgressCallback, RefreshFailed, RefreshReport, StepContext, owned
from .filings import FilingsSource, FilingsStep
from .fundamentals import FactsSource, FinraSource, FundamentalsStep
from .halts import HaltSource, HaltStep, SsrRule
from .news import NewsSource, NewsStep
from .options import OptionsStep
from .outcomes import OutcomeStep
from .profiles import ProfileStep
from .quotes import QuoteStep
from .store_thread import StoreThread
from .stream import StreamStep
from .universe import UniverseStep

log = logging.getLogger(__name__)


def _store_failure(exc: BaseException) -> BaseException | None:
    """The database error inside `exc` (an ExceptionGroup from a task group, say), if any:
    no unit of work owns it (`owned` lets it through); the cycle does, as a whole."""
    if isinstance(exc, StoreError | sqlite3.Error):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _store_failure(inner)
            if found is not None:
                return found
    return None


class Engine:
    """Runs refresh cycles over the steps it builds from the run's clients."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: StoreThread,
        quotes: TwelveDataClient,
        budget: CreditBudget,
        cboe: CboeClient,
        occ: OccClient,
        universe: UniverseSource,
        clock: MarketClock,
        mode: str,
        option_products: frozenset[str] = frozenset(),
        offload: Offloader = THREADS,
        wall: Callable[[], float] = time.time,
        stream: PriceStream | None = None,
        stream_max: int = 0,
        halts: HaltSource | None = None,
        filings: FilingsSource | None = None,
        filings_off: str = "",
        facts: FactsSource | None = None,
        finra: FinraSource | None = None,
        news: NewsSource | None = None,
    ):
        self.ctx = StepContext(settings, store, clock, mode, wall)
        self.universe_step = UniverseStep(self.ctx, universe)
        self.halt_step = HaltStep(self.ctx, halts, poll_seconds=settings.halts.poll_seconds)
        #: SEC EDGAR's current filings (off, said once, without a User-Agent).
        self.filings_step = FilingsStep(
            self.ctx, filings, poll_seconds=settings.sec.poll_seconds, off_reason=filings_off
        )
        #: The optional news provider (off without `[news] provider` and a key).
        self.news_step = NewsStep(self.ctx, news, poll_seconds=settings.news.poll_seconds)
        #: Float and shares outstanding (SEC company facts), short interest and short volume
        #: (FINRA); after the quotes, so the names on screen come first.
        self.fundamentals_step = FundamentalsStep(
            self.ctx, facts, finra, refresh_days=settings.sec.facts_refresh_days
        )
        #: Rule 201 by the rule, on the quotes the sweep and the stream bring.
        self.ssr_rule = SsrRule(self.ctx)
        self.stream_step = StreamStep(
            self.ctx, stream, max_symbols=stream_max, ssr_rule=self.ssr_rule
        )
        if stream is not None:
            stream.on_price = self.stream_step.on_price
        from .scheduler import make_scheduler  # numpy: with the engine, not the CLI

        self.scheduler = make_scheduler(
            settings.scan.scheduler, self.ctx, skip=self.stream_step.live
        )
        self.stream_step.favoured = self.scheduler.hottest
        self.quote_step = QuoteStep(
            self.ctx, quotes, budget, self.scheduler, ssr_rule=self.ssr_rule
        )
        self.options_step = OptionsStep(
            self.ctx, cboe, occ, option_products=option_products, offload=offload
        )
        self.alert_step = AlertStep(self.ctx)
        self.profile_step = ProfileStep(self.ctx, offload=offload)
        #: Signals and what followed them (the records), every few market minutes.
        self.outcome_step = OutcomeStep(self.ctx)
        self.stream_step.listen(lambda ticks: self.alert_step.moved([t.symbol for t in ticks]))
        self.halt_step.after_poll(self.alert_step.after_halts)
        self._watchlist_seeded = False
        #: The last cycle could not write the database: the next one opens it afresh.
        self._store_failed = False

    # -- what the screens and the CLI read ---------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def store(self) -> StoreThread:
        return self.ctx.store

    @property
    def clock(self) -> MarketClock:
        return self.ctx.clock

    @clock.setter
    def clock(self, clock: MarketClock) -> None:
        self.ctx.clock = clock

    @property
    def mode(self) -> str:
        return self.ctx.mode

    @property
    def universe(self) -> UniverseSource:
        return self.universe_step.source

    @universe.setter
    def universe(self, source: UniverseSource) -> None:
        self.universe_step.source = source

    @property
    def quotes(self) -> TwelveDataClient:
        return self.quote_step.client

    @property
    def budget(self) -> CreditBudget:
        return self.quote_step.budget

    @property
    def credit_note(self) -> str:
        return self.quote_step.credit_note

    @property
    def plan_limit_known(self) -> bool:
        return self.quote_step.plan_limit_known

    @plan_limit_known.setter
    def plan_limit_known(self, known: bool) -> None:
        self.quote_step.plan_limit_known = known

    async def run_stream(self) -> None:
        """Stream the hot set until cancelled (alongside the refresh loop; see StreamStep),
        and evaluate the alert rules on the names it moves."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.alert_step.watch_stream)
            await self.stream_step.run()
            tg.cancel_scope.cancel()

    async def run_halts(self) -> None:
        """Poll the halts feed at its own pace until cancelled, beside the cycles (a
        collector's task: see attach.py); returns at once when halts are not read."""
        await self.halt_step.watch()

    async def run_filings(self) -> None:
        """Poll SEC EDGAR's current filings at their own pace until cancelled, beside the
        cycles (a collector's task: see attach.py); returns at once when the SEC is not read."""
        await self.filings_step.watch()

    async def run_fundamentals(self) -> None:
        """Fetch the rest of the universe's company facts at their own pace until cancelled,
        beside the cycles (a collector's task: see attach.py); returns at once when the SEC is
        not read."""
        await self.fundamentals_step.watch()

    # -- the watchlist -----------------------------------------------------------------------

    async def load_watchlist(self) -> list[str]:
        """The watchlist from the database, seeded once a run from `[scan] watchlist`."""
        ctx = self.ctx
        if not self._watchlist_seeded:
            await ctx.store.call(Store.seed_watchlist, ctx.settings.scan.watchlist, at=ctx.wall())
            self._watchlist_seeded = True
        ctx.watchlist = await ctx.store.call(Store.watchlist)
        return list(ctx.watchlist)

    async def watch(self, text: str) -> tuple[str, bool]:
        """Add a symbol to the watchlist (kept in the database): its canonical spelling, and
        False when it was there already. It streams (or is polled) from now on.

        Raises:
            ValueError: not a symbol momoscan can watch, or one no source knows (not in the
                universe, not a bundled listing, not an index); the message says what to write.
        """
        symbol = symbols.watchlist_entry(text)
        if await self.listing(symbol) is None and symbol not in symbols.INDEX_ROOTS:
            raise ValueError(
                f"{symbol} is not a listing momoscan knows: it is not in your universe "
                f"({self.universe.describe()}), not a known US listing and not an index Cboe "
                "serves; check the spelling."
            )
        added = await self.ctx.store.call(Store.watch, symbol, at=self.ctx.wall())
        await self._watchlist_changed()
        return symbol, added

    async def listing(self, symbol: str) -> Ticker | None:
        """`symbol`'s listing: the universe's record, else the bundled listings (for names
        outside the universe: mega caps, ETFs, indexes); None when neither knows it."""
        found = await self.ctx.store.call(queries.ticker, symbol)
        return found if found is not None else listings.builtin(symbol)

    async def unwatch(self, text: str) -> tuple[str, bool]:
        """Remove a symbol from the watchlist, for good (the config's list does not bring it
        back): its canonical spelling, and False when it was not on the watchlist.

        Raises:
            ValueError: not a symbol momoscan can watch.
        """
        symbol = symbols.watchlist_entry(text)
        removed = await self.ctx.store.call(Store.unwatch, symbol, at=self.ctx.wall())
        await self._watchlist_changed()
        return symbol, removed

    async def _watchlist_changed(self) -> None:
        await self.load_watchlist()
        # The stream takes the new list now, not at the end of the next cycle.
        await self.stream_step.choose()

    async def ensure_plan_limit(self) -> None:
        await self.quote_step.ensure_plan_limit()

    def market_session(self) -> Session:
        return mh.session_at(self.ctx.clock.now())

    # -- the cycle ---------------------------------------------------------------------------

    async def refresh(
        self,
        on_progress: ProgressCallback | None = None,
        *,
        full: bool = True,
        force: bool = False,
        refresh_universe: bool = False,
        now_only: bool = False,
    ) -> RefreshReport:
        """One refresh cycle. Never raises for a source's or the database's failure: the
        report says what failed.

        A database that cannot be written (a full disk, a lock held too long, a file deleted
        under the run) fails the cycle with one sentence in `report.fatal` and keeps what is
        stored; no credits are spent when it is found at the start. The next cycle opens the
        database again and goes on where it can.

        Args:
            full: sweep the whole universe (else: the hot set plus the stalest symbols that
                one window of credits covers).
            force: spend credits even while the market is closed.
            now_only: quote only what the plan's credits left in this minute cover, and never
                wait for more (`--once`: one cycle of bounded cost and time).
        """
        ctx = self.ctx
        progress = on_progress or (lambda _p: None)
        report = RefreshReport(run_id=0, started=ctx.wall())
        unusable: BaseException | None = None
        try:
            # After a failed write, or when the file was deleted or replaced meanwhile.
            await ctx.store.reopen(force=self._store_failed)
            report.run_id = await ctx.store.call(
                Store.start_run, "cycle", ctx.mode, at=report.started
            )
        except (StoreError, sqlite3.Error) as exc:
            unusable = exc
        else:
            unusable = await self._steps(report, progress, full, force, refresh_universe, now_only)
        self._store_failed = unusable is not None
        if unusable is not None:
            report.fatal = self._store_sentence(unusable)
            report.finished = report.finished or ctx.wall()
            log.info("refresh: %s", report.fatal)
        report.status = report.settle()
        progress(
            Progress(
                "done",
                report.quotes,
                report.symbols,
                report.credits_used,
                report.errors,
                report.status,
            )
        )
        return report

    async def _steps(
        self,
        report: RefreshReport,
        progress: ProgressCallback,
        full: bool,
        force: bool,
        refresh_universe: bool,
        now_only: bool = False,
    ) -> BaseException | None:
        """The cycle's steps, under the run `report.run_id`; returns the database's error if
        one stopped them (or the run's closing), else None."""
        ctx = self.ctx
        unusable: BaseException | None = None
        try:
            # Each step owns its units' failures; a step raises RefreshFailed only for what the
            # user must fix (a rejected key, no universe at all), and the next step still runs.
            await self.load_watchlist()
            tickers = []
            try:
                tickers = await self.universe_step.run(report, progress, force=refresh_universe)
            except RefreshFailed as exc:
                report.fatal = str(exc)
            report.symbols = len(tickers)
            # The day's usual volumes before its first quotes (RVol at the time of day).
            await self.profile_step.run(report)
            # Halts before the quotes: a halted name is not quoted again until it resumes.
            await self.halt_step.run(report)
            # Filings too: the scheduler weighs a fresh one.
            await self.filings_step.run(report)
            # And the news provider's articles, stored as filings of form NEWS.
            await self.news_step.run(report)
            if tickers:
                try:
                    await self.quote_step.run(
                        tickers, report, progress, full=full, force=force, now_only=now_only
                    )
                except RefreshFailed as exc:
                    report.fatal = str(exc)
            # Floats and short interest of the names now on screen (and FINRA's files).
            await self.fundamentals_step.run(report)
            if ctx.settings.options.enabled:
                await self.options_step.run(report, progress)
            await self.alert_step.run(report)
            await self.outcome_step.run(report)
            # What the tables show now decides what streams until the next cycle.
            await owned(report, "stream", "hot set", self.stream_step.choose)
        except Exception as exc:
            # The database's failure (inside an ExceptionGroup from a task group, say) is the
            # cycle's to report, with the words for it; anything else is a bug or an answer
            # nobody foresaw: keep the app alive and say so in words.
            unusable = _store_failure(exc)
            if unusable is not None:
                report.fatal = self._store_sentence(unusable)  # for the run's row
            else:
                log.exception("refresh failed")
                report.fatal = (
                    "The refresh stopped on an unexpected error; the log file has the details."
                )
        finally:
            report.status = report.settle()
            report.finished = ctx.wall()
            with anyio.CancelScope(shield=True):
                try:
                    await ctx.store.call(
                        Store.finish_run,
                        report.run_id,
                        report.status,
                        report.summary(),
                        symbols=report.symbols,
                        at=report.finished,
                    )
                except (StoreError, sqlite3.Error) as exc:
                    # The run stays 'running' in the database; the next start closes it as
                    # abandoned only once this process is gone, so say it here.
                    unusable = unusable or exc
        return unusable

    def _store_sentence(self, exc: BaseException) -> str:
        """What the user reads when the database cannot be written: what, and what to do."""
        path = self.ctx.store.path
        if isinstance(exc, StoreError):
            return f"The database cannot be used: {exc}. The next cycle tries again."
        text = str(exc).lower()
        if "full" in text:
            why = "the disk is full: free some space"
        elif "locked" in text or "busy" in text:
            why = "another program holds it locked (an open sqlite3 shell, a backup?): close it"
        elif "readonly" in text or "read-only" in text:
            why = "it has become read-only: make it and its directory writable"
        else:
            why = f"{exc}: check the file and the disk"
        return (
            f"The database {path} could not be written ({why}, or point --db at another "
            "file). What was stored is kept; the next cycle tries again."
        )
