"""The options step: OCC's daily files (backfilled), the daily top 10, and Cboe chains for the
watch set."""

from __future__ import annotations

import functools
import logging
from datetime import date, datetime

import anyio
import anyio.to_thread

from .. import leaders as leader_rules
from .. import market_hours as mh
from .. import queries, symbols
from ..models import Leader, Progress
from ..sources.cboe import CboeClient, aggregate
from ..sources.errors import NoOptions
from ..sources.occ import OccClient, OccStatus
from ..sources.offload import THREADS, Offloader
from ..store import Store
from .context import ProgressCallback, RefreshReport, StepContext, owned

log = logging.getLogger(__name__)

#: Seconds before a day OCC said had no records is asked for again.
OCC_NO_RECORD_RETRY = 3600.0


def chain_session(as_of: datetime | None, today: date) -> date:
    """The trading day whose volume a chain holds: the day of its timestamp once that day's
    regular session has opened, else the last session before it (Cboe serves the previous
    session's chain from 04:00 to 09:30 ET, and options trade only in the session). A chain
    without a timestamp is taken as today's."""
    if as_of is None:
        return today
    local = as_of.astimezone(mh.ET)
    day = local.date()
    if mh.is_trading_day(day) and local >= mh.session_bounds(day)[1]:
        return min(day, today)
    return min(mh.previous_trading_day(day), today)


