"""The simulated market: deterministic, realistic, and in the providers' own wire formats."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import httpx
import numpy as np
import orjson
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.simulated.market import OPEN_MINUTE, SimMarket
from momoscan.simulated.options import OCC_EXCHANGES, ChainFactory, occ_csv
from momoscan.simulated.transport import SimulatedMarketTransport
from momoscan.simulated.universe import build_stocks, real_stocks
from momoscan.sources.cboe import parse_chain
from momoscan.sources.occ import parse_volume_csv
from momoscan.sources.twelvedata import parse_movers, parse_quote_body

DAY = date(2026, 11, 20)


def at(hh: int, mm: int, d: date = DAY) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=mh.ET)


@pytest.fixture(scope="module")
def market() -> SimMarket:
    return SimMarket(7, 0, FixedClock(at(11, 0)))


def test_real_universe_is_big_and_complete() -> None:
    stocks = real_stocks()
    assert len(stocks) >= 500
    assert len({s.symbol for s in stocks}) == len(stocks)
    for s in stocks:
        assert s.name and s.exchange in {"NASDAQ", "NYSE", "NYSEMKT", "BATS"}
        assert s.mic and s.cap_tier in {"nano", "micro", "small", "mid", "large", "mega"}
    tiers = {s.cap_tier for s in stocks}
    assert {"small", "mid", "large", "mega", "micro"} <= tiers
    assert sum(1 for s in stocks if s.price < 1) >= 5


def test_synthetic_symbols_scale_to_8000_and_are_marked() -> None:
    stocks = build_stocks(8000, 7)
    assert len(stocks) == 8000
    assert len({s.symbol for s in stocks}) == 8000
    synthetic = [s for s in stocks if s.synthetic]
    assert len(synthetic) == 8000 - len(real_stocks())
    assert all(s.name.endswith("(sim)") for s in synthetic)
    assert build_stocks(8000, 7) == stocks  # same seed, same names
    assert len(build_stocks(50, 7)) == 50


def quote_body(market: SimMarket, symbols: list[str]) -> dict[str, dict[str, object]]:
    from momoscan.simulated.transport import quote_objects

    return quote_objects(market, symbols, ",".join(symbols))  # type: ignore[return-value]


def test_same_seed_and_clock_give_the_same_market() -> None:
    a = SimMarket(11, 0, FixedClock(at(12, 30)))
    b = SimMarket(11, 0, FixedClock(at(12, 30)))
    c = SimMarket(12, 0, FixedClock(at(12, 30)))
    symbols = ["AAPL", "PLTR", "SOFI", "F"]
    assert orjson.dumps(quote_body(a, symbols)) == orjson.dumps(quote_body(b, symbols))
    assert orjson.dumps(quote_body(a, symbols)) != orjson.dumps(quote_body(c, symbols))
    assert ChainFactory(a).chain_body("AAPL") == ChainFactory(b).chain_body("AAPL")
    assert occ_csv(a, mh.previous_trading_day(DAY)) == occ_csv(b, mh.previous_trading_day(DAY))


def test_runners_gaps_and_u_shaped_volume(market: SimMarket) -> None:
    day = market.day_for(DAY)
    close = day.close_minute
    at_close = day.price[: len(market.stocks), close - 1] / day.prev_close[: len(market.stocks)] - 1
    assert (at_close >= 0.15).sum() >= 3  # a few runners...
    assert (at_close >= 0.15).sum() <= 20  # ...not half the market
    assert (at_close <= -0.10).sum() >= 2  # and some sharp fallers
    runners = [mv for mv in day.movers if mv.log_move > np.log1p(0.14)]
    assert all(5.0 <= mv.rvol <= 20.0 for mv in runners)
    # U-shaped volume: the first and last half hours trade more per minute than midday.
    per_minute = np.diff(day.cum_volume[: len(market.stocks)].sum(axis=0))
    first = per_minute[OPEN_MINUTE : OPEN_MINUTE + 30].mean()
    last = per_minute[close - 31 : close - 1].mean()
    midday = per_minute[OPEN_MINUTE + 150 : OPEN_MINUTE + 210].mean()
    premarket = per_minute[60:120].mean()
    assert first > 2 * midday and last > 1.5 * midday and midday > premarket


def test_quotes_in_twelve_data_wire_format(market: SimMarket) -> None:
    raw = quote_body(market, ["AAPL", "NOSUCH", "SPX", "SPY"])
    aapl = raw["AAPL"]
    for key in (
        "open",
        "high",
        "low",
        "close",
        "volume",
        "previous_close",
        "percent_change",
        "average_volume",
    ):
        assert isinstance(aapl[key], str), key
    assert aapl["is_market_open"] is True and aapl["mic_code"] == "XNGS"
    assert raw["NOSUCH"]["status"] == "error" and raw["NOSUCH"]["code"] == 400
    assert raw["SPX"]["status"] == "error"  # Twelve Data has no index quotes
    assert raw["SPY"]["mic_code"] == "ARCX" and raw["SPY"]["exchange"] == "NYSE"
    quotes, errors = parse_quote_body(orjson.dumps(raw), ["AAPL", "NOSUCH", "SPX", "SPY"])
    assert [q.symbol for q in quotes] == ["AAPL", "SPY"]
    assert {e.symbol for e in errors} == {"NOSUCH", "SPX"}


def test_chains_concentrate_near_the_money_and_front_expiries(market: SimMarket) -> None:
    body = ChainFactory(market).chain_body("TSLA")
    assert body is not None
    chain = parse_chain(body, "TSLA")
    spot = chain.underlying_price
    assert spot and len(chain.contracts) > 500
    total = sum(c.volume for c in chain.contracts)
    assert total > 0
    near = sum(
        c.volume
        for c in chain.contracts
        if abs(c.strike / spot - 1) < 0.10 and (c.expiry - DAY).days <= 30
    )
    assert near / total > 0.5
    assert any(c.iv is None for c in chain.contracts)  # Cboe's 0.0 IV where it cannot compute
    assert any(c.last_trade is None for c in chain.contracts)


def test_some_contracts_trade_far_above_open_interest(market: SimMarket) -> None:
    factory = ChainFactory(market)
    unusual = 0
    names = [s.symbol for s in market.stocks if s.options_volume >= 50_000][:40]
    for name in names:
        body = factory.chain_body(name)
        assert body is not None
        for c in parse_chain(body, name).contracts:
            if c.volume >= 500 and c.volume >= 1.25 * max(c.open_interest, 1):
                unusual += 1
    assert unusual >= 1


def test_spx_chain_is_big_and_uses_weekly_roots() -> None:
    market = SimMarket(7, 0, FixedClock(at(14, 0)))
    body = ChainFactory(market).chain_body("SPX")
    assert body is not None
    chain = parse_chain(body, "SPX")
    assert 20_000 <= len(chain.contracts) <= 40_000
    roots = {c.root for c in chain.contracts}
    assert roots == {"SPX", "SPXW"}
    assert len(body) > 8_000_000


def test_occ_files_for_twenty_prior_days(market: SimMarket) -> None:
    days = mh.trading_days_before(DAY, 20)
    totals = []
    for d in days:
        day, volumes, bad = parse_volume_csv(occ_csv(market, d), d)
        assert day == d and bad == 0
        by = {v.underlying: v for v in volumes}
        assert by["SPY"].total > by["AAPL"].total > 0
        totals.append(by["NVDA"].total)
    assert len(set(totals)) == 20  # each day differs


@pytest.mark.anyio
async def test_transport_credit_budget_answers_429_in_body() -> None:
    now = [600.0]
    market = SimMarket(7, 0, FixedClock(at(11, 0)))
    transport = SimulatedMarketTransport(market, plan_limit=10, latency=0, wall=lambda: now[0])
    headers = {"Authorization": "apikey demo"}
    async with httpx.AsyncClient(
        transport=transport, base_url="https://api.twelvedata.com"
    ) as http:
        ok = await http.get(
            "/quote", params={"symbol": "AAPL,MSFT,NVDA,AMD,INTC,F"}, headers=headers
        )
        assert ok.status_code == 200
        assert (ok.headers["api-credits-used"], ok.headers["api-credits-left"]) == ("6", "4")
        assert ok.headers["Is_batch"] == "true"
        over = await http.get(
            "/quote", params={"symbol": "AAPL,MSFT,NVDA,AMD,INTC"}, headers=headers
        )
        assert over.status_code == 200
        payload = over.json()
        assert payload["code"] == 429 and "current limit being 10" in payload["message"]
        now[0] = 660.0  # the next clock minute
        again = await http.get("/quote", params={"symbol": "AAPL"}, headers=headers)
        assert again.json()["symbol"] == "AAPL"  # one symbol: a flat object
        unauthorised = await http.get("/quote", params={"symbol": "AAPL"})
        assert unauthorised.status_code == 401
        usage = await http.get("/api_usage", headers=headers)
        assert usage.json()["plan_limit"] == 10


@pytest.mark.anyio
async def test_transport_serves_cboe_and_occ() -> None:
    market = SimMarket(7, 0, FixedClock(at(11, 0)))
    transport = SimulatedMarketTransport(market, latency=0)
    async with httpx.AsyncClient(transport=transport) as http:
        chain = await http.get("https://cdn.cboe.com/api/global/delayed_quotes/options/_SPX.json")
        assert chain.status_code == 200
        assert (
            await http.get("https://cdn.cboe.com/api/global/delayed_quotes/options/SPX.json")
        ).status_code == 403
        assert (
            await http.get("https://cdn.cboe.com/api/global/delayed_quotes/options/ZZZZ.json")
        ).status_code == 403
        params = {"reportDate": "20261119", "format": "csv"}
        occ = await http.get("https://marketdata.theocc.com/volume-query", params=params)
        assert occ.text.startswith("quantity,underlying,symbol,actype,porc,exchange,actdate")
        params["reportDate"] = "20261120"  # today: OCC publishes tomorrow
        today = await http.get("https://marketdata.theocc.com/volume-query", params=params)
        assert today.text == "Report date cannot be greater than 11/19/2026"
        assert parse_volume_csv(today.content)[0] is None


async def occ_answer(http: httpx.AsyncClient, day: date) -> bytes:
    params = {"reportDate": f"{day:%Y%m%d}", "format": "csv"}
    return (await http.get("https://marketdata.theocc.com/volume-query", params=params)).content


@pytest.mark.anyio
async def test_occ_answers_in_its_own_words(market: SimMarket) -> None:
    """OCC's plain-text answers: not published yet, no trading that day, beyond two years."""
    header = b"quantity,underlying,symbol,actype,porc,exchange,actdate\n"
    async with httpx.AsyncClient(transport=SimulatedMarketTransport(market, latency=0)) as http:
        assert (await occ_answer(http, date(2026, 11, 19))).startswith(header)
        not_yet = b"Report date cannot be greater than 11/19/2026"
        assert await occ_answer(http, DAY) == not_yet
        assert await occ_answer(http, date(2026, 11, 22)) == not_yet  # a Sunday ahead
        assert await occ_answer(http, date(2026, 11, 26)) == not_yet  # Thanksgiving ahead
        assert await occ_answer(http, date(2026, 11, 15)) == b"No record(s) found"  # Sunday
        assert await occ_answer(http, date(2025, 11, 27)) == b"No record(s) found"  # holiday
        too_old = b"Report date cannot be prior to 2 years"
        assert await occ_answer(http, date(2024, 11, 19)) == too_old
        assert (await occ_answer(http, date(2024, 11, 20))).startswith(header)


