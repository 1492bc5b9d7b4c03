"""The universe step: load the scan universe once a trading day, keep the chosen cap tiers."""

from __future__ import annotations

import logging

from .. import market_hours as mh
from .. import queries
from ..models import Progress, Ticker
from ..sources.universe import UniverseSource
from ..store import Store
from .context import ProgressCallback, RefreshFailed, RefreshReport, StepContext, owned

log = logging.getLogger(__name__)


class UniverseStep:
    """Loads the universe from its source when the stored one is older than today's trading
    day (or was built from another source), else reads it back from the store."""

    def __init__(self, ctx: StepContext, source: UniverseSource):
        self.ctx = ctx
        self.source = source
        self._cached: tuple[tuple[object, ...], list[Ticker]] | None = None

    def signature(self) -> str:
        return f"{self.source.name}:{self.source.describe()}"

    async def run(
        self, report: RefreshReport, progress: ProgressCallback, *, force: bool
    ) -> list[Ticker]:
        """The universe's tickers in the chosen tiers. A failed load is recorded on `report`
        and the stored universe, if any, is used.

        Raises:
            RefreshFailed: no universe can be had (the source failed and none is stored, or
                none of its symbols is in the chosen tiers).
        """
        ctx = self.ctx
        today = mh.current_trading_day(ctx.clock.now())
        meta = await ctx.store.call(queries.universe_info)
        fresh = (
            meta.signature == self.signature()
            and meta.as_of is not None
            and meta.as_of >= today
            and meta.size > 0
        )
        if fresh and not force:
            # Read back once, not every cycle (8,000 rows cost a cycle 40 ms): the engine uses
            # the symbols, tiers and sectors, which change only with the universe itself.
            key = (meta.signature, meta.as_of, meta.size, meta.fetched_at)
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, await ctx.store.call(queries.universe_tickers))
            return list(self._cached[1])
        progress(
            Progress("universe", message=f"Loading the universe from {self.source.describe()}")
        )
        then = (
            f"the stored universe of {meta.size} symbols ({meta.as_of}) is used"
            if meta.size
            else ""
        )
        loaded = await owned(
            report, "universe", self.source.describe(), self.source.load, then=then
        )
        if loaded is None:
            if meta.size:
                return await ctx.store.call(queries.universe_tickers)
            failure = report.failures.pop()
            report.errors -= 1
            raise RefreshFailed(failure.message)
        tiers = set(ctx.settings.universe.cap_tiers)
        tickers = [t for t in loaded if not t.cap_tier or t.cap_tier in tiers]
        if not tickers:
            raise RefreshFailed(
                f"The universe from {self.source.describe()} has no symbols in the cap tiers "
                f"{', '.join(ctx.settings.universe.cap_tiers)}."
            )
        await ctx.store.call(
            Store.replace_universe,
            tickers,
            source=self.source.name,
            as_of=today,
            fetched_at=ctx.wall(),
        )
        await ctx.store.call(Store.set_meta, "universe_signature", self.signature())
        # A source's caveat (Nasdaq's free sample, a file's skipped lines) stays with the
        # universe it describes, for the status bar and the headless output.
        warning = str(getattr(self.source, "warning", "") or "")
        problems = list(getattr(self.source, "problems", []) or [])
        if problems and not warning:
            warning = f"{len(problems)} lines of the universe file were skipped (see the log)."
        await ctx.store.call(Store.set_meta, "universe_warning", warning)
        if warning:
            log.warning("%s", warning)
        progress(
            Progress(
                "universe", len(tickers), len(tickers), message=f"Universe: {len(tickers)} symbols"
            )
        )
        return tickers
