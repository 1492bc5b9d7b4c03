"""Float and short interest in the core: the float estimate, the store's tables, the queries
the screens read, and the fundamentals step (fake SEC and FINRA clients, a fake wall clock,
a fixed market clock): what it fetches first, how often, and how a failure costs it alone."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import anyio
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.engine.context import RefreshReport, StepContext
from momoscan.engine.fundamentals import FACTS_RETRY, FINRA_RETRY, FundamentalsStep, fetch_order
from momoscan.engine.store_thread import StoreThread
from momoscan.fundamentals import (
    BASIS_FLOAT_AT_DATE,
    BASIS_FLOAT_RECENT,
    BASIS_SHARES,
    FloatFigure,
    ShortInterest,
    ShortVolume,
    estimate_float,
)
from momoscan.models import Ticker
from momoscan.queries import fundamentals as fq
from momoscan.sources.errors import MalformedResponse, ServiceError, SourceError
from momoscan.sources.finra import (
    FinraNotPublished,
    ShortInterestFile,
    ShortVolumeFile,
    short_volume_day,
)
from momoscan.sources.sec import SecBlocked, SecUserAgentMissing
from momoscan.sources.sec_facts import CompanyFacts
from momoscan.store import SCHEMA_VERSION, Store

DAY = date(2026, 12, 4)  # a Friday


def et(day: date, hh: int, mm: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=mh.ET).timestamp()


# -- the estimate ------------------------------------------------------------------------------


def test_float_estimate_and_its_basis() -> None:
    # $40M of public float at $8 a share on its as-of date: 5M shares.
    assert estimate_float(30_000_000, 40e6, close_at_float_date=8.0, recent_close=2.0) == (
        5_000_000,
        BASIS_FLOAT_AT_DATE,
    )
    assert estimate_float(30_000_000, 40e6, recent_close=4.0) == (10_000_000, BASIS_FLOAT_RECENT)
    # Never above the shares outstanding (a price fallen since: $40M / $1 = 40M > 30M).
    assert estimate_float(30_000_000, 40e6, recent_close=1.0) == (30_000_000, BASIS_FLOAT_RECENT)
    # No public float, or no price to divide it by: the shares outstanding stand in.
    assert estimate_float(30_000_000, None, recent_close=1.0) == (30_000_000, BASIS_SHARES)
    assert estimate_float(30_000_000, 40e6) == (30_000_000, BASIS_SHARES)
    # Nothing known: None, never 0.
    assert estimate_float(None, None, recent_close=3.0) == (None, "")
    assert estimate_float(0, 0.0, recent_close=3.0) == (None, "")
    assert estimate_float(None, 40e6, recent_close=8.0) == (5_000_000, BASIS_FLOAT_RECENT)


# -- the store and queries ---------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "f.db") as s:
        yield s


def test_the_tables_are_the_interfaces(store: Store) -> None:
    assert store.schema_version() == SCHEMA_VERSION

    def columns(table: str) -> list[tuple[str, str]]:
        return [(r[1], r[2]) for r in store.conn.execute(f"PRAGMA table_info({table})")]

    assert columns("floats") == [
        ("symbol", "TEXT"),
        ("cik", "INTEGER"),
        ("shares_outstanding", "INTEGER"),
        ("shares_as_of", "TEXT"),
        ("public_float_usd", "REAL"),
        ("float_as_of", "TEXT"),
        ("float_shares", "INTEGER"),
        ("float_basis", "TEXT"),
        ("fetched_at", "REAL"),
    ]
    assert [c for c, _ in columns("short_interest")] == [
        "symbol",
        "settlement",
        "short_shares",
        "previous_shares",
        "avg_daily_volume",
        "days_to_cover",
    ]
    assert [c for c, _ in columns("short_volume")] == [
        "symbol",
        "day",
        "short_volume",
        "total_volume",
    ]


def figure(symbol: str, shares: int | None, at: float = 1.0, **kw: object) -> FloatFigure:
    base: dict[str, object] = dict(
        symbol=symbol,
        cik=100,
        shares_outstanding=shares,
        shares_as_of=date(2026, 10, 30) if shares else None,
        public_float_usd=None,
        float_as_of=None,
        float_shares=shares,
        float_basis=BASIS_SHARES if shares else "",
        fetched_at=at,
    )
    base.update(kw)
    return FloatFigure(**base)  # type: ignore[arg-type]


def test_floats_round_trip_and_unknown_is_none(store: Store) -> None:
    kvra = figure(
        "KVRA",
        36_000_000,
        public_float_usd=96e6,
        float_as_of=date(2025, 6, 27),
        float_shares=12_000_000,
        float_basis=BASIS_FLOAT_RECENT,
    )
    assert store.store_floats([kvra, figure("NONE", None), figure("ZERO", 0)]) == 3
    got = fq.floats(store)
    assert got["KVRA"] == kvra
    assert got["NONE"].shares_outstanding is None and got["NONE"].float_shares is None
    assert got["ZERO"].shares_outstanding is None and got["ZERO"].float_shares is None
    assert set(fq.floats(store, ["KVRA", "MISSING"])) == {"KVRA"}
    # A later fetch replaces the row.
    store.store_floats([figure("KVRA", 40_000_000, at=2.0)])
    assert fq.floats(store, ["KVRA"])["KVRA"].shares_outstanding == 40_000_000
    assert fq.float_fetched(store, ["KVRA", "NONE"]) == {"KVRA": 2.0, "NONE": 1.0}


def test_latest_settlement_and_trade_date_per_symbol(store: Store) -> None:
    nov13, nov30 = date(2026, 11, 13), date(2026, 11, 30)
    store.store_short_interest(
        [
            ShortInterest("KVRA", nov13, 100, 90, 10, 10.0),
            ShortInterest("PLXO", nov13, 7, None, None, None),
        ]
    )
    store.store_short_interest([ShortInterest("KVRA", nov30, 200, 100, 50, 4.0)])
    si = fq.short_interest(store)
    assert si["KVRA"] == ShortInterest("KVRA", nov30, 200, 100, 50, 4.0)
    assert si["PLXO"] == ShortInterest("PLXO", nov13, 7, None, None, None)
    assert set(fq.short_interest(store, ["PLXO"])) == {"PLXO"}
    assert store.get_meta("short_interest_settlement") == "2026-11-30"
    # An older file read later leaves the newest settlement as it was.
    store.store_short_interest([ShortInterest("ABC", nov13, 1, None, None, None)])
    assert store.get_meta("short_interest_settlement") == "2026-11-30"
    store.store_short_volume(
        [ShortVolume("KVRA", date(2026, 12, 3), 5.5, 10.0), ShortVolume("KVRA", DAY, 3.0, 4.0)]
    )
    sv = fq.short_volume(store)
    assert sv["KVRA"] == ShortVolume("KVRA", DAY, 3.0, 4.0) and sv["KVRA"].short_share == 0.75
    assert store.get_meta("short_volume_day") == DAY.isoformat()


def test_old_files_are_forgotten(store: Store) -> None:
    store.store_short_volume([ShortVolume("OLD", date(2026, 9, 30), 1.0, 2.0)])
    store.store_short_interest([ShortInterest("OLD", date(2025, 9, 30), 1, None, None, None)])
    store.store_short_volume([ShortVolume("KVRA", DAY, 1.0, 2.0)])
    store.store_short_interest([ShortInterest("KVRA", date(2026, 11, 30), 5, 4, 1, 5.0)])
    assert set(fq.short_volume(store)) == {"KVRA"}  # 65 days before the newest: gone
    assert set(fq.short_interest(store)) == {"KVRA"}
    # Within the kept span: kept.
    store.store_short_volume([ShortVolume("NEAR", date(2026, 10, 5), 1.0, 2.0)])
    assert set(fq.short_volume(store)) == {"KVRA", "NEAR"}


def test_a_demo_clock_started_again_forgets_the_later_files(store: Store) -> None:
    store.store_short_volume(
        [ShortVolume("KVRA", date(2026, 12, 3), 1.0, 2.0), ShortVolume("KVRA", DAY, 1.0, 2.0)]
    )
    store.store_short_interest([ShortInterest("KVRA", date(2026, 11, 30), 5, 4, 1, 5.0)])
    store.forget_after(et(date(2026, 11, 25), 10), date(2026, 11, 25))
    assert fq.short_volume(store) == {} and fq.short_interest(store) == {}
    assert store.get_meta("short_volume_day") is None
    assert store.get_meta("short_interest_settlement") is None


def test_closes_for_the_float_estimate(store: Store) -> None:
    as_of = date(2025, 6, 27)
    store.conn.executemany(
        "INSERT INTO quote_history (symbol, ts, price, volume) VALUES (?, ?, ?, ?)",
        [
            ("KVRA", int(et(as_of, 10)), 7.0, 100),
            ("KVRA", int(et(as_of, 15, 59)), 8.0, 200),
            ("KVRA", int(et(as_of, 18)), 9.0, 300),  # after the close: not the close
        ],
    )
    store.conn.execute(
        "INSERT INTO quotes (symbol, price, prev_close, fetched_at) VALUES "
        "('KVRA', 2.5, 2.0, 1), ('PLXO', 3.0, NULL, 1)"
    )
    got = fq.closes_for_float(store, {"KVRA": as_of, "PLXO": None, "NEW": as_of})
    assert got == {"KVRA": (8.0, 2.0), "PLXO": (None, 3.0), "NEW": (None, None)}


def test_fetch_order_watchlist_then_screen_then_the_rest() -> None:
    universe = ["A", "B", "C", "D", "E"]
    assert fetch_order(universe, ["D", "X"], ["E", "D", "B"]) == ["D", "E", "B", "A", "C"]


def test_short_volume_day_is_out_after_six_pm_et() -> None:
    assert short_volume_day(datetime(2026, 12, 4, 17, 59, tzinfo=mh.ET)) == date(2026, 12, 3)
    assert short_volume_day(datetime(2026, 12, 4, 18, 0, tzinfo=mh.ET)) == DAY
    assert short_volume_day(datetime(2026, 12, 5, 20, 0, tzinfo=mh.ET)) == DAY  # Saturday
    assert short_volume_day(datetime(2026, 12, 7, 9, 0, tzinfo=mh.ET)) == DAY  # Monday early


# -- the step ----------------------------------------------------------------------------------


@dataclass
class FakeFacts:
    by_cik: dict[int, CompanyFacts | SourceError] = field(default_factory=dict)
    asked: list[int] = field(default_factory=list)

    async def company(self, cik: int) -> CompanyFacts:
        self.asked.append(cik)
        answer = self.by_cik.get(cik, CompanyFacts(cik, "", None, None, None, None, False))
        if isinstance(answer, SourceError):
            raise answer
        return answer


@dataclass
class FakeFinra:
    settlements: dict[date, list[ShortInterest]] = field(default_factory=dict)
    volumes: dict[date, list[ShortVolume]] = field(default_factory=dict)
    error: Exception | None = None
    calls: list[tuple[str, date, date | None]] = field(default_factory=list)

    async def short_interest(
        self,
        today: date,
        universe: Collection[str] | None = None,
        *,
        newer_than: date | None = None,
    ) -> ShortInterestFile:
        self.calls.append(("si", today, newer_than))
        if self.error is not None:
            raise self.error
        ready = [d for d in self.settlements if d <= today and (not newer_than or d > newer_than)]
        if not ready:
            raise FinraNotPublished("FINRA short interest: no file published (HTTP 403).")
        newest = max(ready)
        return ShortInterestFile(newest, self.settlements[newest], 0)

    async def short_volume(
        self, day: date, universe: Collection[str] | None = None
    ) -> ShortVolumeFile:
        self.calls.append(("sv", day, None))
        if self.error is not None:
            raise self.error
        ready = [d for d in self.volumes if d <= day]
        if not ready:
            raise FinraNotPublished(f"FINRA short volume: no file for {day} (HTTP 404).")
        return ShortVolumeFile(max(ready), self.volumes[max(ready)], 0)

    def count(self, kind: str) -> int:
        return sum(1 for k, _, _ in self.calls if k == kind)


class Wall:
    def __init__(self, clock: FixedClock) -> None:
        self.now = 1_800_000_000.0
        self.clock = clock
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.clock.advance(seconds)
        await anyio.sleep(0)


UNIVERSE = ["AAA", "BBB", "BRK.A", "BRK.B", "CCC", "DDD"]
CIKS = {"AAA": 1, "BBB": 2, "BRK.A": 3, "BRK.B": 3, "CCC": 4}  # DDD: not in SEC's map


@dataclass
class Rig:
    ctx: StepContext
    wall: Wall
    clock: FixedClock
    facts: FakeFacts
    finra: FakeFinra
    step: FundamentalsStep


def facts_of(cik: int, shares: int | None, public: float | None = None) -> CompanyFacts:
    return CompanyFacts(
        cik,
        f"Co {cik}",
        shares,
        date(2026, 10, 30) if shares else None,
        public,
        date(2025, 6, 27) if public else None,
    )


@pytest.fixture
async def rig(tmp_path: Path) -> Rig:  # type: ignore[misc]
    clock = FixedClock(datetime(2026, 12, 4, 10, 0, tzinfo=mh.ET))
    wall = Wall(clock)
    store = StoreThread(tmp_path / "s.db")
    await store.start()
    tickers = [Ticker(s, f"{s} Inc", "NASDAQ", "XNAS", "small", "", "") for s in UNIVERSE]
    await store.call(Store.replace_universe, tickers, source="test", as_of=DAY, fetched_at=wall.now)
    ctx = StepContext(Settings(), store, clock, "demo", wall)
    facts = FakeFacts(
        {
            1: facts_of(1, 10_000_000, 20e6),
            2: facts_of(2, 50_000_000),
            3: facts_of(3, 2_000_000, 1e9),
            4: facts_of(4, None),
        }
    )
    finra = FakeFinra()

    async def ciks(symbols: Sequence[str]) -> dict[str, int]:
        return {s: CIKS[s] for s in symbols if s in CIKS}

    step = FundamentalsStep(ctx, facts, finra, ciks=ciks, per_cycle=2, sleep=wall.sleep)
    try:
        yield Rig(ctx, wall, clock, facts, finra, step)
    finally:
        await store.close()


@pytest.mark.anyio
async def test_the_cycle_fetches_the_watched_names_first_once_a_week(rig: Rig) -> None:
    rig.step.finra = None
    rig.ctx.watchlist = ["CCC", "BRK.B", "AAA"]
    await rig.ctx.store.call(
        lambda s: s.conn.execute(
            "INSERT INTO quotes (symbol, price, prev_close, fetched_at) VALUES ('AAA', 4, 4, 1)"
        )
    )
    report = RefreshReport(run_id=1)
    await rig.step.run(report)
    assert report.failures == []
    assert rig.facts.asked == [4, 3]  # per_cycle 2, in the watchlist's order
    got = await rig.ctx.store.call(fq.floats)
    # A share class's CIK gives both classes their figures; $1B float at no price: shares.
    assert set(got) == {"CCC", "BRK.A", "BRK.B"}
    assert got["BRK.A"].float_shares == got["BRK.B"].float_shares == 2_000_000
    assert got["BRK.B"].float_basis == BASIS_SHARES and got["BRK.B"].cik == 3
    assert got["CCC"].shares_outstanding is None and got["CCC"].float_shares is None
    await rig.step.run(RefreshReport(run_id=2))
    assert rig.facts.asked == [4, 3, 1]
    aaa = (await rig.ctx.store.call(fq.floats, ["AAA"]))["AAA"]
    assert (aaa.float_shares, aaa.float_basis) == (5_000_000, BASIS_FLOAT_RECENT)  # $20M / $4
    # Fresh figures are not fetched again until facts_refresh_days (7) have passed.
    rig.wall.now += 6 * 86400
    await rig.step.run(RefreshReport(run_id=3))
    assert rig.facts.asked == [4, 3, 1]
    rig.wall.now += 86400 + 1
    await rig.step.run(RefreshReport(run_id=4))
    assert rig.facts.asked == [4, 3, 1, 4, 3]


@pytest.mark.anyio
async def test_the_watch_fetches_the_rest_a_few_a_second(rig: Rig) -> None:
    stored: list[int] = []
    rig.step.listen(lambda: stored.append(1))
    with anyio.move_on_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rig.step.watch)
            while len(rig.facts.asked) < 4:
                await anyio.sleep(0)
            while not any(s >= 600 for s in rig.wall.slept):
                await anyio.sleep(0)
            tg.cancel_scope.cancel()
    assert sorted(rig.facts.asked) == [1, 2, 3, 4]  # each CIK once; DDD has none
    assert set(await rig.ctx.store.call(fq.floats)) == {"AAA", "BBB", "BRK.A", "BRK.B", "CCC"}
    # Never more than PER_SECOND (2) a second; idle once everything is fresh.
    assert all(s >= 0.5 for s in rig.wall.slept) and stored


@pytest.mark.anyio
async def test_a_failure_costs_that_company_and_a_block_stops_the_rest(rig: Rig) -> None:
    rig.step.finra = None
    rig.ctx.watchlist = ["AAA", "BBB", "CCC"]
    rig.step.per_cycle = 3
    rig.facts.by_cik[1] = MalformedResponse(
        "SEC company facts of CIK 1: the answer is not whole JSON (300 bytes; cut off on the way?)."
    )
    rig.facts.by_cik[2] = SecBlocked(
        "SEC company facts of CIK 2: refused (HTTP 403); no request for 10 minutes.",
        retry_after=600.0,
    )
    report = RefreshReport(run_id=1)
    await rig.step.run(report)
    assert report.status == "running" and report.errors == 0
    assert [f.item for f in report.failures] == ["AAA", "fair access"]
    # One line a unit, the source named once: "SEC company facts (AAA): CIK 1: ...".
    assert report.problem_lines()[0].startswith(
        "SEC company facts (AAA): CIK 1: the answer is not whole JSON"
    )
    assert all(f.side and f.source == "SEC company facts" for f in report.failures)
    assert report.settle() == "partial"
    assert rig.facts.asked == [1, 2]  # CCC not asked while blocked
    await rig.step.run(RefreshReport(run_id=2))
    assert rig.facts.asked == [1, 2]
    rig.wall.now += 601
    rig.facts.by_cik[1] = facts_of(1, 10_000_000)
    rig.facts.by_cik[2] = facts_of(2, 5)
    again = RefreshReport(run_id=3)
    await rig.step.run(again)
    # The block lifted: BBB and CCC; AAA's cut-off answer is asked again an hour on.
    assert again.failures == [] and rig.facts.asked == [1, 2, 2, 4]
    rig.wall.now += FACTS_RETRY - 601
    await rig.step.run(RefreshReport(run_id=4))
    assert rig.facts.asked == [1, 2, 2, 4, 1]
    assert set(await rig.ctx.store.call(fq.floats)) == {"AAA", "BBB", "CCC"}


@pytest.mark.anyio
async def test_without_a_user_agent_sec_stays_off_and_says_so_once(rig: Rig) -> None:
    step = FundamentalsStep(
        rig.ctx,
        None,
        rig.finra,
        off_reason="SEC company facts are off: set [sec] user_agent.",
        sleep=rig.wall.sleep,
    )
    first, second = RefreshReport(run_id=1), RefreshReport(run_id=2)
    await step.run(first)
    await step.run(second)
    assert first.messages == ["SEC company facts are off: set [sec] user_agent."]
    assert second.messages == [] and rig.facts.asked == []
    await step.watch()  # returns at once: nothing to do without SEC
    missing = FundamentalsStep(rig.ctx, rig.facts, None, ciks=None, sleep=rig.wall.sleep)
    rig.facts.by_cik[1] = SecUserAgentMissing("SEC EDGAR: no User-Agent is set; set it.")
    rig.ctx.watchlist = ["AAA", "BBB"]

    async def ciks(symbols: Sequence[str]) -> dict[str, int]:
        return {s: CIKS[s] for s in symbols if s in CIKS}

    missing._ciks = ciks
    report = RefreshReport(run_id=3)
    await missing.run(report)
    assert [f.item for f in report.failures] == ["User-Agent"] and rig.facts.asked == [1]


@pytest.mark.anyio
async def test_finra_short_interest_once_a_day_and_short_volume_after_six(rig: Rig) -> None:
    rig.step.facts = None
    nov30 = date(2026, 11, 30)
    rig.finra.settlements[nov30] = [ShortInterest("AAA", nov30, 500, 400, 100, 5.0)]
    rig.finra.volumes[date(2026, 12, 3)] = [ShortVolume("AAA", date(2026, 12, 3), 1.0, 4.0)]
    await rig.step.run(RefreshReport(run_id=1))
    assert rig.finra.calls == [("si", DAY, None), ("sv", date(2026, 12, 3), None)]
    si = await rig.ctx.store.call(fq.short_interest)
    assert si["AAA"].settlement == nov30 and si["AAA"].days_to_cover == 5.0
    await rig.step.run(RefreshReport(run_id=2))  # nothing due: nothing asked
    assert len(rig.finra.calls) == 2
    # 18:00 ET: the day's short volume file.
    rig.clock.advance(8 * 3600)
    rig.wall.now += 8 * 3600
    rig.finra.volumes[DAY] = [ShortVolume("AAA", DAY, 2.0, 4.0)]
    await rig.step.run(RefreshReport(run_id=3))
    assert rig.finra.calls[-1] == ("sv", DAY, None) and rig.finra.count("si") == 1
    assert (await rig.ctx.store.call(fq.short_volume))["AAA"].day == DAY
    # The next day: short interest probed for a settlement newer than the one stored; none
    # out yet is no failure.
    rig.clock.advance(16 * 3600)
    rig.wall.now += 16 * 3600
    report = RefreshReport(run_id=4)
    await rig.step.run(report)
    assert ("si", date(2026, 12, 5), nov30) in rig.finra.calls and report.failures == []


@pytest.mark.anyio
async def test_finra_failures_are_one_line_each_and_retried_later(rig: Rig) -> None:
    rig.step.facts = None
    rig.finra.error = ServiceError(
        "FINRA short volume of 2026-12-03 failed after 2 tries: HTTP 503."
    )
    report = RefreshReport(run_id=1)
    await rig.step.run(report)
    assert [f.source for f in report.failures] == ["FINRA short interest", "FINRA short volume"]
    assert all(f.side for f in report.failures) and report.settle() == "partial"
    assert report.failures[1].message.endswith("the short volume shown is of the last file read")
    asked = len(rig.finra.calls)
    rig.wall.now += FINRA_RETRY - 1
    await rig.step.run(RefreshReport(run_id=2))
    assert len(rig.finra.calls) == asked
    rig.wall.now += 1
    rig.finra.error = None
    rig.finra.volumes[date(2026, 12, 3)] = [ShortVolume("AAA", date(2026, 12, 3), 1.0, 4.0)]
    retried = RefreshReport(run_id=3)
    await rig.step.run(retried)
    assert len(rig.finra.calls) == asked + 2
    # Nothing ever published (the finra_403 shape): said, as a failure of that source alone.
    assert [f.message for f in retried.failures] == [
        "FINRA short interest: no file published (HTTP 403)."
    ]


@pytest.mark.anyio
async def test_a_bug_in_the_background_fetch_never_ends_it(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def broken(symbols: Sequence[str]) -> dict[str, int]:
        calls.append(len(symbols))
        raise RuntimeError("a bug")

    rig.step._ciks = broken
    with anyio.move_on_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rig.step.watch)
            while len(calls) < 3:
                await anyio.sleep(0)
            tg.cancel_scope.cancel()
    assert len(calls) == 3 and rig.wall.slept[:2] == [600.0, 600.0]
    assert "failed unexpectedly" in caplog.text


@pytest.mark.anyio
async def test_an_answer_nobody_foresaw_costs_finra_alone(rig: Rig) -> None:
    rig.step.facts = None
    rig.finra.error = AssertionError("RESPX: not mocked!")
    report = RefreshReport(run_id=1)
    await rig.step.run(report)  # never raises
    assert [(f.source, f.side) for f in report.failures] == [
        ("FINRA short interest", True),
        ("FINRA short volume", True),
    ]
    assert all("failed unexpectedly" in f.message for f in report.failures)
    assert report.settle() == "partial"