def test_occ_files_use_occs_exchange_codes(market: SimMarket) -> None:
    rows = occ_csv(market, date(2026, 11, 19)).decode().splitlines()[1:]
    exchanges = Counter(row.split(",")[5] for row in rows)
    # OCC's seventeen venue codes (its volume email of 2024-12-04), not OPRA's one-letter ids.
    assert set(exchanges) <= set(OCC_EXCHANGES) and len(exchanges) >= 12
    assert max(exchanges, key=exchanges.__getitem__) in {"ARCA", "PHLX", "CBOE"}
    # Index options trade on Cboe above all.
    spx = Counter()
    for row in rows:
        fields = row.split(",")
        if fields[1] == "SPX":
            spx[fields[5]] += int(fields[0])
    assert spx["CBOE"] > 0.9 * sum(spx.values())


# -- the ground truth of planted stories ----------------------------------------------------


@pytest.fixture(scope="module")
def big() -> SimMarket:
    return SimMarket(7, 8000, FixedClock(at(11, 0)))


def _volume_before(market: SimMarket, symbol: str, minute: int) -> float:
    """The story's volume in the 20 minutes before `minute` against the day's normal pace."""
    day = market.day_for(DAY)
    i = market.index[symbol]
    traded = day.cum_volume[i, minute] - day.cum_volume[i, minute - 20]
    return float(traded) / float(market.securities[i].avg_volume)


