"""The simulated market that scales (issue 14): the same deterministic market as before, built
in blocks, one day's paths at a time, and answering what needs no paths before they are built."""

from __future__ import annotations

import gc
import hashlib
import threading
from datetime import date, datetime

import httpx
import numpy as np
import orjson
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.simulated import transport as sim_transport
from momoscan.simulated.history import session_rows
from momoscan.simulated.market import (
    BLOCK_ROWS,
    OPEN_MINUTE,
    ClosedDay,
    SimDay,
    SimMarket,
    _day_paths,
)
from momoscan.simulated.options import ChainFactory
from momoscan.simulated.transport import (
    ProcessMarketTransport,
    SimServer,
    SimulatedMarketTransport,
    movers_objects,
    quote_objects,
)

DAY = date(2026, 11, 20)  # a Friday
HALF_DAY = date(2026, 11, 27)  # the day after Thanksgiving: closes at 13:00
TD = "https://api.twelvedata.com"
KEY = {"authorization": "apikey demo"}
TIERS = ["nano", "micro", "small", "mid", "large", "mega"]


def at(hh: int, mm: int, d: date = DAY) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=mh.ET)


def digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, bytes):
            h.update(part)
        else:
            h.update(orjson.dumps(part))
    return h.hexdigest()[:16]


# The digests below were taken from the market as it was before it was built in blocks
# (whole-universe float64 intermediates, two days' paths kept). They pin its answers bit for
# bit: a change that moves any price, volume or chain fails here. If the market is changed on
# purpose, take them anew and say so in the commit. (Taken anew for issue 26: trading halts are
# held flat in the paths and the day's first news story is timed for the demo's first minutes;
# the options chains and the previous closes did not move. Taken anew for issue 28: the first
# day plants one options-led story, a run on one of the day before's options leaders, which
# moves its paths and the days built after it; the chains and the first day's previous
# closes did not move.)
PATHS = [
    # seed, size, runners, day: price, cum_volume, prev_close
    (7, 0, "mixed", DAY, "672961331840554a", "fd14ac9891b7eb49", "a40e38146598753f"),
    (11, 3000, "mixed", HALF_DAY, "634df5dc522b85d2", "be371f9b16ebd7ff", "ff8a83fc66afff34"),
    (3, 1000, "surprise", date(2026, 3, 2), "03e5810d733a7806", "c0ba4728bbd2df12",
     "c97c1016543409a0"),
]  # fmt: skip


@pytest.mark.parametrize(("seed", "size", "runners", "day", "price", "volume", "prev"), PATHS)
def test_the_same_seed_gives_the_same_paths_as_before(
    seed: int, size: int, runners: str, day: date, price: str, volume: str, prev: str
) -> None:
    market = SimMarket(seed, size, FixedClock(at(11, 0, day)), runners=runners)
    sim = market.day_for(day)
    assert sim.price.dtype == np.float32 and sim.cum_volume.dtype == np.float32
    assert (digest(sim.price), digest(sim.cum_volume), digest(sim.prev_close)) == (
        price,
        volume,
        prev,
    )


def test_days_built_from_the_days_before_are_the_same_as_before() -> None:
    clock = FixedClock(at(8, 15, date(2026, 11, 30)))
    market = SimMarket(5, 2000, clock, start_day=date(2026, 11, 24))
    symbols = [s.symbol for s in market.securities]
    quotes = quote_objects(market, symbols, ",".join(symbols), prepost=True)
    monday = market.day_for(date(2026, 11, 30))  # built from Wed, Fri (a half day)
    assert digest(monday.price, monday.cum_volume, monday.prev_close) == "c16616c579dba474"
    assert digest(quotes) == "d9832ba81bd2f7de"  # before the open: Friday's bar


@pytest.mark.parametrize(
    ("hh", "mm", "quotes", "movers", "chains", "rows"),
    [
        (8, 0, "d9d68985191cbf6f", "622213a73a78b681", "f6f9cb3b157c0738", "4f53cda18c2baa0c"),
        (11, 0, "56ee5c4c9fbd26fc", "605bb12fd9bf8f09", "e5442ad6e9293a6c", "27c91cd8a66b278e"),
        (19, 30, "75d3018efd3c7609", "b9e29b9be31c1b8d", "aa27be6da106fe35", "69dcf3ca2d96a7c7"),
    ],
)
def test_the_same_seed_and_clock_answer_as_before(
    hh: int, mm: int, quotes: str, movers: str, chains: str, rows: str
) -> None:
    market = SimMarket(7, 0, FixedClock(at(hh, mm)))
    symbols = [s.symbol for s in market.securities]
    factory = ChainFactory(market)
    bodies = [factory.chain_body(s) for s in ("AAPL", "SPX", "TSLA")]
    bodies.append(factory.chain_body("AAPL", previous_session=True))
    assert digest(quote_objects(market, symbols, ",".join(symbols), prepost=True)) == quotes
    gainers, losers = movers_objects(market, "gainers", 30), movers_objects(market, "losers", 30, 5)
    assert digest(gainers + losers) == movers
    assert digest(b"".join(body or b"" for body in bodies)) == chains
    assert digest(session_rows(market, TIERS)) == rows


