"""Halts and Rule 201 in the core: the store's tables, the queries the screens read, the halts
step's pace and failures (a fake feeds client, a fake wall clock, a fixed market clock), and
Rule 201 by the rule on polled quotes and streamed ticks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.engine.context import RefreshReport, StepContext
from momoscan.engine.halts import SSR_EVERY, SSR_RETRY, HaltStep, SsrRule
from momoscan.engine.store_thread import StoreThread
from momoscan.halts import Halt, ShortSaleRestriction
from momoscan.models import Quote, Tick
from momoscan.runtime import RunOptions, open_runtime
from momoscan.sources.errors import ServiceError, SourceError
from momoscan.store import SCHEMA_VERSION, Store

DAY = date(2026, 11, 20)  # a Friday
NEXT = date(2026, 11, 23)  # the Monday after


def et(day: date, hh: int, mm: int, ss: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=mh.ET).timestamp()


def halt(
    symbol: str,
    at: float,
    reason: str = "LUDP",
    resume: float | None = None,
    day: date = DAY,
) -> Halt:
    return Halt(symbol, day, at, reason, "NASDAQ", f"{symbol} Inc", at, resume)


# -- the store ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "h.db") as s:
        yield s


def test_the_migration_makes_both_tables(store: Store) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert {"halts", "ssr"} <= set(store.db.table_names())


def test_a_poll_updates_a_halt_in_place_and_never_deletes_one(store: Store) -> None:
    t = et(DAY, 10, 5)
    first = [halt("AAA", t, "T1"), halt("AAA", t, "T1"), halt("BBB", t + 60)]
    assert store.store_halts(first, seen_at=t + 70) == 2  # the repeated item stored once
    assert store.store_halts(first, seen_at=t + 130) == 0  # nothing changed
    # News released, then a resumption time: the same event, changed in place.
    later = [halt("AAA", t, "T3", resume=t + 3600)]
    assert store.store_halts(later, seen_at=t + 190) == 1
    rows = store.rows("SELECT symbol, reason, resume_trade_at, first_seen, last_seen FROM halts")
    assert sorted((r["symbol"], r["reason"]) for r in rows) == [("AAA", "T3"), ("BBB", "LUDP")]
    aaa = next(r for r in rows if r["symbol"] == "AAA")
    assert (aaa["resume_trade_at"], aaa["first_seen"], aaa["last_seen"]) == (
        t + 3600,
        t + 70,
        t + 190,
    )
    # A second halt of the same name the same day is another event.
    assert store.store_halts([halt("AAA", t + 900)], seen_at=t + 950) == 1
    assert store.rows("SELECT count(*) AS n FROM halts")[0]["n"] == 3


def test_the_list_is_replaced_and_the_rule_kept_as_first_found(store: Store) -> None:
    t = et(DAY, 9, 45)
    listed = ShortSaleRestriction("AAA", DAY, t, "list", "Alpha")
    assert store.store_restrictions([listed], seen_at=1.0) == 1
    corrected = ShortSaleRestriction("AAA", DAY, t - 60, "list", "Alpha Inc")
    assert store.store_restrictions([corrected], seen_at=2.0) == 0
    rule = ShortSaleRestriction("AAA", DAY, t + 5, "rule")
    assert store.store_restrictions([rule], seen_at=3.0) == 1
    again = ShortSaleRestriction("AAA", DAY, t + 600, "rule")
    assert store.store_restrictions([again], seen_at=4.0) == 0
    rows = store.rows("SELECT source, triggered_at, name FROM ssr ORDER BY source")
    assert rows == [
        {"source": "list", "triggered_at": t - 60, "name": "Alpha Inc"},
        {"source": "rule", "triggered_at": t + 5, "name": ""},
    ]
    assert store.rule_restricted(DAY) == {"AAA"}


def test_a_demo_clock_started_again_forgets_the_later_halts(store: Store) -> None:
    t = et(DAY, 10, 0)
    store.store_halts([halt("EARLY", t - 600)], seen_at=t - 590)
    store.store_halts([halt("LATER", t + 600)], seen_at=t + 610)
    store.store_restrictions(
        [
            ShortSaleRestriction("EARLY", DAY, t - 60, "rule"),
            ShortSaleRestriction("LATER", DAY, t + 60, "list"),
            ShortSaleRestriction("NEXT", NEXT, None, "list"),
        ],
        seen_at=t + 610,
    )
    store.forget_after(t, DAY)
    assert [r["symbol"] for r in store.rows("SELECT symbol FROM halts")] == ["EARLY"]
    assert [r["symbol"] for r in store.rows("SELECT symbol FROM ssr")] == ["EARLY"]


# -- the queries -------------------------------------------------------------------------------


def test_who_is_halted_and_who_resumed(store: Store) -> None:
    t = et(DAY, 11, 0)
    store.store_halts(
        [
            halt("LULD", t - 60, resume=t + 240),  # halted, resumes in 4 minutes
            halt("DONE", t - 900, resume=t - 300),  # resumed 5 minutes ago
            halt("OLD", t - 7200, resume=t - 3600),  # resumed an hour ago: not told
            halt("NEWS", t - 120, "T1"),  # halted, no resumption announced
            halt("TWICE", t - 3000, resume=t - 2700),
            halt("TWICE", t - 30, resume=t + 270),  # halted again: the later halt
            halt("DEL", t - 86400 * 3, "D", resume=t - 3600, day=DAY - timedelta(days=3)),
        ],
        seen_at=t - 10,
    )
    states = queries.halt_states(store, t)
    assert set(states) == {"LULD", "DONE", "NEWS", "TWICE", "DEL"}
    luld = states["LULD"]
    assert luld.halted and luld.resumed_at is None and luld.resume_trade_at == t + 240
    assert (luld.reason, luld.reason_text, luld.short) == ("LUDP", "LULD pause", "LULD")
    assert luld.near_resumption(t, 300, 180) and not luld.near_resumption(t, 60, 180)
    done = states["DONE"]
    assert not done.halted and done.resumed_at == t - 300
    assert states["NEWS"].halted and states["NEWS"].resume_trade_at is None
    assert states["TWICE"].halted_at == t - 30 and states["TWICE"].halted
    # A deleted security's "resumption" (00:00:01 on a later day) is none.
    assert states["DEL"].halted and states["DEL"].resume_trade_at is None
    # A shorter memory of resumptions drops DONE.
    assert "DONE" not in queries.halt_states(store, t, recent=120)
    # The next poll no longer holds NEWS (corrected or resolved unseen): not told either way;
    # a halt with its resumption still ahead is told whatever the feed says.
    store.store_halts([halt("TWICE", t - 30, resume=t + 270)], seen_at=t + 50)
    later = queries.halt_states(store, t + 60)
    assert "NEWS" not in later and later["LULD"].halted


def test_the_days_halts_newest_first_with_resumptions_of_earlier_days(store: Store) -> None:
    before = mh.previous_trading_day(DAY)
    store.store_halts(
        [
            halt("AAA", et(DAY, 9, 40), resume=et(DAY, 9, 45)),
            halt("BBB", et(DAY, 14, 2)),
            halt("CCC", et(before, 19, 50), "T1", resume=et(DAY, 10, 0), day=before),
            halt("DDD", et(before, 11, 0), resume=et(before, 11, 5), day=before),
        ],
        seen_at=et(DAY, 14, 3),
    )
    assert [h.symbol for h in queries.halts_on(store, DAY)] == ["BBB", "AAA", "CCC"]
    assert [h.symbol for h in queries.halts_on(store, before)] == ["CCC", "DDD"]
    first = queries.halts_on(store, DAY)[1]
    assert first == halt("AAA", et(DAY, 9, 40), resume=et(DAY, 9, 45))


def test_restrictions_hold_on_the_trigger_day_and_the_next_trading_day(store: Store) -> None:
    thursday = mh.previous_trading_day(DAY)
    wednesday = mh.previous_trading_day(thursday)
    store.store_restrictions(
        [
            ShortSaleRestriction("FRI", DAY, et(DAY, 10, 0), "list"),
            ShortSaleRestriction("THU", thursday, et(thursday, 9, 30, 1), "list"),
            ShortSaleRestriction("WED", wednesday, None, "list"),
            ShortSaleRestriction("BOTH", thursday, et(thursday, 12, 0), "rule"),
            ShortSaleRestriction("BOTH", DAY, et(DAY, 11, 0), "rule"),
            ShortSaleRestriction("BOTH", DAY, et(DAY, 11, 30), "list"),
        ],
        seen_at=1.0,
    )
    friday = queries.restrictions_on(store, DAY)
    assert set(friday) == {"FRI", "THU", "BOTH"}
    # The latest trigger holds longest; the list's word over momoscan's own.
    assert friday["BOTH"].trigger_day == DAY and friday["BOTH"].source == "list"
    # Friday's trigger holds on Monday, the next trading day, not Tuesday.
    assert set(queries.restrictions_on(store, NEXT)) == {"FRI", "BOTH"}
    assert queries.restrictions_on(store, NEXT + timedelta(days=1)) == {}


def test_the_market_wide_circuit_breaker(store: Store) -> None:
    t = et(DAY, 10, 30)
    store.store_halts([halt("AAA", t - 60, resume=t + 240)], seen_at=t)
    assert queries.market_wide_halt(store, t) is None
    mwcb = Halt("SPY", DAY, t - 30, "MWC1", "NYSE", "", None, t + 870)
    store.store_halts([mwcb], seen_at=t)
    assert queries.market_wide_halt(store, t) == mwcb
    assert queries.market_wide_halt(store, t + 900) is None


# -- the halts step ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    generated_at: float | None
    halts: list[Halt]
    skipped: int = 0


@dataclass(frozen=True)
class Ssr:
    day: date
    complete: bool
    restrictions: list[ShortSaleRestriction]
    skipped: int = 0


@dataclass
class FakeFeeds:
    """Answers like `NasdaqTraderClient`: set `feed` (or an error to raise) and `lists`."""

    feed: Feed | SourceError
    lists: dict[date, Ssr] = field(default_factory=dict)
    calls: list[tuple[str, date | None]] = field(default_factory=list)

    async def halts(self, day: date | None = None) -> Feed:
        self.calls.append(("halts", day))
        if isinstance(self.feed, SourceError):
            raise self.feed
        return self.feed

    async def ssr_list(self, day: date) -> Ssr:
        self.calls.append(("ssr", day))
        if day not in self.lists:
            raise SourceError(f"no Rule 201 list for {day} yet (HTML answered)")
        return self.lists[day]

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


class Wall:
    """A fake wall clock; `sleep` moves it (and the market clock with it)."""

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


@dataclass
class Rig:
    ctx: StepContext
    wall: Wall
    clock: FixedClock
    feeds: FakeFeeds
    step: HaltStep


@pytest.fixture
async def rig(tmp_path: Path) -> Rig:  # type: ignore[misc]
    clock = FixedClock(datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET))
    wall = Wall(clock)
    store = StoreThread(tmp_path / "s.db")
    await store.start()
    ctx = StepContext(Settings(), store, clock, "demo", wall)
    feeds = FakeFeeds(Feed(clock.now().timestamp() - 30, [halt("AAA", et(DAY, 9, 58))]))
    feeds.lists[DAY] = Ssr(DAY, False, [ShortSaleRestriction("SSR", DAY, et(DAY, 9, 31))])
    step = HaltStep(ctx, feeds, poll_seconds=60.0, sleep=wall.sleep)
    try:
        yield Rig(ctx, wall, clock, feeds, step)
    finally:
        await store.close()


@pytest.mark.anyio
async def test_the_cycle_polls_when_due_and_both_land(rig: Rig) -> None:
    report = RefreshReport(run_id=1)
    await rig.step.run(report)
    assert report.failures == [] and report.messages == []
    assert rig.feeds.calls == [("halts", None), ("ssr", DAY)]
    # Not due again within the minute: a second cycle reads nothing.
    rig.wall.now += 59
    await rig.step.run(RefreshReport(run_id=2))
    assert rig.feeds.count("halts") == 1
    rig.wall.now += 1
    await rig.step.run(RefreshReport(run_id=3))
    assert rig.feeds.count("halts") == 2 and rig.feeds.count("ssr") == 1
    now = rig.clock.now().timestamp()
    states = await rig.ctx.store.call(queries.halt_states, now)
    assert set(states) == {"AAA"} and states["AAA"].halted
    assert set(await rig.ctx.store.call(queries.restrictions_on, DAY)) == {"SSR"}


@pytest.mark.anyio
async def test_the_watch_polls_every_minute_of_wall_time_and_the_list_every_half_hour(
    rig: Rig,
) -> None:
    stored: list[int] = []
    rig.step.listen(lambda: stored.append(1))
    with anyio.move_on_after(5):  # the fake sleep moves the wall clock, not real time
        async with anyio.create_task_group() as tg:
            tg.start_soon(rig.step.watch)
            while rig.feeds.count("halts") < 62:
                await anyio.sleep(0)
            tg.cancel_scope.cancel()
    # An hour and a minute of polls, a minute apart by the wall clock: 62 reads, the lists at
    # the start, then every SSR_EVERY (30 minutes).
    assert rig.feeds.count("halts") == 62
    assert set(rig.wall.slept) == {60.0}
    assert rig.feeds.count("ssr") == 3 and SSR_EVERY == 1800.0
    assert len(stored) >= 61


@pytest.mark.anyio
async def test_a_failed_poll_is_one_line_and_never_fails_the_cycle(rig: Rig) -> None:
    rig.feeds.feed = ServiceError("www.nasdaqtrader.com answered 503 (3 tries)")
    report = RefreshReport(run_id=1)
    await rig.step.run(report)
    assert [f.line() for f in report.failures] == [
        "Nasdaq Trader halts (feed): www.nasdaqtrader.com answered 503 (3 tries); the halts "
        "shown are those of the last read"
    ]
    assert report.errors == 0 and report.settle() == "partial"
    # Between cycles: the watch's failures wait for the next cycle's report, once each.
    rig.wall.now += 60
    scratch = RefreshReport(run_id=2)
    with anyio.move_on_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rig.step.watch)
            while rig.feeds.count("halts") < 4:
                await anyio.sleep(0)
            tg.cancel_scope.cancel()
    await rig.step.run(scratch)
    assert [f.item for f in scratch.failures] == ["feed"]
    assert scratch.settle() == "partial"
    # It answers again: nothing more to say.
    rig.feeds.feed = Feed(rig.clock.now().timestamp(), [])
    rig.wall.now += 60
    ok = RefreshReport(run_id=3)
    await rig.step.run(ok)
    assert ok.failures == [] and ok.settle() == "ok"


@pytest.mark.anyio
async def test_the_list_falls_back_to_the_day_before_and_retries_a_failure(rig: Rig) -> None:
    before = mh.previous_trading_day(DAY)
    rig.feeds.lists = {before: Ssr(before, True, [ShortSaleRestriction("THU", before, None)])}
    report = RefreshReport(run_id=1)
    await rig.step.run(report)
    assert report.failures == []
    assert [c for c in rig.feeds.calls if c[0] == "ssr"] == [("ssr", DAY), ("ssr", before)]
    assert set(await rig.ctx.store.call(queries.restrictions_on, DAY)) == {"THU"}
    # Neither day: one line, and another try after SSR_RETRY seconds rather than half an hour.
    rig.feeds.lists = {}
    rig.wall.now += SSR_EVERY
    failed = RefreshReport(run_id=2)
    await rig.step.run(failed)
    assert [f.line() for f in failed.failures] == [
        "Nasdaq Trader short sale list (2026-11-20): no Rule 201 list for 2026-11-20 yet (HTML "
        "answered); nor the day before's: no Rule 201 list for 2026-11-19 yet (HTML answered); "
        "the restrictions shown are those of the last read"
    ]
    assert failed.settle() != "failed"
    asked = rig.feeds.count("ssr")
    polls = []
    for _ in range(int(SSR_RETRY // 60)):  # a cycle a minute
        rig.wall.now += 60
        await rig.step.run(RefreshReport(run_id=3))
        polls.append(rig.feeds.count("ssr") - asked)
    assert polls == [0, 0, 0, 0, 2]  # both days tried again after SSR_RETRY


@pytest.mark.anyio
async def test_a_stale_feed_is_said_once_in_the_session(rig: Rig) -> None:
    now = rig.clock.now().timestamp()
    rig.feeds.feed = Feed(now - 660, [])
    said = []
    for _ in range(3):
        report = RefreshReport(run_id=1)
        await rig.step.run(report)
        said += report.messages
        rig.wall.now += 60
    assert len(said) == 1 and "generated 11 minutes ago" in said[0]
    # Fresh again, then stale again: said again.
    rig.feeds.feed = Feed(now, [])
    await rig.step.run(RefreshReport(run_id=2))
    rig.wall.now += 60
    rig.feeds.feed = Feed(now - 3600, [])
    again = RefreshReport(run_id=3)
    await rig.step.run(again)
    assert len(again.messages) == 1
    # Outside the regular session an old feed is not news.
    rig.clock.at = datetime(2026, 11, 20, 18, 0, tzinfo=mh.ET)
    rig.step._stale = False
    rig.wall.now += 60
    evening = RefreshReport(run_id=4)
    await rig.step.run(evening)
    assert evening.messages == []


@pytest.mark.anyio
async def test_no_client_polls_nothing(rig: Rig) -> None:
    step = HaltStep(rig.ctx, None, poll_seconds=60.0)
    report = RefreshReport(run_id=1)
    await step.run(report)
    await step.watch()  # returns at once
    assert report.failures == [] and not step.enabled


# -- Rule 201 by the rule ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_fall_of_ten_percent_in_the_session_restricts_once_a_day(rig: Rig) -> None:
    rule = SsrRule(rig.ctx)
    t = int(et(DAY, 10, 15))
    quotes = [
        Quote("TEN", 90.0, prev_close=100.0, change_pct=-10.0, quote_ts=t),  # exactly 10%
        Quote("NINE", 90.1, prev_close=100.0, change_pct=-9.9, quote_ts=t),
        Quote("PRE", 80.0, prev_close=100.0, change_pct=-20.0, quote_ts=t, extended=True),
        Quote("EARLY", 80.0, prev_close=100.0, quote_ts=int(et(DAY, 9, 0))),
        Quote("NOCLOSE", 5.0, change_pct=-12.5, quote_ts=t),
    ]
    found = rule.from_quotes(quotes)
    assert [(r.symbol, r.trigger_day, r.triggered_at, r.source) for r in found] == [
        ("TEN", DAY, t, "rule"),
        ("NOCLOSE", DAY, t, "rule"),
    ]
    await rule.record(found)
    assert rule.from_quotes(quotes) == []  # once a name and day
    ticks = [Tick("TEN", 85.0, -15.0, 1000, t + 60), Tick("TICK", 44.0, -12.0, 10, t + 61)]
    ticked = rule.from_ticks(ticks)
    assert [(r.symbol, r.triggered_at) for r in ticked] == [("TICK", t + 61)]
    await rule.record(ticked)
    restricted = await rig.ctx.store.call(queries.restrictions_on, DAY)
    assert set(restricted) == {"TEN", "NOCLOSE", "TICK"}
    assert set(await rig.ctx.store.call(queries.restrictions_on, NEXT)) == set(restricted)


# -- through the engine, on the simulated market -----------------------------------------------


class Credits:
    """The clock credits are counted on: it moves only when the budget waits (a cycle of the
    demo's plan then takes no real time)."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.sleep(0)


def demo_options(db: Path, wall: Wall, *, stream: bool = False) -> RunOptions:
    credits = Credits()
    return RunOptions(
        db=str(db),
        demo_start=wall.clock.now(),
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        wall=wall,
        stream=stream,
        credit_clock=credits,
        credit_sleep=credits.sleep,
    )


@pytest.mark.anyio
async def test_the_demo_cycles_store_halts_and_restrictions_at_their_own_pace(
    tmp_path: Path,
) -> None:
    """The simulated market serves the halts feed and the Rule 201 files in their wire
    formats; each cycle reads the feed when a minute of wall time has passed, never more."""
    clock = FixedClock(datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET))
    wall = Wall(clock)
    settings = Settings()
    settings.options.enabled = False
    settings.demo.size = 600
    async with open_runtime(settings, demo_options(tmp_path / "d.db", wall)) as rt:
        assert isinstance(rt.clock, FixedClock)
        rt.clock.at = clock.at
        wall.clock = rt.clock
        engine = rt.engine
        first = await engine.refresh(full=True)
        assert first.status == "ok", first.lines()
        assert engine.halt_step.polls == 1
        again = await engine.refresh(full=False)  # the same wall minute: not read again
        assert again.status == "ok" and engine.halt_step.polls == 1
        for _ in range(10):
            await wall.sleep(60)
            report = await engine.refresh(full=False)
            assert report.status == "ok", report.lines()
        assert engine.halt_step.polls == 11
        with Store(rt.db_path) as store:
            today = queries.halts_on(store, DAY)
            restricted = queries.restrictions_on(store, DAY)
    assert today and all(h.reason for h in today)
    assert any(h.resume_trade_at is not None for h in today)
    assert restricted


