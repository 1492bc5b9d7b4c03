"""Where the scan universe comes from: a user's file, the built-in list, or the simulated market.

(Nasdaq Data Link's SHARADAR/TICKERS lives in `nasdaq.py`.) Every source returns `Ticker`s; the
engine keeps those in the chosen cap tiers and stores them with the source's name and date.

A user's file is outside text like a feed's: every field is cleaned (`sanitize.clean`) as the
file is parsed, and a problem quotes what it found with `repr` or cleaned.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..models import CAP_TIERS, Ticker
from ..sanitize import clean
from ..symbols import SYMBOL_RE, canonical
from .errors import SourceError

log = logging.getLogger(__name__)


class UniverseSource(Protocol):
    #: Short name stored with the universe ("demo", "file", "builtin", "nasdaq").
    name: str

    async def load(self) -> list[Ticker]:
        """The universe's tickers. Raises SourceError with a sentence when it cannot."""
        ...

    def describe(self) -> str:
        """Where the universe comes from, for the status line."""
        ...


@dataclass
class StaticUniverse:
    """A fixed list: the simulated market's stocks, or the built-in list of real US stocks."""

    name: str
    tickers: list[Ticker]
    description: str

    async def load(self) -> list[Ticker]:
        return list(self.tickers)

    def describe(self) -> str:
        return self.description


def _tier(value: str) -> str:
    """A cap tier in any of the spellings users and Sharadar use: "mid", "Mid", "4 - Mid"."""
    text = value.strip().lower()
    text = re.sub(r"^\d\s*-\s*", "", text)
    return text if text in CAP_TIERS else ""


#: Column names a universe file may use, normalised by `_column`, and the Ticker field each
#: fills. Twelve Data calls the MIC `mic_code`; other columns are read and ignored.
COLUMNS: dict[str, str] = {
    "symbol": "symbol",
    "ticker": "symbol",
    "name": "name",
    "company": "name",
    "company_name": "name",
    "exchange": "exchange",
    "mic": "mic",
    "mic_code": "mic",
    "cap_tier": "cap_tier",
    "sector": "sector",
}
#: Words that make a first line a header even alone on it: a file whose first line is `Name`
#: must not scan a company called NAME.
HEADER_WORDS: frozenset[str] = frozenset(COLUMNS) | {
    "industry",
    "category",
    "description",
    "security",
    "security_name",
    "currency",
    "country",
}
#: Delimiters a CSV may use, in the order that breaks a tie.
DELIMITERS = (",", "\t", ";", "|")
#: How many content lines the delimiter is judged on.
SAMPLE_LINES = 20

_LINE_END = re.compile(r"\r\n|\r|\n")
_PLAIN_SEPARATORS = re.compile(r"[\s,;|]+")
_LETTER = re.compile(r"[A-Za-z]")
#: A line the csv module parses as a row of its own after any line whose quotes pair up; a line
#: with a quote never closed swallows it instead (see `_split`).
_SENTINEL = "x"


class UniverseFileError(ValueError):
    """The file cannot be read as a universe at all; the message names the file and line."""


@dataclass
class FileParse:
    """What a universe file gave: its tickers, the problems found, and where every line went.

    `used`, `skipped` and `rejected` hold 1-based line numbers and together cover 1..`lines`
    once each. A used line gave at least one ticker, or is the header row; a skipped line is
    blank, a comment, or delimiters only; a rejected line gave nothing and has at least one
    entry in `problems`. A used line may have problems too (an unknown cap tier, a bad symbol
    beside good ones on a plain-list line).
    """

    tickers: list[Ticker]
    problems: list[str] = field(default_factory=list)
    lines: int = 0
    used: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)


def _column(name: str) -> str:
    """A header cell as `COLUMNS` spells it: "Cap Tier", "cap-tier" and "CAP_TIER" are cap_tier."""
    return re.sub(r"[\s\-]+", "_", name.strip().strip('"').lower())


def _split(line: str, delimiter: str) -> list[str]:
    """The stripped fields of one line; quoted fields may hold the delimiter.

    The csv module reads only this line and a sentinel, so a quote that is never closed costs
    this line alone: it swallows the sentinel rather than the rest of the file.

    Raises:
        ValueError: a quote is never closed, or the csv module refuses the line.
    """
    try:
        rows = list(csv.reader([line, _SENTINEL], delimiter=delimiter, skipinitialspace=True))
    except csv.Error as exc:
        raise ValueError(f"the line cannot be read as CSV ({exc})") from None
    if len(rows) != 2:
        raise ValueError("a quote is never closed")
    return [cell.strip() for cell in rows[0]]


