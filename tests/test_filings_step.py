"""The filings step on fake clocks and a fake SEC client: when it polls (EDGAR's hours, its
pace), what it asks (the accessions it knows, how far back), what it stores (universe
companies only), the ticker map read once a day and kept when a read fails, and a block that
costs the step only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import anyio
import pytest

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.engine.context import RefreshReport, StepContext
from momoscan.engine.filings import TICKERS_EVERY, FilingsStep, edgar_hours
from momoscan.engine.store_thread import StoreThread
from momoscan.filings import Filing, kind_of
from momoscan.models import Ticker
from momoscan.sources.errors import MalformedResponse, SourceError
from momoscan.sources.sec import SecBlocked
from momoscan.store import Store

DAY = date(2026, 11, 20)
MAP = [(101, "AAA", "AAA Corp", "Nasdaq"), (102, "BBB-B", "BBB Inc", "NYSE"), (999, "ZZZ", "Z", "")]


def et(hh: int, mm: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=mh.ET)


def filing(accession: str, cik: int, at: datetime, form: str = "8-K") -> Filing:
    items = ("8.01",) if form == "8-K" else ()
    return Filing(accession, cik, "", form, items, at.timestamp(), "Co", "u", kind_of(form, items))


@dataclass
class Page:
    filings: list[Filing]
    pages: int = 1
    skipped: int = 0


@dataclass
class FakeSec:
    feed: list[Filing] = field(default_factory=list)
    tickers: list[tuple[int, str, str, str]] | SourceError = field(default_factory=lambda: MAP)
    fail: SourceError | None = None
    calls: list[tuple[str, object, object]] = field(default_factory=list)

    async def ticker_map(self) -> list[tuple[int, str, str, str]]:
        self.calls.append(("tickers", None, None))
        if isinstance(self.tickers, SourceError):
            raise self.tickers
        return list(self.tickers)

    async def current_filings(
        self,
        known: Collection[str] = (),
        *,
        since: float | None = None,
        count: int = 100,
        max_pages: int = 40,
    ) -> Page:
        self.calls.append(("feed", set(known), since))
        if self.fail is not None:
            raise self.fail
        return Page([f for f in self.feed if f.accession not in known])

    def count(self, kind: str) -> int:
        return sum(1 for c in self.calls if c[0] == kind)


class Wall:
    def __init__(self, clock: FixedClock) -> None:
        self.now = 1_800_000_000.0
        self.clock = clock

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.clock.advance(seconds)
        await anyio.sleep(0)


@dataclass
class Rig:
    step: FilingsStep
    sec: FakeSec
    wall: Wall
    clock: FixedClock
    store: StoreThread


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FixedClock(et(10, 0))
    wall = Wall(clock)
    store = StoreThread(tmp_path / "s.db")
    await store.start()
    tickers = [Ticker(s, s, "NYSE", "XNYS", "small") for s in ("AAA", "BBB.B", "CCC")]
    await store.call(Store.replace_universe, tickers, source="t", as_of=DAY, fetched_at=0.0)
    sec = FakeSec()
    ctx = StepContext(Settings(), store, clock, "demo", wall)
    step = FilingsStep(ctx, sec, poll_seconds=60.0, sleep=wall.sleep)
    try:
        yield Rig(step, sec, wall, clock, store)
    finally:
        await store.close()


def test_edgar_hours() -> None:
    assert edgar_hours(et(4, 0)) and edgar_hours(et(19, 59))
    assert not edgar_hours(et(3, 59)) and not edgar_hours(et(20, 0))
    assert not edgar_hours(et(12, 0, date(2026, 11, 21)))  # a Saturday


@pytest.mark.anyio
async def test_a_poll_maps_stores_the_universes_filings_and_remembers(rig: Rig) -> None:
    rig.sec.feed = [
        filing("a1", 101, et(9, 59)),
        filing("a2", 102, et(9, 50), "4"),
        filing("a3", 999, et(9, 40)),  # a company outside the universe
        filing("a4", 555, et(9, 30)),  # one the map does not know
    ]
    report = RefreshReport(run_id=1)
    await rig.step.run(report)
    assert report.failures == []
    midnight = et(0, 0).timestamp()
    assert rig.sec.calls == [("tickers", None, None), ("feed", set(), midnight)]
    day = await rig.store.call(queries.filings_on, DAY)
    assert {s: [f.accession for f in fs] for s, fs in day.items()} == {
        "AAA": ["a1"],
        "BBB.B": ["a2"],
    }
    # Within the pace: nothing asked; a minute on: the known accessions and the newest.
    rig.wall.now += 59
    await rig.step.run(RefreshReport(run_id=2))
    assert rig.sec.count("feed") == 1
    rig.wall.now += 1
    rig.sec.feed.insert(0, filing("a5", 101, et(10, 0)))
    await rig.step.run(RefreshReport(run_id=3))
    _, known, since = rig.sec.calls[-1]
    assert known == {"a1", "a2", "a3", "a4"}
    assert since == et(9, 59).timestamp() - 300
    assert rig.sec.count("tickers") == 1  # once a day
    day = await rig.store.call(queries.filings_on, DAY)
    assert [f.accession for f in day["AAA"]] == ["a5", "a1"]


@pytest.mark.anyio
async def test_the_ticker_map_daily_and_kept_when_a_read_fails(rig: Rig) -> None:
    await rig.step.run(RefreshReport(run_id=1))
    rig.sec.tickers = MalformedResponse("SEC EDGAR ticker map: the answer is not whole JSON.")
    rig.wall.now += TICKERS_EVERY
    report = RefreshReport(run_id=2)
    await rig.step.run(report)
    (failure,) = report.failures
    assert failure.source == "SEC EDGAR" and failure.item == "ticker map" and failure.side
    assert "the map read before is kept" in failure.message
    assert report.errors == 0  # never counted against the cycle
    assert await rig.store.call(queries.cik_map) == {"AAA": 101, "BBB.B": 102}
    assert rig.sec.count("feed") == 2  # the feed is still read, mapped by the old map


@pytest.mark.anyio
async def test_a_block_costs_the_step_only_and_is_one_line(rig: Rig) -> None:
    rig.sec.fail = SecBlocked(
        "SEC EDGAR current filings: refused for too many requests (HTTP 429); no request for "
        "10 minutes.",
        retry_after=600,
        status=429,
    )
    report = RefreshReport(run_id=1)
    await rig.step.run(report)
    (failure,) = report.failures
    assert failure.item == "current filings" and failure.side and "429" in failure.message
    assert report.errors == 0 and report.settle() == "partial"


@pytest.mark.anyio
async def test_no_poll_outside_edgars_hours_and_watch_keeps_the_pace(rig: Rig) -> None:
    rig.clock.at = et(3, 0)
    await rig.step.run(RefreshReport(run_id=1))
    assert rig.sec.calls == []
    rig.clock.at = et(10, 0)
    with anyio.move_on_after(1):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rig.step.watch)
            while rig.sec.count("feed") < 3:
                await anyio.sleep(0)
            tg.cancel_scope.cancel()
    assert rig.sec.count("feed") == 3
    assert rig.step.pace == 60.0  # FixedClock has no speed: the feed's minute
