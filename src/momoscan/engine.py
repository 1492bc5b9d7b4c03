"""The refresh loop: universe, then quote sweeps, then options, each step stored as it lands.

The engine drives the sources and the store and knows nothing of screens: it reports progress
through a callback, which the TUI turns into messages and the headless CLI into a progress line.
All SQLite work runs on one dedicated thread (the single writer) so the event loop never waits
on the disk; chain parsing runs in worker threads inside the sources.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio

from . import leaders as leader_rules
from . import market_hours as mh
from . import queries
from .clock import MarketClock
from .config import Settings, redact
from .models import Leader, Progress, Session, SymbolError, Ticker
from .sources.cboe import CboeClient, aggregate
from .sources.errors import AuthError, PermissionDenied, SourceError
from .sources.occ import OccClient
from .sources.offload import THREADS, Offloader
from .sources.ratelimit import CreditBudget
from .sources.twelvedata import TwelveDataClient
from .sources.universe import UniverseSource
from .store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

ProgressCallback = Callable[[Progress], None]

#: Leaders need this many earlier days on record before anything is called NEW.
MIN_HISTORY_FOR_NEW = 5


def _rank_days(
    days: Sequence[date],
    history: dict[date, dict[str, tuple[int, int, int]]],
    exclude: frozenset[str],
    only: frozenset[str] | None,
    lookback: int,
) -> dict[date, list[Leader]]:
    """Each day's leaders. Thousands of underlyings a day: run in the worker process."""
    filtered = {
        d: leader_rules.filter_volumes(v, exclude=exclude, only=only) for d, v in history.items()
    }
    out: dict[date, list[Leader]] = {}
    for day in days:
        if day not in filtered:
            continue
        window = mh.trading_days_before(day, lookback)
        leaders = leader_rules.compute_leaders(day, filtered, window)
        if sum(1 for d in window if d in filtered) < MIN_HISTORY_FOR_NEW:
            leaders = [dataclasses.replace(x, is_new=False, reason="") for x in leaders]
        out[day] = leaders
    return out


