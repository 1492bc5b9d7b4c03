"""The simulated market's fault mode: what each fault sends, reproducibly and as often as asked.

Every fault is checked through `SimulatedMarketTransport` and a plain `httpx.AsyncClient`, the way
the app's sources see it.
"""

from __future__ import annotations

import pickle
import re
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import anyio
import httpx
import orjson
import pytest

from momoscan import market_hours as mh
from momoscan.clock import FixedClock
from momoscan.sanitize import clean, is_clean
from momoscan.simulated import faults
from momoscan.simulated.faults import FAULTS, FaultPlan
from momoscan.simulated.market import SimMarket
from momoscan.simulated.transport import ProcessMarketTransport, SimulatedMarketTransport
from momoscan.sources.cboe import parse_chain
from momoscan.sources.twelvedata import parse_quote_body

DAY = date(2026, 11, 20)  # a Friday
MONDAY = date(2026, 11, 23)
TD = "https://api.twelvedata.com"
CBOE = "https://cdn.cboe.com/api/global/delayed_quotes/options"
OCC = "https://marketdata.theocc.com/volume-query"
KEY = {"Authorization": "apikey demo"}
BATCH = "AAPL,MSFT,NVDA,F,SOFI,PLTR"
OCC_HEADER = b"quantity,underlying,symbol,actype,porc,exchange,actdate"


def at(hh: int, mm: int, d: date = DAY) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=mh.ET)


@pytest.fixture(scope="module")
def market() -> SimMarket:
    return SimMarket(7, 0, FixedClock(at(11, 0)))


def client(market: SimMarket, plan: FaultPlan | str | None) -> httpx.AsyncClient:
    faults_ = FaultPlan.parse(plan) if isinstance(plan, str) else plan
    transport = SimulatedMarketTransport(market, latency=0, faults=faults_)
    return httpx.AsyncClient(transport=transport, headers=KEY)


def injected(http: httpx.AsyncClient) -> Counter[str]:
    transport = http._transport
    assert isinstance(transport, SimulatedMarketTransport)
    return transport.server.injected


async def quote(http: httpx.AsyncClient, symbols: str = BATCH) -> httpx.Response:
    return await http.get(f"{TD}/quote", params={"symbol": symbols})


async def occ(http: httpx.AsyncClient, day: date) -> httpx.Response:
    return await http.get(OCC, params={"reportDate": f"{day:%Y%m%d}", "format": "csv"})


def not_json(body: bytes) -> bool:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return True
    return False


# -- the plan --------------------------------------------------------------------------------


def test_all_and_none() -> None:
    every = FaultPlan.parse("all")
    assert every == FaultPlan.all()
    assert every.rates() == {name: kind.default for name, kind in FAULTS.items()}
    assert all(0 < rate <= 0.3 for rate in every.rates().values())
    assert every.describe() == "all faults at default rates" == str(every)
    for spec in ("none", "", " , ", "all,none"):
        plan = FaultPlan.parse(spec)
        assert not plan.active and plan.describe() == "no faults"


def test_a_list_of_faults_with_and_without_rates() -> None:
    plan = FaultPlan.parse("td_5xx=0.2, OCC_HTML=0.5,stale_quotes")
    assert plan.rates() == {"td_5xx": 0.2, "td_stale": FAULTS["td_stale"].default, "occ_html": 0.5}
    assert plan.describe() == "td_5xx 20%, td_stale 2%, occ_html 50%"
    assert FaultPlan.parse("all,td_5xx=0").td_5xx == 0.0
    assert set(FaultPlan.parse("occ").rates()) == {n for n in FAULTS if n.startswith("occ_")}
    assert set(FaultPlan.parse("td=0.1").rates().values()) == {0.1}
    options = FaultPlan.parse("td_trickle,trickle_delay=0.01,trickle_seconds=0.5,seed=3")
    assert (options.trickle_delay, options.trickle_seconds, options.seed) == (0.01, 0.5, 3)
    assert options.trickle() == faults.Trickle(chunk=16, delay=0.01, pauses=50)
    assert "(seed 3)" in options.describe()


