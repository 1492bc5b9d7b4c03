"""The live day's planted options-led story (simulated/options.py): the demo's engine sees its
unusual contracts in Cboe's delayed chain, then its price run, tells the lead (queries/lead.py)
within one quote interval of the planted one, and the outcome job records the `lead` signal
(engine/signal_sources.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import anyio
import numpy as np
import orjson
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.queries.lead import leads
from momoscan.queries.options import unusual_contracts
from momoscan.runtime import RunOptions, open_runtime
from momoscan.simulated.market import SimMarket
from momoscan.simulated.options import (
    CBOE_DELAY_MINUTES,
    LED_TRADE_MINUTE,
    ChainFactory,
    live_lead,
)
from momoscan.store import Store

DAY = date(2026, 11, 20)
#: The demo's default start ([demo] start).
START = datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET)
#: One quote interval: the stored prices' 5-minute bucket.
INTERVAL_S = 300.0


class FakeTime:
    """The wall clock credits are counted on: it moves only when the budget waits."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.sleep(0)


def _unusual(body: bytes, ratio: float, least: int) -> list[str]:
    options = orjson.loads(body)["data"]["options"]
    return [
        str(o["option"])
        for o in options
        if o["volume"] >= least and o["volume"] >= ratio * o["open_interest"]
    ]


def test_the_story_is_planted_on_the_first_day_only_and_shows_late_by_cboes_delay() -> None:
    settings = Settings().options
    clock = FixedClock(START)
    market = SimMarket(7, 0, clock)
    truth = live_lead(market, DAY)
    assert truth is not None and truth.ran_at is not None
    assert live_lead(market, mh.next_trading_day(DAY)) is None
    assert live_lead(market, mh.previous_trading_day(DAY)) is None
    assert truth.traded_at == market.day_for(DAY).at_minute(LED_TRADE_MINUTE)
    assert truth.shown_at == truth.traded_at + timedelta(minutes=CBOE_DELAY_MINUTES)
    # Options first, by 20 to 40 minutes of trading, 10 to 25 of what the chain shows.
    assert 20 * 60 <= (truth.ran_at - truth.traded_at).total_seconds() <= 40 * 60
    assert truth.gap_s is not None and 10 * 60 <= truth.gap_s <= 25 * 60
    # The name is one of yesterday's options leaders in the scan's default tiers, with no
    # other story today.
    index = market.index[truth.symbol]
    assert market.securities[index].cap_tier in ("small", "mid", "large")
    stories = [mv for mv in market.movers_for(DAY) if mv.index == index]
    assert len(stories) == 1 and stories[0].log_move > 0
    totals, _ = market.options_volumes(mh.previous_trading_day(DAY))
    top = np.argsort(-totals[: len(market.stocks)])[:10]
    assert index in top.tolist()
    # The delayed chain shows no unusual contract the minute before, several from then on,
    # all of them calls.
    factory = ChainFactory(market)
    clock.at = truth.shown_at - timedelta(minutes=1)
    body = factory.chain_body(truth.symbol)
    assert body is not None
    assert _unusual(body, settings.unusual_volume_oi, settings.unusual_min_volume) == []
    clock.at = truth.shown_at
    body = factory.chain_body(truth.symbol)
    assert body is not None
    shown = _unusual(body, settings.unusual_volume_oi, settings.unusual_min_volume)
    assert len(shown) >= 2 and all(name[-9] == "C" for name in shown)
    # Nothing else of the day moved: the other names' paths are those of a market whose first
    # day is another (where no story is planted on this day).
    other = SimMarket(7, 0, FixedClock(START), start_day=mh.previous_trading_day(DAY))
    assert not any(mv.options_minute >= 0 for mv in other.movers_for(DAY))
    assert other.movers_for(DAY) == market.movers_for(DAY)[:-1]


def test_surprise_mode_plants_none() -> None:
    market = SimMarket(7, 0, FixedClock(START), runners="surprise")
    assert live_lead(market, DAY) is None


@pytest.mark.anyio
async def test_the_demo_tells_the_planted_lead_and_records_it(tmp_path: Path) -> None:
    settings = Settings()
    # Cboe's request pacing counts the wall's minutes; a minute a cycle here is a blink.
    settings.cboe.requests_per_minute = 100_000
    fake = FakeTime()
    options = RunOptions(
        db=str(tmp_path / "demo.db"),
        demo_start=START,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        credit_clock=fake,
        credit_sleep=fake.sleep,
    )
    async with open_runtime(settings, options) as rt:
        assert isinstance(rt.market, SimMarket) and isinstance(rt.clock, FixedClock)
        truth = live_lead(rt.market, DAY)
        assert truth is not None and truth.ran_at is not None and truth.gap_s is not None
        await rt.engine.refresh(full=True)
        found = None
        # The first 25 simulated minutes of the demo, a cycle a simulated minute.
        while rt.clock.now() < START + timedelta(minutes=25):
            rt.clock.advance(60)
            await rt.engine.refresh(full=False)
            with Store(rt.db_path) as store:
                found = leads(store, DAY).get(truth.symbol)
            if found is not None:
                break
        assert found is not None, "no lead within the demo's first 25 minutes"
        assert found.first == "options" and found.direction == 1
        assert abs(found.gap_s - truth.gap_s) <= INTERVAL_S
        assert found.text.startswith("opt→px ")
        # The unusual contract was seen as Cboe showed it (after the first look).
        assert abs(found.options_at - truth.shown_at.timestamp()) <= INTERVAL_S
        # The outcome job records the lead (one run of it later at most), once.
        for _ in range(6):
            rt.clock.advance(60)
            await rt.engine.refresh(full=False)
        with Store(rt.db_path) as store:
            rows = store.conn.execute(
                "SELECT symbol, at, detail, source, direction FROM signals "
                "WHERE kind = 'lead' AND day = ? AND symbol = ?",
                (DAY.isoformat(), truth.symbol),
            ).fetchall()
            unusual = unusual_contracts(store, DAY)
        assert [tuple(r) for r in rows] == [(truth.symbol, found.price_at, found.text, "lead", 1)]
        assert any(r["underlying"] == truth.symbol for r in unusual)
