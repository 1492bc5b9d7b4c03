"""`momoscan check`: one cheap probe a source, read the way the scanner reads it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import respx
from providers import CBOE, OCC, TD, Bend, Providers

from momoscan import market_hours as mh
from momoscan.cli import main
from momoscan.clock import FixedClock

KEY = "TDKEY-check-0000-secret"
NT = "https://nt.test"
NOW = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)


def config(tmp_path: Path, watchlist: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"[scan]\nwatchlist = [{watchlist}]\n"
        f'[twelvedata]\nbase_url = "{TD}"\n[cboe]\nbase_url = "{CBOE}"\n'
        f'[occ]\nbase_url = "{OCC}"\n'
        f'[halts]\nhalts_url = "{NT}/rss.aspx?feed=tradehalts"\n'
        f'ssr_url = "{NT}/dynamic/symdir/shorthalts"\n'
    )
    return path


FINRA = "https://cdn.finra.org/equity/"
#: FINRA's files at NOW: the short interest of 2026-10-30 (that of 11-13 not out yet), the
#: short volume of 2026-11-19 (the 20th's is posted at 18:00 ET).
FINRA_FILES = {
    "otcmarket/biweekly/shrt20261030.csv": (
        "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|"
        "marketClassCode|currentShortPositionQuantity|previousShortPositionQuantity|"
        "stockSplitFlag|averageDailyVolumeQuantity|daysToCoverQuantity|revisionFlag|"
        "changePercent|changePreviousNumber|settlementDate\n"
        "20261030|KVRA|Kavora Inc|A|NNM|4120553|3877012||1030138|4.00||6.28|243541|2026-10-30\n"
    ),
    "regsho/daily/CNMSshvol20261119.txt": (
        "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\n"
        "20261119|KVRA|812305.125000|1200|1630021.500000|B,Q,N\n"
    ),
}


def serve(router: respx.MockRouter, bend: Bend | None = None) -> list[httpx.Request]:
    stand_ins = Providers(FixedClock(NOW), bend, plan_limit=1597)
    stand_ins.route(router)
    router.route(url__startswith=NT).mock(side_effect=stand_ins.answer)
    for path, body in FINRA_FILES.items():
        router.get(FINRA + path).respond(200, text=body)
    router.route(url__startswith=FINRA).respond(403)
    return stand_ins.requests


def run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bend: Bend | None = None,
    *extra: str,
) -> tuple[int, dict[str, object], str, list[httpx.Request]]:
    monkeypatch.setenv("TWELVEDATA_API_KEY", KEY)
    monkeypatch.setattr("momoscan.check.RealClock", lambda: FixedClock(NOW))
    with respx.mock(assert_all_called=False) as router:
        seen = serve(router, bend)
        code = main(["check", "--config", str(config(tmp_path)), "--json", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out), err, seen


def by_source(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    sources = doc["sources"]
    assert isinstance(sources, list)
    return {s["source"]: s for s in sources}


def test_every_source_answers_well(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, _, seen = run(tmp_path, monkeypatch, capsys)
    assert code == 0 and doc["ok"] is True
    sources = by_source(doc)
    td = sources["Twelve Data"]
    assert td["key_accepted"] is True and td["plan"]["credits_per_minute"] == 1597
    assert td["missing_fields"] == [] and td["data_age_seconds"] == 0.0
    assert sources["Nasdaq Data Link"]["configured"] is False
    assert sources["Cboe"]["ok"] and sources["OCC"]["ok"]
    assert "2026-11-19" in sources["OCC"]["detail"]  # the newest day published (T+1)
    # Cheap: two Twelve Data credits, one chain, one OCC day.
    paths = [r.url.path for r in seen]
    assert paths.count("/quote") == 1 and paths.count("/api_usage") == 1
    assert paths.count("/volume-query") == 1
    assert sum("delayed_quotes" in p for p in paths) == 1
    assert all(r.url.params.get("apikey") is None for r in seen)
    # Keyless: the halts feed once, today's Rule 201 file once.
    halts, ssr = sources["Nasdaq halts"], sources["Nasdaq SSR list"]
    assert halts["ok"] and ssr["ok"]
    assert paths.count("/rss.aspx") == 1
    assert paths.count("/dynamic/symdir/shorthalts/shorthalts20261120.txt") == 1
    assert halts["data_age_seconds"] == 0.0
    assert re.fullmatch(r"\d+ halts in the feed, \d+ of them today \(\d+ halted now\)\.",
                        str(halts["detail"]))  # fmt: skip
    assert re.fullmatch(
        r"The Rule 201 list of 2026-11-20: \d+ rows, complete\.", str(ssr["detail"])
    )
    # FINRA: the newest short interest probed back from 11-13 (403) to 10-30; short volume.
    assert sources["FINRA short interest"]["detail"] == "Settlement 2026-10-30: 1 symbols."
    assert sources["FINRA short volume"]["detail"] == "Trade date 2026-11-19: 1 symbols."
    assert sources["SEC company facts"]["configured"] is False  # no User-Agent: nothing sent


def test_a_rejected_key_and_tolerated_shapes_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def bend(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if request.url.path == "/api_usage":
            message = f"**apikey** parameter {KEY} is incorrect or not specified."
            return 401, headers, json.dumps({"code": 401, "message": message,
                                             "status": "error"}).encode()  # fmt: skip
        if request.url.path == "/volume-query" and body.startswith(b"quantity"):
            return status, headers, b"".join(line + b",\r\n" for line in body.splitlines())
        return status, headers, body

    code, doc, err, _ = run(tmp_path, monkeypatch, capsys, bend)
    assert code == 1 and doc["ok"] is False
    sources = by_source(doc)
    assert sources["Twelve Data"]["key_accepted"] is False
    assert "TWELVEDATA_API_KEY" in sources["Twelve Data"]["detail"]
    assert sources["OCC"]["ok"] is True
    assert set(sources["OCC"]["tolerated"]) == {
        "CRLF line endings",
        "rows end with an empty 8th field",
    }
    assert KEY not in json.dumps(doc) and KEY not in err


def test_an_unreachable_source_is_a_problem_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def bend(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if "delayed_quotes" in request.url.path:
            raise httpx.ConnectError("name or service not known")
        return status, headers, body

    monkeypatch.setattr("momoscan.sources.http.backoff_delay", lambda *a, **k: 0.0)
    code, doc, _, _ = run(tmp_path, monkeypatch, capsys, bend)
    cboe = by_source(doc)["Cboe"]
    assert code == 1 and cboe["reached"] is False
    # Named by host (what cannot be reached), so that a source's requests make one line.
    assert re.fullmatch(
        r"could not connect to \S+ \(2 tries; is the network down\?\)", cboe["detail"]
    ), cboe["detail"]


def test_check_demo_needs_no_network(capsys: pytest.CaptureFixture[str]) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=AssertionError("no network in --demo"))
        code = main(["check", "--demo"])
    out = capsys.readouterr().out
    assert code == 0
    assert "simulated market" in out and "All configured sources answered well." in out


def test_halts_stale_and_ssr_from_the_day_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A feed made 40 minutes ago in the session is called stale; today's Rule 201 file
    missing (a web page with HTTP 200), the previous trading day's is read."""
    stale = NOW.astimezone(UTC) - timedelta(minutes=40)

    def bend(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if request.url.path == "/rss.aspx":
            when = format_datetime(stale, usegmt=True).encode()
            body = re.sub(
                rb"(<channel>.*?<pubDate>)[^<]*", rb"\g<1>" + when, body, count=1, flags=re.S
            )
        if request.url.path.endswith("shorthalts20261120.txt"):
            return 200, {"content-type": "text/html"}, b"<html><title>Oops</title></html>"
        return status, headers, body

    code, doc, _, seen = run(tmp_path, monkeypatch, capsys, bend)
    sources = by_source(doc)
    halts, ssr = sources["Nasdaq halts"], sources["Nasdaq SSR list"]
    assert code == 1 and halts["ok"] is False and halts["reached"] is True
    assert halts["data_age_seconds"] == 2400.0
    assert str(halts["detail"]).endswith("It is stale: made 40m ago, in the session.")
    assert ssr["ok"] and str(ssr["detail"]).startswith("The Rule 201 list of 2026-11-19: ")
    assert str(ssr["detail"]).endswith("None for 2026-11-20.")
    paths = [r.url.path for r in seen if "shorthalts" in r.url.path]
    assert [p.rsplit("/", 1)[-1] for p in paths] == [
        "shorthalts20261120.txt", "shorthalts20261119.txt"
    ]  # fmt: skip
