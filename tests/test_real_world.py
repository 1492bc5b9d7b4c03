"""The live path as the real world answers it: each instance a user met, with its right value.

Every provider is mocked by respx in its wire format (a simulated market's server answers behind
the mocks), with one answer bent the way the real service sends it: an OCC day as an HTML
maintenance page, OCC files with trailing commas and CRLF, a halted stock's three-day-old quote,
a Cboe chain from the previous session, a plain-list universe, BRK-B, ^SPX.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from providers import CBOE, FINRA, HALTS, OCC, TD, Bend, Providers, options
from providers import live_settings as settings_for
from rich.console import Console

from momoscan import format as fmt
from momoscan import headless, queries
from momoscan import market_hours as mh
from momoscan.cli import main
from momoscan.clock import FixedClock
from momoscan.config import Settings
from momoscan.runtime import open_runtime
from momoscan.store import Store

KEY = "TDKEY-real-world-1234"
NOW = datetime(2026, 11, 20, 11, 30, tzinfo=mh.ET)  # a Friday, mid-session
#: 225 bytes, as the maintenance page a user met.
MAINTENANCE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body><h1>Scheduled "
    b"maintenance</h1><p>marketdata.theocc.com is down for maintenance. Please try again "
    b"later.</p></body></html>"
).ljust(225, b" ")


def live_settings(**scan: object) -> Settings:
    settings = settings_for(KEY, **scan)
    settings.options.watch_size = 12
    return settings


def occ_day(request: httpx.Request) -> date | None:
    if request.url.path != "/volume-query":
        return None
    return datetime.strptime(request.url.params["reportDate"], "%Y%m%d").date()


# ---------------------------------------------------------------------------------------------
# OCC


def html_for(day: date) -> Bend:
    def bend(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if occ_day(request) == day:
            return 200, {"content-type": "text/html"}, MAINTENANCE
        return status, headers, body

    return bend


@pytest.mark.anyio
async def test_one_occ_day_as_an_html_page_costs_that_day_only(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    bad_day = mh.previous_trading_day(mh.previous_trading_day(NOW.date()))
    providers = Providers(clock, html_for(bad_day))
    with providers.mock():
        async with open_runtime(live_settings(), options(tmp_path / "live.db")) as rt:
            rt.engine.clock = clock
            report = await rt.engine.refresh(full=True)
            again = await rt.engine.refresh(full=False)
    assert report.status == "partial"
    assert [(f.source, f.item) for f in report.failures] == [("OCC", str(bad_day))]
    assert "web page (Maintenance)" in report.failures[0].message
    assert "asked again next cycle" in report.failures[0].message
    # Everything else was delivered: every quote, the other 20 days, the leaders, the chains.
    assert report.quotes == report.symbols and report.occ_days == 20
    assert report.leaders_days > 0 and report.chains >= 10
    # The next cycle asks for the missing day again (and only it).
    asked = [occ_day(r) for r in providers.requests if occ_day(r)]
    assert asked.count(bad_day) == 2 and len(asked) == 22
    assert again.status == "partial"
    for line in report.lines():
        assert "ExceptionGroup" not in line and "Error" not in line and "Traceback" not in line


def test_headless_once_exits_0_on_a_partial_cycle_and_names_what_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_day = mh.previous_trading_day(NOW.date())
    providers = Providers(FixedClock(NOW), html_for(bad_day))
    monkeypatch.setattr("momoscan.runtime.RealClock", lambda: FixedClock(NOW))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[twelvedata]\nbase_url = "{TD}"\n[cboe]\nbase_url = "{CBOE}"\n'
        f'[occ]\nbase_url = "{OCC}"\n[universe]\nsource = "builtin"\n'
        f'[halts]\nhalts_url = "{HALTS}/rss.aspx?feed=tradehalts"\n'
        f'ssr_url = "{HALTS}/dynamic/symdir/shorthalts/"\n'
        f'[finra]\nshort_interest_url = "{FINRA}/equity/otcmarket/biweekly/"\n'
        f'short_volume_url = "{FINRA}/equity/regsho/daily/"\n'
    )
    monkeypatch.setenv("TWELVEDATA_API_KEY", KEY)
    with providers.mock():
        code = main(["--config", str(config), "--db", str(tmp_path / "l.db"), "--once", "--json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0
    assert doc["refresh"]["status"] == "partial"
    assert doc["refresh"]["failures"][0]["item"] == str(bad_day)
    assert len(doc["top_movers"]) == 10 and len(doc["top_volume"]) == 10
    assert doc["options"]["shares"] and doc["options"]["leaders"]["rows"]
    assert (
        f"momoscan: OCC ({bad_day}): OCC answered the volume for {bad_day} with a web page" in err
    )
    assert "ExceptionGroup" not in err and "Traceback" not in err


@pytest.mark.anyio
async def test_occ_files_with_trailing_commas_and_crlf_are_read(tmp_path: Path) -> None:
    def public_parsers_shape(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if occ_day(request) and body.startswith(b"quantity"):
            body = b"".join(line + b",\r\n" for line in body.splitlines())
        return status, headers, body

    clock = FixedClock(NOW)
    with Providers(clock, public_parsers_shape).mock():
        async with open_runtime(live_settings(), options(tmp_path / "live.db")) as rt:
            rt.engine.clock = clock
            report = await rt.engine.refresh(full=True)
    assert report.status == "ok", report.lines()
    assert report.occ_days == 21


# ---------------------------------------------------------------------------------------------
# Ages from the source's clock


@pytest.mark.anyio
async def test_a_halted_stocks_old_quote_is_not_todays_top_mover(tmp_path: Path) -> None:
    halted_at = int((NOW - timedelta(days=3)).replace(hour=15, minute=59).timestamp())

    def halt(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if request.url.path != "/quote":
            return status, headers, body
        answer = orjson.loads(body)
        if "HUM" in answer:
            answer["HUM"].update(
                percent_change="95.0", last_quote_at=halted_at, timestamp=halted_at - 23_340
            )
            body = orjson.dumps(answer)
        return status, headers, body

    clock = FixedClock(NOW)
    db = tmp_path / "live.db"
    with Providers(clock, halt).mock():
        async with open_runtime(live_settings(), options(db)) as rt:
            rt.engine.clock = clock
            report = await rt.engine.refresh(full=True)
    assert report.status == "ok", report.lines()
    with Store(db) as store:
        snap = queries.snapshot(store, ["small", "mid", "large"], 1.0, market_now=NOW.timestamp())
        row = queries.scan_row(store, "HUM", NOW.timestamp())
    assert row is not None and row.change_pct == 95.0
    # Its true age (three days), not fresh, not ranked: it is not today's #1 mover.
    assert not row.current and fmt.age(row.age(NOW.timestamp())) == "2d"
    assert "HUM" not in [r.symbol for r in snap.movers + snap.volume]
    assert snap.stale == 1 and snap.fresh == snap.quoted - 1
    # The others' ages come from their own last minute candle, not from the fetch.
    assert {fmt.age(r.age(NOW.timestamp())) for r in snap.movers} == {"0s"}


@pytest.mark.anyio
async def test_a_chain_from_the_previous_session_is_not_todays_volume(tmp_path: Path) -> None:
    monday_early = datetime(2026, 11, 23, 8, 15, tzinfo=mh.ET)  # Cboe serves Friday's chain
    friday = date(2026, 11, 20)

    def previous_session(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if "/delayed_quotes/options/" in request.url.path and status == 200:
            doc = orjson.loads(body)
            doc["timestamp"] = "2026-11-20 21:15:02"  # UTC: Friday 16:15 ET
            body = orjson.dumps(doc)
        return status, headers, body

    clock = FixedClock(monday_early)
    db = tmp_path / "live.db"
    settings = live_settings(watchlist=["AAPL", "^SPX"])
    settings.twelvedata.extended_hours = True
    with Providers(clock, previous_session).mock() as router:
        async with open_runtime(settings, options(db)) as rt:
            rt.engine.clock = clock
            report = await rt.engine.refresh(full=False)
        chain_urls = [
            str(c.request.url) for c in router.calls if "delayed_quotes" in str(c.request.url)
        ]
    assert report.chains >= 2
    served = [m for m in report.messages if "from the 2026-11-20 session" in m]
    assert len(served) == 1
    count = report.chains
    assert served[0].startswith(f"Cboe served {count} chains from the 2026-11-20 session (")
    assert "; they are stored as 2026-11-20's volume, not today's." in served[0]
    with Store(db) as store:
        days = {
            d
            for (d,) in store.conn.execute(
                "SELECT DISTINCT day FROM option_underlyings WHERE source = 'cboe'"
            )
        }
    assert days == {friday.isoformat()}
    # ^SPX in the watchlist is Cboe's _SPX.
    assert f"{CBOE}/api/global/delayed_quotes/options/_SPX.json" in chain_urls


@pytest.mark.anyio
async def test_one_chain_from_the_previous_session_is_reported_in_the_singular(
    tmp_path: Path,
) -> None:
    def aapl_from_friday(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if "/delayed_quotes/options/" in request.url.path and status == 200:
            doc = orjson.loads(body)
            if request.url.path.endswith("/AAPL.json"):
                doc["timestamp"] = "2026-11-20 21:15:02"  # UTC: Friday 16:15 ET
            else:
                doc["timestamp"] = "2026-11-23 15:10:00"  # UTC: Monday 10:10 ET
            body = orjson.dumps(doc)
        return status, headers, body

    # In the session, one chain still Friday's (a stale answer): the one is named as one.
    clock = FixedClock(datetime(2026, 11, 23, 10, 15, tzinfo=mh.ET))
    settings = live_settings(watchlist=["AAPL", "^SPX"])
    with Providers(clock, aapl_from_friday).mock():
        async with open_runtime(settings, options(tmp_path / "live.db")) as rt:
            rt.engine.clock = clock
            report = await rt.engine.refresh(full=False)
    served = [m for m in report.messages if "from the 2026-11-20 session" in m]
    assert served == [
        "Cboe served 1 chain from the 2026-11-20 session (AAPL), as it does before "
        "2026-11-23's open; it is stored as 2026-11-20's volume, not today's."
    ]


# ---------------------------------------------------------------------------------------------
# Symbols and names


@pytest.mark.anyio
async def test_brk_b_in_a_plain_list_universe_gets_occs_brkb_and_its_name(tmp_path: Path) -> None:
    listing = tmp_path / "universe.txt"
    listing.write_text("AAPL\nBRK-B\nMSFT\n")
    settings = live_settings()
    settings.universe.source = "file"
    settings.universe.path = str(listing)

    def brkb(
        request: httpx.Request, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if occ_day(request) and body.startswith(b"quantity"):
            day = occ_day(request)
            assert day is not None
            body += f"5000,BRKB,BRKB,C,C,CBOE,{day:%m/%d/%Y}\n".encode()
        if request.url.path == "/quote":
            # Twelve Data spells the class with a dot, and answers under that key.
            assert "BRK.B" in request.url.params["symbol"].split(",")
            answer = orjson.loads(body)
            answer["BRK.B"] = {
                "symbol": "BRK.B",
                "name": "Berkshire Hathaway Inc",
                "exchange": "NYSE",
                "mic_code": "XNYS",
                "close": "497.10",
                "previous_close": "495.00",
                "percent_change": "0.42424",
                "volume": "1200000",
                "average_volume": "4000000",
                "last_quote_at": int(NOW.timestamp()) - 60,
                "is_market_open": True,
            }
            body = orjson.dumps(answer)
        return status, headers, body

    clock = FixedClock(NOW)
    db = tmp_path / "live.db"
    with Providers(clock, brkb).mock():
        async with open_runtime(settings, options(db)) as rt:
            rt.engine.clock = clock
            report = await rt.engine.refresh(full=True)
    assert report.status == "ok", report.lines()
    with Store(db) as store:
        names = dict(store.conn.execute("SELECT symbol, name FROM tickers"))
        occ_names = {
            u
            for (u,) in store.conn.execute(
                "SELECT DISTINCT underlying FROM option_underlyings WHERE source = 'occ'"
            )
        }
    assert set(names) == {"AAPL", "BRK.B", "MSFT"}
    # The plain list had no names: each came from its quote.
    assert names["AAPL"] == "Apple Inc" and names["BRK.B"].startswith("Berkshire")
    assert "BRK.B" in occ_names and "BRKB" not in occ_names


# ---------------------------------------------------------------------------------------------
# Numbers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (999, "999"),
        (999.5, "1.00K"),
        (9_994, "9.99K"),
        (9_999, "10.0K"),
        (999_950, "1.00M"),
        (999_999_999, "1.00B"),
        (12_345_678, "12.3M"),
        (-999_950, "-1.00M"),
    ],
)
def test_volumes_never_roll_over_at_a_unit(value: float, text: str) -> None:
    assert fmt.count(value) == text


@pytest.mark.anyio
@pytest.mark.parametrize("width", [80, 60])
async def test_headless_tables_keep_every_number_whole(tmp_path: Path, width: int) -> None:
    clock = FixedClock(NOW)
    db = tmp_path / "live.db"
    with Providers(clock).mock():
        async with open_runtime(live_settings(), options(db)) as rt:
            rt.engine.clock = clock
            await rt.engine.refresh(full=True)
    with Store(db) as store:
        snap = queries.snapshot(store, ["small", "mid", "large"], 1.0, market_now=NOW.timestamp())
    ctx = headless.Context("live", NOW, "open", ["small", "mid", "large"], 1.0, "builtin")
    buffer = io.StringIO()
    # Not a terminal: what cron mails or a file holds.
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    headless.print_tables(console, snap, ctx)
    text = buffer.getvalue()
    for row in snap.movers + snap.volume:
        assert fmt.price(row.price) in text and fmt.count(row.volume) in text
        assert fmt.pct(row.change_pct) in text
    assert max(len(line) for line in text.splitlines()) <= width