@pytest.mark.parametrize(
    ("spec", "item"),
    [
        ("td_5xxx", "'td_5xxx'"),
        ("td_5xx=0.2,nope=1", "'nope=1'"),
        ("td_5xx=2", "'td_5xx=2'"),
        ("occ_html=-0.1", "'occ_html=-0.1'"),
        ("td_5xx=lots", "'td_5xx=lots'"),
        ("seed=1.5", "'seed=1.5'"),
        ("trickle_delay=0", "'trickle_delay=0'"),
        ("trickle_seconds", "'trickle_seconds'"),
    ],
)
def test_bad_specs_name_the_item_and_the_valid_names(spec: str, item: str) -> None:
    with pytest.raises(ValueError) as raised:
        FaultPlan.parse(spec)
    message = str(raised.value)
    assert item in message and "\n" not in message and message.endswith(".")
    valid = "valid names are all, td, cboe, occ, ws, halts, ssr, sec, facts, finra, none, td_5xx"
    assert valid in message
    assert all(name in message for name in FAULTS)


def test_plan_checks_rates_pickles_and_documents_every_fault() -> None:
    with pytest.raises(ValueError, match=r"td_5xx=1\.5"):
        FaultPlan(td_5xx=1.5)
    plan = FaultPlan.parse("all,seed=9")
    assert pickle.loads(pickle.dumps(plan)) == plan
    fields = list(FaultPlan.__dataclass_fields__)
    assert fields[: len(FAULTS)] == list(FAULTS)
    assert faults.__doc__ is not None
    for name in FAULTS:
        assert re.search(rf"^    {name} \(", faults.__doc__, re.MULTILINE), name


def test_rates_over_one_share_the_requests() -> None:
    plan = FaultPlan(td_5xx=1.0, td_html=1.0)
    assert plan.pick(faults.TD_REQUEST, 0.25) == "td_5xx"
    assert plan.pick(faults.TD_REQUEST, 0.75) == "td_html"
    assert FaultPlan(td_5xx=0.1).pick(faults.TD_REQUEST, 0.5) is None


@pytest.mark.anyio
async def test_no_plan_answers_exactly_as_without_one(market: SimMarket) -> None:
    async with client(market, None) as plain, client(market, "none") as none:
        assert none._transport.server.faults is None  # type: ignore[attr-defined]
        for http_get in (
            lambda h: quote(h),
            lambda h: h.get(f"{CBOE}/TSLA.json"),
            lambda h: occ(h, mh.previous_trading_day(DAY)),
        ):
            a, b = await http_get(plain), await http_get(none)
            assert (a.status_code, a.content) == (b.status_code, b.content)


@pytest.mark.anyio
async def test_same_seed_same_answers() -> None:
    async def run(seed: int) -> list[tuple[int, bytes]]:
        market = SimMarket(7, 0, FixedClock(at(11, 0)))
        out = []
        spec = f"td=0.2,cboe=0.3,occ=0.3,seed={seed},trickle_delay=0.001,trickle_seconds=0.01"
        async with client(market, spec) as http:
            for k in range(12):
                symbols = ["AAPL,MSFT", "NVDA,F,SOFI", "TSLA"][k % 3]
                for response in (
                    await quote(http, symbols),
                    await http.get(f"{CBOE}/{['F', 'SOFI'][k % 2]}.json"),
                    await occ(http, mh.trading_days_before(DAY, 6)[k % 6]),
                ):
                    out.append((response.status_code, response.content))
        return out

    first = await run(1)
    assert first == await run(1)
    assert first != await run(2)
    assert len({status for status, _ in first}) > 1


# -- Twelve Data -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_td_5xx_is_a_gateway_page_and_costs_nothing(market: SimMarket) -> None:
    async with client(market, "td_5xx=1") as http:
        seen = set()
        for _ in range(12):
            response = await quote(http)
            seen.add(response.status_code)
            assert response.status_code in (502, 503, 520) and not_json(response.content)
            if response.status_code == 502:
                assert b"Bad gateway" in response.content
            if response.status_code == 520:
                assert response.text == "error code: 520"
        assert seen == {502, 503, 520}
        assert http._transport.meter.used == 0  # type: ignore[attr-defined]
        assert injected(http) == {"td_5xx": 12}


