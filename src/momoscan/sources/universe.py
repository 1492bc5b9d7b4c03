"""Where the scan universe comes from: a user's file, the built-in list, or the simulated market.

(Nasdaq Data Link's SHARADAR/TICKERS lives in `nasdaq.py`.) Every source returns `Ticker`s; the
engine keeps those in the chosen cap tiers and stores them with the source's name and date.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..models import CAP_TIERS, Ticker
from .errors import SourceError

log = logging.getLogger(__name__)

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9]{0,5}([.\-/][A-Z0-9]{1,2})?$")


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


@dataclass
class FileParse:
    tickers: list[Ticker]
    problems: list[str] = field(default_factory=list)


def parse_symbol_file(text: str, origin: str = "file") -> FileParse:
    """A CSV with a `symbol` column (and optional name, exchange, mic, cap_tier, sector), or a
    plain list of symbols one per line (commas or spaces also separate). `#` starts a comment.

    Bad lines are reported with their line number and skipped; duplicates keep the first.
    """
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    header = [h.strip().lower() for h in next(csv.reader([first]))] if first else []
    tickers: dict[str, Ticker] = {}
    problems: list[str] = []

    # Positional-only, so a CSV column called "number" lands in `fields` instead of clashing.
    def add(symbol: str, number: int, /, **fields: str) -> None:
        symbol = symbol.strip().upper()
        if not SYMBOL_RE.match(symbol):
            problems.append(f"{origin}:{number}: {symbol!r} is not a stock symbol; skipped")
            return
        if symbol in tickers:
            return
        tier_text = fields.get("cap_tier", "")
        tier = _tier(tier_text)
        if tier_text.strip() and not tier:
            problems.append(
                f"{origin}:{number}: cap tier {tier_text.strip()!r} is not one of "
                f"{', '.join(CAP_TIERS)}; kept without a tier"
            )
        tickers[symbol] = Ticker(
            symbol=symbol,
            name=fields.get("name", "").strip() or symbol,
            exchange=fields.get("exchange", "").strip().upper(),
            mic=fields.get("mic", "").strip().upper(),
            cap_tier=tier,
            sector=fields.get("sector", "").strip(),
        )

    if "symbol" in header or "ticker" in header:
        key = "symbol" if "symbol" in header else "ticker"
        start = lines.index(first)
        reader = csv.reader(io.StringIO("\n".join(lines[start + 1 :])))
        for offset, row in enumerate(reader, start=start + 2):
            if not row or not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if len(row) != len(header):
                problems.append(
                    f"{origin}:{offset}: expected {len(header)} fields, found {len(row)}; skipped"
                )
                continue
            record = {h: v for h, v in zip(header, row, strict=True)}
            add(record.pop(key, ""), offset, **record)
    else:
        for number, raw in enumerate(lines, start=1):
            line = raw.split("#", 1)[0]
            for token in re.split(r"[\s,;]+", line):
                if token:
                    add(token, number)
    return FileParse(list(tickers.values()), problems)


class FileUniverse:
    """The user's own list (`[universe] source = "file"`, `path = ...`)."""

    name = "file"

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []

    async def load(self) -> list[Ticker]:
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise SourceError(
                f"The universe file {self.path} does not exist; fix [universe] path."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"The universe file {self.path} cannot be read ({exc}).") from None
        parsed = parse_symbol_file(text, str(self.path))
        self.problems = parsed.problems
        for problem in parsed.problems:
            log.warning("%s", problem)
        if not parsed.tickers:
            raise SourceError(f"The universe file {self.path} holds no symbols.")
        return parsed.tickers

    def describe(self) -> str:
        return f"file {self.path}"
