"""Outside text is data (issue 24, item 5): OSC 52, OSC 8, CSI and bidi controls fed through
every source are gone where the source parses them, and every output (the headless tables,
`--json`, the TUI) draws clean text. A store from before the fix is cleaned once."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from pathlib import Path

import httpx
import pytest
import responses
import respx
from test_tui import make_app, ready

from momoscan.cli import main
from momoscan.config import Settings
from momoscan.simulated.universe import real_stocks
from momoscan.sources import nasdaq
from momoscan.sources.cboe import parse_chain
from momoscan.sources.occ import OccStatus, parse_day
from momoscan.sources.twelvedata import TwelveDataClient, parse_movers
from momoscan.sources.universe import FileUniverse, parse_symbol_file
from momoscan.store import Store

TD = "https://td.test"
#: Each kind of hostile text: a clipboard write, a link, a title, a screen clear (7-bit and
#: 8-bit), a right-to-left override.
OSC52 = "\x1b]52;c;cHduZWQ=\x07"
OSC8 = "\x1b]8;;https://evil.example/\x1b\\"
TITLE = "\x1b]0;pwned\x1b\\"
CSI = "\x1b[2J\x1b[H"
CSI8 = "\x9b31m"
BIDI = "\u202e"
HOSTILE = OSC52 + TITLE + CSI + OSC8 + "Apple" + OSC8 + CSI8 + BIDI + " Inc"
FORBIDDEN = {
    *map(chr, range(0x00, 0x09)),
    *map(chr, range(0x0B, 0x20)),
    *map(chr, range(0x7F, 0xA0)),
    *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
}


def assert_inert(text: str) -> None:
    found = FORBIDDEN & set(text)
    assert not found, sorted(map(hex, map(ord, found)))


# -- each source, where it parses -------------------------------------------------------------


@pytest.mark.anyio
async def test_twelve_data_cleans_names_exchanges_symbols_and_messages() -> None:
    body = {
        "AAPL": {
            "symbol": "AAPL",
            "name": HOSTILE,
            "exchange": CSI + "NASDAQ",
            "mic_code": "XNAS" + BIDI,
            "close": "190.5",
            "previous_close": "189",
            "percent_change": "0.79",
            "timestamp": 1_763_650_800,
        },
        "MSFT": {"code": 400, "message": f"**symbol** {OSC52}MSFT{CSI} refused", "status": "error"},
        OSC8 + "EVIL": {"symbol": "EVIL", "name": "x", "close": "1"},
    }
    with respx.mock() as router:
        router.get(f"{TD}/quote").mock(return_value=httpx.Response(200, json=body))
        async with httpx.AsyncClient() as http:
            batch = await TwelveDataClient(http, "k" * 32, base_url=TD).quote_batch(
                ["AAPL", "MSFT"]
            )
    [quote] = [q for q in batch.quotes if q.symbol == "AAPL"]
    assert (quote.name, quote.exchange, quote.mic) == ("Apple Inc", "NASDAQ", "XNAS")
    messages = {e.symbol: e.message for e in batch.errors}
    assert messages["MSFT"] == "symbol MSFT refused"
    for q in batch.quotes:
        assert_inert(q.symbol + q.name)
    for e in batch.errors:
        assert_inert(e.symbol + e.message)

    movers = parse_movers(
        json.dumps(
            {
                "values": [
                    {"symbol": "AAPL" + CSI8, "name": HOSTILE, "exchange": TITLE + "NASDAQ",
                     "mic_code": "XNAS", "last": 10.5, "change": 0.5, "percent_change": 5.0},
                    {"symbol": BIDI + "BAD", "last": 10, "change": 9, "percent_change": 1},
                ]
            }
        ).encode()
    )  # fmt: skip
    [row] = movers.rows
    assert (row.symbol, row.name, row.exchange) == ("AAPL", "Apple Inc", "NASDAQ")
    assert movers.dropped and all("\u202e" not in line for line in movers.dropped)


@pytest.mark.anyio
async def test_nasdaq_data_link_rows_are_cleaned() -> None:
    settings = Settings()
    settings.nasdaq.api_key = "NDLKEY-hostile-test"
    settings.nasdaq.api_base = "https://ndl.test/api/v3"
    columns = ["ticker", "name", "exchange", "category", "scalemarketcap", "sector", "table"]
    rows = [
        ["AAPL", HOSTILE, "NASDAQ", "Domestic Common Stock", "6 - Mega", TITLE + "Tech", "SEP"],
        ["MSFT", "MS" + BIDI, CSI + "NASDAQ", "Domestic Common Stock", "6 - Mega", "", "SEP"],
    ]  # fmt: skip
    page = {
        "datatable": {"data": rows, "columns": [{"name": c, "type": "String"} for c in columns]},
        "meta": {"next_cursor_id": None},
    }
    settings.universe.cap_tiers = ["mega"]
    old = nasdaq.RETRIES
    nasdaq.RETRIES = 0
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.add(
                responses.GET,
                url=re.compile(r"https://ndl\.test/api/v3/datatables/.*"),
                json=page,
            )
            tickers = await nasdaq.NasdaqUniverse(settings).load()
    finally:
        nasdaq.RETRIES = old
    by_symbol = {t.symbol: t for t in tickers}
    assert by_symbol["AAPL"].name == "Apple Inc" and by_symbol["AAPL"].sector == "Tech"
    assert by_symbol["MSFT"].name == "MS"
    assert by_symbol["MSFT"].exchange == "NASDAQ" and by_symbol["MSFT"].mic == "XNAS"


@pytest.mark.anyio
async def test_a_universe_file_is_cleaned_field_by_field(tmp_path: Path) -> None:
    path = tmp_path / "universe.csv"
    path.write_text(
        "symbol,name,exchange,sector\n"
        f"AAPL,{HOSTILE},{CSI}NASDAQ,Tech{BIDI}\n"
        f"MSFT\t,Microsoft{OSC52},NASDAQ,\n"
        f"{OSC8}EVIL,Evil,NYSE,\n"
    )
    tickers = await FileUniverse(path).load()
    assert [(t.symbol, t.name, t.exchange, t.sector) for t in tickers] == [
        ("AAPL", "Apple Inc", "NASDAQ", "Tech"),
        ("MSFT", "Microsoft", "NASDAQ", ""),
    ]
    parsed = parse_symbol_file(path.read_text(), "u.csv")
    assert len(parsed.problems) == 1
    assert_inert(parsed.problems[0])  # the bad symbol is quoted with repr
    with pytest.raises(ValueError) as raised:  # a header without a symbol column names cells
        parse_symbol_file(f"name,{OSC52}exchange{BIDI}\nApple,NASDAQ\n", "u.csv")
    assert_inert(str(raised.value))


def test_cboe_refuses_an_option_symbol_holding_controls() -> None:
    good = {"option": "AAPL261218C00200000", "volume": 5, "open_interest": 9}
    records = [
        good,
        {"option": "\x1cAAPL261218C00210000", "volume": 7},  # strip() would let \x1c through
        {"option": "AAPL\x1b261218P00200000", "volume": 3},
    ]
    doc = {"timestamp": "2026-11-20 16:00:00", "data": {"options": records, "current_price": 1}}
    chain = parse_chain(json.dumps(doc).encode(), "AAPL")
    assert chain.symbols == ["AAPL261218C00200000"]
    assert chain.skipped == 2


def test_occ_cleans_underlyings_and_its_plain_answers() -> None:
    day = date(2026, 11, 20)
    csv = (
        "quantity,underlying,symbol,actype,porc,exchange,actdate\n"
        "100,AAPL,AAPL,C,C,CBOE,11/20/2026\n"
        f"40,{CSI}AAPL{BIDI},AAPL,C,P,CBOE,11/20/2026\n"
        f"20,{OSC52},X,C,C,CBOE,11/20/2026\n"
    )
    published = parse_day(csv.encode(), day)
    assert published.status is OccStatus.PUBLISHED
    assert published.rows == [("AAPL", 70, 50, 20)]
    assert published.skipped == 1  # the underlying that cleans to nothing
    answer = parse_day(f"No record(s) found {OSC52}{TITLE}".encode(), day)
    assert answer.status is OccStatus.NO_TRADING and answer.answer == "No record(s) found"


# -- a store from before the fix -----------------------------------------------------------


def test_text_stored_before_the_fix_is_cleaned_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from momoscan import store as store_module

    migrations = store_module.MIGRATIONS
    before = migrations.index(store_module._migration_clean_text)
    db = tmp_path / "old.db"
    # A database as the version before the cleaning migration left it.
    monkeypatch.setattr(store_module, "MIGRATIONS", migrations[:before])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", before)
    with Store(db):
        pass
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO tickers (symbol, name, exchange, mic, source) VALUES (?, ?, ?, ?, ?)",
            ("AAPL", HOSTILE, CSI + "NASDAQ", "XNAS", "file"),
        )
        conn.execute(
            "INSERT INTO refresh_runs (kind, message) VALUES ('cycle', ?)", (TITLE + "done",)
        )
    monkeypatch.undo()
    with Store(db) as store:
        assert store.schema_version() == len(migrations)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name, exchange FROM tickers").fetchone() == (
            "Apple Inc",
            "NASDAQ",
        )
        assert conn.execute("SELECT message FROM refresh_runs").fetchone() == ("done",)


# -- every output, from the demo's hostile names ------------------------------------------------


def real_name(symbol: str) -> str:
    return next(s.name for s in real_stocks() if s.symbol == symbol)


@pytest.mark.parametrize("json_out", [False, True])
def test_headless_text_and_json_draw_clean_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_out: bool
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[demo]\nsize = 0\n")
    args = ["--config", str(config), "--db", str(tmp_path / "d.db"), "--once"]
    args += ["--demo-faults", "td_hostile_name=1", *(["--json"] if json_out else [])]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert_inert(out.replace("\n", ""))
    assert_inert(err.replace("\n", ""))
    if json_out:
        doc = json.loads(out)
        rows = doc["top_movers"] + doc["top_volume"]
        assert rows
        for row in rows:
            assert row["name"] == real_name(row["symbol"])
    else:
        assert "Top gainers" in out


@pytest.mark.anyio
async def test_the_tui_draws_clean_names(tmp_path: Path) -> None:
    settings = Settings()
    settings.demo.faults = "td_hostile_name=1"
    app = make_app(tmp_path, settings)
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(pilot, app)
        assert app.snapshot is not None and app.snapshot.movers
        drawn = app.screen._compositor.render_strips()
        text = "".join(segment.text for strip in drawn for segment in strip)
        shown = [(row.symbol, row.name) for row in app.snapshot.movers]
    assert_inert(text)
    assert all(name == real_name(symbol) for symbol, name in shown)
    assert any(name[:6] in text for _, name in shown)  # the names are on screen, as text
