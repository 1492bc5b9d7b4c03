"""The hot set over the price stream, end to end on the simulated market: chosen from the
tables, streamed into the quotes the polling path writes, skipped by the sweep, and polled
again at once when the stream drops, goes silent or the plan has none; a price from another
listing never reaches the quotes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import anyio
import pytest

from momoscan import market_hours as mh
from momoscan.config import Settings
from momoscan.engine.stream import StreamStatus, Tick, choose_hot_set
from momoscan.runtime import RunOptions, open_runtime
from momoscan.simulated.transport import SimulatedMarketTransport

START = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)


def options(db: Path) -> RunOptions:
    return RunOptions(
        db=str(db),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        stream=True,
    )


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    with anyio.fail_after(seconds):
        while not check():
            await anyio.sleep(0.05)


def test_the_hot_set_keeps_a_name_at_the_edge_of_the_top_10() -> None:
    movers = [f"M{i}" for i in range(20)]
    volume = [f"V{i}" for i in range(20)]
    first = choose_hot_set(["WATCH"], [movers, volume], set())
    assert first == ["WATCH", *movers[:10], *volume[:10]]
    # M9 slips to rank 11 and M10 climbs to 10: M9 keeps streaming (within the band of 20),
    # M10 is added; nothing is dropped for a one-rank wobble.
    swapped = [*movers[:9], "M10", "M9", *movers[11:]]
    second = choose_hot_set(["WATCH"], [swapped, volume], set(first))
    assert set(first) <= set(second) and "M10" in second
    # Out of the band altogether: dropped.
    fallen = [m for m in swapped if m != "M9"] + ["X"]
    assert "M9" not in choose_hot_set([], [fallen[:20], volume], set(second))
    # Refused names are not asked again; the limit keeps the most important first.
    assert choose_hot_set(["WATCH"], [movers], set(), refused={"M0"}, limit=3) == [
        "WATCH",
        "M1",
        "M2",
    ]


def test_the_status_line() -> None:
    assert StreamStatus(True, True, 48, 50, 2, "").line(8000) == (
        "stream: 48 live (2 refused) · polling 7,952"
    )
    assert StreamStatus(True, False, 0, 50, 0, "dropped").line(8000) == (
        "stream down · polling 8,000"
    )
    stalled = StreamStatus(True, False, 0, 50, 0, "stalled", stalled=True, refused_events=1234)
    assert stalled.line(8000) == (
        "stream stalled · 1,234 other-listing ticks refused · polling 8,000"
    )
    assert stalled.state == "stalled"
    # Silent past a heartbeat and a half but not yet past the bound: "live", and how long not.
    hearing = StreamStatus(True, True, 48, 50, 0, "", last_message_age=9.0)
    assert hearing.line(8000) == "stream: 48 live · polling 7,952"
    quiet = StreamStatus(True, True, 48, 50, 0, "", last_message_age=22.4)
    assert quiet.line(8000) == "stream silent 22s (48 names) · polling 7,952"
    assert StreamStatus(True, True, 48, 50, 0, "").state == "live"
    assert StreamStatus(True, False, 0, 50, 0, "dropped").state == "reconnecting"
    assert StreamStatus(False, False, 0, 0, 0, "").state == "off"
    assert StreamStatus(True, False, 0, 0, 0, "no plan", unavailable=True).state == "off"


def sources(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT symbol, source FROM quotes"))


@pytest.mark.anyio
async def test_the_hot_set_streams_and_the_sweep_skips_it(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    seen: list[Tick] = []
    async with open_runtime(Settings(), options(db)) as rt, anyio.create_task_group() as tg:
        engine = rt.engine
        engine.stream_step.listen(seen.extend)
        first = await engine.refresh(full=True)
        assert first.status == "ok", first.lines()
        tg.start_soon(engine.run_stream)
        await until(lambda: engine.stream_step.status().live >= 20 and len(seen) >= 20)
        live = engine.stream_step.live()
        second = await engine.refresh(full=True)
        # The sweep polled everything but the live names: their credits were saved.
        assert second.credits_used == first.credits_used - len(live)
        tg.cancel_scope.cancel()
    with sqlite3.connect(db) as conn:
        sources = dict(conn.execute("SELECT symbol, source FROM quotes"))
    assert {sources[s] for s in live} == {"stream"}
    assert {t.symbol for t in seen} <= live
    tick = seen[0]
    assert tick.ts == int(START.timestamp()) and tick.change_pct is not None


@pytest.mark.anyio
async def test_a_dropped_stream_falls_back_to_polling_and_comes_back(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    async with open_runtime(Settings(), options(db)) as rt, anyio.create_task_group() as tg:
        engine = rt.engine
        engine.stream_step.stream.backoff_base = 0.05  # type: ignore[union-attr]
        await engine.refresh(full=True)
        tg.start_soon(engine.run_stream)
        await until(lambda: engine.stream_step.status().live >= 20)
        assert isinstance(rt.transport, SimulatedMarketTransport)
        assert rt.transport.streamer is not None
        rt.transport.streamer.drop_all()
        # (The reconnect follows within a tenth of a second: watch the count, not the state.)
        await until(lambda: engine.stream_step.stream.state.reconnects >= 1)  # type: ignore[union-attr]
        # Within one refresh: the sweep polls the names that streamed (those live again by the
        # sweep's start, the reconnect being quick, are skipped; the hot set is chosen again
        # after the cycle, so the count live after it may be smaller).
        live_before = engine.stream_step.status().live
        polled = await engine.refresh(full=True)
        live = max(live_before, engine.stream_step.status().live)
        assert polled.credits_used >= polled.symbols - live
        await until(lambda: engine.stream_step.status().live >= 20)
        assert engine.stream_step.stream.state.reconnects >= 1  # type: ignore[union-attr]
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_plan_without_the_stream_is_told_once_and_polled(tmp_path: Path) -> None:
    settings = Settings()
    async with open_runtime(settings, options(tmp_path / "d.db")) as rt:
        engine = rt.engine
        stream = engine.stream_step.stream
        assert stream is not None
        stream._url = stream._url.replace("apikey=demo", "apikey=")  # a key it refuses
        await engine.refresh(full=True)
        with anyio.fail_after(10):
            await engine.run_stream()  # returns: the plan has no stream
        status = engine.stream_step.status()
        assert status.problem and "quotes are polled" in status.problem
        assert status.line(546) == "stream down · polling 546"
        again = await engine.refresh(full=True)
        assert again.credits_used == again.symbols


@pytest.mark.anyio
async def test_a_silent_stream_puts_its_names_back_in_the_sweep(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    async with open_runtime(Settings(), options(db)) as rt, anyio.create_task_group() as tg:
        engine = rt.engine
        stream = engine.stream_step.stream
        assert stream is not None
        # A short bound: heartbeats every 0.2 s, silence for 1 s is a stall (ticks come every
        # second, so a live stream is heard well within it); reconnects within 0.2 s.
        stream.heartbeat, stream.stall_after = 0.2, 1.0
        stream.backoff_base, stream.backoff_cap = 0.05, 0.2
        await engine.refresh(full=True)
        tg.start_soon(engine.run_stream)
        await until(lambda: engine.stream_step.status().live >= 20)
        live = engine.stream_step.live()
        assert isinstance(rt.transport, SimulatedMarketTransport) and rt.transport.streamer
        rt.transport.streamer.stall_all()  # open sockets, no messages: replies included
        await until(lambda: engine.stream_step.status().state == "stalled")
        assert engine.stream_step.live() == set()
        status = engine.stream_step.status()
        assert status.line(546).startswith("stream stalled")
        assert status.last_message_age is not None and status.last_message_age >= 1.0
        # The next cycle's sweep (not a full one) has them all again.
        polled = await engine.refresh(full=False)
        assert polled.credits_used == polled.symbols
        assert not any(engine.scheduler.why(s) == "streaming live" for s in live)
        assert {sources(db)[s] for s in live} == {"poll"}
        # The server answers again: the stream is back by itself, and told once meanwhile.
        rt.transport.streamer.resume()
        await until(lambda: engine.stream_step.status().state == "live")
        await until(lambda: engine.stream_step.status().live >= 20)
        assert stream.state.stalls >= 1 and stream.state.reconnects >= 1
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_price_from_another_listing_never_reaches_the_quotes(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    seen: list[Tick] = []
    async with open_runtime(Settings(), options(db)) as rt, anyio.create_task_group() as tg:
        engine = rt.engine
        stream = engine.stream_step.stream
        assert stream is not None
        engine.stream_step.listen(seen.extend)
        await engine.refresh(full=True)
        # Each streamed name is asked for its stored listing (the demo's universe has MICs).
        listings = stream.listings
        assert listings and all(x.mic and x.exchange for x in listings.values())
        tg.start_soon(engine.run_stream)
        await until(lambda: len({t.symbol for t in seen}) >= 20)
        await engine.stream_step.flush()
        victim = seen[0].symbol
        with sqlite3.connect(db) as conn:
            (before,) = conn.execute(
                "SELECT price FROM quotes WHERE symbol = ?", (victim,)
            ).fetchone()
        assert isinstance(rt.transport, SimulatedMarketTransport) and rt.transport.streamer
        rt.transport.streamer.misroute({victim})  # its prices now come from Toronto, in CAD
        await until(lambda: stream.state.refused_events >= 3)
        status = engine.stream_step.status()
        assert status.refused_events >= 3 and "other-listing ticks refused" in status.line(546)
        ticks_at = len(seen)
        await anyio.sleep(0.5)
        await engine.stream_step.flush()
        assert victim not in engine.stream_step.live()
        assert victim not in {t.symbol for t in seen[ticks_at:]}
        with sqlite3.connect(db) as conn:
            (after,) = conn.execute(
                "SELECT price FROM quotes WHERE symbol = ?", (victim,)
            ).fetchone()
            history = [p for (p,) in conn.execute(
                "SELECT price FROM quote_history WHERE symbol = ?", (victim,)
            )]  # fmt: skip
        # A CAD price is 1.4 times the US one: nothing near it was stored.
        assert after < before * 1.2 and max(history) < before * 1.2
        # The next cycle polls it and stops streaming it.
        await engine.refresh(full=True)
        assert victim not in stream.wanted and sources(db)[victim] == "poll"
        tg.cancel_scope.cancel()
