"""The credit scheduler on the simulated market: its bounds (no name starves, no credit over
the plan), the market movers probe only where the plan has it, and why each name is where it
is. The market's clock moves a minute a cycle; credits are counted on a fake wall clock that
moves when the budget waits, so a session's minutes pass in no real time."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import anyio
import httpx
import numpy as np
import orjson
import pytest
import respx

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.engine.scheduler import (
    BOUND_FACTOR,
    Coverage,
    PriorityScheduler,
    RoundRobin,
    _due,
)
from momoscan.models import Leader
from momoscan.runtime import RunOptions, open_runtime
from momoscan.rvol import volume_share_by
from momoscan.simulated.market import SimMarket
from momoscan.simulated.transport import SimServer, SimulatedMarketTransport
from momoscan.store import Store

DAY = date(2026, 11, 20)
OPEN = datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET)
TIERS = ["nano", "micro", "small", "mid", "large", "mega"]


class FakeTime:
    """The wall clock credits are counted on: it moves only when the budget waits."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.sleep(0)


def settings_for(plan: int, size: int, strategy: str = "priority") -> Settings:
    settings = Settings()
    settings.demo.size = size
    settings.demo.plan_limit = plan
    settings.universe.cap_tiers = TIERS
    settings.options.enabled = False
    settings.scan.scheduler = strategy
    # One request at a time: on the fake clock, a batch waiting for credits would move
    # time under the requests in flight.
    settings.twelvedata.concurrency = 1
    return settings


def run_options(db: Path, fake: FakeTime, start: datetime = OPEN) -> RunOptions:
    return RunOptions(
        db=str(db),
        demo_start=start,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        credit_clock=fake,
        credit_sleep=fake.sleep,
    )