@pytest.mark.anyio
async def test_td_429_comes_in_bursts_in_the_body(market: SimMarket) -> None:
    async with client(market, "td_429=0.1") as http:
        flags = []
        for _ in range(200):
            response = await quote(http, "AAPL")
            assert response.status_code == 200
            body = response.json()
            limited = body.get("code") == 429
            flags.append(limited)
            if limited:
                assert body["status"] == "error"
                assert re.fullmatch(
                    r"You have run out of API credits for the current minute\. \d+ API credits "
                    r"were used, with the current limit being 1597\. Wait for the next minute or "
                    r"consider switching to a higher tier plan at https://twelvedata.com/pricing",
                    body["message"],
                )
                assert response.headers["api-credits-left"] == "0"
        runs = [len(run) for run in "".join("x" if f else "." for f in flags).split(".") if run]
        assert runs and min(runs) >= 3
        assert injected(http)["td_429"] == sum(flags)


@pytest.mark.anyio
async def test_td_trickle_is_slow_and_only_a_whole_request_timeout_bounds_it(
    market: SimMarket,
) -> None:
    plan = FaultPlan(td_trickle=1.0, trickle_delay=0.02, trickle_seconds=0.3)
    async with client(market, None) as plain, client(market, plan) as http:
        whole = (await quote(plain)).content
        started = time.perf_counter()
        async with http.stream("GET", f"{TD}/quote", params={"symbol": BATCH}) as response:
            headers_after = time.perf_counter() - started
            pieces = [piece async for piece in response.aiter_raw()]
        took = time.perf_counter() - started
        assert headers_after < 0.1 and took >= 0.3
        assert len(pieces) >= 15 and max(len(p) for p in pieces[:-1]) <= 16
        assert b"".join(pieces) == whole
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.1):
                await quote(http)
        assert injected(http) == {"td_trickle": 2}


@pytest.mark.anyio
async def test_td_html_and_truncated_bodies(market: SimMarket) -> None:
    async with client(market, "td_html=1") as http:
        response = await quote(http)
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/html"
        )
        assert response.text.startswith("<!DOCTYPE html>") and not_json(response.content)
    async with client(market, None) as plain, client(market, "td_truncated=1") as http:
        whole = (await quote(plain)).content
        cut = await quote(http)
        assert cut.status_code == 200 and not_json(cut.content)
        assert 0 < len(cut.content) < len(whole) and whole.startswith(cut.content)


@pytest.mark.anyio
async def test_td_stale_quotes_are_a_halted_days_bar(market: SimMarket) -> None:
    now = market.clock.now()
    async with client(market, "td_stale=1") as http:
        body = (await quote(http)).json()
        again = (await quote(http)).json()
    assert body == again  # a halt lasts
    assert injected(http)["td_stale"] == 12
    for symbol, q in body.items():
        last = datetime.fromtimestamp(q["last_quote_at"], mh.ET)
        day = date.fromisoformat(q["datetime"])
        assert now - last > timedelta(days=2), symbol
        assert mh.is_trading_day(day) and day < mh.previous_trading_day(DAY)
        assert last.date() == day and mh.OPEN < last.time() < mh.CLOSE
        assert q["timestamp"] == int(datetime.combine(day, mh.OPEN, tzinfo=mh.ET).timestamp())
        assert q["is_market_open"] is True  # the exchange is open; the stock is not trading
        close, prev = float(q["close"]), float(q["previous_close"])
        assert float(q["percent_change"]) == pytest.approx((close - prev) / prev * 100, abs=1e-4)
        assert float(q["low"]) <= close <= float(q["high"])
        index = market.index[symbol]
        assert close == pytest.approx(float(market.now_state()[0].prev_close[index]), abs=1e-5)


@pytest.mark.anyio
async def test_td_symbol_errors_inside_a_batch(market: SimMarket) -> None:
    async with client(market, "td_symbol_error=1") as http:
        body = (await quote(http, "AAPL,MSFT,NOSUCH")).json()
        single = (await quote(http, "AAPL")).json()
    for symbol in ("AAPL", "MSFT", "NOSUCH"):
        assert body[symbol] == {
            "code": 400,
            "message": f"**symbol** not found: {symbol}. Please specify it correctly according "
            "to API Documentation.",
            "status": "error",
            "meta": {"symbol": "AAPL,MSFT,NOSUCH", "interval": "1day", "exchange": ""},
        }
    assert single["symbol"] == "AAPL"  # a batch's fault only
    assert injected(http) == {"td_symbol_error": 2}


