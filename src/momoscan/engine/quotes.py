"""The quote step: sweep the universe in batches under the credit budget, in the scheduler's
order, storing each batch as it lands; first, when the scheduler asks, the market movers probe
(its rows stored as quotes, its credits from the same budget)."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from .. import market_hours as mh
from ..models import MoversAnswer, Progress, Quote, QuoteBatch, Session, SymbolError, Ticker
from ..sources.errors import AuthError, PermissionDenied, SourceError
from ..sources.ratelimit import CreditBudget
from ..sources.twelvedata import MOVERS_CREDITS, PRO_PLAN_CREDITS, TwelveDataClient
from ..store import Store
from .context import ProgressCallback, RefreshFailed, RefreshReport, StepContext, owned

if TYPE_CHECKING:
    from .halts import SsrRule

    # numpy's (about 0.1 s): imported when the engine is built, not with the CLI.
    from .scheduler import Scheduler

log = logging.getLogger(__name__)


class QuoteStep:
    """Twelve Data quotes for the universe: the plan's credits, the daily cap, the sweep."""

    def __init__(
        self,
        ctx: StepContext,
        client: TwelveDataClient,
        budget: CreditBudget,
        scheduler: Scheduler,
        *,
        ssr_rule: SsrRule | None = None,
    ):
        self.ctx = ctx
        self.client = client
        self.budget = budget
        self.scheduler = scheduler
        #: Rule 201 found in the quotes as they land (None: not looked for).
        self.ssr_rule = ssr_rule
        self.disabled = ""
        #: Why the plan gets no extended-hours prices ("" if it does; None: not read yet).
        self.no_extended: str | None = None
        self.plan_limit_known = False
        self.daily_limit: int | None = None
        self.daily_used = 0
        self._daily_day: date | None = None
        self.credit_note = ""
        #: Why the plan gets no market movers list ("" while it may have one).
        self.no_movers = ""

    async def _refuse_extended(self, why: str, report: RefreshReport) -> None:
        if self.no_extended:
            return
        self.no_extended = (
            f"Twelve Data's plan has no pre-market or after-hours prices ({why}; they need a "
            "Pro plan): no credits are spent outside the regular session."
        )
        report.messages.append(self.no_extended)
        # Shielded: a sibling batch refused the same way cancels the sweep meanwhile.
        with anyio.CancelScope(shield=True):
            await self.ctx.store.call(Store.set_meta, "extended_unavailable", self.no_extended)

    async def ensure_plan_limit(self) -> None:
        """Learn the plan: credits a minute (and a day, on the free plan) from /api_usage unless
        the config sets them, and what was spent in the last minute, by earlier runs too."""
        if self.plan_limit_known:
            return
        ctx = self.ctx
        # Credits this or an earlier run spent that still count: from the database first
        # (wall-clock stamps; one from the future, before the clock went back, counts as now).
        now = ctx.wall()
        for at, credits in await ctx.store.call(
            Store.credit_entries, now - self.budget.window, now=now
        ):
            self.budget.record(credits, at=at)
        configured = ctx.settings.twelvedata.plan_limit if ctx.mode == "live" else 0
        usage = None
        if configured:
            self.budget.set_limit(configured)
        else:
            usage = await self.client.api_usage()
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
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        day = mh.current_trading_day(now)
        ends = mh.session_bounds(day)[3 if settings.twelvedata.extended_hours else 2]
        seconds_left = max((ends - now).total_seconds(), settings.scan.refresh_interval)
        return max(1, math.ceil(left * settings.scan.refresh_interval / seconds_left))

    async def _movers(self, direction: str, report: RefreshReport) -> MoversAnswer | None:
        """One market movers request; None when the plan turns out not to have it (said
        once, and never asked again this run)."""
        try:
            return await self.client.market_movers(
                direction, price_greater_than=self.ctx.settings.universe.min_price
            )
        except PermissionDenied as exc:
            self.no_movers = (
                f"Twelve Data's plan has no market movers list ({exc}; Pro plans and up): the "
                "scheduler finds movers with quotes alone."
            )
            report.messages.append(self.no_movers)
            return None

    async def _probe(
        self, directions: Sequence[str], tickers: Sequence[Ticker], report: RefreshReport
    ) -> tuple[set[str], list[str]]:
        """Ask the market movers list in each direction, store the rows of universe members
        from today's session onto their quotes, and tell the scheduler. Returns the symbols
        it refreshed (the sweep skips them this cycle) and those it found without a quote to
        refresh (the sweep quotes them first)."""
        ctx = self.ctx
        members = {t.symbol for t in tickers}
        today = mh.current_trading_day(ctx.clock.now())
        refreshed: set[str] = set()
        found: list[str] = []
        for direction in directions:
            if self.no_movers:
                break
            granted = await self.budget.take(MOVERS_CREDITS, minimum=MOVERS_CREDITS)
            granted_at = ctx.wall()
            self.daily_used += granted
            report.credits_used += granted
            answer = await owned(
                report,
                "Twelve Data",
                f"market movers ({direction})",
                lambda d=direction: self._movers(d, report),  # type: ignore[misc]
                then="the sweep goes on with quotes",
            )
            # Rows of an earlier session (recorded answers mix them in) say nothing of today.
            rows = (
                []
                if answer is None
                else [
                    r
                    for r in answer.rows
                    if r.symbol in members and (r.day is None or r.day >= today)
                ]
            )
            if answer is None and self.no_movers:
                continue  # a plan without the endpoint is not charged for asking
            moved = await ctx.store.call(
                Store.store_movers,
                rows,
                fetched_at=ctx.wall(),
                run_id=report.run_id,
                credits_used=granted,
                credits_at=granted_at,
            )
            report.quotes += len(moved)
            self.scheduler.probed(direction, rows)
            refreshed.update(moved)
            # A name found without a whole quote yet is quoted first: its relative volume,
            # open and listing come from /quote.
            found.extend(r.symbol for r in rows if r.symbol not in moved)
        return refreshed, found

    async def run(
        self,
        tickers: Sequence[Ticker],
        report: RefreshReport,
        progress: ProgressCallback,
        *,
        full: bool,
        force: bool,
        now_only: bool = False,
    ) -> None:
        ctx = self.ctx
        if self.disabled:
            report.messages.append(self.disabled)
            return
        session = mh.session_at(ctx.clock.now())
        outside = session in (Session.PRE, Session.AFTER)
        if self.no_extended is None:
            self.no_extended = await ctx.store.call(Store.get_meta, "extended_unavailable", "")
        # Pre-market and after-hours prices: asked for when configured (the simulated plan is a
        # Pro plan: always), unless the plan was found to lack them.
        want_extended = (ctx.settings.twelvedata.extended_hours or ctx.mode == "demo") and not (
            self.no_extended
        )
        trading = session is Session.OPEN or (want_extended and outside)
        if ctx.mode == "live" and not trading and not force:
            if session is Session.CLOSED:
                why = "The market is closed"
            elif self.no_extended:
                why = self.no_extended.rstrip(".")
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
        spent_before = self.budget.used()
        try:
            await self.ensure_plan_limit()
        except AuthError as exc:
            raise RefreshFailed(str(exc)) from None
        except SourceError as exc:
            raise RefreshFailed(f"Could not read the Twelve Data plan: {exc}") from None
        daily = self._daily_quota(len(tickers), full)
        # The plan may have the market movers list (the scheduler asks it in the session,
        # when it is worth its credits).
        probe = (
            daily is None
            and ctx.settings.twelvedata.market_movers
            and not self.no_movers
            and self.budget.limit >= PRO_PLAN_CREDITS
        )
        # Credits that learning the plan found spent in this window (the /api_usage call's own
        # credit, a restart's last minute, another program on the key) are not this cycle's to
        # plan: planned anyway, the cycle's last batch waited a minute for them.
        window = max(1, self.budget.limit - max(0, self.budget.used() - spent_before))
        plan = await self.scheduler.plan(tickers, full=full, window=window, probe=probe)
        if daily is not None:
            if daily == 0:
                report.messages.append(
                    f"The day's {self.daily_limit} Twelve Data credits are used up: quotes "
                    "resume tomorrow."
                )
                return
            quota = daily if plan.quota is None else min(daily, plan.quota)
            plan = dataclasses.replace(plan, quota=quota)
        if now_only and not full:
            # What this minute has left (the plan's own probe took one, an earlier run or
            # another process on this key may have spent more): no request waits for the
            # next minute, the market movers probes included.
            left = max(0, self.budget.limit - self.budget.used())
            if MOVERS_CREDITS * len(plan.probes) > left // 2:
                plan = dataclasses.replace(plan, probes=())
            room = left - MOVERS_CREDITS * len(plan.probes)
            plan = dataclasses.replace(
                plan, quota=room if plan.quota is None else min(room, plan.quota)
            )
            if room == 0:
                report.messages.append(
                    "This minute's credits are spent (by an earlier run or another momoscan on "
                    "this key): nothing quoted; the tables show the last quotes with their age."
                )
        refreshed, found = (
            await self._probe(plan.probes, tickers, report) if plan.probes else (set(), [])
        )
        order = [s for s in dict.fromkeys([*found, *plan.symbols]) if s not in refreshed]
        if plan.quota is not None:
            order = order[: plan.quota]
        total = len(order)
        batch_size = ctx.settings.twelvedata.batch_size
        slots = anyio.Semaphore(ctx.settings.twelvedata.concurrency)
        fatal: list[str] = []
        done = 0
        progress(
            Progress("quotes", 0, total, report.credits_used, report.errors, f"Quotes: 0/{total}")
        )

        extended = want_extended and outside

        refused: list[SymbolError] = []

        async def fetch(batch: list[str], tg: anyio.abc.TaskGroup) -> QuoteBatch | None:
            try:
                result = await self.client.quote_batch(batch, extended=extended)
            except PermissionDenied as exc:
                if extended:
                    # The plan lacks prepost: said once, remembered, never charged again.
                    await self._refuse_extended(str(exc), report)
                    tg.cancel_scope.cancel()
                    return None
                fatal.append(str(exc))
                self.disabled = str(exc)
                tg.cancel_scope.cancel()
                return None
            except AuthError as exc:
                # Nothing more will work with this key or plan: stop the sweep, keep the rest.
                fatal.append(str(exc))
                tg.cancel_scope.cancel()
                return None
            if extended and result.quotes and not any(q.extended for q in result.quotes):
                # Asked for extended prices, answered without any: the plan ignores prepost.
                await self._refuse_extended("the answers carry no extended prices", report)
            return result

        async def run_batch(batch: list[str], granted_at: float, tg: anyio.abc.TaskGroup) -> None:
            nonlocal done
            try:
                result = await owned(
                    report,
                    "Twelve Data",
                    f"quotes for {len(batch)} symbols from {batch[0]}",
                    lambda: fetch(batch, tg),
                    then="they keep their last quotes and are asked again next cycle",
                    count=len(batch),
                )
                if result is None and (fatal or self.no_extended):
                    return
                if result is None:
                    quotes: list[Quote] = []
                    errors = [SymbolError(s, None, report.failures[-1].message) for s in batch]
                else:
                    # Their messages come with the key masked: the client redacts every
                    # message it builds from the server's words (TwelveDataClient).
                    quotes, errors = result.quotes, result.errors
                    report.errors += len(errors)
                    refused.extend(errors)
                retries = self.client.drain_retry_grants()
                retried = sum(credits for _, credits in retries)
                self.daily_used += retried
                report.credits_used += len(batch) + retried
                report.quotes += len(quotes)
                for err in errors[:3]:
                    log.info("%s: %s", err.symbol, err.message)
                await ctx.store.call(
                    Store.store_quotes,
                    quotes,
                    errors,
                    fetched_at=ctx.wall(),
                    run_id=report.run_id,
                    credits_used=len(batch),
                    credits_at=granted_at,
                    retry_grants=retries,
                )
                if self.ssr_rule is not None:
                    await self.ssr_rule.record(self.ssr_rule.from_quotes(quotes))
                # Asked, whatever the answer: a refused symbol waits its turn like the rest.
                self.scheduler.seen(batch)
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
                granted_at = ctx.wall()
                self.daily_used += granted
                batch, queue = queue[:granted], queue[granted:]
                tg.start_soon(run_batch, batch, granted_at, tg)
        if fatal:
            raise RefreshFailed(fatal[0])
        if refused:
            first = refused[0]
            report.messages.append(
                f"Twelve Data refused {len(refused)} of {total} symbols (first: {first.symbol}, "
                f"{first.message}); check them in your universe or watchlist."
            )