def test_the_ground_truth_names_every_story_and_its_path_follows(big: SimMarket) -> None:
    planted = big.planted(DAY)
    assert planted == big.planted(DAY) == SimMarket(7, 8000, FixedClock(at(15, 0))).planted(DAY)
    kinds = Counter(p.kind for p in planted)
    assert set(kinds) == {
        "runner", "news", "gapper", "grinder", "false_start", "faller", "gap", "sympathy"
    }  # fmt: skip
    assert kinds["runner"] >= 20 and kinds["news"] >= 10 and kinds["faller"] >= 10
    assert len({p.symbol for p in planted}) == len(planted)  # one story a name
    day = big.day_for(DAY)
    opens = datetime.combine(DAY, mh.PRE_OPEN, tzinfo=mh.ET)
    for p in planted:
        assert (p.start - opens).total_seconds() == p.minute * 60
        assert p.direction == (1 if p.size_pct > 0 else -1)
        if p.kind == "sympathy":
            leader = next(q for q in planted if q.symbol == p.leader)
            assert leader.direction == 1 and p.minute > leader.minute
            assert big.securities[big.index[p.symbol]].sector == (
                big.securities[big.index[leader.symbol]].sector
            )
        if abs(p.size_pct) < 25 or p.kind in ("false_start", "gapper"):
            continue
        # The price leaves its path at the planted start, by about the planted size.
        i = big.index[p.symbol]
        before = np.log(day.price[i, p.minute - 3])
        after = np.log(day.price[i, min(p.minute + p.duration + 10, 959)])
        move = (after - before) * p.direction
        assert move > 0.5 * np.log1p(abs(p.size_pct) / 100), p


