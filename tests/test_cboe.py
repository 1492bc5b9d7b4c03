"""Cboe delayed chains: parsing the JSON, the index underscore, and the client's HTTP behaviour.

`fixtures/cboe/options_KO.json` is hand-written in the shape of a real recorded Cboe answer (key
order, field names and float-typed volume/open interest as in the CLX recording), with its own
values: a traded call, a never-traded put (null last_trade_time, iv 0.0), a decimal strike, an
adjusted root (KO1), a traded contract with iv 0.0, null volume/open interest, and two bad records.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import orjson
import pytest
import respx

from momoscan.models import OptionChain, Right
from momoscan.sources import cboe
from momoscan.sources.cboe import (
    INDEX_SYMBOLS,
    CboeClient,
    aggregate,
    chain_url_symbol,
    parse_chain,
)
from momoscan.sources.errors import (
    MalformedResponse,
    NoOptions,
    RateLimited,
    ServiceError,
    SourceError,
)

FIXTURES = Path(__file__).parent / "fixtures" / "cboe"
NY = ZoneInfo("America/New_York")
BASE = "https://cdn.cboe.com/api/global/delayed_quotes/options"


def ko_body() -> bytes:
    return (FIXTURES / "options_KO.json").read_bytes()


def record(option: object, **fields: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "option": option,
        "bid": 1.0,
        "ask": 1.1,
        "iv": 0.3,
        "open_interest": 10.0,
        "volume": 5.0,
        "last_trade_price": 1.05,
        "last_trade_time": "2026-08-14T12:00:00",
    }
    rec.update(fields)
    return rec


def chain_body(options: list[Any], **top: Any) -> bytes:
    doc: dict[str, Any] = {
        "timestamp": "2026-08-14 20:16:41",
        "data": {"options": options, "current_price": 100.0},
    }
    doc.update(top)
    return orjson.dumps(doc)


# ------------------------------------------------------------------------------------- parsing


def test_parse_fixture_chain(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="momoscan.sources.cboe"):
        chain = parse_chain(ko_body(), "KO")

    assert chain.underlying == "KO"
    assert chain.as_of == datetime(2026, 8, 14, 20, 16, 41, tzinfo=UTC)
    assert chain.as_of.utcoffset() is not None
    assert chain.underlying_price == 61.87
    by_osi = {c.contract: c for c in chain.contracts}
    assert list(by_osi) == [
        "KO260918C00060000",
        "KO260918P00060000",
        "KO260918C00062500",
        "KO1260918P00055000",
        "KO261016P00057500",
        "KO270115C00070000",
    ]

    traded = by_osi["KO260918C00060000"]
    assert traded.underlying == "KO"
    assert traded.root == "KO"
    assert traded.expiry == date(2026, 9, 18)
    assert traded.right is Right.CALL
    assert traded.strike == 60.0
    assert traded.volume == 152 and isinstance(traded.volume, int)
    assert traded.open_interest == 2310 and isinstance(traded.open_interest, int)
    assert traded.iv == pytest.approx(0.2531)
    assert traded.last == 5.35
    assert traded.last_trade == datetime(2026, 8, 14, 15, 42, 7, tzinfo=NY)
    assert traded.last_trade is not None
    # August: Eastern daylight time, 4 hours behind UTC.
    assert traded.last_trade.astimezone(UTC) == datetime(2026, 8, 14, 19, 42, 7, tzinfo=UTC)
    assert traded.last_trade.tzinfo is NY

    never = by_osi["KO260918P00060000"]
    assert never.right is Right.PUT
    assert never.last is None  # last_trade_price is 0.0 but it never traded
    assert never.last_trade is None
    assert never.iv is None  # 0.0 means not computable
    assert never.volume == 0 and never.open_interest == 0

    assert by_osi["KO260918C00062500"].strike == 62.5

    adjusted = by_osi["KO1260918P00055000"]
    assert adjusted.root == "KO1"
    assert adjusted.underlying == "KO"
    assert adjusted.strike == 55.0

    no_iv = by_osi["KO261016P00057500"]
    assert no_iv.iv is None
    assert no_iv.last == 1.02
    assert no_iv.strike == 57.5
    assert no_iv.expiry == date(2026, 10, 16)

    nulls = by_osi["KO270115C00070000"]
    assert nulls.volume == 0 and nulls.open_interest == 0
    assert nulls.expiry == date(2027, 1, 15)

    # The two bad records (a broken OSI symbol, a missing "option" key) are counted and named.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "KO" in message and "skipped 2 of 8" in message
    assert "<no option key>" in message  # the first bad record is named


def test_columns_and_contract_objects_agree() -> None:
    chain = parse_chain(ko_body(), "KO")
    contracts = chain.contracts
    assert len(chain) == len(contracts) == 6
    assert [c.contract for c in contracts] == chain.symbols
    assert [c.volume for c in contracts] == chain.volumes
    assert [c.right.value for c in contracts] == chain.rights
    assert chain.skipped == 2
    rebuilt = OptionChain.from_contracts("KO", chain.as_of, chain.underlying_price, contracts)
    assert rebuilt == dataclasses.replace(chain, skipped=0)


def test_a_string_number_falls_back_to_the_lenient_reader() -> None:
    good = record("CLX260821C00055000")
    odd = record("CLX260821C00060000")
    odd["volume"] = "12"  # not a JSON number: the typed decoder refuses the document
    chain = parse_chain(chain_body([good, odd]), "CLX")
    assert chain.symbols == ["CLX260821C00055000", "CLX260821C00060000"]
    assert chain.volumes[1] == 12


def test_aggregate_sums_calls_and_puts() -> None:
    chain = parse_chain(ko_body(), "KO")
    volume = aggregate(chain, date(2026, 8, 14))
    assert volume.day == date(2026, 8, 14)
    assert volume.underlying == "KO"
    assert volume.source == "cboe"
    assert (volume.calls, volume.puts, volume.total) == (192, 78, 270)


def test_aggregate_empty_chain() -> None:
    chain = OptionChain.from_contracts("XYZ", None, None, [])
    volume = aggregate(chain, date(2026, 8, 14))
    assert (volume.total, volume.calls, volume.puts) == (0, 0, 0)


def test_last_trade_in_winter_is_eastern_standard_time() -> None:
    body = chain_body([record("SPXW270115P05000000", last_trade_time="2027-01-14T15:59:30")])
    (contract,) = parse_chain(body, "SPX").contracts
    assert contract.last_trade is not None
    assert contract.last_trade.astimezone(UTC) == datetime(2027, 1, 14, 20, 59, 30, tzinfo=UTC)
    assert contract.root == "SPXW"
    assert contract.underlying == "SPX"


def test_last_price_missing_or_zero_is_none() -> None:
    body = chain_body(
        [
            record("CLX260821C00055000", last_trade_price=None),
            record("CLX260821C00060000", last_trade_price=0.0),
            record("CLX260821C00065000", last_trade_price=2.5),
        ]
    )
    chain = parse_chain(body, "CLX")
    assert [c.last for c in chain.contracts] == [None, None, 2.5]
    assert all(c.last_trade is not None for c in chain.contracts)


def test_requested_symbol_is_the_underlying_without_underscore() -> None:
    body = chain_body([record("SPX261218C05000000"), record("SPXW261218P05000000")])
    chain = parse_chain(body, "_SPX")
    assert chain.underlying == "SPX"
    assert {c.underlying for c in chain.contracts} == {"SPX"}
    assert [c.root for c in chain.contracts] == ["SPX", "SPXW"]


def test_many_contracts_share_a_head_and_strikes_stay_right() -> None:
    # Exercises the per-head and per-strike caches: same root+expiry+right, many strikes.
    strikes = [0.5, 1.0, 22.5, 100.0, 5000.0, 12.125]
    body = chain_body(
        [record(f"SPXW261218C{round(k * 1000):08d}") for k in strikes]
        + [record(f"SPXW261218P{round(k * 1000):08d}") for k in strikes]
        + [record("SPXW261218C0000X500"), record("SPXW261218C0001000")]  # bad strikes
    )
    chain = parse_chain(body, "SPX")
    assert [c.strike for c in chain.contracts] == strikes + strikes
    assert [c.right for c in chain.contracts] == [Right.CALL] * 6 + [Right.PUT] * 6


def test_timestamp_missing_or_bad_gives_no_as_of() -> None:
    doc = orjson.loads(chain_body([record("CLX260821C00055000")]))
    del doc["timestamp"]
    assert parse_chain(orjson.dumps(doc), "CLX").as_of is None
    doc["timestamp"] = "yesterday"
    assert parse_chain(orjson.dumps(doc), "CLX").as_of is None
    doc["timestamp"] = "2026-08-14T16:16:41-04:00"
    assert parse_chain(orjson.dumps(doc), "CLX").as_of == datetime(
        2026, 8, 14, 20, 16, 41, tzinfo=UTC
    )


def test_empty_options_list_is_a_valid_empty_chain() -> None:
    chain = parse_chain(chain_body([]), "CLX")
    assert chain.contracts == []
    assert chain.underlying_price == 100.0


def test_wrong_field_types_skip_only_that_record() -> None:
    body = chain_body(
        [
            record("CLX260821C00055000", volume="lots"),
            record("CLX260821C00060000", last_trade_time=12),
            "not a record",
            None,
            record(12345),
            record("CLX260821C00065000", volume=3.0),
        ]
    )
    chain = parse_chain(body, "CLX")
    assert [c.contract for c in chain.contracts] == ["CLX260821C00065000"]
    assert chain.contracts[0].volume == 3


@pytest.mark.parametrize(
    "body",
    [b"<html>Access Denied</html>", b"", b'{"timestamp": "2026-08-14', b"\xff\xfe"],
)
def test_not_json_raises_malformed(body: bytes) -> None:
    with pytest.raises(MalformedResponse, match="CLX") as excinfo:
        parse_chain(body, "CLX")
    assert "not JSON" in str(excinfo.value)


@pytest.mark.parametrize(
    "doc",
    [
        {"timestamp": "2026-08-14 20:16:41", "data": {"symbol": "CLX"}},
        {"timestamp": "2026-08-14 20:16:41", "data": {"options": None}},
        {"timestamp": "2026-08-14 20:16:41", "data": {"options": {"CLX": 1}}},
        {"timestamp": "2026-08-14 20:16:41"},
        {"data": []},
        [1, 2, 3],
        "options",
    ],
)
def test_missing_options_raises_malformed(doc: Any) -> None:
    with pytest.raises(MalformedResponse, match=r"CLX.*data\.options"):
        parse_chain(orjson.dumps(doc), "CLX")


# ------------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("symbol", "url_symbol"),
    [
        ("SPX", "_SPX"),
        ("spx", "_SPX"),
        ("_SPX", "_SPX"),
        ("NDX", "_NDX"),
        ("RUT", "_RUT"),
        ("VIX", "_VIX"),
        ("XSP", "_XSP"),
        ("DJX", "_DJX"),
        ("OEX", "_OEX"),
        ("XEO", "_XEO"),
        ("MRUT", "_MRUT"),
        ("SPY", "SPY"),
        ("AAPL", "AAPL"),
        ("CLX", "CLX"),
        ("QQQ", "QQQ"),
    ],
)
def test_chain_url_symbol(symbol: str, url_symbol: str) -> None:
    assert chain_url_symbol(symbol) == url_symbol


def test_index_symbols_is_a_frozenset() -> None:
    assert isinstance(INDEX_SYMBOLS, frozenset)
    assert {"SPX", "NDX", "RUT", "VIX", "XSP", "DJX", "OEX", "XEO", "MRUT"} <= INDEX_SYMBOLS
    assert "SPY" not in INDEX_SYMBOLS


def test_empty_symbol_is_refused() -> None:
    with pytest.raises(ValueError):
        chain_url_symbol(" _ ")


# ------------------------------------------------------------------------------------- client


@pytest.mark.anyio
async def test_fetch_chain_stock() -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.get(f"{BASE}/KO.json").respond(200, content=ko_body())
        async with httpx.AsyncClient() as client:
            chain = await CboeClient(client).fetch_chain("KO")
    assert route.call_count == 1
    request = route.calls.last.request
    assert str(request.url) == "https://cdn.cboe.com/api/global/delayed_quotes/options/KO.json"
    assert request.method == "GET"
    assert chain.underlying == "KO"
    assert len(chain.contracts) == 6


@pytest.mark.anyio
async def test_fetch_chain_index_uses_underscore_and_base_url() -> None:
    body = chain_body([record("SPXW261218P05000000")])
    with respx.mock(assert_all_called=True) as router:
        route = router.get("http://cboe.test/api/global/delayed_quotes/options/_SPX.json").respond(
            200, content=body
        )
        async with httpx.AsyncClient() as client:
            chain = await CboeClient(client, base_url="http://cboe.test/").fetch_chain("SPX")
    assert str(route.calls.last.request.url) == (
        "http://cboe.test/api/global/delayed_quotes/options/_SPX.json"
    )
    assert chain.underlying == "SPX"
    assert chain.contracts[0].root == "SPXW"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [403, 404])
async def test_fetch_chain_not_listed(status: int) -> None:
    with respx.mock() as router:
        route = router.get(f"{BASE}/ZZZZ.json").respond(status, text="Not Found")
        async with httpx.AsyncClient() as client:
            with pytest.raises(SourceError, match="no options listed for ZZZZ") as excinfo:
                await CboeClient(client).fetch_chain("ZZZZ")
    assert type(excinfo.value) is NoOptions
    assert route.call_count == 1  # a 4xx is not retried


@pytest.mark.anyio
async def test_fetch_chain_other_4xx_names_the_status() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/KO.json").respond(400)
        async with httpx.AsyncClient() as client:
            with pytest.raises(SourceError, match="400"):
                await CboeClient(client).fetch_chain("KO")


@pytest.mark.anyio
async def test_fetch_chain_429_is_rate_limited() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/KO.json").respond(429)
        async with httpx.AsyncClient() as client:
            with pytest.raises(RateLimited, match="429"):
                await CboeClient(client).fetch_chain("KO")


@pytest.mark.anyio
async def test_fetch_chain_retries_server_errors(no_backoff: None) -> None:
    with respx.mock() as router:
        route = router.get(f"{BASE}/KO.json")
        route.side_effect = [
            httpx.Response(500),
            httpx.Response(500),
            httpx.Response(200, content=ko_body()),
        ]
        async with httpx.AsyncClient() as client:
            chain = await CboeClient(client).fetch_chain("KO")
    assert route.call_count == 3
    assert len(chain.contracts) == 6


@pytest.mark.anyio
async def test_fetch_chain_gives_up_after_retries(no_backoff: None) -> None:
    with respx.mock() as router:
        route = router.get(f"{BASE}/KO.json").respond(503)
        async with httpx.AsyncClient() as client:
            with pytest.raises(ServiceError, match="Cboe chain for KO"):
                await CboeClient(client).fetch_chain("KO")
    assert route.call_count == 4


@pytest.mark.anyio
async def test_fetch_chain_bad_body_is_malformed() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}/KO.json").respond(200, text="<html>maintenance</html>")
        async with httpx.AsyncClient() as client:
            with pytest.raises(MalformedResponse, match="KO"):
                await CboeClient(client).fetch_chain("KO")


@pytest.mark.anyio
async def test_big_chain_is_parsed_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    options = [
        record(f"SPXW{26 + i // 5000}{1 + i % 12:02d}18{'CP'[i % 2]}{(1000 + i) * 1000:08d}")
        for i in range(10_000)
    ]
    body = chain_body(options)
    threads: list[int] = []
    real_parse = cboe.parse_chain

    def spy(content: bytes, symbol: str) -> OptionChain:
        threads.append(threading.get_ident())
        return real_parse(content, symbol)

    monkeypatch.setattr(cboe, "parse_chain", spy)
    with respx.mock() as router:
        router.get(f"{BASE}/_SPX.json").respond(200, content=body)
        async with httpx.AsyncClient() as client:
            chain = await CboeClient(client).fetch_chain("SPX")
    assert len(chain.contracts) == 10_000
    assert threads and threads[0] != threading.get_ident()


@pytest.mark.anyio
async def test_concurrency_is_capped() -> None:
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.02)
        in_flight -= 1
        return httpx.Response(200, content=chain_body([]))

    with respx.mock() as router:
        route = router.get(url__regex=rf"{BASE}/\w+\.json").mock(side_effect=slow)
        async with httpx.AsyncClient() as client:
            cboe_client = CboeClient(client, max_concurrency=2)
            async with anyio.create_task_group() as tg:
                for symbol in ("AAPL", "MSFT", "NVDA", "TSLA", "AMD", "SPY"):
                    tg.start_soon(cboe_client.fetch_chain, symbol)
    assert route.call_count == 6
    assert peak == 2


def test_the_column_fast_path_reads_exactly_what_the_record_path_reads() -> None:
    import json
    from datetime import datetime

    from momoscan import market_hours as mh
    from momoscan.clock import FixedClock
    from momoscan.simulated.market import SimMarket
    from momoscan.simulated.options import ChainFactory

    market = SimMarket(7, 0, FixedClock(datetime(2026, 11, 19, 14, 0, tzinfo=mh.ET)))
    for underlying in ("SPX", "AAPL", "KO"):
        body = ChainFactory(market).chain_body(underlying)
        assert body is not None
        fast = parse_chain(body, underlying)
        slow = parse_chain(body, underlying, loads=json.loads)  # the record-by-record reader
        assert fast == slow and len(fast) > 100
        assert fast.call_volume + fast.put_volume == sum(fast.volumes)