def asked_paths(transport: SimulatedMarketTransport) -> Counter[str]:
    """Count the paths the simulated market answers, from now on."""
    paths: Counter[str] = Counter()
    server = transport.server
    respond = server.respond

    def counting(method: str, url: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        paths[httpx.URL(url).path] += 1
        return respond(method, url, headers)

    server.respond = counting  # type: ignore[method-assign]
    return paths


@pytest.mark.anyio
async def test_no_name_goes_unseen_past_the_bound_and_no_credit_over_the_plan(
    tmp_path: Path,
) -> None:
    """600 names on 60 credits a minute: a sweep every 10 minutes, a bound of 15. After a
    warm-up that saw every name at once (the hardest case: every deadline the same), every
    name is quoted again within the bound, cycle after cycle, and no minute spends more than
    the plan."""
    fake = FakeTime()
    async with open_runtime(settings_for(60, 600), run_options(tmp_path / "d.db", fake)) as rt:
        assert isinstance(rt.clock, FixedClock) and isinstance(
            rt.transport, SimulatedMarketTransport
        )
        scheduler = rt.engine.scheduler
        assert isinstance(scheduler, PriorityScheduler)
        paths = asked_paths(rt.transport)
        warm = await rt.engine.refresh(full=True)
        assert warm.status == "ok" and warm.quotes == warm.symbols == 600
        worst = 0.0
        favoured = set()
        with Store(rt.db_path) as reader:
            for _ in range(40):
                rt.clock.advance(60)
                report = await rt.engine.refresh(full=False)
                assert report.status == "ok", report.lines()
                assert report.credits_used == 60  # the whole minute, and not one more
                bound = scheduler.bound()
                # A full sweep at the credits left once the names quoted every cycle (a
                # fresh filing's, the market's SEC feed planting some) are served.
                room = 60 - len(scheduler._every_cycle)
                assert bound == pytest.approx(BOUND_FACTOR * 600 / room * 60.0, rel=0.01)
                now = rt.clock.now().timestamp()
                oldest = reader.conn.execute(
                    "SELECT MIN(COALESCE(quote_ts, fetched_at)) FROM quotes"
                ).fetchone()[0]
                worst = max(worst, now - oldest)
                assert now - oldest <= bound, (rt.clock.now(), now - oldest, bound)
                favoured.add(scheduler.coverage().favouring)
        assert rt.transport.meter.rejected == 0
    # The bound was the binding constraint: the stalest name came close to it...
    assert worst > 0.8 * bound
    # ...while the credits went to something else too, and the probe was never asked.
    assert favoured - {""}
    assert "/market_movers/stocks" not in paths


@pytest.mark.anyio
async def test_the_probe_where_the_plan_has_it_and_its_credits_from_the_same_budget(
    tmp_path: Path,
) -> None:
    fake = FakeTime()
    async with open_runtime(settings_for(610, 1500), run_options(tmp_path / "d.db", fake)) as rt:
        assert isinstance(rt.clock, FixedClock) and isinstance(
            rt.transport, SimulatedMarketTransport
        )
        paths = asked_paths(rt.transport)
        await rt.engine.refresh(full=True)
        assert paths["/market_movers/stocks"] == 0  # a full sweep needs no probe
        reports, notes = [], []
        for _ in range(12):
            rt.clock.advance(60)
            reports.append(await rt.engine.refresh(full=False))
            notes.append(rt.engine.scheduler.coverage().probe)
        coverage = rt.engine.scheduler.coverage()
        meter = rt.transport.meter
    assert all(r.status == "ok" for r in reports), [r.lines() for r in reports]
    assert [r.credits_used for r in reports] == [610] * 12  # probe and quotes: one budget
    assert meter.rejected == 0
    assert paths["/market_movers/stocks"] >= 10  # worth its credits, most minutes
    assert "movers probe" in coverage.probe
    # 610 credits pay for both lists in one minute (a third of the window at most), so a
    # runner is not left waiting for the minute its direction's list comes round.
    assert "movers probe: gainers, losers" in notes or "movers probe: losers, gainers" in notes
    assert paths["/market_movers/stocks"] <= 2 * 12
    with Store(tmp_path / "d.db") as store:
        sources = Counter(source for (source,) in store.conn.execute("SELECT source FROM quotes"))
        movers = queries.top_movers(store, TIERS, 1.0)
    assert sources["movers"] > 0
    # The probe's rows rank at once, beside polled quotes.
    assert {r.source for r in movers} <= {"movers", "poll"} and movers


@pytest.mark.anyio
async def test_no_probe_below_pro_plans_nor_before_the_open(tmp_path: Path) -> None:
    fake = FakeTime()
    premarket = datetime(2026, 11, 20, 8, 30, tzinfo=mh.ET)
    for plan, start in ((377, OPEN), (1597, premarket)):
        db = tmp_path / f"{plan}.db"
        async with open_runtime(settings_for(plan, 800), run_options(db, fake, start)) as rt:
            assert isinstance(rt.clock, FixedClock)
            assert isinstance(rt.transport, SimulatedMarketTransport)
            paths = asked_paths(rt.transport)
            await rt.engine.refresh(full=True)
            for _ in range(5):
                rt.clock.advance(60)
                await rt.engine.refresh(full=False)
        assert paths["/market_movers/stocks"] == 0, plan
        assert paths["/quote"] > 0


@pytest.mark.anyio
async def test_a_plan_that_refuses_the_probe_is_told_once_and_not_asked_again(
    tmp_path: Path,
) -> None:
    clock = FixedClock(OPEN)
    fake = FakeTime()
    # A Pro plan's credits (what /api_usage says), and more names than they quote a minute.
    server = SimServer(SimMarket(7, 0, clock), plan_limit=610, wall=fake)
    movers: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/market_movers"):
            movers.append(request)
            body = {
                "code": 403,
                "message": "**/market_movers** is available exclusively with pro or higher "
                "plans. Consider upgrading your API Key at https://twelvedata.com/pricing",
                "status": "error",
            }
            return httpx.Response(403, content=orjson.dumps(body))
        status, headers, content = server.handle(
            request.method, str(request.url), dict(request.headers)
        )
        return httpx.Response(status, headers=headers, content=content)

    settings = Settings()
    settings.twelvedata.api_key = "TDKEY-movers-0001"
    settings.twelvedata.base_url = "https://td.test"
    settings.universe.source = "builtin"
    settings.universe.cap_tiers = TIERS
    settings.options.enabled = False
    settings.twelvedata.concurrency = 1
    options = RunOptions(db=str(tmp_path / "live.db"), credit_clock=fake, credit_sleep=fake.sleep)
    with respx.mock(assert_all_called=False) as router:
        router.route(url__startswith="https://td.test").mock(side_effect=answer)
        async with open_runtime(settings, options) as rt:
            rt.engine.clock = clock
            await rt.engine.refresh(full=True)
            reports = []
            for _ in range(4):
                clock.advance(60)
                reports.append(await rt.engine.refresh(full=False))
    assert len(movers) == 1
    told = [m for r in reports for m in r.lines() if "no market movers list" in m]
    assert len(told) == 1 and "Pro plans" in told[0]
    assert all(r.status == "ok" for r in reports)  # not a failure: a plan's limit, said once


@pytest.mark.anyio
async def test_why_each_name_is_where_it_is(tmp_path: Path) -> None:
    fake = FakeTime()
    settings = settings_for(150, 1500)
    async with open_runtime(settings, run_options(tmp_path / "d.db", fake)) as rt:
        assert isinstance(rt.clock, FixedClock)
        await rt.engine.refresh(full=True)
        # A NEW entrant to the daily options top 10, as the options step stores them (the
        # step itself left out: it would fetch the real day's in its place).
        settings.options.enabled = True

        async def no_options(*_args: object) -> None:
            return None

        rt.engine.options_step.run = no_options  # type: ignore[method-assign]
        quiet = "ZZZZ"
        with Store(rt.db_path) as store:
            quiet = next(
                s
                for (s,) in store.conn.execute(
                    "SELECT symbol FROM quotes WHERE ABS(change_pct) < 0.5 ORDER BY symbol"
                )
            )
            store.store_leaders(
                mh.previous_trading_day(DAY),
                [Leader(mh.previous_trading_day(DAY), 1, quiet, 900_000, 600_000, 300_000,
                        True, 1, None, 6.0, "first time in the top 10")],
            )  # fmt: skip
        for _ in range(6):
            rt.clock.advance(60)
            await rt.engine.refresh(full=False)
        scheduler = rt.engine.scheduler
        assert isinstance(scheduler, PriorityScheduler)
        with Store(rt.db_path) as store:
            top = queries.top_movers(store, TIERS, 1.0)[0].symbol
        said = {s: scheduler.why(s) for s in [top, quiet]}
        coverage = scheduler.coverage()
        weights = scheduler._weight
    assert "on screen (#1 of the movers)" in said[top], said
    assert "new in the daily options top 10" in said[quiet], said
    assert said[quiet].startswith("priority ") and "unseen" in said[quiet]
    # Most names carry no boost: they are swept as a round-robin would.
    assert float(np.median(weights)) == 1.0
    line = coverage.line()
    assert line.startswith("stalest ") and "(bound " in line and "favouring " in line


def test_the_round_robin_strategy_is_kept_by_name(tmp_path: Path) -> None:
    settings = settings_for(60, 100, strategy="round_robin")

    async def build() -> str:
        async with open_runtime(settings, run_options(tmp_path / "rr.db", FakeTime())) as rt:
            assert isinstance(rt.engine.scheduler, RoundRobin)
            await rt.engine.refresh(full=True)
            return rt.engine.scheduler.coverage().line()

    assert anyio.run(build).endswith("· round-robin")


def test_deadlines_are_met_earliest_first_and_no_sooner_than_needed() -> None:
    alpha = np.arange(7)
    names = np.arange(7)
    # Seven names due in three cycles, two quotes a cycle after this one: one must go now.
    forced = _due(names, np.full(7, 1000.0 + 180.0), 1000.0, 60.0, 5, 2, alpha)
    assert forced.tolist() == [0]
    # Six fit in the cycles ahead: none need to go now, the cycle is free for the priorities.
    assert _due(names[:6], np.full(6, 1180.0), 1000.0, 60.0, 5, 2, alpha).tolist() == []
    # A name past its deadline always goes, however many: earliest deadline first.
    late = np.array([1200.0, 900.0, 1300.0, 950.0, 5000.0, 5000.0, 5000.0])
    assert _due(names, late, 1000.0, 60.0, 1, 2, alpha).tolist() == [1, 3]


def test_the_usual_volume_pace_and_the_coverage_line() -> None:
    assert volume_share_by(0) == 0.0 and volume_share_by(390) == 1.0
    assert volume_share_by(15) == pytest.approx(0.065)
    assert 0.4 < volume_share_by(150) < 0.5
    line = Coverage("priority", 540.0, 1380.0, "big movers, heavy volume", "movers probe: gainers")
    assert line.line() == (
        "stalest 9m (bound 23m) · favouring big movers, heavy volume · movers probe: gainers"
    )
    assert Coverage("round_robin", 30.0, 0.0).line() == "stalest 30s · round-robin"
    assert Coverage("priority", None, 0.0).line() == ""


def test_headless_json_says_why_and_how_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from momoscan.cli import main

    db = str(tmp_path / "h.db")
    args = ["--headless", "--once", "--json", "--db", db, "--demo-size", "300"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0  # the second run's scheduler knows the stored quotes
    doc = orjson.loads(capsys.readouterr().out)
    coverage = doc["coverage"]
    assert coverage["scheduler"] == "priority" and coverage["bound_seconds"] > 0
    assert coverage["line"].startswith("stalest ")
    whys = [row["why"] for row in doc["top_movers"]]
    assert all(whys) and any("on screen" in w or "moving" in w for w in whys), whys


def _finds_one(s: PriorityScheduler, before: float, after: float | None) -> int:
    up, down = s._zone
    if after is None:
        return 0
    if after >= up:
        return int(math.isnan(before) or before < up)
    if after <= down:
        return int(math.isnan(before) or before > down)
    return 0


def _observe_one(
    s: PriorityScheduler, i: int, ts: float, change: float | None, price: float
) -> bool:
    last = s._ts[i]
    if ts <= last:
        return False
    held = s._change[i]
    dt = ts - last
    old_price = s._price[i]
    if last and 30.0 <= dt <= 3600.0 and old_price > 0 and price > 0:
        sample = math.log(price / old_price) ** 2 / dt
        var = s._var[i]
        s._var[i] = sample if math.isnan(var) else 0.9 * var + 0.1 * sample
    s._prev_ts[i], s._prev_change[i] = last, held
    s._ts[i], s._change[i], s._price[i] = ts, np.nan if change is None else change, price
    return True


def _learn_a_row_at_a_time(s: PriorityScheduler, rows: list[queries.SweepRow]) -> None:
    """The scheduler's `_learn` as it was written first, a row at a time (with `_observe`
    and `_finds` as they were then, above): the reference for the column-wise one."""
    tail_found = tail_seen = 0
    for symbol, price, prev_close, open_, change, volume, avg, ts, extended, source in rows:
        i = s._index.get(symbol)
        if i is None:
            continue
        if source != "poll" and ts > s._seen.get(symbol, 0.0):
            s._seen[symbol] = ts
            s._changes += 1
        before = s._change[i]
        new = _observe_one(s, i, ts, change, price)
        s._volume[i] = np.nan if volume is None else volume
        s._avg[i] = np.nan if avg is None else avg
        s._extended[i] = bool(extended)
        if extended and change is not None:
            s._gap[i] = change
        elif open_ and prev_close and np.isnan(s._gap[i]):
            s._gap[i] = (open_ - prev_close) / prev_close * 100.0
        if new and symbol in s._tail and source == "poll":
            tail_seen += 1
            tail_found += _finds_one(s, before, change)
    if tail_seen >= 50:
        s._quote_value = 0.7 * s._quote_value + 0.3 * tail_found / tail_seen * 100
    s._tail = set()


def test_a_sweep_is_learned_column_wise_as_it_was_a_row_at_a_time() -> None:
    """`_learn` takes a sweep in a column at a time (8,000 rows a row at a time held the
    event loop 15-20 ms); on rows with every shape the store gives (NULL change, volume,
    open; pre-market rows; streamed and probed rows; names outside the universe; quotes no
    newer than the last), it leaves the scheduler as the row-at-a-time version does."""
    from types import SimpleNamespace

    from momoscan.engine import scheduler as sched
    from momoscan.models import Ticker

    assert (sched.YIELD_ALPHA, sched.PROBE_CREDITS) == (0.3, 100)  # as the reference has them
    rng = np.random.default_rng(7)
    names = [f"S{k:04d}" for k in range(600)]
    tickers = [Ticker(symbol=s, name=s) for s in names]
    ctx = SimpleNamespace(settings=Settings(), clock=None)
    column, rowwise = PriorityScheduler(ctx), PriorityScheduler(ctx)  # type: ignore[arg-type]
    for s in (column, rowwise):
        s._take_universe(tickers)
        s._zone = (4.0, -4.0)

    def maybe(value: float, none_share: float = 0.15) -> float | None:
        return None if rng.random() < none_share else value

    now = 1_800_000_000.0
    for _ in range(4):
        now += float(rng.choice([20.0, 300.0, 5000.0]))
        rows: list[queries.SweepRow] = []
        for symbol in [*rng.choice(names, 450, replace=False).tolist(), "GONE", "ALSO.GONE"]:
            prev = maybe(float(rng.uniform(5, 200)))
            rows.append((
                symbol,
                float(rng.uniform(5, 200)),
                prev,
                maybe(float(rng.choice([0.0, rng.uniform(5, 200)]))),
                maybe(float(rng.normal(0, 5))),
                maybe(float(rng.integers(0, 10**7))),
                maybe(float(rng.integers(0, 10**7))),
                now - float(rng.choice([0.0, 10.0, 6000.0, 10**9])),  # some older than the last
                int(rng.random() < 0.2),
                str(rng.choice(["poll", "poll", "poll", "stream", "probe"])),
            ))  # fmt: skip
        tail = set(rng.choice(names, 200, replace=False).tolist())
        column._tail, rowwise._tail = set(tail), set(tail)
        column._learn(rows)
        _learn_a_row_at_a_time(rowwise, rows)
        for field in ("_ts", "_prev_ts", "_change", "_prev_change", "_price", "_var",
                      "_volume", "_avg", "_extended", "_gap"):  # fmt: skip
            # (np.log and math.log may differ in the last bit)
            np.testing.assert_allclose(
                getattr(column, field), getattr(rowwise, field), rtol=1e-12, err_msg=field
            )
        assert column._seen == rowwise._seen and column._changes == rowwise._changes
        assert column._quote_value == pytest.approx(rowwise._quote_value)
        assert column._tail == rowwise._tail == set()
    assert column._quote_value > 0 and np.isfinite(column._var).sum() > 50  # both exercised


def test_the_first_bound_is_in_market_seconds_on_a_fast_clock() -> None:
    """The demo's clock runs 5x: before any cycle is measured, a cycle of the refresh interval
    is 5x as many market seconds (in wall seconds the status read `stalest 3m (bound 1m)`)."""
    from datetime import datetime

    from momoscan import market_hours as mh
    from momoscan.clock import SpeedClock
    from momoscan.config import Settings
    from momoscan.engine.context import StepContext
    from momoscan.engine.scheduler import PriorityScheduler

    settings = Settings()
    settings.scan.refresh_interval = 60
    start = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)
    fast = StepContext(settings, None, SpeedClock(start, 5.0), "demo")  # type: ignore[arg-type]
    real = StepContext(settings, None, SpeedClock(start, 1.0), "demo")  # type: ignore[arg-type]
    assert PriorityScheduler(fast)._cycle == 300.0
    assert PriorityScheduler(real)._cycle == 60.0


@pytest.mark.parametrize("strategy", ["priority", "round_robin"])
@pytest.mark.anyio
async def test_a_halted_name_waits_for_its_resumption_and_then_goes_first(
    tmp_path: Path, strategy: str
) -> None:
    """Quoted once after its halt began, a halted name is not quoted again (its price cannot
    move) nor counted stale; from a minute before its resumption until three after, it is
    quoted first, and `why` says so."""
    from momoscan.halts import Halt

    fake = FakeTime()
    async with open_runtime(
        settings_for(60, 300, strategy), run_options(tmp_path / "d.db", fake)
    ) as rt:
        assert isinstance(rt.clock, FixedClock)
        await rt.engine.refresh(full=True)
        scheduler = rt.engine.scheduler
        tickers = await rt.engine.store.call(queries.universe_tickers)
        symbol = tickers[150].symbol
        others = [t.symbol for t in tickers if t.symbol != symbol]
        t0 = rt.clock.now().timestamp()  # 10:00:00 ET
        resume = t0 + 360  # a LULD pause from 10:00:30 to 10:06:00
        await rt.engine.store.call(
            Store.store_halts,
            [Halt(symbol, DAY, t0 + 30, "LUDP", "NASDAQ", "", t0 + 30, resume)],
            seen_at=t0 + 30,
        )
        rt.clock.advance(60)
        # Last quoted before the halt began: its price at the halt is still to be had.
        plan = await scheduler.plan(tickers, full=True, window=60)
        assert symbol in plan.symbols and scheduler.halted() == frozenset()
        scheduler.seen([symbol])
        rt.clock.advance(60)
        scheduler.seen(others)
        plan = await scheduler.plan(tickers, full=True, window=60)
        assert symbol not in plan.symbols and scheduler.halted() == {symbol}
        assert scheduler.why(symbol) == (
            "halted (LULD) since 10:00:30: its price cannot move, so it is not quoted again; "
            "quoted first from a minute before it resumes at 10:06:00"
        )
        assert scheduler.stalest() == 0.0  # the others were just seen; the halted one is not stale
        rt.clock.at = datetime.fromtimestamp(resume - 55, mh.ET)
        plan = await scheduler.plan(tickers, full=False, window=60)
        assert plan.symbols[0] == symbol and scheduler.resuming() == [symbol]
        assert scheduler.why(symbol) == (
            "halted (LULD), resumes at 10:06:00: quoted first around its resumption"
        )
        rt.clock.at = datetime.fromtimestamp(resume + 170, mh.ET)
        plan = await scheduler.plan(tickers, full=False, window=60)
        assert plan.symbols[0] == symbol
        assert scheduler.why(symbol).startswith("resumed at 10:06:00 after a LULD halt")
        rt.clock.at = datetime.fromtimestamp(resume + 200, mh.ET)
        await scheduler.plan(tickers, full=False, window=60)
        assert scheduler.resuming() == [] and scheduler.halted() == frozenset()
        assert "halt" not in scheduler.why(symbol)