def test_news_comes_unannounced_and_runners_build_on_volume(big: SimMarket) -> None:
    planted = big.planted(DAY)
    # In the session (the pre-market trades too little to tell), with nothing before.
    news = [p for p in planted if p.kind == "news" and p.minute >= OPEN_MINUTE + 25]
    runners = [p for p in planted if p.kind == "runner" and p.minute >= OPEN_MINUTE + 25]
    assert news and runners
    assert all(not p.precursor for p in news) and all(p.precursor for p in runners)
    quiet = np.median([_volume_before(big, p.symbol, p.minute) for p in news])
    building = np.median([_volume_before(big, p.symbol, p.minute) for p in runners])
    assert building > 2 * quiet


def test_a_false_start_gives_its_move_back(big: SimMarket) -> None:
    day = big.day_for(DAY)
    for p in big.planted(DAY):
        if p.kind != "false_start":
            continue
        i = big.index[p.symbol]
        path = np.log(day.price[i, p.minute - 1 : p.minute + 120].astype(np.float64))
        top = path.max() - path[0]
        assert top > 0.6 * np.log1p(p.size_pct / 100)
        assert path[-1] - path[0] < 0.5 * top


def test_surprise_runners_come_from_names_with_no_prior_signal() -> None:
    mixed = SimMarket(7, 8000, FixedClock(at(11, 0)))
    surprise = SimMarket(7, 8000, FixedClock(at(11, 0)), runners="surprise")
    planted = surprise.planted(DAY)
    assert {p.kind for p in planted} == {"news", "gap"}
    jumps = [p for p in planted if p.kind == "news"]
    assert len(jumps) >= 100 and not any(p.precursor for p in jumps)
    assert all(OPEN_MINUTE < p.minute < OPEN_MINUTE + 390 for p in jumps)
    # Any tier, as often as the tier is common: mega caps too, which the mixed mode spares.
    tiers = Counter(surprise.securities[surprise.index[p.symbol]].cap_tier for p in jumps)
    assert tiers["large"] + tiers["mega"] >= 0.12 * len(jumps)

    # No options activity ahead of the jump, where the mixed mode's runners are bought early.
    def options_ratio(market: SimMarket, symbols: list[str]) -> float:
        total, _ = market.options_volumes(DAY)
        rows = [market.index[s] for s in symbols]
        return float(np.median(total[rows] / np.maximum(market._options_base[rows], 1)))

    runners = [p.symbol for p in mixed.planted(DAY) if p.kind == "runner"]
    assert options_ratio(surprise, [p.symbol for p in jumps]) < 2 < options_ratio(mixed, runners)
    with pytest.raises(ValueError):
        SimMarket(7, 10, FixedClock(at(11, 0)), runners="psychic")


