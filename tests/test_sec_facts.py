"""SEC company facts: the parser (shares outstanding summed per filing across classes, the
newest end, the latest filing of an amended end; the public float) and the client through the
real `SecHttp` (respx).

The fixtures (tests/fixtures/sec_facts/) are hand-written in the companyfacts shape (integer
`cik`, `entityName`, `facts.dei` concepts with `units.shares` / `units.USD` facts carrying end,
val, accn, fy, fp, form, filed and sometimes frame) for invented companies and CIKs.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import httpx
import orjson
import pytest
import respx

from momoscan.sources.errors import MalformedResponse
from momoscan.sources.sec import SecBlocked, SecHttp
from momoscan.sources.sec_facts import SecFactsClient, facts_url, parse_company_facts

FIXTURES = Path(__file__).parent / "fixtures" / "sec_facts"
BASE = "https://data.sec.gov/api/xbrl/companyfacts/"
UA = "Jo Trader jo@example.com"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_url_pads_the_cik() -> None:
    assert facts_url(BASE, 320193) == f"{BASE}CIK0000320193.json"


def test_classes_summed_newest_end_latest_amendment() -> None:
    facts = parse_company_facts(fixture("companyfacts_CIK0001999001_multiclass.json"), 1999001)
    assert facts.name == "Kavora Therapeutics, Inc."
    # Class A 32,000,000 + class B 4,000,000 on the 10-Q's cover, as of 2026-10-30.
    assert facts.shares_outstanding == 36_000_000
    assert facts.shares_as_of == date(2026, 10, 30)
    # The float's 2025-06-27 end was filed twice: the 10-K/A (filed later) wins.
    assert facts.public_float_usd == 96_000_000
    assert facts.float_as_of == date(2025, 6, 27)


def test_an_amended_newest_end_keeps_the_latest_filing() -> None:
    def fact(val: int, accn: str, filed: str) -> dict[str, object]:
        return {"end": "2026-02-20", "val": val, "accn": accn, "form": "10-K", "filed": filed}

    doc = {
        "cik": 7,
        "entityName": "X",
        "facts": {
            "dei": {
                "EntityCommonStockSharesOutstanding": {
                    "units": {
                        "shares": [
                            fact(100, "a-1", "2026-03-01"),
                            fact(50, "a-1", "2026-03-01"),
                            fact(160, "a-2", "2026-04-01"),
                            fact(20, "a-2", "2026-04-01"),
                            {"end": "garbage", "val": 1, "accn": "a-3", "filed": "2026-05-01"},
                            {"end": "2026-02-21", "val": "n/a", "accn": "a-4"},
                        ]
                    }
                }
            }
        },
    }
    facts = parse_company_facts(orjson.dumps(doc), 7)
    assert facts.shares_outstanding == 180 and facts.shares_as_of == date(2026, 2, 20)
    assert facts.public_float_usd is None and facts.float_as_of is None


def test_a_filer_without_the_concepts_gives_none_never_zero() -> None:
    facts = parse_company_facts(fixture("companyfacts_CIK0001999002_no_shares.json"), 1999002)
    assert facts.shares_outstanding is None and facts.public_float_usd is None
    assert facts.name == "Nordlys Shipping ASA"  # the escape sequence cleaned away
    only = parse_company_facts(fixture("companyfacts_CIK0001999003_shares_only.json"), 1999003)
    assert only.shares_outstanding == 5_400_000 and only.public_float_usd is None
    empty = parse_company_facts(b'{"cik": 5, "entityName": "Y", "facts": {}}', 5)
    assert empty.shares_outstanding is None and empty.shares_as_of is None


def test_truncated_json_is_a_clear_error_for_that_company() -> None:
    body = fixture("companyfacts_CIK0001999001_multiclass.json")
    with pytest.raises(MalformedResponse, match=r"CIK 1999001: the answer is not whole JSON"):
        parse_company_facts(body[: len(body) // 2], 1999001)
    with pytest.raises(MalformedResponse, match="not a JSON object"):
        parse_company_facts(b"[1, 2]", 1999001)


@pytest.mark.anyio
async def test_client_fetches_through_the_sec_gate(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="momoscan.sources.sec_facts")
    with respx.mock(assert_all_called=True) as router:
        found = router.get(f"{BASE}CIK0001999001.json").respond(
            200, content=fixture("companyfacts_CIK0001999001_multiclass.json")
        )
        missing = router.get(f"{BASE}CIK0001999004.json").respond(404)
        partial = router.get(f"{BASE}CIK0001999003.json").respond(
            200, content=fixture("companyfacts_CIK0001999003_shares_only.json")
        )
        async with httpx.AsyncClient() as session:
            facts = SecFactsClient(SecHttp(session, user_agent=UA), facts_url=BASE)
            got = await facts.company(1999001)
            gone = await facts.company(1999004)
            again = await facts.company(1999004)
            shares_only = await facts.company(1999003)
    assert got.shares_outstanding == 36_000_000 and got.found
    assert not gone.found and gone.shares_outstanding is None and gone.public_float_usd is None
    assert again == gone
    assert shares_only.public_float_usd is None
    request = found.calls.last.request
    assert request.headers["User-Agent"] == UA
    assert missing.call_count == 2 and partial.call_count == 1
    # Said once a company, however often it is asked.
    told = [r.getMessage() for r in caplog.records if "1999004" in r.getMessage()]
    assert len(told) == 1 and "404" in told[0]


@pytest.mark.anyio
async def test_client_block_and_truncation_are_errors() -> None:
    with respx.mock() as router:
        router.get(f"{BASE}CIK0001999001.json").respond(
            200, content=fixture("companyfacts_CIK0001999001_multiclass.json")[:300]
        )
        blocked = router.get(f"{BASE}CIK0001999002.json").respond(
            403, html="<html><title>SEC.gov | Request Rate Threshold Exceeded</title></html>"
        )
        async with httpx.AsyncClient() as session:
            facts = SecFactsClient(SecHttp(session, user_agent=UA), facts_url=BASE)
            with pytest.raises(MalformedResponse, match="CIK 1999001"):
                await facts.company(1999001)
            with pytest.raises(SecBlocked) as block:
                await facts.company(1999002)
            assert block.value.retry_after >= 600
            with pytest.raises(SecBlocked):
                await facts.company(1999001)  # nothing sent while blocked
    assert blocked.call_count == 1
