"""The user's own universe file: `parse_symbol_file` and `FileUniverse`.

Documented behaviour (universe.py): a CSV with a `symbol` (or `ticker`) column, or a plain list;
`#` starts a comment; bad lines are reported with their line number and skipped; an unknown cap
tier keeps the row without a tier; duplicates keep the first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from momoscan.models import Ticker
from momoscan.sources.errors import SourceError
from momoscan.sources.universe import FileUniverse, parse_symbol_file

CSV = """\
# my momentum list
symbol,name,exchange,cap_tier

AAPL,Apple Inc,NASDAQ,large
msft,Microsoft,nasdaq,5 - Large
BRK.B,"Berkshire Hathaway, Inc.",NYSE,Mega
TOOFEW,Only two
12$$,Bad Symbol,NYSE,small
ODD,Odd Tier Co,NYSE,gigantic
# a comment row
AAPL,Apple again,NYSE,small
CLX,,NYSE,
EXTRA,Too,Many,Fields,Here
"""


def test_csv_keeps_good_rows_with_their_fields() -> None:
    parsed = parse_symbol_file(CSV, "mine.csv")

    assert [t.symbol for t in parsed.tickers] == ["AAPL", "MSFT", "BRK.B", "ODD", "CLX"]
    by_symbol = {t.symbol: t for t in parsed.tickers}
    assert by_symbol["AAPL"] == Ticker("AAPL", "Apple Inc", "NASDAQ", "", "large")
    # Symbols and exchanges are upper-cased; Sharadar's "5 - Large" spelling is understood.
    assert (by_symbol["MSFT"].exchange, by_symbol["MSFT"].cap_tier) == ("NASDAQ", "large")
    # A quoted name may hold a comma; "Mega" in any case is a tier.
    assert by_symbol["BRK.B"].name == "Berkshire Hathaway, Inc."
    assert by_symbol["BRK.B"].cap_tier == "mega"
    # An empty name falls back to the symbol; an empty tier is no tier and no problem.
    assert (by_symbol["CLX"].name, by_symbol["CLX"].cap_tier) == ("CLX", "")


def test_csv_reports_bad_rows_with_line_numbers() -> None:
    parsed = parse_symbol_file(CSV, "mine.csv")

    assert parsed.problems == [
        "mine.csv:7: expected 4 fields, found 2; skipped",
        "mine.csv:8: '12$$' is not a stock symbol; skipped",
        "mine.csv:9: cap tier 'gigantic' is not one of nano, micro, small, mid, large, mega; "
        "kept without a tier",
        "mine.csv:13: expected 4 fields, found 5; skipped",
    ]
    # The unknown tier's row is kept, without a tier.
    assert {t.symbol: t.cap_tier for t in parsed.tickers}["ODD"] == ""


def test_csv_duplicates_keep_the_first_silently() -> None:
    parsed = parse_symbol_file(CSV, "mine.csv")

    apple = [t for t in parsed.tickers if t.symbol == "AAPL"]
    assert apple == [Ticker("AAPL", "Apple Inc", "NASDAQ", "", "large")]
    assert not any("AAPL" in p for p in parsed.problems)


def test_csv_with_a_ticker_column_and_more_fields() -> None:
    text = "Ticker,Name,MIC,Sector,Cap_Tier\nnvda,NVIDIA,xnas,Technology,mega\n"

    parsed = parse_symbol_file(text)

    assert parsed.tickers == [Ticker("NVDA", "NVIDIA", "", "XNAS", "mega", "Technology")]
    assert parsed.problems == []


def test_csv_columns_may_share_names_with_the_parser_internals() -> None:
    """A "number" column once crashed the parser with a TypeError (fixed in universe.py)."""
    parsed = parse_symbol_file("number,symbol,name\n1,AMD,Advanced Micro\n")

    assert parsed.tickers == [Ticker("AMD", "Advanced Micro")]


def test_plain_list_with_commas_comments_and_blank_lines() -> None:
    text = """\
# watchlist
AAPL
msft, nvda;TSLA   amd

BRK-B  # Berkshire class B
12$$ GOOD
aapl
   # an indented comment
"""
    parsed = parse_symbol_file(text, "list.txt")

    assert [t.symbol for t in parsed.tickers] == [
        "AAPL",
        "MSFT",
        "NVDA",
        "TSLA",
        "AMD",
        "BRK-B",
        "GOOD",
    ]
    # A bare symbol is its own name and has no exchange or tier.
    assert parsed.tickers[0] == Ticker("AAPL", "AAPL")
    assert parsed.problems == ["list.txt:6: '12$$' is not a stock symbol; skipped"]


def test_nothing_but_comments_and_blanks_is_empty() -> None:
    assert parse_symbol_file("# nothing\n\n   \n").tickers == []
    assert parse_symbol_file("").tickers == []
    assert parse_symbol_file("symbol,name\n").tickers == []


# -- FileUniverse ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_file_universe_loads_and_logs_problems(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "universe.csv"
    # Spreadsheets save CSV with a byte-order mark; it must not spoil the header.
    path.write_text(CSV, encoding="utf-8-sig")
    universe = FileUniverse(path)

    with caplog.at_level(logging.WARNING):
        tickers = await universe.load()

    assert [t.symbol for t in tickers] == ["AAPL", "MSFT", "BRK.B", "ODD", "CLX"]
    assert len(universe.problems) == 4
    assert all(p.startswith(f"{path}:") for p in universe.problems)
    assert [r.getMessage() for r in caplog.records] == universe.problems
    assert universe.name == "file"
    assert universe.describe() == f"file {path}"


@pytest.mark.anyio
@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n", "symbol,name\n", "12$$\n"])
async def test_file_without_symbols_is_an_error_naming_the_file(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)

    with pytest.raises(SourceError) as info:
        await FileUniverse(path).load()

    message = str(info.value)
    assert str(path) in message
    assert "no symbols" in message
    assert message.endswith(".")


@pytest.mark.anyio
async def test_missing_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"

    with pytest.raises(SourceError) as info:
        await FileUniverse(path).load()

    assert str(info.value) == f"The universe file {path} does not exist; fix [universe] path."
    assert info.value.__cause__ is None


@pytest.mark.anyio
async def test_unreadable_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"symbol,name\nSAN,Soci\xe9t\xe9\n")  # Latin-1, not UTF-8

    with pytest.raises(SourceError) as info:
        await FileUniverse(path).load()

    assert str(path) in str(info.value)
    assert "cannot be read" in str(info.value)


@pytest.mark.anyio
async def test_directory_instead_of_a_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot be read"):
        await FileUniverse(tmp_path).load()