def _rough_split(line: str, delimiter: str) -> list[str]:
    """The fields of a line, ignoring quotes: for judging a line `_split` refuses."""
    return [cell.strip().strip('"').strip() for cell in line.split(delimiter)]


def _delimiter(first: str, sample: list[str]) -> str | None:
    """The delimiter of a CSV whose first content line is `first`, or None for one column.

    The one that splits `first` into the most fields; a tie goes to the one that splits the
    most `sample` lines into as many, then to the order of `DELIMITERS`.
    """

    def width(line: str, delimiter: str) -> int:
        try:
            return len(_split(line, delimiter))
        except ValueError:
            return len(_rough_split(line, delimiter))

    widths = {d: width(first, d) for d in DELIMITERS}
    most = max(widths.values())
    if most < 2:
        return None
    tied = [d for d in DELIMITERS if widths[d] == most]
    return max(tied, key=lambda d: sum(width(line, d) == most for line in sample))


def _is_header(cells: list[str]) -> bool:
    """Whether a first content line, split into `cells`, is a header row.

    It is when a cell is a known column word (`HEADER_WORDS`, in any case), or when it has 2+
    non-empty cells and one of them reads as a name rather than symbols: it holds a word that
    is not a stock symbol ("cap_tier", "Alphabet Inc.") or a word in mixed case ("Apple Inc").
    Plain lists are typed in one case per word, and may mix separators ("AAPL msft, NVDA"); a
    cell without letters ("12$$") is a typo in a list, reported later, not a header.
    """
    filled = [c for c in cells if c]
    if any(_column(c) in HEADER_WORDS for c in filled):
        return True
    return len(filled) >= 2 and any(_reads_as_name(c) for c in filled)


def _reads_as_name(cell: str) -> bool:
    words = [w for w in _PLAIN_SEPARATORS.split(cell) if _LETTER.search(w)]
    return any(not SYMBOL_RE.fullmatch(w.upper()) or w not in (w.upper(), w.lower()) for w in words)