class OptionsStep:
    """OCC day files and leaders once a day; Cboe chains for the watch set every cycle."""

    def __init__(
        self,
        ctx: StepContext,
        cboe: CboeClient,
        occ: OccClient,
        *,
        option_products: frozenset[str] = frozenset(),
        offload: Offloader = THREADS,
    ):
        self.ctx = ctx
        self.cboe = cboe
        self.occ = occ
        self.option_products = option_products
        self.offload = offload
        self._no_options: dict[str, date] = {}
        #: Days OCC said it has no file for, and the wall-clock time to ask again: never for a
        #: day outside its two years; an hour later for "No record(s) found" on a day the
        #: calendar says traded (an unscheduled closure, or OCC's glitch).
        self._occ_skip: dict[date, float] = {}
        self._pruned_on: date | None = None
        self._leaders_for: date | None = None

    async def run(self, report: RefreshReport, progress: ProgressCallback) -> None:
        """OCC days and leaders, then the watch set's chains; every day and chain owns its
        failure (recorded on `report`), so one bad answer costs that item only."""
        ctx = self.ctx
        now = ctx.clock.now()
        today = mh.current_trading_day(now)
        opts = ctx.settings.options
        report.occ_days = await self._occ_backfill(today, report, progress)
        if report.occ_days or self._leaders_for != today:
            entrants = await owned(
                report,
                "leaders",
                f"daily top 10 up to {today}",
                lambda: self._update_leaders(today, report),
                then="the last stored leaders are shown",
            )
            if entrants is not None:
                report.new_entrants = entrants
                self._leaders_for = today
        watch = await self._watch_set(today)
        if watch:
            await self._chains(watch, today, report, progress)
        if self._pruned_on != today:
            await ctx.store.call(
                Store.prune,
                today,
                history_days=ctx.settings.store.history_days,
                contract_days=opts.contract_days,
            )
            self._pruned_on = today

    async def _chains(
        self, watch: list[str], today: date, report: RefreshReport, progress: ProgressCallback
    ) -> None:
        """Fetch and store the watch set's chains, each under the session it describes."""
        ctx = self.ctx
        progress(Progress("options", 0, len(watch), message=f"Options: 0/{len(watch)} chains"))
        done = 0
        earlier: dict[date, list[str]] = {}

        async def fetch(symbol: str) -> None:
            try:
                chain = await self.cboe.fetch_chain(symbol)
            except NoOptions:
                self._no_options[symbol] = today
                return
            day = chain_session(chain.as_of, today)
            if day != today:
                earlier.setdefault(day, []).append(symbol)
            volume = await anyio.to_thread.run_sync(aggregate, chain, day)
            await ctx.store.call(Store.store_chain, day, chain, volume)
            report.chains += 1

        async def unit(symbol: str) -> None:
            nonlocal done
            await owned(
                report,
                "Cboe",
                f"{symbol} chain",
                lambda: fetch(symbol),
                then="its last stored chain is kept and it is asked again next cycle",
            )
            done += 1
            progress(
                Progress(
                    "options", done, len(watch), message=f"Options: {done}/{len(watch)} chains"
                )
            )

        async with anyio.create_task_group() as tg:
            for symbol in watch:
                tg.start_soon(unit, symbol)
        for day, names_of_day in sorted(earlier.items()):
            shown = sorted(names_of_day)
            names = ", ".join(shown[:5]) + (" ..." if len(shown) > 5 else "")
            chains = "1 chain" if len(shown) == 1 else f"{len(shown)} chains"
            they = "it is" if len(shown) == 1 else "they are"
            report.messages.append(
                f"Cboe served {chains} from the {day} session ({names}), as it does before "
                f"{today}'s open; {they} stored as {day}'s volume, not today's."
            )

    async def _occ_backfill(
        self, today: date, report: RefreshReport, progress: ProgressCallback
    ) -> int:
        """Fetch the OCC day files we do not have among the last `lookback_days` + 1 trading
        days (one more than the lookback, so the newest day is compared with a full window).
        A day that fails is recorded and asked again on a later cycle."""
        ctx = self.ctx
        wanted = mh.trading_days_before(today, ctx.settings.options.lookback_days + 1)
        have = set(await ctx.store.call(Store.option_days, "occ"))
        now_wall = ctx.wall()
        missing = [d for d in wanted if d not in have and self._occ_skip.get(d, 0.0) <= now_wall]
        if not missing:
            return 0
        universe = await ctx.store.call(queries.universe_symbol_list)
        mapping = symbols.occ_mapping(universe)
        stored = 0
        waiting: list[date] = []
        progress(Progress("options", 0, len(missing), message=f"OCC: 0/{len(missing)} days"))

        async def fetch(day: date) -> None:
            nonlocal stored
            answer = await self.occ.fetch_day(day)
            if answer.status is OccStatus.NOT_YET:
                waiting.append(day)
                return
            if answer.status is OccStatus.OUT_OF_WINDOW:
                self._occ_skip[day] = float("inf")
                return
            if answer.status is OccStatus.NO_TRADING:
                log.info("OCC has no records for %s; asking again in an hour", day)
                self._occ_skip[day] = ctx.wall() + OCC_NO_RECORD_RETRY
                return
            rows = answer.rows
            if mapping:
                rows = [(mapping.get(u, u), t, c, p) for u, t, c, p in rows]
            await ctx.store.call(Store.store_option_rows, day, "occ", rows)
            stored += 1
            progress(
                Progress(
                    "options", stored, len(missing), message=f"OCC: {stored}/{len(missing)} days"
                )
            )

        async def unit(day: date) -> None:
            await owned(
                report,
                "OCC",
                str(day),
                functools.partial(fetch, day),
                then="the day is skipped and asked again next cycle",
            )

        # Newest first: the leaderboard that matters is yesterday's.
        async with anyio.create_task_group() as tg:
            for day in sorted(missing, reverse=True):
                tg.start_soon(unit, day)
        if waiting:
            log.info("OCC has not published %s yet", ", ".join(map(str, sorted(waiting))))
        return stored

    async def _update_leaders(self, today: date, report: RefreshReport) -> list[Leader]:
        """Recompute the daily top 10 for the days on record; return the newest day's NEW names."""
        ctx = self.ctx
        opts = ctx.settings.options
        lookback = opts.lookback_days
        days = mh.trading_days_before(today, lookback)
        span = mh.trading_days_before(days[0], lookback) + days if days else []
        exclude = frozenset() if opts.include_etfs else self.option_products
        only = None
        if opts.leaders_in_universe:
            only = frozenset(await ctx.store.call(queries.universe_symbol_list))
        # Read and ranked in the worker, from the database file: the app's process neither
        # builds nor pickles the 100,000 volumes of 40 days (its event loop would wait).
        by_day = await self.offload.heavy(
            leader_rules.rank_stored_days, ctx.store.path, days, span, exclude, only, lookback
        )
        if by_day is None:
            return []
        newest: list[Leader] = []
        for day, leaders in by_day.items():
            await ctx.store.call(Store.store_leaders, day, leaders)
            newest = leaders
        report.leaders_days = len(by_day)
        return [x for x in newest if x.is_new]

    async def _watch_set(self, today: date) -> list[str]:
        """Underlyings whose chains to fetch: watchlist, yesterday's leaders, today's movers."""
        ctx = self.ctx
        size = ctx.settings.options.watch_size
        if size <= 0:
            return []
        leaders = await ctx.store.call(queries.latest_leader_symbols)
        movers = await ctx.store.call(
            queries.mover_symbols,
            ctx.settings.universe.cap_tiers,
            ctx.settings.universe.min_price,
        )
        ordered = list(dict.fromkeys([*ctx.watched(), *leaders, *movers]))
        skip = {s for s, d in self._no_options.items() if d == today}
        return [s for s in ordered if s not in skip][:size]
