"""The options step: OCC's daily files (backfilled), the daily top 10, and Cboe chains for the
watch set."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import date

import anyio
import anyio.to_thread

from .. import leaders as leader_rules
from .. import market_hours as mh
from .. import queries
from ..models import Leader, Progress
from ..sources.cboe import CboeClient, aggregate
from ..sources.errors import SourceError
from ..sources.occ import OccClient
from ..sources.offload import THREADS, Offloader
from ..store import Store
from .context import ProgressCallback, RefreshReport, StepContext

log = logging.getLogger(__name__)

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
        self._pruned_on: date | None = None
        self._leaders_for: date | None = None

    def _occ_underlying_map(self, tickers: Sequence[str]) -> dict[str, str]:
        """OCC writes BRK.B as BRKB: map its spelling back to the universe's."""
        return {t.replace(".", "").replace("/", ""): t for t in tickers if "." in t or "/" in t}

    async def run(self, report: RefreshReport, progress: ProgressCallback) -> None:
        ctx = self.ctx
        now = ctx.clock.now()
        today = mh.current_trading_day(now)
        opts = ctx.settings.options
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
                await ctx.store.call(Store.store_chain, today, chain, volume)
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
            await ctx.store.call(
                Store.prune,
                today,
                history_days=ctx.settings.store.history_days,
                contract_days=opts.contract_days,
            )
            self._pruned_on = today

    async def _occ_backfill(self, today: date, progress: ProgressCallback) -> int:
        """Fetch the OCC day files we do not have among the last `lookback_days` + 1 trading
        days (one more than the lookback, so the newest day is compared with a full window)."""
        ctx = self.ctx
        wanted = mh.trading_days_before(today, ctx.settings.options.lookback_days + 1)
        have = set(await ctx.store.call(Store.option_days, "occ"))
        missing = [d for d in wanted if d not in have]
        if not missing:
            return 0
        universe = await ctx.store.call(queries.universe_symbol_list)
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
            await ctx.store.call(Store.store_option_day, day, "occ", renamed)
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
        ctx = self.ctx
        opts = ctx.settings.options
        lookback = opts.lookback_days
        days = mh.trading_days_before(today, lookback)
        span = mh.trading_days_before(days[0], lookback) + days if days else []
        history = await ctx.store.call(Store.daily_volumes, span, "occ")
        if not history:
            return []
        exclude = frozenset() if opts.include_etfs else self.option_products
        only = None
        if opts.leaders_in_universe:
            only = frozenset(await ctx.store.call(queries.universe_symbol_list))
        by_day = await self.offload.heavy(_rank_days, days, history, exclude, only, lookback)
        newest: list[Leader] = []
        for day, leaders in by_day.items():
            await ctx.store.call(Store.store_leaders, day, leaders)
            newest = leaders
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
        ordered = list(dict.fromkeys([*ctx.settings.scan.watchlist, *leaders, *movers]))
        skip = {s for s, d in self._no_options.items() if d == today}
        return [s for s in ordered if s not in skip][:size]
