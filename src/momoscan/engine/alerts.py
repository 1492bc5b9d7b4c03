"""The alerts step: evaluate the configured rules and look for the scanner's entries (a name
entering the top movers or top volume, a new options top-10 entrant; `entrants.detect`) after
each cycle, and between cycles on what the price stream moves (new highs and speed among
them: the stream's writes keep the highs of the day) and after each read of the halts feed
(the halt, resume and ssr rules: `after_halts`, a collector's); hand what fired to whoever
listens (the app, the headless loop, the pushes). All come from the store's data, never from
a screen.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence

import anyio

from .. import alerts, entrants, queries
from ..config import HALT_CONDITIONS, QUOTE_CONDITIONS, AlertRule
from ..models import AlertEvent
from ..store import StoreError
from .context import RefreshReport, StepContext, owned

log = logging.getLogger(__name__)

#: Between cycles, the names the stream moved are looked at this often (seconds).
STREAM_EVERY = 1.0
#: Between cycles, the boards are looked at again this often while the stream moves prices
#: (seconds): a streamed trade can carry a name into the top 10 before the next cycle.
SCANNER_EVERY = 5.0

AlertsCallback = Callable[[Sequence[AlertEvent]], None]


class AlertStep:
    """Runs `alerts.evaluate` on the store's thread, over everything after a cycle and over
    the streamed names in between."""

    def __init__(self, ctx: StepContext):
        self.ctx = ctx
        self._moved: set[str] = set()
        self._listeners: list[AlertsCallback] = []
        self._checked = False
        #: The stream moved a price since the boards were last looked at.
        self._boards_moved = False
        #: A cycle has ended: the store holds a sweep, so the boards can be compared.
        self._cycled = False
        self._boards_at = 0.0

    @property
    def rules(self) -> bool:
        return bool(self.ctx.settings.alerts.rules)

    def listen(self, callback: AlertsCallback) -> None:
        """Call `callback` with the alerts that fired between cycles (from streamed prices);
        those of a cycle are on its report."""
        self._listeners.append(callback)

    async def _evaluate(
        self, symbols: Sequence[str] | None, rules: Sequence[AlertRule] | None = None
    ) -> list[AlertEvent]:
        ctx = self.ctx
        settings = ctx.settings
        return await ctx.store.call(
            alerts.evaluate,
            settings.alerts.rules if rules is None else rules,
            tiers=settings.universe.cap_tiers,
            min_price=settings.universe.min_price,
            rearm_pct=settings.alerts.rearm_pct,
            now=ctx.clock.now().timestamp(),
            symbols=symbols,
        )

    async def _scan(self) -> list[AlertEvent]:
        ctx = self.ctx
        settings = ctx.settings
        self._boards_moved = False
        self._boards_at = anyio.current_time()
        return await ctx.store.call(
            entrants.detect,
            tiers=settings.universe.cap_tiers,
            min_price=settings.universe.min_price,
            now=ctx.clock.now().timestamp(),
            floats=settings.scan.float_bounds,
        )

    async def run(self, report: RefreshReport) -> None:
        """After a cycle: the scanner's entries (on the report's `scanner`), and every rule over
        everything stored (on its `alerts`)."""
        self._cycled = True
        found = await owned(report, "alerts", "scanner", self._scan)
        report.scanner.extend(found or [])
        if not self.rules:
            return
        if not self._checked:
            self._checked = True
            await self._check_symbols(report)
        self._moved.clear()
        fired = await owned(report, "alerts", "rules", lambda: self._evaluate(None))
        report.alerts.extend(fired or [])

    async def _check_symbols(self, report: RefreshReport) -> None:
        """Say once a run which rules watch a symbol that gets no quotes: one outside the
        universe's cap tiers (or its file) is never quoted."""
        settings = self.ctx.settings
        pinned = {
            r.symbol
            for r in settings.alerts.rules
            if r.symbol and any(n in QUOTE_CONDITIONS for n, _ in r.conditions)
        }
        if not pinned:
            return
        members = set(await self.ctx.store.call(queries.universe_symbol_list))
        if not members:
            return
        for symbol in sorted(pinned - members):
            report.messages.append(
                f"An alert rule watches {symbol}'s quote, but {symbol} is not in the universe "
                f"(cap tiers {', '.join(settings.universe.cap_tiers)}), so it gets no quotes; "
                "add its tier to [universe] cap_tiers."
            )

    def moved(self, symbols: Sequence[str]) -> None:
        """The stream wrote these symbols' prices: look at them at the next `STREAM_EVERY`,
        and at the boards within `SCANNER_EVERY`."""
        if symbols:
            self._boards_moved = True
        if self.rules:
            self._moved.update(symbols)

    async def after_halts(self) -> None:
        """After a read of the halts feed between cycles (`HaltStep.after_poll`): evaluate
        the rules with a halt, resume or ssr condition over every name, and tell the
        listeners. A failure costs this evaluation only (the next cycle's looks again)."""
        rules = [
            r
            for r in self.ctx.settings.alerts.rules
            if any(n in HALT_CONDITIONS for n, _ in r.conditions)
        ]
        if not rules:
            return
        try:
            fired = await self._evaluate(None, rules)
        except (StoreError, sqlite3.Error) as exc:
            log.info("evaluating halt rules after a halts read failed: %s", exc)
            return
        except Exception:
            log.exception("evaluating halt rules after a halts read failed")
            return
        if fired:
            for listener in self._listeners:
                listener(fired)

    async def watch_stream(self) -> None:
        """Until cancelled: evaluate the rules on the streamed names and look at the boards,
        and tell the listeners (the scanner's entries and the rules' alerts alike: an event's
        `rule` says which)."""
        while True:
            await anyio.sleep(STREAM_EVERY)
            fired: list[AlertEvent] = []
            due = anyio.current_time() - self._boards_at >= SCANNER_EVERY
            if self._cycled and self._boards_moved and due:
                try:
                    fired += await self._scan()
                except (StoreError, sqlite3.Error) as exc:
                    # A full disk or a lock: the cycle says so in words; one line here.
                    log.info("looking at the boards on streamed prices failed: %s", exc)
                except Exception:
                    # The next cycle looks again; the log keeps why this failed.
                    log.exception("looking at the boards on streamed prices failed")
            if self.rules and self._moved:
                symbols, self._moved = sorted(self._moved), set()
                try:
                    fired += await self._evaluate(symbols)
                except (StoreError, sqlite3.Error) as exc:
                    log.info("evaluating alert rules on streamed prices failed: %s", exc)
                except Exception:
                    log.exception("evaluating alert rules on streamed prices failed")
            if fired:
                for listener in self._listeners:
                    listener(fired)