@pytest.mark.parametrize("block", [1, 7, BLOCK_ROWS, 100_000])
def test_the_paths_do_not_depend_on_the_block_size(block: int) -> None:
    market = SimMarket(7, 600, FixedClock(at(11, 0, HALF_DAY)))
    sim = market.day_for(HALF_DAY)
    halts: list = []  # type: ignore[type-arg]  # the halts, held flat block by block
    blocks = list(
        _day_paths(
            market,
            HALF_DAY,
            sim.prev_close,
            sim.close_minute,
            sim.end_minute,
            sim.movers,
            block,
            halts=halts,
        )
    )
    assert all(price.dtype == np.float32 for _, _, price, _ in blocks)
    assert np.array_equal(np.concatenate([b[2] for b in blocks]), sim.price)
    assert np.array_equal(np.concatenate([b[3] for b in blocks]), sim.cum_volume)
    assert sorted(halts, key=lambda h: h.halted_at) == sim.halts


def test_a_finished_day_is_kept_as_its_bar_and_answers_as_its_paths_did() -> None:
    market = SimMarket(7, 0, FixedClock(at(11, 0)))
    full = market.day_for(DAY)
    closed = ClosedDay.of(full)
    rows = [0, 5, market.index["AAPL"]]
    for minute in (full.close_minute - 1, full.close_minute):
        assert np.array_equal(closed.price_at(rows, minute), full.price_at(rows, minute))
        assert np.array_equal(closed.cum_volume_at(rows, minute), full.cum_volume_at(rows, minute))
        for got, want in zip(
            closed.high_low(rows, minute), full.high_low(rows, minute), strict=True
        ):
            assert np.array_equal(got, want)
    assert np.array_equal(closed.price_at(rows, OPEN_MINUTE), full.price_at(rows, OPEN_MINUTE))
    assert np.array_equal(closed.last_price(), full.last_price())
    with pytest.raises(ValueError, match="closed day keeps"):
        closed.price_at(rows, OPEN_MINUTE + 30)


def test_the_market_keeps_one_days_paths() -> None:
    clock = FixedClock(at(11, 0))
    market = SimMarket(7, 0, clock, start_day=DAY)
    monday = date(2026, 11, 23)
    for day in (DAY, monday, date(2026, 11, 24), monday, DAY):
        clock.at = at(11, 0, day)
        market.now_state()
        before = market.session_before(day)
        assert isinstance(before, ClosedDay)
        # The session that ended at this day's previous closes (on float32's tick, before the
        # first simulated day, where it is simulated aside and scaled to end there).
        np.testing.assert_allclose(before.last_price(), market.day_for(day).prev_close, rtol=1e-6)
        gc.collect()
        alive = [o.day for o in gc.get_objects() if isinstance(o, SimDay) and o.market is market]
        assert alive == [day]


def test_api_usage_and_the_universe_are_answered_while_the_day_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    market = SimMarket(7, 0, FixedClock(at(11, 0)))
    monkeypatch.setattr(sim_transport, "_SERVER", SimServer(market))
    serve = sim_transport._serve
    with market._lock:  # as a build in progress holds it
        assert sim_transport._warm() == len(market.securities)
        status, _, body, _ = serve("GET", f"{TD}/api_usage", KEY, at(11, 0))
        assert status == 200 and orjson.loads(body)["current_usage"] == 1
        assert len(sim_transport._tickers()) == len(market.stocks)
        assert market._full is None  # no paths yet
        # A quote needs them: it waits for the build.
        quoted: list[int] = []
        waiting = threading.Thread(
            target=lambda: quoted.append(serve("GET", f"{TD}/quote?symbol=AAPL", KEY, at(11, 0))[0])
        )
        waiting.start()
        waiting.join(timeout=0.2)
        assert not quoted
    waiting.join()
    assert quoted == [200]
    assert market._full is not None and market._full.day == DAY


@pytest.mark.anyio
async def test_the_market_in_its_own_process_answers_as_in_this_one() -> None:
    clock = FixedClock(at(14, 0))
    process = ProcessMarketTransport(seed=7, size=300, clock=clock, first_day=DAY, latency=0)
    local = SimulatedMarketTransport(SimMarket(7, 300, clock, start_day=DAY), latency=0)
    symbols = "AAPL,SOFI,PLTR,F,SPY"
    paths = [
        f"{TD}/quote?symbol={symbols}",
        "https://cdn.cboe.com/api/global/delayed_quotes/options/_SPX.json",
    ]
    async with (
        httpx.AsyncClient(transport=process, headers=KEY) as there,
        httpx.AsyncClient(transport=local, headers=KEY) as here,
    ):
        for path in paths:
            assert (await there.get(path)).content == (await here.get(path)).content
        assert await process.session_rows(TIERS) == await local.session_rows(TIERS)
        clock.at = at(8, 0, date(2026, 11, 23))  # Monday morning: Friday's bar, a new day
        path = paths[0]
        assert (await there.get(path)).content == (await here.get(path)).content


def test_the_calendar_handed_to_the_markets_process_is_the_apps() -> None:
    calendar = sim_transport._calendar(DAY)
    assert sorted(calendar) == [2025, 2026, 2027, 2028, 2029]
    closures, early = calendar[2026]
    assert closures == mh.holidays(2026)
    assert early == {d: t for d, t in early.items() if mh.early_close(d) == t}
    assert HALF_DAY in early and date(2026, 12, 24) in early