@pytest.mark.anyio
async def test_market_movers_in_twelve_datas_shape_for_pro_plans_only(market: SimMarket) -> None:
    now = [600.0]
    headers = {"Authorization": "apikey demo"}
    pro = SimulatedMarketTransport(market, plan_limit=610, latency=0, wall=lambda: now[0])
    grow = SimulatedMarketTransport(market, plan_limit=377, latency=0, wall=lambda: now[0])
    url = "https://api.twelvedata.com/market_movers/stocks"
    async with httpx.AsyncClient(transport=pro) as http, httpx.AsyncClient(transport=grow) as low:
        answer = await http.get(url, params={"outputsize": "50"}, headers=headers)
        assert answer.headers["api-credits-used"] == "100"
        rows = answer.json()["values"]
        assert len(rows) == 50 and all(isinstance(r["last"], float) for r in rows)
        changes = [r["percent_change"] for r in rows]
        assert changes == sorted(changes, reverse=True) and changes[-1] > 0
        losers = await http.get(url, params={"direction": "losers"}, headers=headers)
        assert len(losers.json()["values"]) == 30 and losers.json()["values"][0]["change"] < 0
        bad = await http.get(url, params={"outputsize": "51"}, headers=headers)
        assert bad.status_code == 400
        # A Grow plan: the documented refusal, and no credits taken for it.
        refused = await low.get(url, headers=headers)
        assert refused.status_code == 403 and "exclusively with pro" in refused.json()["message"]
        assert grow.meter.used == 0
        # The minute's credits spent: the in-body 429, as for /quote.
        for _ in range(4):
            assert (await http.get(url, headers=headers)).json()["values"]
        spent = await http.get(url, headers=headers)
        assert spent.json()["code"] == 429 and pro.meter.used == 600
    # Each row agrees with the quote of the same minute.
    parsed = parse_movers(answer.content).rows
    top = parsed[0]
    quote = quote_body(market, [top.symbol])[top.symbol]
    assert top.last == pytest.approx(float(quote["close"]), abs=1e-4)  # type: ignore[arg-type]
    assert top.percent_change == pytest.approx(float(quote["percent_change"]), abs=1e-3)  # type: ignore[arg-type]
    assert top.quote_ts == int(at(11, 0).timestamp()) and top.day == DAY


def test_market_movers_before_the_open_are_the_last_sessions() -> None:
    from momoscan.simulated.transport import movers_objects

    early = SimMarket(7, 0, FixedClock(at(8, 0)))
    rows = movers_objects(early, "gainers", 10)
    assert rows and all(str(r["datetime"]).startswith("2026-11-19 15:59") for r in rows)