class StoreThread:
    """The single writer: one thread owning one connection, fed from the event loop."""

    def __init__(self, path: Path):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="momoscan-store")
        self._store: Store | None = None

    def _open(self) -> None:
        self._store = Store(self.path)

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(store, *args, **kwargs)` on the store thread."""

        def run() -> T:
            assert self._store is not None, "StoreThread.start() was not awaited"
            return fn(self._store, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def close(self) -> None:
        def shut() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)


@dataclass
class RefreshReport:
    run_id: int
    status: str = "running"  # ok | partial | failed | skipped
    symbols: int = 0
    quotes: int = 0
    errors: int = 0
    credits_used: int = 0
    chains: int = 0
    occ_days: int = 0
    messages: list[str] = field(default_factory=list)
    new_entrants: list[Leader] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class RefreshFailed(Exception):
    """The refresh cannot go on (bad key...): the message says what to do."""


class Engine:
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
    ):
        self.offload = offload
        self.settings = settings
        self.store = store
        self.quotes = quotes
        self.budget = budget
        self.cboe = cboe
        self.occ = occ
        self.universe = universe
        self.clock = clock
        self.mode = mode
        self.option_products = option_products
        self._wall = wall
        self._no_options: dict[str, date] = {}
        self._pruned_on: date | None = None
        self._leaders_for: date | None = None
        self._quotes_disabled = ""
        self.plan_limit_known = False
        self.daily_limit: int | None = None
        self.daily_used = 0
        self._daily_day: date | None = None
        self.credit_note = ""

    # -- the cycle ---------------------------------------------------------------------------

    async def refresh(
        self,
        on_progress: ProgressCallback | None = None,
        *,
        full: bool = True,
        force: bool = False,
        refresh_universe: bool = False,
    ) -> RefreshReport:
        """One refresh cycle. Never raises for a source failure: the report says what failed.

        Args:
            full: sweep the whole universe (else: the hot set plus the stalest symbols that
                one window of credits covers).
            force: spend credits even while the market is closed.
        """
        progress = on_progress or (lambda _p: None)
        report = RefreshReport(run_id=0, started=self._wall())
        report.run_id = await self.store.call(
            Store.start_run, "cycle", self.mode, at=report.started
        )
        status = "ok"
        try:
            tickers = await self._universe_step(progress, force=refresh_universe)
            report.symbols = len(tickers)
            await self._quote_step(tickers, report, progress, full=full, force=force)
            if self.settings.options.enabled:
                await self._options_step(report, progress)
            if report.errors:
                status = "partial"
        except RefreshFailed as exc:
            status = "failed"
            report.messages.append(str(exc))
        except Exception as exc:  # a bug or an unforeseen answer: keep the app alive, say so
            log.exception("refresh failed")
            status = "failed"
            report.messages.append(f"Refresh failed: {type(exc).__name__}: {exc}")
        finally:
            report.status = status
            report.finished = self._wall()
            message = report.messages[-1] if report.messages else ""
            with anyio.CancelScope(shield=True):
                await self.store.call(
                    Store.finish_run,
                    report.run_id,
                    status,
                    message,
                    symbols=report.symbols,
                    at=report.finished,
                )
        progress(
            Progress(
                "done", report.quotes, report.symbols, report.credits_used, report.errors, status
            )
        )
        return report

    # -- universe ----------------------------------------------------------------------------

    def _universe_signature(self) -> str:
        return f"{self.universe.name}:{self.universe.describe()}"

    async def _universe_step(self, progress: ProgressCallback, *, force: bool) -> list[Ticker]:
        today = mh.current_trading_day(self.clock.now())
        meta = await self.store.call(queries.universe_info)
        fresh = (
            meta.signature == self._universe_signature()
            and meta.as_of is not None
            and meta.as_of >= today
            and meta.size > 0
        )
        if fresh and not force:
            return await self.store.call(queries.universe_tickers)
        progress(
            Progress("universe", message=f"Loading the universe from {self.universe.describe()}")
        )
        try:
            loaded = await self.universe.load()
        except SourceError as exc:
            if meta.size:
                log.warning("universe refresh failed, keeping the cached one: %s", exc)
                return await self.store.call(queries.universe_tickers)
            raise RefreshFailed(str(exc)) from None
        tiers = set(self.settings.universe.cap_tiers)
        tickers = [t for t in loaded if not t.cap_tier or t.cap_tier in tiers]
        if not tickers:
            raise RefreshFailed(
                f"The universe from {self.universe.describe()} has no symbols in the cap tiers "
                f"{', '.join(self.settings.universe.cap_tiers)}."
            )
        await self.store.call(
            Store.replace_universe,
            tickers,
            source=self.universe.name,
            as_of=today,
            fetched_at=self._wall(),
        )
        await self.store.call(Store.set_meta, "universe_signature", self._universe_signature())
        # A source's caveat (Nasdaq's free sample, a file's skipped lines) stays with the
        # universe it describes, for the status bar and the headless output.
        warning = str(getattr(self.universe, "warning", "") or "")
        problems = list(getattr(self.universe, "problems", []) or [])
        if problems and not warning:
            warning = f"{len(problems)} lines of the universe file were skipped (see the log)."
        await self.store.call(Store.set_meta, "universe_warning", warning)
        if warning:
            log.warning("%s", warning)
        progress(
            Progress(
                "universe", len(tickers), len(tickers), message=f"Universe: {len(tickers)} symbols"
            )
        )
        return tickers

    # -- quotes ------------------------------------------------------------------------------

    async def ensure_plan_limit(self) -> None:
        """Learn the plan: credits a minute (and a day, on the free plan) from /api_usage unless
        the config sets them, and what was spent in the last minute, by earlier runs too."""
        if self.plan_limit_known:
            return
        # Credits this or an earlier run spent that still count: from the database first.
        since = self._wall() - self.budget.window
        for at, credits in await self.store.call(Store.credit_entries, since):
            self.budget.record(credits, at=at)
        configured = self.settings.twelvedata.plan_limit if self.mode == "live" else 0
        usage = None
        if configured:
            self.budget.set_limit(configured)
        else:
            usage = await self.quotes.api_usage()
            self.budget.set_limit(usage.plan_limit)
            # Whatever the server counts beyond our own ledger (another program on the same
            # key): counted as spent just now, the safe assumption.
            self.budget.record(max(0, usage.current_usage - self.budget.used()))
        if usage is not None and usage.plan_daily_limit:
            self.daily_limit = usage.plan_daily_limit
            self.daily_used = usage.daily_usage or 0
            self._daily_day = datetime.now(UTC).date()
        self.plan_limit_known = True

    def daily_left(self) -> int | None:
        """Credits left today on a plan with a daily cap (Twelve Data's Basic: 800), else None."""
        if not self.daily_limit:
            return None
        today = datetime.now(UTC).date()
        if self._daily_day != today:  # the daily count starts again (at midnight UTC)
            self._daily_day, self.daily_used = today, 0
        return max(0, self.daily_limit - self.daily_used)

    def _daily_quota(self, symbols: int, full: bool) -> int | None:
        """How many credits this cycle may spend under a daily cap, and a plain note on how far
        the day's credits go. None when the plan has no daily cap."""
        left = self.daily_left()
        if left is None:
            self.credit_note = ""
            return None
        sweeps = left / max(1, symbols)
        self.credit_note = (
            f"Daily credits: {self.daily_used}/{self.daily_limit} used; the {left} left quote "
            f"{left} symbols, {sweeps:.1f} sweeps of the universe of {symbols}. Symbols on "
            "screen and the watchlist go first."
        )
        if full or left == 0:
            return left
        # Spread what is left over the rest of the session: a cycle gets its share.
        now = self.clock.now()
        day = mh.current_trading_day(now)
        ends = mh.session_bounds(day)[3 if self.settings.twelvedata.extended_hours else 2]
        seconds_left = max((ends - now).total_seconds(), self.settings.scan.refresh_interval)
        return max(1, math.ceil(left * self.settings.scan.refresh_interval / seconds_left))

    def market_session(self) -> Session:
        return mh.session_at(self.clock.now())

    async def _sweep_order(self, tickers: Sequence[Ticker], full: bool) -> list[str]:
        """Hot symbols first (watchlist, current leaders), then the stalest."""
        symbols = [t.symbol for t in tickers]
        known = set(symbols)
        hot = [s for s in self.settings.scan.watchlist if s in known]
        hot += await self.store.call(
            queries.hot_symbols, self.settings.universe.cap_tiers, self.settings.universe.min_price
        )
        ages = await self.store.call(Store.quote_ages)
        ordered = list(dict.fromkeys(hot))
        seen = set(ordered)
        # Stalest first; equally stale ones alphabetically, so a batch is a run of neighbouring
        # symbols and its rows land on neighbouring pages of the database.
        rest = sorted((s for s in symbols if s not in seen), key=lambda s: (ages.get(s, 0.0), s))
        ordered += rest
        if full:
            return ordered
        quota = max(len(hot), self.budget.limit)
        return ordered[:quota]

    async def _quote_step(
        self,
        tickers: Sequence[Ticker],
        report: RefreshReport,
        progress: ProgressCallback,
        *,
        full: bool,
        force: bool,
    ) -> None:
        if self._quotes_disabled:
            report.messages.append(self._quotes_disabled)
            return
        session = self.market_session()
        extended = self.settings.twelvedata.extended_hours
        trading = session is Session.OPEN or (extended and session in (Session.PRE, Session.AFTER))
        if self.mode == "live" and not trading and not force:
            if session is Session.CLOSED:
                why = "The market is closed"
            else:
                why = (
                    "The regular session has not opened"
                    if session is Session.PRE
                    else "The regular session is over"
                ) + " and extended hours are off ([twelvedata] extended_hours)"
            report.messages.append(
                f"{why}: no credits spent; showing the last quotes with their age "
                "(--force refreshes anyway)."
            )
            return
        try:
            await self.ensure_plan_limit()
        except AuthError as exc:
            raise RefreshFailed(str(exc)) from None
        except SourceError as exc:
            raise RefreshFailed(f"Could not read the Twelve Data plan: {exc}") from None
        order = await self._sweep_order(tickers, full)
        daily = self._daily_quota(len(tickers), full)
        if daily is not None:
            if daily == 0:
                report.messages.append(
                    f"The day's {self.daily_limit} Twelve Data credits are used up: quotes "
                    "resume tomorrow."
                )
                return
            if daily < len(order):
                order = order[:daily]
        total = len(order)
        batch_size = self.settings.twelvedata.batch_size
        concurrency = self.settings.twelvedata.concurrency
        slots = anyio.Semaphore(concurrency)
        fatal: list[str] = []
        done = 0
        progress(
            Progress("quotes", 0, total, report.credits_used, report.errors, f"Quotes: 0/{total}")
        )

        extended = self.settings.twelvedata.extended_hours and session is not Session.OPEN
        secrets = self.settings.secrets

        async def run_batch(batch: list[str], granted_at: float, tg: anyio.abc.TaskGroup) -> None:
            nonlocal done
            try:
                try:
                    result = await self.quotes.quote_batch(batch, extended=extended)
                    quotes, errors = result.quotes, result.errors
                except (AuthError, PermissionDenied) as exc:
                    fatal.append(str(exc))
                    if isinstance(exc, PermissionDenied):
                        self._quotes_disabled = str(exc)
                    tg.cancel_scope.cancel()
                    return
                except SourceError as exc:
                    log.warning("quote batch of %d failed: %s", len(batch), exc)
                    quotes = []
                    errors = [SymbolError(s, None, str(exc)) for s in batch]
                if secrets:
                    # An API message echoing the key must not reach the database.
                    errors = [
                        SymbolError(e.symbol, e.code, redact(e.message, secrets)) for e in errors
                    ]
                retries = self.quotes.drain_retry_grants()
                retried = sum(credits for _, credits in retries)
                self.daily_used += retried
                report.credits_used += len(batch) + retried
                report.quotes += len(quotes)
                report.errors += len(errors)
                for err in errors[:3]:
                    log.info("%s: %s", err.symbol, err.message)
                await self.store.call(
                    Store.store_quotes,
                    quotes,
                    errors,
                    fetched_at=self._wall(),
                    run_id=report.run_id,
                    credits_used=len(batch),
                    credits_at=granted_at,
                    retry_grants=retries,
                )
                done += len(batch)
                progress(
                    Progress(
                        "quotes",
                        done,
                        total,
                        report.credits_used,
                        report.errors,
                        f"Quotes: {done}/{total}",
                    )
                )
            finally:
                slots.release()

        queue = list(order)
        async with anyio.create_task_group() as tg:
            while queue and not fatal:
                await slots.acquire()
                want = min(batch_size, len(queue))
                granted = await self.budget.take(want)
                granted_at = self._wall()
                self.daily_used += granted
                batch, queue = queue[:granted], queue[granted:]
                tg.start_soon(run_batch, batch, granted_at, tg)
        if fatal:
            raise RefreshFailed(fatal[0])
        if report.errors:
            report.messages.append(f"{report.errors} of {total} symbols failed (see the log).")

    # -- options -----------------------------------------------------------------------------

    def _occ_underlying_map(self, tickers: Sequence[str]) -> dict[str, str]:
        """OCC writes BRK.B as BRKB: map its spelling back to the universe's."""
        return {t.replace(".", "").replace("/", ""): t for t in tickers if "." in t or "/" in t}

    async def _options_step(self, report: RefreshReport, progress: ProgressCallback) -> None:
        now = self.clock.now()
        today = mh.current_trading_day(now)
        opts = self.settings.options
        try:
            report.occ_days = await self._occ_backfill(today, progress)
        except SourceError as exc:
            report.messages.append(f"OCC daily volume: {exc}")
            report.errors += 1
        if report.occ_days or self._leaders_for != today:
            report.new_entrants = await self._update_leaders(today)
            self._leaders_for = today
        watch = await self._watch_set(today)
        if not watch:
            return
        progress(Progress("options", 0, len(watch), message=f"Options: 0/{len(watch)} chains"))
        done = 0

        async def fetch(symbol: str) -> None:
            nonlocal done
            try:
                chain = await self.cboe.fetch_chain(symbol)
            except SourceError as exc:
                if "no options" in str(exc).lower():
                    self._no_options[symbol] = today
                else:
                    log.warning("%s", exc)
                    report.errors += 1
                    report.messages.append(str(exc))
            else:
                volume = await anyio.to_thread.run_sync(aggregate, chain, today)
                await self.store.call(Store.store_chain, today, chain, volume)
                report.chains += 1
            done += 1
            progress(
                Progress(
                    "options", done, len(watch), message=f"Options: {done}/{len(watch)} chains"
                )
            )

        async with anyio.create_task_group() as tg:
            for symbol in watch:
                tg.start_soon(fetch, symbol)
        if self._pruned_on != today:
            await self.store.call(
                Store.prune,
                today,
                history_days=self.settings.store.history_days,
                contract_days=opts.contract_days,
            )
            self._pruned_on = today

    async def _occ_backfill(self, today: date, progress: ProgressCallback) -> int:
        """Fetch the OCC day files we do not have among the last `lookback_days` + 1 trading
        days (one more than the lookback, so the newest day is compared with a full window)."""
        wanted = mh.trading_days_before(today, self.settings.options.lookback_days + 1)
        have = set(await self.store.call(Store.option_days, "occ"))
        missing = [d for d in wanted if d not in have]
        if not missing:
            return 0
        universe = await self.store.call(queries.universe_symbol_list)
        mapping = self._occ_underlying_map(universe)
        stored = 0
        progress(Progress("options", 0, len(missing), message=f"OCC: 0/{len(missing)} days"))

        async def fetch(day: date) -> None:
            nonlocal stored
            volumes = await self.occ.fetch_day(day)
            if volumes is None:
                log.info("OCC has not published %s yet", day)
                return
            renamed = [
                dataclasses.replace(v, underlying=mapping[v.underlying])
                if v.underlying in mapping
                else v
                for v in volumes
            ]
            await self.store.call(Store.store_option_day, day, "occ", renamed)
            stored += 1
            progress(
                Progress(
                    "options", stored, len(missing), message=f"OCC: {stored}/{len(missing)} days"
                )
            )

        # Newest first: the leaderboard that matters is yesterday's.
        async with anyio.create_task_group() as tg:
            for day in sorted(missing, reverse=True):
                tg.start_soon(fetch, day)
        return stored

    async def _update_leaders(self, today: date) -> list[Leader]:
        """Recompute the daily top 10 for the days on record; return the newest day's NEW names."""
        lookback = self.settings.options.lookback_days
        days = mh.trading_days_before(today, lookback)
        span = mh.trading_days_before(days[0], lookback) + days if days else []
        history = await self.store.call(Store.daily_volumes, span, "occ")
        if not history:
            return []
        exclude = frozenset() if self.settings.options.include_etfs else self.option_products
        only = None
        if self.settings.options.leaders_in_universe:
            only = frozenset(await self.store.call(queries.universe_symbol_list))
        by_day = await self.offload.heavy(_rank_days, days, history, exclude, only, lookback)
        newest: list[Leader] = []
        for day, leaders in by_day.items():
            await self.store.call(Store.store_leaders, day, leaders)
            newest = leaders
        return [x for x in newest if x.is_new]

    async def _watch_set(self, today: date) -> list[str]:
        """Underlyings whose chains to fetch: watchlist, yesterday's leaders, today's movers."""
        size = self.settings.options.watch_size
        if size <= 0:
            return []
        leaders = await self.store.call(queries.latest_leader_symbols)
        movers = await self.store.call(
            queries.mover_symbols,
            self.settings.universe.cap_tiers,
            self.settings.universe.min_price,
        )
        ordered = list(dict.fromkeys([*self.settings.scan.watchlist, *leaders, *movers]))
        skip = {s for s, d in self._no_options.items() if d == today}
        return [s for s in ordered if s not in skip][:size]
