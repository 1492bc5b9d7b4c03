"""What every step of the refresh cycle shares: settings, the store's writer thread, the market
clock, the wall clock and the mode; the report a cycle fills in; and `owned`, which makes a
unit of work own its failure.

Inside an anyio task group, an exception in one child cancels its siblings and reaches the
caller wrapped in an ExceptionGroup, which `except SourceError` never sees. So each unit of work
(a quote batch, an OCC day, a chain, the universe) catches, counts and reports its own failure
and the cycle goes on; only what should stop a whole cycle (a rejected key, an unusable
database) gets past it.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..clock import MarketClock
from ..config import Settings
from ..models import AlertEvent, Leader, Progress
from ..store import StoreError
from .store_thread import StoreThread

log = logging.getLogger(__name__)

T = TypeVar("T")

ProgressCallback = Callable[[Progress], None]


@dataclass
class StepContext:
    """The run's shared pieces, handed to each step (built once by the Engine)."""

    settings: Settings
    store: StoreThread
    clock: MarketClock
    mode: str  # "demo" or "live"
    wall: Callable[[], float] = time.time
    #: The watchlist as the database keeps it (the config's list seeds it; the app edits it),
    #: read at the start of each cycle.
    watchlist: list[str] = field(default_factory=list)

    def watched(self) -> list[str]:
        """The watchlist, then the symbols alert rules name: refreshed every cycle, streamed
        first, and in the options watch set."""
        pinned = [r.symbol for r in self.settings.alerts.rules if r.symbol]
        return list(dict.fromkeys([*self.watchlist, *pinned]))


@dataclass(frozen=True, slots=True)
class Failure:
    """One unit of work that failed: which source, which item, and a sentence saying what
    happened and what comes next."""

    source: str  # "Twelve Data", "OCC", "Cboe", "universe", "leaders", "Nasdaq Trader"
    item: str  # "2026-11-20", "NVDA chain", "120 symbols from AAPL"
    message: str
    #: A source beside the cycle's own work (the halts feed): said like any failure, but
    #: never what makes a cycle "failed".
    side: bool = False

    def line(self) -> str:
        return f"{self.source} ({self.item}): {self.message}"


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class RefreshReport:
    """What one cycle did.

    `status`: ok (everything delivered), partial (some units failed; what they could deliver is
    stored), failed (nothing could be delivered, or a failure that needs the user: a rejected
    key, no universe). `messages` are notes a user should see (the market is closed, credits are
    used up); `failures` are the units that failed, each with its sentence.
    """

    run_id: int
    status: str = "running"  # ok | partial | failed
    symbols: int = 0
    quotes: int = 0
    errors: int = 0  # symbols and items that failed, refused symbols included
    credits_used: int = 0
    chains: int = 0
    occ_days: int = 0
    leaders_days: int = 0
    messages: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    fatal: str = ""
    new_entrants: list[Leader] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)  # rules that fired this cycle
    #: The scanner's own entries this cycle (top movers, top volume, options top 10).
    scanner: list[AlertEvent] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def fail(
        self, source: str, item: str, message: str, *, count: int = 1, side: bool = False
    ) -> None:
        """Record a failed unit of work (and `count` failed items, for the error counter;
        none for a `side` source, whose failure never fails the cycle)."""
        self.failures.append(Failure(source, item, message, side))
        if not side:
            self.errors += count

    def fail_between(self, failures: dict[tuple[str, str], Failure]) -> None:
        """What a side source's polls between cycles found wrong, one line a unit: a unit
        this cycle's own try has said already is not said twice. Empties `failures`."""
        said = {(f.source, f.item) for f in self.failures}
        for key, failure in failures.items():
            if key not in said:
                self.fail(failure.source, failure.item, failure.message, side=True)
        failures.clear()

    @property
    def delivered(self) -> bool:
        return bool(self.quotes or self.chains or self.occ_days or self.leaders_days)

    def settle(self) -> str:
        """The cycle's status from what it delivered and what failed (a side source's
        failure makes it partial at worst)."""
        core = any(not f.side for f in self.failures)
        if self.fatal or ((core or self.errors) and not self.delivered):
            return "failed"
        return "partial" if self.failures or self.errors else "ok"

    def problem_lines(self) -> list[str]:
        """What failed, one sentence a source: the first failure's words, and how many more."""
        lines = [self.fatal] if self.fatal else []
        by_source: dict[str, list[Failure]] = {}
        for failure in self.failures:
            by_source.setdefault(failure.source, []).append(failure)
        for source, failures in by_source.items():
            first = failures[0].line()
            more = len(failures) - 1
            lines.append(first if not more else f"{first} (and {more} more from {source})")
        return lines

    def grouped_lines(self) -> list[str]:
        """Each failed unit on a line, except that those of one source failing for one reason
        make one line with their count and range: `OCC: could not connect to
        marketdata.theocc.com (4 tries; is the network down?) (21 days, 2026-11-04 ..
        2026-12-04)`; what cron mails, one line a cause."""
        groups: dict[tuple[str, str], list[str]] = {}
        for failure in self.failures:
            groups.setdefault((failure.source, failure.message), []).append(failure.item)
        out = []
        for (source, message), items in groups.items():
            if len(items) == 1:
                out.append(Failure(source, items[0], message).line())
                continue
            dated = all(_ISO_DAY.fullmatch(item) for item in items)
            ordered = sorted(items) if dated else items
            noun = "days" if dated else "items"
            out.append(f"{source}: {message} ({len(items)} {noun}, {ordered[0]} .. {ordered[-1]})")
        return out

    def lines(self) -> list[str]:
        """Everything a user should read about this cycle: what failed first, then notes."""
        return [*self.problem_lines(), *self.messages]

    def summary(self) -> str:
        """One line for a status bar: the worst news first."""
        lines = self.lines()
        return lines[0] if lines else ""


async def owned(
    report: RefreshReport,
    source: str,
    item: str,
    work: Callable[[], Awaitable[T]],
    *,
    then: str = "",
    count: int = 1,
    side: bool = False,
) -> T | None:
    """Run one unit of work; if it fails, record it on `report` and return None.

    A `SourceError` is the source's sentence (plus `then`, what happens next). Anything else is
    a bug or an answer nobody foresaw: logged with its traceback, reported as a sentence. An
    unusable database (`StoreError`, `sqlite3.Error`) is not the unit's to own: it propagates.
    `side`: a source beside the cycle's work (`Failure.side`).
    """
    # Here, not at the top: a viewer imports this module (through StoreThread) and should
    # not load httpx for it (the sources package does, 14 MiB).
    from ..sources.errors import SourceError

    try:
        return await work()
    except SourceError as exc:
        message = str(exc)
        if then:
            message = f"{message.rstrip('.')}; {then}"
        # The report carries it to the user (status bar, stderr); the log file keeps it too.
        log.info("%s (%s): %s", source, item, message)
        report.fail(source, item, message, count=count, side=side)
    except (StoreError, sqlite3.Error):
        raise
    except Exception:
        log.exception("%s (%s) failed unexpectedly", source, item)
        report.fail(
            source,
            item,
            "failed unexpectedly; the log file has the details" + (f"; {then}" if then else ""),
            count=count,
            side=side,
        )
    return None


class RefreshFailed(Exception):
    """The refresh cannot go on (bad key...): the message says what to do."""
