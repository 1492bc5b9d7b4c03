"""The scheduler's free signals (they cost no credits): a fresh SEC filing (a catalyst) and a
low float, read from the store once a plan and told in `why`. The rows are the store's own
(`store_filings`, `store_floats`), written here as the filings and fundamentals steps would."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import anyio
import numpy as np
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.engine.scheduler import _COL, PriorityScheduler
from momoscan.engine.weights import (
    CATALYST_FULL_MINUTES,
    CATALYST_MINUTES,
    catalysts,
    float_boosts,
)
from momoscan.filings import Filing, kind_of
from momoscan.fundamentals import FloatFigure
from momoscan.runtime import RunOptions, open_runtime
from momoscan.store import Store

OPEN = datetime(2026, 11, 20, 10, 0, tzinfo=mh.ET)
NOW = OPEN.timestamp()


class FakeTime:
    """The wall clock credits are counted on: it moves only when the budget waits."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await anyio.sleep(0)


def filing(symbol: str, form: str, items: tuple[str, ...], minutes_ago: float) -> Filing:
    return Filing(
        accession=f"{sum(map(ord, symbol + form)):010d}-26-{round(minutes_ago * 10):06d}",
        cik=1000 + sum(map(ord, symbol)),
        symbol=symbol,
        form=form,
        items=items,
        accepted_at=NOW - minutes_ago * 60.0,
        company=f"{symbol} Inc.",
        url=f"https://www.sec.gov/Archives/edgar/data/{symbol}",
        kind=kind_of(form, items),
    )


def figure(symbol: str, shares: int) -> FloatFigure:
    return FloatFigure(symbol, 1, shares, None, None, None, shares, "shares outstanding", NOW)


def test_a_catalyst_by_its_kind_and_its_age() -> None:
    made = catalysts(
        {
            "RES": [filing("RES", "8-K", ("2.02", "9.01"), 4)],
            "NEWS": [filing("NEWS", "8-K", ("8.01",), 4)],
            "OFF": [filing("OFF", "S-1", (), 4)],
            "INS": [filing("INS", "4", (), 4)],
            "OLD": [filing("OLD", "8-K", ("2.02",), CATALYST_MINUTES + 1)],
            "FADE": [filing("FADE", "8-K", ("2.02",), (CATALYST_FULL_MINUTES + 60) / 2)],
            # Its 6-K weighs more than its offering of the same minute.
            "BOTH": [filing("BOTH", "424B5", (), 2), filing("BOTH", "6-K", (), 3)],
        },
        NOW,
    )
    assert made["RES"].text == "8-K 2.02 4m ago"
    assert made["BOTH"].text == "6-K 3m ago"
    boost = {s: c.boost for s, c in made.items()}
    assert "OLD" not in boost  # past the window: no part
    assert boost["RES"] > boost["NEWS"] > boost["OFF"] > boost["INS"] > 0
    assert 0 < boost["FADE"] < boost["RES"]
    assert boost["BOTH"] == boost["NEWS"]


def test_a_low_float_weighs_more_the_smaller_it_is_and_more_with_a_catalyst() -> None:
    shares = np.array([3e6, 20e6, 300e6, np.nan])
    alone = float_boosts(shares, np.zeros(4, dtype=bool))
    with_news = float_boosts(shares, np.ones(4, dtype=bool))
    assert alone[0] > alone[1] > alone[2] == 0.0
    assert alone[3] == 0.0 and with_news[3] == 0.0  # no figure, no part
    assert with_news[0] == 2 * alone[0] and with_news[1] == 2 * alone[1]


@pytest.mark.anyio
async def test_filings_and_floats_raise_a_names_priority_and_why_says_so(tmp_path: Path) -> None:
    settings = Settings()
    settings.demo.size = 1500
    settings.demo.plan_limit = 150
    settings.universe.cap_tiers = ["nano", "micro", "small", "mid", "large", "mega"]
    settings.options.enabled = False
    settings.twelvedata.concurrency = 1
    fake = FakeTime()
    options = RunOptions(
        db=str(tmp_path / "d.db"),
        demo_start=OPEN,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
        credit_clock=fake,
        credit_sleep=fake.sleep,
    )
    async with open_runtime(settings, options) as rt:
        await rt.engine.refresh(full=True)
        scheduler = rt.engine.scheduler
        assert isinstance(scheduler, PriorityScheduler) and scheduler.free_signals
        assert isinstance(rt.clock, FixedClock)
        with Store(rt.db_path) as store:
            quiet = [
                s
                for (s,) in store.conn.execute(
                    "SELECT symbol FROM quotes WHERE ABS(change_pct) < 0.5 ORDER BY symbol"
                )
            ]
            results, offering, stale, small, large, low_news, plain = quiet[:7]
            # Accepted 3 minutes before the warm-up's minute: 4 at the next plan's.
            store.store_filings(
                [
                    filing(results, "8-K", ("2.02", "9.01"), 3),
                    filing(offering, "S-1", (), 3),
                    filing(stale, "8-K", ("8.01",), 2 * CATALYST_MINUTES),
                    filing(low_news, "8-K", ("1.01",), 3),
                ]
            )
            store.store_floats(
                [
                    figure(small, 3_000_000),
                    figure(large, 300_000_000),
                    figure(low_news, 3_000_000),
                ]
            )
        rt.clock.advance(60)
        await rt.engine.refresh(full=False)

        def part(symbol: str, reason: str) -> float:
            return float(scheduler._boosts[scheduler._index[symbol], _COL[reason]])

        said = {s: scheduler.why(s) for s in (results, offering, small, plain)}
        assert "filed 8-K 2.02 4m ago" in said[results], said
        assert "filed S-1 4m ago" in said[offering], said
        # A fresh, telling filing is quoted every cycle; an offering only weighs.
        assert said[results].endswith("quoted every cycle while it is fresh"), said
        assert said[offering].startswith("priority "), said
        assert "low float 3.0M shares" in said[small], said
        assert "filed" not in said[plain] and "float" not in said[plain]
        assert part(results, "catalyst") > part(offering, "catalyst") > 0
        assert part(stale, "catalyst") == 0.0  # too old to count
        assert part(small, "float") > part(large, "float") == 0.0
        assert part(plain, "float") == 0.0 and part(plain, "catalyst") == 0.0  # no row
        # A low float with a catalyst weighs more than the same float alone.
        assert part(low_news, "float") > part(small, "float")
        heavy = scheduler._weight[scheduler._index[results]]
        assert heavy > scheduler._weight[scheduler._index[offering]] > 1.0

        # Switched off (as bench/detect.py does), neither is read nor weighs.
        scheduler.free_signals = False
        rt.clock.advance(60)
        await rt.engine.refresh(full=False)
        assert part(results, "catalyst") == 0.0 and part(small, "float") == 0.0
        assert "filed" not in scheduler.why(results)
