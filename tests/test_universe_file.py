"""The user's own universe file: `parse_symbol_file` and `FileUniverse`.

Documented behaviour (universe.py): a CSV with a `symbol` (or `ticker`) column, separated by
commas, tabs, semicolons or pipes, or a plain list; `#` starts a comment; bad lines are reported
with their line number and skipped; an unknown cap tier keeps the row without a tier; symbols
are canonical (BRK-B is BRK.B); duplicates keep the first and are reported; a header without a
symbol column is an error; every line is used, skipped (blank or comment) or reported.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from momoscan.models import Ticker
from momoscan.sources.errors import SourceError
from momoscan.sources.universe import (
    FileParse,
    FileUniverse,
    UniverseFileError,
    parse_symbol_file,
)

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
    # An empty name stays empty (the engine fills names from quotes); an empty tier is no tier
    # and no problem.
    assert (by_symbol["CLX"].name, by_symbol["CLX"].cap_tier) == ("", "")


def test_csv_reports_bad_rows_with_line_numbers() -> None:
    parsed = parse_symbol_file(CSV, "mine.csv")

    assert parsed.problems == [
        "mine.csv:7: expected 4 fields, found 2; skipped",
        "mine.csv:8: '12$$' is not a stock symbol; skipped",
        "mine.csv:9: cap tier 'gigantic' is not one of nano, micro, small, mid, large, mega; "
        "kept without a tier",
        "mine.csv:11: AAPL already came on line 4; skipped",
        "mine.csv:13: expected 4 fields, found 5; skipped",
    ]
    # The unknown tier's row is kept, without a tier.
    assert {t.symbol: t.cap_tier for t in parsed.tickers}["ODD"] == ""


def test_csv_duplicates_keep_the_first_and_are_reported() -> None:
    parsed = parse_symbol_file(CSV, "mine.csv")

    apple = [t for t in parsed.tickers if t.symbol == "AAPL"]
    assert apple == [Ticker("AAPL", "Apple Inc", "NASDAQ", "", "large")]
    assert [p for p in parsed.problems if "AAPL" in p] == [
        "mine.csv:11: AAPL already came on line 4; skipped"
    ]


def test_csv_accounts_for_every_line() -> None:
    parsed = parse_symbol_file(CSV, "mine.csv")

    assert parsed.lines == 13
    assert parsed.used == [2, 4, 5, 6, 9, 12]  # the header and the kept rows
    assert parsed.skipped == [1, 3, 10]
    assert parsed.rejected == [7, 8, 11, 13]


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
        "BRK.B",
        "GOOD",
    ]
    # A bare symbol has no name (the engine fills it from quotes), exchange or tier.
    assert parsed.tickers[0] == Ticker("AAPL", "")
    assert parsed.problems == [
        "list.txt:6: '12$$' is not a stock symbol; skipped",
        "list.txt:7: AAPL already came on line 2; skipped",
    ]
    # Line 6 gave GOOD, so it is used despite its bad token; line 7 gave nothing.
    assert (parsed.used, parsed.skipped, parsed.rejected) == ([2, 3, 5, 6], [1, 4, 8], [7])


def test_nothing_but_comments_and_blanks_is_empty() -> None:
    assert parse_symbol_file("# nothing\n\n   \n").tickers == []
    assert parse_symbol_file("").tickers == []
    assert parse_symbol_file("symbol,name\n").tickers == []


# -- one bad line costs one line -------------------------------------------------------------


def test_an_unterminated_quote_costs_its_line_only() -> None:
    """It once swallowed every line after it: one line reported, three valid symbols lost."""
    text = 'symbol,name\nAAPL,Apple\n"unterminated,quote\nMSFT,Microsoft\nNVDA,Nvidia\nAMD,AMD\n'

    parsed = parse_symbol_file(text, "q.csv")

    assert [t.symbol for t in parsed.tickers] == ["AAPL", "MSFT", "NVDA", "AMD"]
    assert parsed.problems == ["q.csv:3: a quote is never closed; skipped"]
    assert parsed.rejected == [3]


def test_an_unterminated_quote_in_a_name_costs_its_line_only() -> None:
    text = 'symbol,name\nAAPL,"Apple, Inc.\nMSFT,"Microsoft, Corp."\n'

    parsed = parse_symbol_file(text, "q.csv")

    assert parsed.tickers == [Ticker("MSFT", "Microsoft, Corp.")]
    assert parsed.problems == ["q.csv:2: a quote is never closed; skipped"]


# -- delimiters ------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_the_delimiter_is_read_from_the_header(delimiter: str) -> None:
    """A semicolon file was once read as a plain list: header words and names became symbols."""
    rows = [
        ["Symbol", "Company", "Sector"],
        ["AAPL", "Apple Inc.", "Technology"],
        ["brk-b", '"Berkshire Hathaway; Inc, Class B"', "Financials"],
    ]
    text = "".join(delimiter.join(row) + "\n" for row in rows)

    parsed = parse_symbol_file(text, "semi.csv")

    assert parsed.tickers == [
        Ticker("AAPL", "Apple Inc.", sector="Technology"),
        Ticker("BRK.B", "Berkshire Hathaway; Inc, Class B", sector="Financials"),
    ]
    assert parsed.problems == []


def test_semicolon_file_with_commas_in_unquoted_names() -> None:
    text = "symbol;name;cap_tier\nBRK.B;Berkshire Hathaway, Inc., Class B;mega\nCLX;Clorox;mid\n"

    parsed = parse_symbol_file(text, "semi.csv")

    assert parsed.tickers == [
        Ticker("BRK.B", "Berkshire Hathaway, Inc., Class B", cap_tier="mega"),
        Ticker("CLX", "Clorox", cap_tier="mid"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "AAPL, MSFT, NVDA\n",
        "AAPL,MSFT,NVDA",
        "AAPL;MSFT;NVDA\n",
        "AAPL\tMSFT\tNVDA\n",
        "AAPL|MSFT|NVDA\n",
        "AAPL MSFT NVDA\n",
        "AAPL msft, NVDA\n",  # mixed separators and cases
        "aapl\nmsft\nnvda\n",
        "AAPL, MSFT, NVDA,\n",  # a trailing delimiter
        "symbol\nAAPL\nMSFT, NVDA\n",  # a one-column CSV is a titled plain list
        "Ticker\nAAPL\nMSFT\nNVDA\n",
    ],
)
def test_plain_lists_in_every_separator(text: str) -> None:
    parsed = parse_symbol_file(text)

    assert [t.symbol for t in parsed.tickers] == ["AAPL", "MSFT", "NVDA"]
    assert parsed.problems == []


# -- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "found"),
    [
        ("name,sector\nApple,Technology\n", 1, "name, sector"),
        ("Company Name;Exchange\nApple;NASDAQ\n", 1, "Company Name, Exchange"),
        ("# my list\n\nName\nApple\n", 3, "Name"),  # a known column word alone on its line
        # No known word, but "Apple Inc" is a name: a headerless table, whose names would
        # otherwise be scanned as symbols.
        ("AAPL,Apple Inc,NASDAQ\nMSFT,Microsoft,NASDAQ\n", 1, "AAPL, Apple Inc, NASDAQ"),
        ("AAPL,ALPHABET\n", 1, "AAPL, ALPHABET"),  # too long for a symbol
    ],
)
def test_a_header_without_a_symbol_column_is_an_error(text: str, line: int, found: str) -> None:
    with pytest.raises(UniverseFileError) as info:
        parse_symbol_file(text, "co.csv")

    assert str(info.value) == (
        f"co.csv:{line}: the header has no symbol or ticker column (found: {found}); "
        "add one or list one symbol per line."
    )


def test_a_header_whose_quotes_do_not_pair_is_an_error() -> None:
    with pytest.raises(UniverseFileError) as info:
        parse_symbol_file('"symbol,name\nAAPL,Apple\n', "q.csv")

    assert str(info.value) == (
        "q.csv:1: the header cannot be read (a quote is never closed); "
        "fix its quotes or list one symbol per line."
    )


def test_a_first_line_typo_without_letters_leaves_a_plain_list() -> None:
    parsed = parse_symbol_file("AAPL, MSFT, 12$$\nNVDA\n", "list.txt")

    assert [t.symbol for t in parsed.tickers] == ["AAPL", "MSFT", "NVDA"]
    assert parsed.problems == ["list.txt:1: '12$$' is not a stock symbol; skipped"]


def test_header_cells_in_any_spelling_and_unknown_columns_ignored() -> None:
    text = (
        '"Ticker","Company Name","Cap Tier","MIC_Code","Exchange","Country",\n'
        "nvda,NVIDIA,mega,xnas,nasdaq,US,\n"
    )

    parsed = parse_symbol_file(text)

    assert parsed.tickers == [Ticker("NVDA", "NVIDIA", "NASDAQ", "XNAS", "mega")]
    assert parsed.problems == []


# -- canonical symbols -----------------------------------------------------------------------


def test_symbols_are_canonical_and_spellings_of_one_class_are_duplicates() -> None:
    text = "symbol,name\nbrk-b,Berkshire B\nBRK.B,Berkshire again\nBRK/B,And again\nbf/b,Brown\n"

    parsed = parse_symbol_file(text, "c.csv")

    assert parsed.tickers == [Ticker("BRK.B", "Berkshire B"), Ticker("BF.B", "Brown")]
    assert parsed.problems == [
        "c.csv:3: BRK.B already came on line 2; skipped",
        "c.csv:4: 'BRK/B' is BRK.B, which already came on line 2; skipped",
    ]


def test_no_name_column_leaves_names_empty() -> None:
    parsed = parse_symbol_file("symbol,sector\nAAPL,Technology\n")

    assert parsed.tickers == [Ticker("AAPL", "", sector="Technology")]


# -- every line accounted for ----------------------------------------------------------------

MESSY = (
    "\ufeff# exported from a spreadsheet\r\n"  # 1 comment, after a byte-order mark
    "Symbol;Name;Exchange;Cap_Tier;\r\n"  # 2 header, trailing delimiter
    "AAPL;Apple Inc.;NASDAQ;large;\r\n"  # 3 trailing delimiter
    '"BRK-B";"Berkshire Hathaway; Inc.";NYSE;mega\r\n'  # 4 quoted, delimiter inside
    "\r\n"  # 5 blank
    '"unterminated;quote;NYSE;small\r\n'  # 6 a quote never closed
    "MSFT;Microsoft;NASDAQ;mega\r\n"  # 7 after it, still read
    ";;;;\r\n"  # 8 delimiters only: blank
    "   # an indented comment\r\n"  # 9
    "12$$;Bad;NYSE;small\r\n"  # 10 bad symbol
    "SHORT;Too short\r\n"  # 11 too few fields
    "brk.b;Berkshire again;NYSE;mega\r\n"  # 12 duplicate of line 4
    ";No symbol;NYSE;small\r\n"  # 13 empty symbol cell
    "CLX;Clorox;NYSE;gigantic\r\n"  # 14 kept without a tier
    "  \t \r\n"  # 15 blank
    "NVDA;NVIDIA;NASDAQ;mega"  # 16 no line end
)


def test_a_messy_file_accounts_for_every_line() -> None:
    parsed = parse_symbol_file(MESSY, "messy.csv")

    assert parsed.tickers == [
        Ticker("AAPL", "Apple Inc.", "NASDAQ", "", "large"),
        Ticker("BRK.B", "Berkshire Hathaway; Inc.", "NYSE", "", "mega"),
        Ticker("MSFT", "Microsoft", "NASDAQ", "", "mega"),
        Ticker("CLX", "Clorox", "NYSE", "", ""),
        Ticker("NVDA", "NVIDIA", "NASDAQ", "", "mega"),
    ]
    assert parsed.problems == [
        "messy.csv:6: a quote is never closed; skipped",
        "messy.csv:10: '12$$' is not a stock symbol; skipped",
        "messy.csv:11: expected 4 fields, found 2; skipped",
        "messy.csv:12: BRK.B already came on line 4; skipped",
        "messy.csv:13: the symbol is empty; skipped",
        "messy.csv:14: cap tier 'gigantic' is not one of nano, micro, small, mid, large, mega; "
        "kept without a tier",
    ]
    assert parsed.lines == 16
    assert sorted(parsed.used) == [2, 3, 4, 7, 14, 16]
    assert sorted(parsed.skipped) == [1, 5, 8, 9, 15]
    assert sorted(parsed.rejected) == [6, 10, 11, 12, 13]
    assert_every_line_once(parsed)


def assert_every_line_once(parsed: FileParse) -> None:
    """used + skipped + rejected == lines, with no line in two places or left out."""
    lines = parsed.used + parsed.skipped + parsed.rejected
    assert len(parsed.used) + len(parsed.skipped) + len(parsed.rejected) == parsed.lines
    assert sorted(lines) == list(range(1, parsed.lines + 1))
    # Every rejected line has a problem naming it.
    for number in parsed.rejected:
        assert any(p.startswith(f"messy.csv:{number}: ") for p in parsed.problems)


@pytest.mark.parametrize(
    "text",
    [
        MESSY,
        MESSY.replace(";", ","),
        CSV,
        "",
        "\n\n",
        "AAPL\r\rMSFT\r",  # old Mac line ends
        "# watchlist\nAAPL msft,,12$$\n\naapl\n#",  # mixed separators on the first line
        'symbol,name\nAAPL,Apple\n"AAPL",Apple again\nNVDA',
    ],
)
def test_every_line_is_used_skipped_or_reported(text: str) -> None:
    assert_every_line_once(parse_symbol_file(text, "messy.csv"))


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
    assert len(universe.problems) == 5
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
async def test_header_without_a_symbol_column_is_a_source_error(tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_text("name;sector\nApple;Technology\n")

    with pytest.raises(SourceError) as info:
        await FileUniverse(path).load()

    assert str(info.value) == (
        f"{path}:1: the header has no symbol or ticker column (found: name, sector); "
        "add one or list one symbol per line."
    )
    assert info.value.__cause__ is None


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
