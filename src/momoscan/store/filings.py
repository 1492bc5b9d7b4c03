"""SEC filings of the universe's companies and the SEC's ticker map they are mapped through.

`sec_tickers` holds the whole ticker map as last read (one row a ticker as the SEC spells it,
`BRK-B`), replaced whole by each successful read, so a failed read keeps the map it had.
`filings` holds one row an accession (EDGAR's key), for universe companies only; `symbol` is
the first universe symbol of its CIK when it was stored (queries map a CIK with several
share classes to each). Times are Unix seconds; outside text was cleaned by the parser.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..filings import Filing
from .connection import StoreBase

#: meta key: the newest acceptance time (Unix seconds) of a filing read from the feed, stored
#: or not, so a restart pages back no further than that.
FILINGS_SEEN_AT = "filings_seen_at"


class FilingsMixin(StoreBase):
    def replace_sec_tickers(
        self, rows: Sequence[tuple[int, str, str, str]], *, fetched_at: float
    ) -> int:
        """The SEC's whole ticker map, (cik, ticker, name, exchange) rows, in place of the one
        stored, in one transaction; `fetched_at` Unix seconds (wall clock). A ticker listed
        twice keeps its last row. An empty map changes nothing (a failed read is no map).
        Returns the rows stored."""
        if not rows:
            return 0
        unique = {ticker: (ticker, cik, name, exchange) for cik, ticker, name, exchange in rows}
        with self.transaction() as conn:
            conn.execute("DELETE FROM sec_tickers")
            conn.executemany(
                "INSERT INTO sec_tickers (ticker, cik, name, exchange, fetched_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(*row, fetched_at) for row in unique.values()],
            )
        return len(unique)

    def sec_tickers_fetched_at(self) -> float | None:
        """When the stored ticker map was read (Unix seconds, wall clock); None: never."""
        row = self.conn.execute("SELECT MAX(fetched_at) FROM sec_tickers").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def store_filings(self, filings: Sequence[Filing], *, seen_at: float | None = None) -> int:
        """Filings of universe companies, in one transaction: an accession stored before is
        left as it was (a filing does not change; an amendment is a new accession).
        `seen_at`: the newest acceptance time the poll read (kept in meta). Returns how many
        were new."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO filings (accession, cik, symbol, form, items, "
                "accepted_at, company, url, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        f.accession,
                        f.cik,
                        f.symbol,
                        f.form,
                        ",".join(f.items),
                        float(f.accepted_at),
                        f.company,
                        f.url,
                        f.kind,
                    )
                    for f in filings
                ],
            )
            added = conn.total_changes - before
            if seen_at is not None:
                latest = self.get_meta(FILINGS_SEEN_AT)
                if latest is None or float(latest) < seen_at:
                    self._set_meta(FILINGS_SEEN_AT, repr(float(seen_at)))
        return added

    def filings_seen_at(self) -> float | None:
        """The newest acceptance time a poll of the feed read (Unix seconds); None: never."""
        value = self.get_meta(FILINGS_SEEN_AT)
        return float(value) if value else None
