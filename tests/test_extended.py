"""Pre-market and after hours: prepost quotes, the gappers before the open, and a plan without
extended prices told once and never charged again."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import orjson
import pytest
import respx

from momoscan import market_hours as mh
from momoscan import queries
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.runtime import RunOptions, open_runtime
from momoscan.simulated.market import SimMarket
from momoscan.simulated.transport import SimServer
from momoscan.store import Store

PREMARKET = datetime(2026, 11, 20, 8, 30, tzinfo=mh.ET)
TD, CBOE, OCC = "https://td.test", "https://cboe.test", "https://occ.test"


@pytest.mark.anyio
async def test_the_premarket_demo_ranks_the_gappers(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    options = RunOptions(
        db=str(db),
        demo_start=PREMARKET,
        demo_latency=0.0,
        demo_in_process=True,
        offload_processes=False,
    )
    async with open_runtime(Settings(), options) as rt:
        report = await rt.engine.refresh(full=True)
    assert report.status == "ok", report.lines()
    with Store(db) as store:
        snap = queries.snapshot(
            store, ["small", "mid", "large"], 1.0, market_now=PREMARKET.timestamp()
        )
    gaps = snap.gappers
    assert len(gaps) == 10
    assert [abs(g.gap_pct) for g in gaps] == sorted((abs(g.gap_pct) for g in gaps), reverse=True)
    top = gaps[0]
    # The gap is the pre-market price against the previous session's close.
    assert top.prev_close and top.gap_pct == pytest.approx(
        (top.row.price - top.prev_close) / top.prev_close * 100, rel=1e-6
    )
    assert top.row.extended and top.row.quote_ts == int(PREMARKET.timestamp())
    assert top.premarket_volume is None  # a poll says nothing of today's pre-market volume


def live_settings() -> Settings:
    settings = Settings()
    settings.twelvedata.api_key = "TDKEY-extended-0001"
    settings.twelvedata.base_url = TD
    settings.twelvedata.extended_hours = True
    settings.cboe.base_url = CBOE
    settings.occ.base_url = OCC
    settings.universe.source = "builtin"
    settings.options.enabled = False
    return settings


@pytest.mark.anyio
async def test_a_plan_without_extended_prices_is_told_once_and_not_charged(
    tmp_path: Path,
) -> None:
    clock = FixedClock(PREMARKET)
    server = SimServer(SimMarket(7, 0, clock), plan_limit=5000)
    quotes: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/quote":
            quotes.append(request)
            body = {
                "code": 403,
                "message": "**prepost** is available exclusively with pro or higher plans.",
                "status": "error",
            }
            return httpx.Response(403, content=orjson.dumps(body))
        status, headers, body_bytes = server.handle(
            request.method, str(request.url), dict(request.headers)
        )
        return httpx.Response(status, headers=headers, content=body_bytes)

    db = tmp_path / "live.db"
    with respx.mock(assert_all_called=False) as router:
        router.route(url__startswith=TD).mock(side_effect=answer)
        async with open_runtime(live_settings(), RunOptions(db=str(db))) as rt:
            rt.engine.clock = clock
            first = await rt.engine.refresh(full=True)
            second = await rt.engine.refresh(full=True)
        asked = len(quotes)
        # A restart remembers it too.
        async with open_runtime(live_settings(), RunOptions(db=str(db))) as rt:
            rt.engine.clock = clock
            third = await rt.engine.refresh(full=True)
    assert first.status != "failed"
    told = [m for m in first.lines() if "no pre-market or after-hours prices" in m]
    assert len(told) == 1 and "Pro plan" in told[0]
    assert second.credits_used == 0 and third.credits_used == 0
    assert len(quotes) == asked and 0 < asked <= 4  # the batches in flight when it was learnt
    assert any("no pre-market or after-hours prices" in m for m in third.lines())