@pytest.mark.anyio
async def test_td_hostile_names_carry_escape_sequences_that_clean_away(market: SimMarket) -> None:
    async with client(market, "td_hostile_name=1") as http:
        body = (await quote(http)).json()
        again = (await quote(http)).json()
        transport = http._transport
        assert isinstance(transport, SimulatedMarketTransport)
        raw = transport.server.listings()
        listed = {t.symbol: t for t in await transport.tickers()}
    assert body == again  # the same names, the same way, every time
    assert injected(http) == {"td_hostile_name": 12}
    for symbol, q in body.items():
        real = market.securities[market.index[symbol]].name
        assert "\x1b]8;;" in q["name"] and q["name"] != real
        assert any(extra in q["name"] for extra in faults.HOSTILE_EXTRAS)
        assert clean(q["name"]) == real
        # The listing carries the same name; the transport hands it over cleaned.
        assert next(t.name for t in raw if t.symbol == symbol) == q["name"]
        assert listed[symbol].name == real
    # The real client's parser cleans it where it reads the answer.
    quotes, errors = parse_quote_body(orjson.dumps(body), BATCH.split(","))
    assert not errors
    assert {q.symbol: q.name for q in quotes} == {
        s: market.securities[market.index[s]].name for s in BATCH.split(",")
    }


@pytest.mark.anyio
async def test_td_hostile_names_take_a_share_of_the_symbols(market: SimMarket) -> None:
    async with client(market, "td_hostile_name=0.2") as http:
        transport = http._transport
        assert isinstance(transport, SimulatedMarketTransport)
        raw = transport.server.listings()
        cleaned = await transport.tickers()
    hostile = [t for t in raw if "\x1b" in t.name]
    assert 0.1 * len(raw) < len(hostile) < 0.3 * len(raw)
    assert not any(not is_clean(t.name) for t in cleaned)
    assert [t.symbol for t in cleaned] == [t.symbol for t in raw]


# -- Cboe ------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("spec", "statuses", "start"),
    [
        ("cboe_5xx=1", {502, 503, 504}, b"<!DOCTYPE HTML PUBLIC"),
        ("cboe_403=1", {403}, b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied'),
        ("cboe_html=1", {200}, b"<!DOCTYPE html>"),
    ],
)
async def test_cboe_error_pages(
    market: SimMarket, spec: str, statuses: set[int], start: bytes
) -> None:
    async with client(market, spec) as http:
        for name in ("AAPL", "_SPX", "SPY"):
            response = await http.get(f"{CBOE}/{name}.json")
            assert response.status_code in statuses and response.content.startswith(start)
        assert sum(injected(http).values()) == 3
        # A name Cboe refuses anyway is refused as ever, not counted as a fault.
        assert (await http.get(f"{CBOE}/SPX.json")).status_code == 403
        assert sum(injected(http).values()) == 3


@pytest.mark.anyio
async def test_cboe_truncated_and_trickled_chains(market: SimMarket) -> None:
    async with client(market, None) as plain, client(market, "cboe_truncated=1") as http:
        whole = (await plain.get(f"{CBOE}/F.json")).content
        cut = (await http.get(f"{CBOE}/F.json")).content
        assert not_json(cut) and whole.startswith(cut) and len(cut) < len(whole)
    plan = FaultPlan(cboe_trickle=1.0, trickle_delay=0.02, trickle_seconds=0.2)
    async with client(market, plan) as http:
        started = time.perf_counter()
        response = await http.get(f"{CBOE}/F.json")
        assert time.perf_counter() - started >= 0.2 and response.content == whole