@pytest.mark.anyio
async def test_a_halts_feed_that_fails_makes_a_cycle_partial_never_failed(
    tmp_path: Path,
) -> None:
    clock = FixedClock(datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET))
    wall = Wall(clock)
    settings = Settings()
    settings.options.enabled = False
    settings.demo.size = 600
    async with open_runtime(settings, demo_options(tmp_path / "d.db", wall)) as rt:
        feeds = FakeFeeds(
            ServiceError("Nasdaq Trader halts: could not connect to www.nasdaqtrader.com.")
        )
        rt.engine.halt_step.client = feeds
        report = await rt.engine.refresh(full=True)
    assert report.status == "partial" and report.quotes == report.symbols
    assert report.problem_lines() == [
        "Nasdaq Trader halts (feed): could not connect to www.nasdaqtrader.com; the halts shown "
        "are those of the last read",
        "Nasdaq Trader short sale list (2026-11-20): no Rule 201 list for 2026-11-20 yet (HTML "
        "answered); nor the day before's: no Rule 201 list for 2026-11-19 yet (HTML answered); "
        "the restrictions shown are those of the last read",
    ]


@pytest.mark.anyio
async def test_the_stream_favours_a_name_about_to_resume(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET))
    wall = Wall(clock)
    settings = Settings()
    settings.options.enabled = False
    settings.demo.size = 600
    options = demo_options(tmp_path / "d.db", wall, stream=True)
    async with open_runtime(settings, options) as rt:
        engine = rt.engine
        engine.halt_step.client = None  # only the halts this test stores
        await engine.refresh(full=True)
        stream = engine.stream_step.stream
        assert stream is not None
        engine.stream_step.max_symbols = 3
        await engine.stream_step.choose()
        before = set(stream.wanted)
        tickers = await engine.store.call(queries.universe_tickers)
        soon, later = [t.symbol for t in tickers if t.symbol not in before][100:102]
        now = rt.clock.now().timestamp()
        await engine.store.call(
            Store.store_halts,
            [halt(soon, now - 60, resume=now + 240), halt(later, now - 60, "T1", now + 1500)],
            seen_at=now,
        )
        await engine.stream_step.choose()
        assert soon in stream.wanted and later not in stream.wanted
        assert len(stream.wanted) == 3
        # Resumed four minutes ago: past the tail, no longer favoured.
        assert isinstance(rt.clock, FixedClock)
        rt.clock.advance(480)
        await engine.stream_step.choose()
        assert soon not in stream.wanted
