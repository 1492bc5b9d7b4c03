"""The demo's past (simulated/past.py): a simulated month of signals, history and leaders,
made from the market's own stories, with planted options-led stories that leads() finds."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import anyio
import pytest
from anyio import create_task_group as anyio_task_group

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.queries.lead import leads
from momoscan.queries.options import leaders_history
from momoscan.simulated.market import SimMarket
from momoscan.simulated.past import (
    BUCKET,
    PAST_DAYS,
    PAST_META,
    PastColumns,
    PastTruth,
    has_past,
    make_past,
    past_steps,
    store_past,
)
from momoscan.store import Store

FIRST = date(2026, 11, 20)
TIERS = ["small", "mid", "large"]


@pytest.fixture(scope="module")
def made() -> tuple[SimMarket, PastColumns, PastTruth]:
    clock = FixedClock(datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET))
    market = SimMarket(7, 0, clock, start_day=FIRST)
    truth = PastTruth()
    return market, make_past(market, TIERS, 1.0, truth=truth), truth


def test_the_past_is_the_month_before_the_first_day(
    made: tuple[SimMarket, PastColumns, PastTruth],
) -> None:
    market, past, _ = made
    days = [date.fromisoformat(d) for d in past.days]
    assert len(days) == PAST_DAYS and days[-1] == mh.previous_trading_day(FIRST)
    kinds = Counter(s[0] for s in past.signals)
    for kind in ("movers", "volume", "gapper", "options_new", "unusual"):
        assert kinds[kind] > 0, kind
    # The last past day closes where the first day opens (its previous closes).
    last = days[-1]
    prev = market.day_for(FIRST).prev_close
    kept = [(sym, path) for (d, sym), path in made[2].paths.items() if d == last]
    assert kept
    base = datetime.combine(last, mh.PRE_OPEN, tzinfo=mh.ET)
    minute = int((mh.session_bounds(last)[2] - base).total_seconds() // 60) - 1
    for sym, path in kept:
        i = market.index[sym]
        assert float(path[minute]) == pytest.approx(float(prev[i]), abs=0.011)


def test_every_signal_has_its_prices_stored(
    made: tuple[SimMarket, PastColumns, PastTruth], tmp_path: Path
) -> None:
    _, past, _ = made
    with Store(tmp_path / "past.db") as store:
        written = store_past(store, past, "7:0:test")
        assert written >= len(past.signals)
        assert store.get_meta(PAST_META) == "7:0:test"
        # Once: a database with a past gets none again.
        assert store_past(store, past, "again") == 0
        movers = [s for s in past.signals if s[0] == "movers"]
        for _, symbol, at, _, price, _, _ in movers[:: max(1, len(movers) // 20)]:
            bucket = int(at) - int(at) % (BUCKET * 60)
            row = store.conn.execute(
                "SELECT price FROM quote_history WHERE symbol = ? AND ts = ?", (symbol, bucket)
            ).fetchone()
            assert row is not None and row[0] == pytest.approx(price, abs=1e-4)
        leaders_days = {r[0] for r in store.conn.execute("SELECT DISTINCT day FROM option_leaders")}
        assert leaders_days == set(past.days)


def test_leads_finds_the_planted_options_led_stories(
    made: tuple[SimMarket, PastColumns, PastTruth], tmp_path: Path
) -> None:
    _, past, truth = made
    led = [p for p in truth.leads if p.gap_s > 0]
    assert len(led) >= PAST_DAYS // 2
    with Store(tmp_path / "past.db") as store:
        store_past(store, past, "7:0:test")
        for planted in led:
            found = leads(store, planted.day).get(planted.symbol)
            assert found is not None, planted
            assert found.first == "options", (planted, found)
            # Within one quote interval (the stored prices' 5-minute bucket) of the truth.
            assert abs(found.gap_s - planted.gap_s) <= BUCKET * 60, (planted, found)
        lead_kinds = [
            r[0] for r in store.conn.execute("SELECT symbol FROM signals WHERE kind = 'lead'")
        ]
        assert {p.symbol for p in led} <= set(lead_kinds)


def test_a_prune_between_the_steps_loses_no_measure(
    made: tuple[SimMarket, PastColumns, PastTruth], tmp_path: Path
) -> None:
    """The store's retention may drop the older days' prices between two of the past's
    steps (the first cycle prunes): each day's step writes again what it needs."""
    _, past, _ = made
    now = datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET).timestamp()
    with Store(tmp_path / "past.db") as store:
        steps = past_steps(past, "7:0:test", now=now)
        half = len(steps) // 2
        for step in steps[:half]:
            step(store)
        store.prune(FIRST, history_days=1, contract_days=1)
        for step in steps[half:]:
            step(store)
        assert has_past(store)
        statuses = Counter(
            status
            for (status,) in store.conn.execute(
                "SELECT o.status FROM signal_outcomes o JOIN signals s ON s.id = o.signal_id "
                "WHERE o.horizon = 'close'"
            )
        )
        assert statuses["measured"] >= len(past.signals)
        assert statuses["unmeasured"] == 0


def test_a_day_the_engine_ranked_keeps_its_ranking(
    made: tuple[SimMarket, PastColumns, PastTruth], tmp_path: Path
) -> None:
    _, past, _ = made
    last = date.fromisoformat(past.days[-1])
    mine = dataclasses.replace(past.leaders[-1][1][0], underlying="SPY", is_new=False)
    with Store(tmp_path / "past.db") as store:
        store.store_leaders(last, [mine])
        store_past(store, past, "7:0:test")
        assert leaders_history(store, 1) == {last: [mine]}
        earlier = date.fromisoformat(past.days[-2])
        assert len(leaders_history(store, 2)[earlier]) == 10


@pytest.mark.anyio
async def test_the_markets_process_makes_the_same_past_and_serves_meanwhile() -> None:
    """The past made on a thread of the market's own process is the one made here, and the
    process answers requests while it is being made."""
    import httpx

    from momoscan.simulated.transport import ProcessMarketTransport, SimulatedMarketTransport

    clock = FixedClock(datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET))
    process = ProcessMarketTransport(seed=7, size=300, clock=clock, first_day=FIRST, latency=0)
    local = SimulatedMarketTransport(SimMarket(7, 300, clock, start_day=FIRST), latency=0)
    order: list[str] = []
    async with httpx.AsyncClient(transport=process) as there:

        async def ask() -> None:
            await anyio.sleep(0.3)  # once the past is being made
            reply = await there.get(
                "https://api.twelvedata.com/api_usage", headers={"authorization": "apikey demo"}
            )
            order.append(f"answered {reply.status_code}")

        async with anyio_task_group() as tg:
            tg.start_soon(ask)
            made = await process.past_columns(TIERS, 1.0)
            order.append("past made")
        mine = await local.past_columns(TIERS, 1.0)
    assert order == ["answered 200", "past made"]
    assert made.days == mine.days and made.signals == mine.signals
    assert made.history == mine.history
