"""SEC filings as the screens, the JSON and the scheduler read them: each universe symbol's
filings of a trading day, or since a moment, and the universe's symbol -> CIK map.

A filing belongs to a company (its CIK); a company with several share classes in the universe
(GOOG and GOOGL) has its filings under each. The SEC writes a class `BRK-B` where momoscan
writes `BRK.B` (`symbols.canonical`). Several Form 4s on one company (insiders' trades) are one
`Filing` a symbol with `count`, the newest of them. Times are Unix seconds; days US/Eastern.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta

from .. import market_hours as mh
from ..filings import Filing, base_form
from ..store import Store
from ..symbols import canonical

_SELECT = "SELECT accession, cik, symbol, form, items, accepted_at, company, url, kind FROM filings"
#: Insiders' forms whose filings of a day are one row a symbol.
_CLUSTERED = frozenset({"4"})


def _symbol(ticker: str) -> str | None:
    try:
        return canonical(ticker)
    except ValueError:
        return None


def _universe(store: Store, symbols: Collection[str] | None) -> set[str] | None:
    """The symbols to map to: `symbols` when given, else the universe's (None: no universe)."""
    if symbols is not None:
        return set(symbols)
    rows = store.conn.execute("SELECT symbol FROM tickers").fetchall()
    return {str(r[0]) for r in rows} if rows else None


def cik_map(store: Store, symbols: Collection[str] | None = None) -> dict[str, int]:
    """Universe symbol -> CIK through the stored SEC ticker map (each SEC ticker in momoscan's
    spelling: `BRK-B` is `BRK.B`). `symbols`: map these instead of the universe's. A symbol
    the SEC does not list is left out."""
    wanted = _universe(store, symbols)
    if not wanted:
        return {}
    out: dict[str, int] = {}
    for ticker, cik in store.conn.execute("SELECT ticker, cik FROM sec_tickers ORDER BY ticker"):
        symbol = _symbol(str(ticker))
        if symbol is not None and symbol in wanted:
            out.setdefault(symbol, int(cik))
    return out


def _symbols_of(store: Store, ciks: Iterable[int]) -> dict[int, list[str]]:
    """CIK -> its universe symbols (sorted), for these CIKs."""
    wanted = sorted(set(ciks))
    found: dict[int, list[str]] = defaultdict(list)
    universe = _universe(store, None) or set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        marks = ",".join("?" for _ in chunk)
        for ticker, cik in store.conn.execute(
            f"SELECT ticker, cik FROM sec_tickers WHERE cik IN ({marks})", chunk
        ):
            symbol = _symbol(str(ticker))
            if symbol is not None and symbol in universe:
                found[int(cik)].append(symbol)
    return {cik: sorted(set(symbols)) for cik, symbols in found.items()}


def _filing(row: tuple[object, ...], symbol: str) -> Filing:
    accession, cik, _, form, items, accepted_at, company, url, kind = row
    return Filing(
        accession=str(accession),
        cik=int(cik),  # type: ignore[call-overload]
        symbol=symbol,
        form=str(form),
        items=tuple(i for i in str(items or "").split(",") if i),
        accepted_at=float(accepted_at),  # type: ignore[arg-type]
        company=str(company),
        url=str(url),
        kind=str(kind),
    )


def _by_symbol(store: Store, rows: list[tuple[object, ...]]) -> dict[str, list[Filing]]:
    """Rows (newest first) under each universe symbol of their company (the stored symbol
    when the map no longer has one), a symbol's Form 4s of a day as one filing with `count`."""
    symbols = _symbols_of(store, (int(r[1]) for r in rows))  # type: ignore[call-overload]
    out: dict[str, list[Filing]] = defaultdict(list)
    clusters: dict[tuple[str, date], int] = {}  # (symbol, ET day) -> index in out[symbol]
    for row in rows:
        cik = int(row[1])  # type: ignore[call-overload]
        names = symbols.get(cik) or ([str(row[2])] if row[2] else [])
        for symbol in names:
            filing = _filing(row, symbol)
            if base_form(filing.form) in _CLUSTERED:
                day = datetime.fromtimestamp(filing.accepted_at, mh.ET).date()
                at = clusters.get((symbol, day))
                if at is not None:
                    newest = out[symbol][at]
                    out[symbol][at] = replace(newest, count=newest.count + 1)
                    continue
                clusters[(symbol, day)] = len(out[symbol])
            out[symbol].append(filing)
    return dict(out)


def filings_on(store: Store, day: date) -> dict[str, list[Filing]]:
    """The filings accepted on `day` (US/Eastern, midnight to midnight) by universe symbol,
    newest first; a symbol's Form 4s of the day are one `Filing` with `count`."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=mh.ET)
    end = start + timedelta(days=1)
    rows = store.conn.execute(
        f"{_SELECT} WHERE accepted_at >= ? AND accepted_at < ? "
        "ORDER BY accepted_at DESC, accession",
        (start.timestamp(), end.timestamp()),
    ).fetchall()
    return _by_symbol(store, rows)


def recent_filings(store: Store, since: float) -> dict[str, list[Filing]]:
    """The filings accepted at or after `since` (Unix seconds) by universe symbol, newest
    first; Form 4s of one symbol and day as one `Filing` with `count`."""
    rows = store.conn.execute(
        f"{_SELECT} WHERE accepted_at >= ? ORDER BY accepted_at DESC, accession", (since,)
    ).fetchall()
    return _by_symbol(store, rows)