@pytest.mark.anyio
async def test_cboe_stale_is_the_previous_sessions_chain() -> None:
    # Monday before the open: Cboe still serves Friday's chain.
    market = SimMarket(7, 0, FixedClock(at(8, 0, MONDAY)))
    async with client(market, None) as plain, client(market, "cboe_stale=1") as http:
        fresh = (await plain.get(f"{CBOE}/TSLA.json")).json()
        response = await http.get(f"{CBOE}/TSLA.json")
    assert injected(http) == {"cboe_stale": 1}
    body = response.json()
    stamp = datetime.strptime(body["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert stamp.astimezone(mh.ET).date() == DAY  # Friday evening, in New York
    assert datetime.strptime(fresh["timestamp"], "%Y-%m-%d %H:%M:%S").date() == MONDAY
    assert body["data"]["last_trade_time"] == "2026-11-20T16:00:00"
    times = [o["last_trade_time"] for o in body["data"]["options"] if o["last_trade_time"]]
    assert max(times) <= "2026-11-20T16:00:00" and max(times).startswith("2026-11-20")
    # Friday's volumes: the whole session's, where Monday's pre-market chain has none yet.
    volume = sum(o["volume"] for o in body["data"]["options"])
    assert sum(o["volume"] for o in fresh["data"]["options"]) == 0
    totals, _ = market.options_volumes(DAY)
    assert 0.6 < volume / totals[market.index["TSLA"]] < 1.5
    # Friday's close is the close Monday's quotes start from.
    friday = market.session_before(MONDAY)
    index = market.index["TSLA"]
    assert friday.day == DAY
    assert friday.last_price()[index] == pytest.approx(market.now_state()[0].prev_close[index])
    chain = parse_chain(response.content, "TSLA")
    assert chain.contracts and chain.underlying_price == body["data"]["current_price"]


# -- OCC -------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("spec", "body"),
    [
        ("occ_no_record=1", b"No record(s) found"),
        ("occ_late=1", b"Report date cannot be greater than 11/18/2026"),
        ("occ_too_old=1", b"Report date cannot be prior to 2 years"),
    ],
)
async def test_occ_plain_text_answers_for_a_published_day(
    market: SimMarket, spec: str, body: bytes
) -> None:
    async with client(market, spec) as http:
        response = await occ(http, date(2026, 11, 19))
        assert (response.status_code, response.content) == (200, body)
        assert sum(injected(http).values()) == 1


@pytest.mark.anyio
async def test_occ_trailing_commas_and_crlf(market: SimMarket) -> None:
    day = date(2026, 11, 19)
    async with client(market, None) as plain, client(market, "occ_comma=1,occ_crlf=1") as http:
        whole = (await occ(plain, day)).content
        body = (await occ(http, day)).content
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    header, *rows = body.decode().split("\r\n")[:-1]
    assert header.split(",") == OCC_HEADER.decode().split(",")
    assert rows and all(len(row.split(",")) == 8 and row.endswith("/2026,") for row in rows)
    assert body.replace(b",\r\n", b"\n").replace(b"\r\n", b"\n") == whole
    assert injected(http) == {"occ_comma": 1, "occ_crlf": 1}


@pytest.mark.anyio
async def test_occ_maintenance_page_lasts_for_the_report_day(market: SimMarket) -> None:
    async with client(market, "occ_html=0.5") as http:
        days = mh.trading_days_before(DAY, 20)
        first = [(await occ(http, d)).content for d in days]
        again = [(await occ(http, d)).content for d in days]
    assert first == again
    pages = [body for body in first if body.startswith(b"<html>")]
    assert 4 <= len(pages) <= 16
    assert all(200 < len(page) < 250 for page in pages)
    assert injected(http)["occ_html"] == 2 * len(pages)


@pytest.mark.anyio
async def test_occ_truncated_mid_row_and_5xx(market: SimMarket) -> None:
    day = date(2026, 11, 19)
    async with client(market, None) as plain, client(market, "occ_truncated=1") as http:
        whole = (await occ(plain, day)).content
        cut = (await occ(http, day)).content
    assert cut.startswith(OCC_HEADER + b"\n") and whole.startswith(cut) and len(cut) < len(whole)
    # Cut inside a row: neither what was sent nor what was not begins or ends a line.
    assert cut[-1] not in b"\r\n" and whole[len(cut)] not in b"\r\n"
    async with client(market, "occ_5xx=1") as http:
        response = await occ(http, day)
        assert response.status_code in (500, 502, 503) and not response.content.startswith(
            OCC_HEADER
        )


# -- rates and counts ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rates_are_roughly_respected() -> None:
    market = SimMarket(3, 50, FixedClock(at(11, 0)))
    async with client(market, "td_5xx=0.1,td_html=0.2,td_stale=0.1") as http:
        kinds: Counter[str] = Counter()
        for _ in range(400):
            response = await http.get(f"{TD}/api_usage")
            if response.status_code >= 500:
                kinds["5xx"] += 1
            elif response.text.startswith("<!DOCTYPE html>"):
                kinds["html"] += 1
        assert 0.07 < kinds["5xx"] / 400 < 0.13
        assert 0.16 < kinds["html"] / 400 < 0.24
        counted = injected(http)
        assert (counted["td_5xx"], counted["td_html"]) == (kinds["5xx"], kinds["html"])
        symbols = ",".join(s.symbol for s in market.stocks)
        body: dict[str, dict[str, object]] = {}
        while not body:
            response = await quote(http, symbols)
            body = response.json() if response.text.startswith("{") else {}
        stale = sum(1 for q in body.values() if q["datetime"] != DAY.isoformat())
        assert 1 <= stale <= 12  # of 50
        assert injected(http)["td_stale"] == stale


@pytest.mark.anyio
async def test_every_injected_fault_is_seen_by_the_client(market: SimMarket) -> None:
    """Classify what a client receives under every fault, and match the market's counts."""
    plan = FaultPlan.parse("all,td=0.15,cboe=0.15,trickle_delay=0.001,trickle_seconds=0.01")
    seen: Counter[str] = Counter()
    async with client(market, plan) as http:
        for k in range(60):
            response = await quote(http, "AAPL,MSFT,NVDA" if k % 2 else "F,SOFI")
            if response.status_code >= 500:
                seen["td_5xx"] += 1
            elif response.text.startswith("<!DOCTYPE html>"):
                seen["td_html"] += 1
            elif not_json(response.content):
                seen["td_truncated"] += 1
            elif response.json().get("code") == 429:
                seen["td_429"] += 1
            else:
                for q in response.json().values():
                    if q.get("status") == "error":
                        seen["td_symbol_error"] += 1
                        continue
                    if q["datetime"] != DAY.isoformat():
                        seen["td_stale"] += 1
                    if "\x1b" in q["name"]:
                        seen["td_hostile_name"] += 1
        for k in range(30):
            name = ["AAPL", "F", "SOFI"][k % 3]
            response = await http.get(f"{CBOE}/{name}.json")
            if response.status_code >= 500:
                seen["cboe_5xx"] += 1
            elif response.status_code == 403:
                seen["cboe_403"] += 1
            elif response.text.startswith("<!DOCTYPE html>"):
                seen["cboe_html"] += 1
            elif not_json(response.content):
                seen["cboe_truncated"] += 1
            elif not response.json()["data"]["last_trade_time"].startswith(DAY.isoformat()):
                seen["cboe_stale"] += 1
        counted = Counter(injected(http))
    trickled = counted.pop("td_trickle", 0) + counted.pop("cboe_trickle", 0)
    assert trickled > 0
    assert seen == counted


@pytest.mark.anyio
async def test_the_process_transport_faults_and_counts() -> None:
    plan = FaultPlan.parse("td_5xx=0.5,td_trickle=0.5,trickle_delay=0.01,trickle_seconds=0.05")
    transport = ProcessMarketTransport(
        seed=7, size=50, clock=FixedClock(at(11, 0)), first_day=DAY, latency=0, faults=plan
    )
    async with httpx.AsyncClient(transport=transport, headers=KEY) as http:
        statuses: Counter[int] = Counter()
        for _ in range(10):
            response = await http.get(f"{TD}/api_usage")
            statuses[response.status_code] += 1
        counted = await transport.injected()
    assert counted["td_5xx"] == sum(n for status, n in statuses.items() if status >= 500)
    assert counted["td_5xx"] + counted["td_trickle"] == 10


@pytest.mark.anyio
async def test_a_market_process_that_cannot_start_says_why_on_every_request() -> None:
    # The process is spawned before it knows which market to build (the app starts it first
    # thing); the market's arguments follow as its first task. When that task fails, every
    # later request names the cause rather than a bare "not started".
    transport = ProcessMarketTransport(
        seed=7, size=50, clock=FixedClock(at(11, 0)), first_day=DAY, latency=0, runners="nope"
    )
    async with httpx.AsyncClient(transport=transport, headers=KEY) as http:
        for _ in range(2):
            with pytest.raises(RuntimeError, match="did not start") as raised:
                await http.get(f"{TD}/api_usage")
            assert "runners must be one of" in repr(raised.value.__cause__)
