"""RVol as traders mean it (rvol.py): at the time of day against the curve or the name's own
history, the whole-day figure beside it, the 5-minute figure for streamed names; as the quote
writes store them (polls, ticks, movers rows), as profiles are built from the history, and as
an `rvol_above` rule reads them."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import pytest

from momoscan import alerts, queries, rvol
from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import AlertRule, Settings
from momoscan.engine.context import RefreshReport, StepContext
from momoscan.engine.profiles import ProfileStep
from momoscan.engine.store_thread import StoreThread
from momoscan.models import MoverRow, Quote, Ticker
from momoscan.rvol import RecentVolumes, SessionClock, rvol_5m, rvol_at_time, volume_share_by
from momoscan.sources.offload import Offloader
from momoscan.store import Store

DAY = date(2026, 11, 20)  # a Friday
HALF_DAY = date(2026, 11, 27)  # the day after Thanksgiving: closes at 13:00
AVG = 1_000_000


def et(day: date, hh: int, mm: int, ss: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=mh.ET).timestamp()


def test_the_curve_runs_from_nothing_at_the_open_to_the_whole_session_at_the_close() -> None:
    assert volume_share_by(-30) == 0.0 and volume_share_by(0) == 0.0
    assert volume_share_by(390) == 1.0 and volume_share_by(500) == 1.0
    for minutes, share in rvol.VOLUME_CURVE:
        assert volume_share_by(minutes) == pytest.approx(share)
    shares = [volume_share_by(m / 2) for m in range(0, 781)]
    assert shares == sorted(shares)
    # U-shaped: the first and last half hours trade more than any half hour between.
    steps = [
        b - a for (_, a), (_, b) in zip(rvol.VOLUME_CURVE, rvol.VOLUME_CURVE[1:], strict=False)
    ]
    assert steps[0] > max(steps[1:-1]) and steps[-1] > max(steps[1:-1])


def test_a_name_at_its_usual_pace_reads_1x_at_any_time_of_day() -> None:
    clock = SessionClock()
    for hh, mm in ((10, 0), (11, 30), (14, 0), (15, 45)):
        at = et(DAY, hh, mm)
        minutes = (at - et(DAY, 9, 30)) / 60
        usual = AVG * volume_share_by(minutes)
        assert rvol_at_time(usual, AVG, at, clock=clock) == pytest.approx(1.0)
        assert rvol_at_time(2 * usual, AVG, at, clock=clock) == pytest.approx(2.0)
    # At 10:00, twice the usual pace is under half a day's volume: the whole-day figure says 0.26.
    assert rvol.rvol_day(2 * AVG * volume_share_by(30), AVG) == pytest.approx(0.26)


def test_before_the_open_there_is_none_and_after_the_close_the_whole_day() -> None:
    clock = SessionClock()
    assert rvol_at_time(50_000, AVG, et(DAY, 8, 0), clock=clock) is None
    assert rvol_at_time(1_500_000, AVG, et(DAY, 16, 0), clock=clock) == pytest.approx(1.5)
    assert rvol_at_time(1_500_000, AVG, et(DAY, 18, 30), clock=clock) == pytest.approx(1.5)
    # A closed day (Saturday) has no session: nothing to measure against.
    assert rvol_at_time(1_500_000, AVG, et(date(2026, 11, 21), 12, 0), clock=clock) is None
    assert rvol_at_time(None, AVG, et(DAY, 12, 0), clock=clock) is None
    assert rvol_at_time(1000, None, et(DAY, 12, 0), clock=clock) is None
    # The open's own minute counts as one minute, not as none.
    assert rvol_at_time(1000, AVG, et(DAY, 9, 30), clock=clock) == pytest.approx(
        1000 / (AVG * volume_share_by(1.0))
    )


def test_a_half_day_is_stretched_onto_the_curve() -> None:
    clock = SessionClock()
    # 11:15 is halfway through a 09:30-13:00 session: the curve's 195th minute.
    at = et(HALF_DAY, 11, 15)
    usual = AVG * volume_share_by(195)
    assert rvol_at_time(usual, AVG, at, clock=clock) == pytest.approx(1.0)
    assert rvol_at_time(AVG, AVG, et(HALF_DAY, 13, 0), clock=clock) == pytest.approx(1.0)


def profile_of(per_minute: dict[int, float]) -> list[float]:
    """A grid with the given usual volumes (minute -> shares), NaN elsewhere."""
    grid = [math.nan] * rvol.GRID_POINTS
    for minute, volume in per_minute.items():
        grid[minute // rvol.GRID_MINUTES] = volume
    return grid


def test_a_profile_replaces_the_curve_where_it_knows_the_minute() -> None:
    clock = SessionClock()
    profile = profile_of({0: 0.0, 25: 400_000, 30: 500_000, 35: 560_000})
    assert rvol_at_time(500_000, AVG, et(DAY, 10, 0), profile, clock=clock) == pytest.approx(1.0)
    # Between grid points: linear (10:02:30 is halfway from 500,000 to 560,000).
    assert rvol_at_time(530_000, AVG, et(DAY, 10, 2, 30), profile, clock=clock) == pytest.approx(
        1.0
    )
    # Where it says nothing (11:00), the curve.
    at = et(DAY, 11, 0)
    assert rvol_at_time(300_000, AVG, at, profile, clock=clock) == pytest.approx(1.0)
    # A half day never uses a profile of full sessions.
    half = et(HALF_DAY, 10, 0)
    assert rvol_at_time(500_000, AVG, half, profile, clock=clock) == pytest.approx(
        500_000 / (AVG * volume_share_by(30 * 390 / 210))
    )


def test_recent_volumes_keep_a_sample_about_every_spacing_and_forget_the_old() -> None:
    recent = RecentVolumes(spacing=10.0, keep=480.0)
    t = et(DAY, 11, 0)
    for k in range(0, 600, 2):  # a tick every 2 s for 10 minutes, 100 shares each
        recent.add("AAA", t + k, 100.0 * k)
    recent.add("AAA", t + 400, 1.0)  # older than the newest: ignored
    now = t + 598
    found = recent.before("AAA", now)
    assert found is not None
    ts, volume = found
    # The newest sample at or before five minutes ago, at most a spacing older than that.
    assert now - 300 - 10 <= ts <= now - 300 and volume == 100.0 * (ts - t)
    assert recent.before("AAA", t + 2000) is None  # nothing within the slack of 5 minutes ago
    assert recent.before("BBB", now) is None and "BBB" not in recent and "AAA" in recent
    # The clock going back by more than the memory keeps (a demo restarted earlier): afresh.
    recent.add("AAA", t - 3600, 5.0)
    assert recent.before("AAA", t - 3600 + 300) == (t - 3600, 5.0)


def test_the_5_minute_rvol_is_the_last_five_minutes_against_their_usual_volume() -> None:
    clock = SessionClock()
    at = et(DAY, 11, 0)
    usual = AVG * (volume_share_by(90) - volume_share_by(85))
    before = (at - 300, 2_000_000.0)
    assert rvol_5m(2_000_000 + 3 * usual, at, before, AVG, clock=clock) == pytest.approx(3.0)
    # A sample 5.5 minutes back: a 5.5-minute window.
    usual_long = AVG * (volume_share_by(90) - volume_share_by(84.5))
    assert rvol_5m(2_000_000 + usual_long, at, (at - 330, 2_000_000.0), AVG, clock=clock) == (
        pytest.approx(1.0)
    )
    # Nothing to start the window from, the volume going down, outside the session: None.
    assert rvol_5m(2_000_000, at, None, AVG, clock=clock) is None
    assert rvol_5m(1_000_000, at, before, AVG, clock=clock) is None
    assert rvol_5m(2_000_000, et(DAY, 17, 0), before, AVG, clock=clock) is None
    # In the first five minutes the window starts at the open, with nothing traded.
    early = et(DAY, 9, 33)
    assert rvol_5m(AVG * volume_share_by(3), early, None, AVG, clock=clock) == pytest.approx(1.0)
    # And from a profile where it knows both ends.
    profile = profile_of({85: 1_000_000, 90: 1_100_000})
    assert rvol_5m(1_200_000, at, (at - 300, 1_000_000.0), AVG, profile, clock=clock) == (
        pytest.approx(2.0)
    )


# ---------------------------------------------------------------------------------------------
# The quote writes


TICKERS = [Ticker("AAA", "Alpha", cap_tier="small"), Ticker("BBB", "Beta", cap_tier="small")]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "r.db")
    s.replace_universe(TICKERS, source="test", as_of=DAY, fetched_at=0.0)
    return s


def poll(
    symbol: str, volume: int | None, at: float, *, market_open: bool = True, extended: bool = False
) -> Quote:
    return Quote(
        symbol,
        10.0,
        prev_close=9.0,
        change_pct=11.1,
        volume=volume,
        avg_volume=AVG,
        market_open=market_open,
        quote_ts=int(at),
        extended=extended,
    )


def stored(store: Store, symbol: str) -> tuple[float | None, float | None, float | None]:
    row = store.conn.execute(
        "SELECT rvol, rvol_day, rvol_5m FROM quotes WHERE symbol = ?", (symbol,)
    ).fetchone()
    return row[0], row[1], row[2]


def test_a_poll_stores_rvol_at_the_time_of_day_and_the_whole_day_beside_it(store: Store) -> None:
    at = et(DAY, 10, 0)
    store.store_quotes([poll("AAA", int(AVG * volume_share_by(30)), at)], fetched_at=at)
    by_time, day, five = stored(store, "AAA")
    assert by_time == pytest.approx(1.0) and day == pytest.approx(0.13) and five is None
    (row,) = [r for r in queries.top_movers(store, ["small"], 1.0) if r.symbol == "AAA"]
    assert (row.rvol, row.rvol_day, row.rvol_5m) == (by_time, day, None)
    # A pre-market quote with no volume of today (prepost): none at the time of day.
    store.store_quotes(
        [poll("BBB", None, et(DAY, 8, 0), extended=True, market_open=False)],
        fetched_at=et(DAY, 8, 0),
    )
    assert stored(store, "BBB") == (None, None, None)


def test_ticks_store_rvol_from_the_stored_average_and_a_5_minute_figure(store: Store) -> None:
    start = et(DAY, 11, 0)
    store.store_quotes([poll("AAA", 3_000_000, start)], fetched_at=start)
    per_minute = AVG * (volume_share_by(95) - volume_share_by(90)) / 5 * 4  # 4x the pace
    for k in range(0, 301, 5):
        volume = int(3_000_000 + per_minute * k / 60)
        store.store_stream_ticks(
            [("AAA", 10.5, 16.7, volume, int(start + k))], fetched_at=start + k
        )
    by_time, day, five = stored(store, "AAA")
    volume = int(3_000_000 + per_minute * 5)
    assert by_time == pytest.approx(volume / (AVG * volume_share_by(95)))
    assert day == pytest.approx(volume / AVG)
    assert five == pytest.approx(4.0, rel=1e-3)
    # A tick without a day volume keeps the stored volume; its window has no shares: none.
    store.store_stream_ticks([("AAA", 10.6, 17.8, None, int(start + 310))], fetched_at=start + 310)
    by_time, day, five = stored(store, "AAA")
    assert day == pytest.approx(volume / AVG) and five is None
    assert by_time == pytest.approx(volume / (AVG * volume_share_by(95 + 10 / 60)))
    # A poll of the streamed name reads the same window from the stream's samples.
    store.store_quotes([poll("AAA", volume + 10_000, start + 320)], fetched_at=start + 320)
    assert stored(store, "AAA")[2] is not None
    # After hours a tick has no 5-minute figure.
    store.store_stream_ticks([("AAA", 10.6, 17.8, None, int(et(DAY, 17, 0)))], fetched_at=0.0)
    assert stored(store, "AAA")[2] is None


def test_a_movers_row_recomputes_all_three_from_the_stored_average(store: Store) -> None:
    at = et(DAY, 10, 0)
    store.store_quotes([poll("AAA", 100_000, at)], fetched_at=at)
    row = MoverRow(
        "AAA", "Alpha", "NASDAQ", "XNAS", 12.0, 3.0, 33.3, 9.0, 12.5, 9.5, 2_960_000, DAY,
        int(et(DAY, 12, 0)),
    )  # fmt: skip
    assert store.store_movers([row], fetched_at=et(DAY, 12, 0)) == {"AAA"}
    by_time, day, five = stored(store, "AAA")
    assert by_time == pytest.approx(2_960_000 / (AVG * volume_share_by(150)))
    assert day == pytest.approx(2.96) and five is None


def test_a_quote_of_the_sessions_last_minute_is_the_sessions_last_sample(store: Store) -> None:
    # Polled after the close, /quote's bar is stamped with its last minute (15:59): its
    # sample belongs to the 15:55 bucket, which the profiles read as the day's volume.
    late = et(DAY, 15, 59)
    store.store_quotes(
        [poll("AAA", 2_000_000, late, market_open=False)], fetched_at=et(DAY, 16, 30)
    )
    (ts,) = [r[0] for r in store.conn.execute("SELECT ts FROM quote_history")]
    assert ts == et(DAY, 15, 55)


# ---------------------------------------------------------------------------------------------
# Profiles from the history

EARLIER = mh.trading_days_before(DAY, 4)  # Mon-Thu of the same week


def history(
    day: date, symbol: str, scale: float, every: int = 10
) -> list[tuple[str, int, float, int]]:
    """Samples every `every` minutes of a session trading `scale` times the curve's usual
    volume of a name averaging AVG a day (each at its 5-minute bucket, volume at its end)."""
    rows = []
    opened = et(day, 9, 30)
    for minute in range(0, 390, every):
        end = minute + 5
        rows.append(
            (symbol, int(opened + minute * 60), 10.0, int(scale * AVG * volume_share_by(end)))
        )
    return rows


def test_profiles_are_the_median_of_earlier_sessions_where_three_or_more_say(store: Store) -> None:
    # AAA: four sessions (one a story day at 5x); BBB: two, too few.
    for day, scale in zip(EARLIER, (1.0, 1.2, 5.0, 0.8), strict=True):
        store.add_history(history(day, "AAA", scale))
    for day in EARLIER[:2]:
        store.add_history(history(day, "BBB", 1.0))
    # A sample of today, which the profile of today never reads.
    store.add_history([("AAA", int(et(DAY, 9, 30)), 10.0, 99 * AVG)])
    assert store.refresh_volume_profiles(DAY) == 1
    profile = store.profile("AAA")
    assert profile is not None and store.profile("BBB") is None
    # The median of 0.8, 1.0, 1.2 and 5 times the usual: 1.1 times (the story day outvoted).
    for minute in (5, 25, 65, 205, 385):
        assert rvol.usual_by(profile, minute) == pytest.approx(
            1.1 * AVG * volume_share_by(minute), rel=1e-4
        )
    # Between samples 10 minutes apart: linear; the close has no sample (the last bucket is
    # 15:50's, read as 15:55): unknown.
    assert rvol.usual_by(profile, 390) is None
    assert store.volume_profiles_day() == DAY.isoformat()
    # A connection of its own (another run) reads them from the table.
    with Store(store.path) as other:
        assert other.profile("AAA") == pytest.approx(profile, nan_ok=True, rel=1e-6)
    # Quotes now measure AAA against its own history, BBB against the curve.
    at = et(DAY, 10, 5)
    store.store_quotes(
        [poll("AAA", int(1.1 * AVG * volume_share_by(35)), at), poll("BBB", 145_000, at)],
        fetched_at=at,
    )
    assert stored(store, "AAA")[0] == pytest.approx(1.0, rel=1e-5)
    assert stored(store, "BBB")[0] == pytest.approx(1.0)


def test_a_session_with_a_long_gap_says_nothing_between_its_samples(store: Store) -> None:
    for day in EARLIER[:3]:
        rows = history(day, "AAA", 1.0, every=5)
        opened = et(day, 9, 30)
        # No sample from 11:00 to 12:00 (a 65-minute gap between two samples).
        store.add_history([r for r in rows if not opened + 85 * 60 <= r[1] < opened + 150 * 60])
    store.refresh_volume_profiles(DAY)
    profile = store.profile("AAA")
    assert profile is not None
    assert rvol.usual_by(profile, 60) is not None and rvol.usual_by(profile, 200) is not None
    assert rvol.usual_by(profile, 120) is None  # in the gap: the curve serves it


@pytest.mark.anyio
async def test_the_step_builds_the_profiles_once_a_trading_day(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as s:
        s.replace_universe(TICKERS, source="test", as_of=DAY, fetched_at=0.0)
        for day in EARLIER:
            s.add_history(history(day, "AAA", 1.0))
    clock = FixedClock(datetime(2026, 11, 20, 4, 5, tzinfo=mh.ET))
    thread = StoreThread(path)
    await thread.start()
    # Built in a worker process, as the engine does, which reads the file itself.
    offload = Offloader(processes=True)
    try:
        step = ProfileStep(StepContext(Settings(), thread, clock, "demo"), offload=offload)
        report = RefreshReport(run_id=0)
        await step.run(report)
        assert step.day == DAY and step.names == 1 and not report.failures
        # The writer thread's quotes read them at once.
        assert await thread.call(Store.profile, "AAA") is not None
        # Later cycles of the day do nothing; the next day builds again (Monday: Friday is
        # history now, with no samples of AAA in it but the four earlier ones still there).
        await thread.call(lambda s: s.conn.execute("DELETE FROM volume_profiles"))
        await step.run(report)
        assert await thread.call(Store.volume_profiles_day) is None
        clock.at = datetime(2026, 11, 23, 4, 5, tzinfo=mh.ET)
        await step.run(report)
        assert step.day == date(2026, 11, 23)
        assert await thread.call(Store.volume_profiles_day) == "2026-11-23"
    finally:
        await offload.aclose()
        await thread.close()


# ---------------------------------------------------------------------------------------------
# Rules


def test_an_rvol_above_rule_reads_rvol_at_the_time_of_day(store: Store) -> None:
    rule = AlertRule(name="Heavy", rvol_above=3.0)
    at = et(DAY, 10, 0)
    # Half a day's volume by 10:00: 0.5 of the whole day, 3.8 times the usual by then.
    store.store_quotes([poll("AAA", AVG // 2, at), poll("BBB", 130_000, at)], fetched_at=at)
    events = alerts.evaluate(store, [rule], tiers=["small"], min_price=1.0, rearm_pct=1.0, now=at)
    assert [e.symbol for e in events] == ["AAA"]
    assert events[0].rvol == pytest.approx(0.5 / volume_share_by(30))
