"""FINRA's short interest and short sale volume files: the parsers and the client.

The fixtures (tests/fixtures/finra/) are hand-written in the files' documented shapes (the
14-column pipe-delimited short interest file with `YYYY-MM-DD` settlement dates; the CNMS
file with 6-decimal volumes, CRLF line ends and a trailer line) with invented symbols, names
and figures.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
import respx

from momoscan.sources.errors import MalformedResponse, RateLimited
from momoscan.sources.finra import (
    DEFAULT_USER_AGENT,
    FinraClient,
    FinraNotPublished,
    finra_key,
    parse_short_interest,
    parse_short_volume,
    settlement_dates,
    universe_keys,
)

FIXTURES = Path(__file__).parent / "fixtures" / "finra"
SI_URL = "https://cdn.finra.org/equity/otcmarket/biweekly/"
SV_URL = "https://cdn.finra.org/equity/regsho/daily/"
SETTLED = date(2026, 11, 30)
TRADED = date(2026, 12, 4)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_settlement_dates_are_the_15th_and_month_end_rolled_back() -> None:
    # 2026-11-15 is a Sunday (-> Friday 13th); 2026-10-31 a Saturday (-> Friday 30th);
    # 2026-12-15 a Tuesday, not yet on 2026-12-14.
    assert settlement_dates(date(2026, 12, 14), 4) == [
        date(2026, 11, 30),
        date(2026, 11, 13),
        date(2026, 10, 30),
        date(2026, 10, 15),
    ]
    assert settlement_dates(date(2026, 12, 15), 1) == [date(2026, 12, 15)]
    # Across a year end: 2026-12-31 is a Thursday; 2027-01-15 a Friday.
    assert settlement_dates(date(2027, 1, 20), 3) == [
        date(2027, 1, 15),
        date(2026, 12, 31),
        date(2026, 12, 15),
    ]


def test_symbols_match_by_stripped_form_and_collisions_are_skipped() -> None:
    assert finra_key("BRK.B") == finra_key("brk-b") == finra_key("BRK/B") == "BRKB"
    mapping, shared = universe_keys(["BRK.B", "KVRA", "AB.C", "ABC"])
    assert mapping == {"BRKB": "BRK.B", "KVRA": "KVRA"} and shared == {"ABC"}


def test_short_interest_file_matched_to_the_universe() -> None:
    universe = ["KVRA", "BRK.B", "PLXO", "WDGT", "ABC", "AB.C", "NOTIN"]
    got = parse_short_interest(fixture("shrt20261130.csv"), SETTLED, universe)
    by = {r.symbol: r for r in got.rows}
    assert got.settlement == SETTLED
    assert set(by) == {"KVRA", "BRK.B", "PLXO", "WDGT"}  # ABC collides; ZNTQ not held
    assert got.collisions == 1 and got.skipped == 2
    kvra = by["KVRA"]
    assert (kvra.short_shares, kvra.previous_shares, kvra.avg_daily_volume) == (
        4120553,
        3877012,
        1030138,
    )
    assert kvra.settlement == SETTLED
    assert kvra.days_to_cover == pytest.approx(4.0, abs=0.01)
    # FINRA clamps its own column (999.99); computed here: 250000 / 12.
    assert by["PLXO"].days_to_cover == pytest.approx(20833.33)
    assert by["PLXO"].previous_shares is None
    # No volume: no days to cover (FINRA's says 1.00).
    assert by["WDGT"].avg_daily_volume is None and by["WDGT"].days_to_cover is None
    assert by["BRK.B"].short_shares == 8812400


def test_short_interest_without_a_universe_keeps_finras_spelling() -> None:
    got = parse_short_interest(fixture("shrt20261130.csv"), SETTLED)
    assert {"BRKB", "ZNTQ", "ABC"} <= {r.symbol for r in got.rows}


def test_short_volume_decimals_and_non_data_lines() -> None:
    got = parse_short_volume(fixture("CNMSshvol20261204.txt"), TRADED, ["KVRA", "BRK.B", "PLXO"])
    by = {r.symbol: r for r in got.rows}
    assert set(by) == {"KVRA", "BRK.B", "PLXO"}
    assert by["KVRA"].short_volume == pytest.approx(812305.125)
    assert by["KVRA"].total_volume == pytest.approx(1630021.5)
    assert by["KVRA"].short_share == pytest.approx(812305.125 / 1630021.5)
    assert by["KVRA"].day == TRADED
    assert by["PLXO"].short_share is None  # no volume: no share, not 0
    assert got.skipped == 2  # "abc" volume and the trailer line


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>", "web page or XML"),
        (b"<!DOCTYPE html><html><title>x</title></html>", "web page"),
        (b"Symbol,Name\nA,B\n", "not the expected file"),
    ],
)
def test_what_is_not_a_file_is_a_clear_error(body: bytes, words: str) -> None:
    with pytest.raises(MalformedResponse, match=words):
        parse_short_volume(body, TRADED)
    with pytest.raises(MalformedResponse, match=words):
        parse_short_interest(body, SETTLED)


def client(session: httpx.AsyncClient, user_agent: str = "") -> FinraClient:
    return FinraClient(
        session, short_interest_url=SI_URL, short_volume_url=SV_URL, user_agent=user_agent
    )


@pytest.mark.anyio
async def test_short_interest_probes_back_past_unpublished_dates() -> None:
    with respx.mock(assert_all_called=True) as router:
        newest = router.get(f"{SI_URL}shrt20261215.csv").respond(403, text="<Error/>")
        found = router.get(f"{SI_URL}shrt20261130.csv").respond(
            200, content=fixture("shrt20261130.csv")
        )
        async with httpx.AsyncClient() as session:
            got = await client(session, "Jo Trader jo@example.com").short_interest(
                date(2026, 12, 18), ["KVRA"]
            )
    assert got.settlement == SETTLED and [r.symbol for r in got.rows] == ["KVRA"]
    assert newest.call_count == found.call_count == 1
    assert found.calls.last.request.headers["User-Agent"] == "Jo Trader jo@example.com"


@pytest.mark.anyio
async def test_short_interest_nothing_newer_and_nothing_published() -> None:
    with respx.mock() as router:
        route = router.get(url__startswith=SI_URL).respond(403)
        async with httpx.AsyncClient() as session:
            finra = client(session)
            with pytest.raises(FinraNotPublished, match=r"2026-11-13 \.\. 2026-12-15"):
                await finra.short_interest(date(2026, 12, 18), candidates=3)
            asked = route.call_count
            with pytest.raises(FinraNotPublished, match="nothing newer"):
                await finra.short_interest(date(2026, 12, 18), newer_than=date(2026, 12, 15))
    assert asked == 3 and route.call_count == 3  # nothing newer is due: nothing asked
    assert route.calls.last.request.headers["User-Agent"] == DEFAULT_USER_AGENT


@pytest.mark.anyio
async def test_short_volume_walks_back_over_days_without_a_file(no_backoff: None) -> None:
    with respx.mock() as router:
        # Monday 2026-12-07 before it is posted: 404; then Friday's file.
        monday = router.get(f"{SV_URL}CNMSshvol20261207.txt").respond(404)
        friday = router.get(f"{SV_URL}CNMSshvol20261204.txt").respond(
            200, content=fixture("CNMSshvol20261204.txt")
        )
        async with httpx.AsyncClient() as session:
            finra = client(session)
            got = await finra.short_volume(date(2026, 12, 7), ["KVRA"])
            assert got.day == TRADED and [r.symbol for r in got.rows] == ["KVRA"]
            assert monday.call_count == friday.call_count == 1
            router.get(f"{SV_URL}CNMSshvol20261203.txt").respond(404)
            friday.respond(404)
            with pytest.raises(FinraNotPublished, match="no file for 2026-12-07"):
                await finra.short_volume(date(2026, 12, 7), lookback=3)
            router.get(f"{SV_URL}CNMSshvol20261202.txt").respond(429)
            with pytest.raises(RateLimited, match="429"):
                await finra.short_volume(date(2026, 12, 2))