def _is_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def parse_symbol_file(text: str, origin: str = "file") -> FileParse:
    """The tickers of a universe file, and an account of every line (see `FileParse`).

    Two shapes: a CSV with a header row holding a `symbol` or `ticker` column (and optional
    name, exchange, mic, cap_tier, sector; others are ignored), separated by commas, tabs,
    semicolons or pipes; or a plain list of symbols, one or more a line, separated by commas,
    semicolons, pipes or spaces, where `#` starts a comment. A CSV line starting with `#` is a
    comment. A byte-order mark and any line endings are fine. Symbols become `canonical`
    (`BRK-B` is BRK.B); with no name column a ticker's name is empty.

    Bad lines are reported as "<origin>:<line>: ...; skipped" and skipped; duplicates keep the
    first and are reported.

    Raises:
        UniverseFileError: the first line is a header without a symbol or ticker column, or a
            header whose quotes do not pair up.
    """
    lines = _LINE_END.split(text.removeprefix("\ufeff"))
    if lines[-1] == "":
        lines.pop()  # the line end of the last line, not an empty line after it
    parse = FileParse([], lines=len(lines))
    content = [(n, line) for n, line in enumerate(lines, start=1) if not _is_blank(line)]
    parse.skipped = [n for n, line in enumerate(lines, start=1) if _is_blank(line)]
    tickers: dict[str, Ticker] = {}
    first_line: dict[str, int] = {}

    def report(number: int, problem: str) -> None:
        parse.problems.append(f"{origin}:{number}: {problem}")

    def add(raw: str, number: int, fields: dict[str, str]) -> bool:
        """Keep the ticker of one symbol cell or token; False (and a report) when not kept."""
        fields = {name: clean(value).strip() for name, value in fields.items()}
        written = raw.strip()
        try:
            symbol = canonical(written)
        except ValueError:
            what = f"{written!r} is not a stock symbol" if written else "the symbol is empty"
            report(number, f"{what}; skipped")
            return False
        if symbol in first_line:
            # Name the spelling when it differs, or "BRK-B" seems to repeat nothing.
            what = symbol if written.upper() == symbol else f"{written!r} is {symbol}, which"
            report(number, f"{what} already came on line {first_line[symbol]}; skipped")
            return False
        tier_text = fields.get("cap_tier", "")
        tier = _tier(tier_text)
        if tier_text and not tier:
            report(
                number,
                f"cap tier {tier_text!r} is not one of {', '.join(CAP_TIERS)}; kept without a tier",
            )
        first_line[symbol] = number
        tickers[symbol] = Ticker(
            symbol=symbol,
            name=fields.get("name", ""),
            exchange=fields.get("exchange", "").upper(),
            mic=fields.get("mic", "").upper(),
            cap_tier=tier,
            sector=fields.get("sector", ""),
        )
        return True

    def plain(rest: list[tuple[int, str]]) -> None:
        for number, line in rest:
            body = line.split("#", 1)[0]
            tokens = [t.strip("\"'") for t in _PLAIN_SEPARATORS.split(body)]
            tokens = [t for t in tokens if t]
            if not tokens:
                parse.skipped.append(number)
                continue
            kept = [add(token, number, {}) for token in tokens]  # each token tried and reported
            (parse.used if any(kept) else parse.rejected).append(number)

    if not content:
        return parse
    header_number, header_line = content[0]
    delimiter = _delimiter(header_line, [line for _, line in content[1:SAMPLE_LINES]])
    try:
        cells = _split(header_line, delimiter) if delimiter else [header_line.strip()]
        bad_quotes = ""
    except ValueError as exc:
        cells = _rough_split(header_line, delimiter or ",")
        bad_quotes = str(exc)
    if not _is_header(cells):
        plain(content)
    else:
        if bad_quotes:
            raise UniverseFileError(
                f"{origin}:{header_number}: the header cannot be read ({bad_quotes}); "
                "fix its quotes or list one symbol per line."
            )
        names = [_column(c) for c in cells]
        while names and not names[-1]:
            names.pop()  # a trailing delimiter, as spreadsheets write
        wanted = "symbol" if "symbol" in names else "ticker"
        if wanted not in names:
            found = ", ".join(clean(c) for c in cells if c)
            raise UniverseFileError(
                f"{origin}:{header_number}: the header has no symbol or ticker column "
                f"(found: {found}); add one or list one symbol per line."
            )
        parse.used.append(header_number)
        key = names.index(wanted)
        if len(names) == 1 or delimiter is None:
            plain(content[1:])  # a one-column file is a plain list under a title
        else:
            for number, line in content[1:]:
                try:
                    row = _split(line, delimiter)
                except ValueError as exc:
                    report(number, f"{exc}; skipped")
                    parse.rejected.append(number)
                    continue
                while len(row) > len(names) and not row[-1]:
                    row.pop()
                if not any(row):
                    parse.skipped.append(number)
                    continue
                if len(row) != len(names):
                    report(number, f"expected {len(names)} fields, found {len(row)}; skipped")
                    parse.rejected.append(number)
                    continue
                fields: dict[str, str] = {}
                for name, value in zip(names, row, strict=True):
                    if COLUMNS.get(name, "symbol") != "symbol" and value:
                        fields.setdefault(COLUMNS[name], value)
                if add(row[key], number, fields):
                    parse.used.append(number)
                else:
                    parse.rejected.append(number)
    parse.tickers = list(tickers.values())
    for numbers in (parse.used, parse.skipped, parse.rejected):
        numbers.sort()
    return parse


class FileUniverse:
    """The user's own list (`[universe] source = "file"`, `path = ...`)."""

    name = "file"

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []

    async def load(self) -> list[Ticker]:
        where = clean(str(self.path))  # a path may hold any character but "/" and NUL
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise SourceError(
                f"The universe file {where} does not exist; fix [universe] path."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = clean(exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            raise SourceError(f"The universe file {where} cannot be read ({reason}).") from None
        try:
            parsed = parse_symbol_file(text, where)
        except UniverseFileError as exc:
            raise SourceError(str(exc)) from None
        self.problems = parsed.problems
        for problem in parsed.problems:
            log.warning("%s", problem)
        if not parsed.tickers:
            raise SourceError(f"The universe file {where} holds no symbols.")
        return parsed.tickers

    def describe(self) -> str:
        return f"file {clean(str(self.path))}"
