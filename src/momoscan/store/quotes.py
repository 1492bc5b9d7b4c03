"""Quotes: a poll's batch (with its history, refused symbols, the run's counters and the
credits it took), the stream's ticks, /market_movers rows, and the credit ledger."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import MoverRow, Quote, SymbolError
from .highs import HighsMixin, quote_highs, tick_highs, upsert_highs
from .universe import UniverseMixin

#: Intraday history resolution: one sample per symbol per bucket, the latest wins. Five minutes
#: in the regular session, thirty outside it: about 97 rows a symbol a day, which keeps a day
#: of 8,000 symbols under 30 MB (bench/pipeline.py measures it).
HISTORY_BUCKET_OPEN = 300
HISTORY_BUCKET_EXTENDED = 1800


class QuotesMixin(HighsMixin, UniverseMixin):
    """Quote writes (a universe mixin too: a batch fills in the names its universe lacks; and
    a highs one: a batch moves the highs of the day)."""

    def store_quotes(
        self,
        quotes: Sequence[Quote],
        errors: Sequence[SymbolError] = (),
        *,
        fetched_at: float,
        run_id: int | None = None,
        credits_used: int = 0,
        credits_at: float | None = None,
        retry_grants: Sequence[tuple[float, int]] = (),
    ) -> None:
        """One quote batch, its refused symbols, the run's counters and the credits it took
        (at `credits_at`), and the highs of the day it makes (store/highs.py), in one
        transaction."""
        # Tuples spelled out: attribute loads on the Struct build them in about a third of the
        # time an attrgetter's call and a tuple concatenation take.
        rows = [
            (q.symbol, q.price, q.open, q.high, q.low, q.prev_close, q.change_pct, q.volume,
             q.avg_volume, q.market_open, q.quote_ts, q.source, q.extended, q.regular_price,
             q.regular_change_pct, fetched_at)
            for q in quotes
        ]  # fmt: skip
        now = int(fetched_at)
        history = []
        for q in quotes:
            ts = now if q.quote_ts is None else q.quote_ts
            size = HISTORY_BUCKET_OPEN if q.market_open else HISTORY_BUCKET_EXTENDED
            history.append((q.symbol, ts - ts % size, q.price, q.volume))
        unnamed = self._unnamed_symbols()
        listed = (
            [
                (q.name, q.exchange, q.mic, q.symbol)
                for q in quotes
                if q.symbol in unnamed and (q.name or q.mic)
            ]
            if unnamed
            else []
        )
        highs = self._new_highs(quote_highs(quotes))
        with self.transaction() as conn:
            # Relative volume is computed by SQLite from the two volumes bound for the row.
            conn.executemany(
                "INSERT INTO quotes (symbol, price, open, high, low, prev_close, change_pct, "
                "volume, avg_volume, market_open, quote_ts, source, extended, regular_price, "
                "regular_change_pct, fetched_at, rvol) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                "?16, CASE WHEN ?9 > 0 THEN CAST(?8 AS REAL) / ?9 END) "
                "ON CONFLICT (symbol) DO UPDATE SET price = excluded.price, "
                "open = excluded.open, high = excluded.high, low = excluded.low, "
                "prev_close = excluded.prev_close, change_pct = excluded.change_pct, "
                "volume = excluded.volume, avg_volume = excluded.avg_volume, "
                "rvol = excluded.rvol, market_open = excluded.market_open, "
                "quote_ts = excluded.quote_ts, source = excluded.source, "
                "extended = excluded.extended, regular_price = excluded.regular_price, "
                "regular_change_pct = excluded.regular_change_pct, "
                "fetched_at = excluded.fetched_at",
                rows,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO quote_history (symbol, ts, price, volume) "
                "VALUES (?, ?, ?, ?)",
                history,
            )
            upsert_highs(conn, highs)
            # A universe without names (a plain list) takes each company's name, and a listing
            # without an exchange its exchange and MIC, from its quotes (for the tables and the
            # chart links); what the universe's source gave is never overwritten.
            if listed:
                conn.executemany(
                    "UPDATE tickers SET "
                    "name = CASE WHEN name = '' OR name = symbol THEN COALESCE(NULLIF(?1, ''), "
                    "name) ELSE name END, "
                    "exchange = CASE WHEN COALESCE(exchange, '') = '' THEN ?2 ELSE exchange END, "
                    "mic = CASE WHEN COALESCE(mic, '') = '' THEN ?3 ELSE mic END "
                    "WHERE symbol = ?4 AND (name = '' OR name = symbol OR COALESCE(mic, '') = '' "
                    "OR COALESCE(exchange, '') = '')",
                    listed,
                )
            # A symbol that answers again is no longer failing (checked first: usually none is).
            if quotes and conn.execute("SELECT 1 FROM symbol_errors LIMIT 1").fetchone():
                conn.executemany(
                    "DELETE FROM symbol_errors WHERE symbol = ?", [(q.symbol,) for q in quotes]
                )
            if errors:
                conn.executemany(
                    "INSERT INTO symbol_errors (symbol, code, message, at, count) "
                    "VALUES (?, ?, ?, ?, 1) ON CONFLICT (symbol) DO UPDATE SET "
                    "code = excluded.code, message = excluded.message, at = excluded.at, "
                    "count = symbol_errors.count + 1",
                    [(e.symbol, e.code, e.message, fetched_at) for e in errors],
                )
            if run_id is not None:
                conn.execute(
                    "UPDATE refresh_runs SET quotes = quotes + ?, errors = errors + ?, "
                    "credits_used = credits_used + ? WHERE id = ?",
                    (
                        len(quotes),
                        len(errors),
                        credits_used + sum(credits for _, credits in retry_grants),
                        run_id,
                    ),
                )
            grants = [
                *([(credits_at, credits_used)] if credits_at is not None else []),
                *retry_grants,
            ]
            if spent := [(at, credits) for at, credits in grants if credits]:
                conn.executemany("INSERT INTO credit_ledger (ts, credits) VALUES (?, ?)", spent)
        unnamed.difference_update(row[3] for row in listed)
        self._wrote_highs(highs)

    def add_history(self, rows: Sequence[tuple[str, float, float, int]]) -> int:
        """Intraday samples (symbol, bucket's Unix seconds, price, session volume in shares)
        where none is stored yet (what is stored wins), in one transaction: the demo's session
        so far (simulated/history.py). Returns the rows added."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO quote_history (symbol, ts, price, volume) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            return int(conn.total_changes - before)

    def store_stream_ticks(
        self, ticks: Sequence[tuple[str, float, float | None, int | None, int]], fetched_at: float
    ) -> int:
        """The stream's latest trade per symbol, (symbol, price, % change from the previous
        close, day volume in shares or None, the trade's Unix seconds), onto stored quotes in
        one transaction: a tick never creates a quote (its previous close, average volume and
        listing come from a poll), and an older tick never overwrites a newer quote; the highs
        of the day they make (store/highs.py) with them. Returns how many quotes moved."""
        rows = [
            (price, change, volume, ts, fetched_at, symbol)
            for symbol, price, change, volume, ts in ticks
        ]
        history = [
            (symbol, ts - ts % HISTORY_BUCKET_OPEN, price, volume)
            for symbol, price, _, volume, ts in ticks
        ]
        highs = self._new_highs(tick_highs(ticks))
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "UPDATE quotes SET price = ?1, change_pct = COALESCE(?2, change_pct), "
                "volume = COALESCE(?3, volume), "
                "rvol = CASE WHEN avg_volume > 0 THEN CAST(COALESCE(?3, volume) AS REAL) "
                "/ avg_volume END, "
                "high = MAX(COALESCE(high, ?1), ?1), low = MIN(COALESCE(low, ?1), ?1), "
                "quote_ts = ?4, fetched_at = ?5, source = 'stream' "
                "WHERE symbol = ?6 AND COALESCE(quote_ts, 0) <= ?4",
                rows,
            )
            moved = conn.total_changes - before
            conn.executemany(
                "INSERT OR REPLACE INTO quote_history (symbol, ts, price, volume) "
                "VALUES (?, ?, ?, ?)",
                history,
            )
            upsert_highs(conn, highs)
        self._wrote_highs(highs)
        return moved

    def store_movers(
        self,
        rows: Sequence[MoverRow],
        *,
        fetched_at: float,
        run_id: int | None = None,
        credits_used: int = 0,
        credits_at: float | None = None,
    ) -> set[str]:
        """A /market_movers answer's rows (universe members of today's session) onto their
        stored quotes, as source "movers", and the credits the request took, in one
        transaction.

        A row carries the last price, the change and the day's volume: it moves a quote that
        is whole (one with an average volume, from /quote), keeping its open and average
        volume (relative volume recomputed from them), and never overwrites a newer one. A
        row for a name without a whole quote is left for a /quote. Returns the symbols whose
        quotes it moved (the run counts them)."""
        moved: set[str] = set()
        history = []
        with self.transaction() as conn:
            for r in rows:
                stamp = r.quote_ts
                cursor = conn.execute(
                    "UPDATE quotes SET price = ?1, high = COALESCE(?2, high), "
                    "low = COALESCE(?3, low), prev_close = ?4, change_pct = ?5, "
                    "volume = COALESCE(?6, volume), "
                    "rvol = CAST(COALESCE(?6, volume) AS REAL) / avg_volume, market_open = 1, "
                    "quote_ts = ?7, fetched_at = ?8, source = 'movers', extended = 0, "
                    "regular_price = NULL, regular_change_pct = NULL "
                    "WHERE symbol = ?9 AND avg_volume > 0 "
                    "AND COALESCE(quote_ts, 0) <= COALESCE(?7, quote_ts + 1, 1)",
                    (
                        r.last,
                        r.high,
                        r.low,
                        r.prev_close,
                        r.percent_change,
                        r.volume,
                        stamp,
                        fetched_at,
                        r.symbol,
                    ),
                )
                if cursor.rowcount:
                    moved.add(r.symbol)
                    ts = int(fetched_at if stamp is None else stamp)
                    history.append((r.symbol, ts - ts % HISTORY_BUCKET_OPEN, r.last, r.volume))
            conn.executemany(
                "INSERT OR REPLACE INTO quote_history (symbol, ts, price, volume) "
                "VALUES (?, ?, ?, ?)",
                history,
            )
            if run_id is not None:
                conn.execute(
                    "UPDATE refresh_runs SET quotes = quotes + ?, credits_used = credits_used + ? "
                    "WHERE id = ?",
                    (len(moved), credits_used, run_id),
                )
            if credits_at is not None and credits_used:
                conn.execute(
                    "INSERT INTO credit_ledger (ts, credits) VALUES (?, ?)",
                    (credits_at, credits_used),
                )
        return moved

    def credit_entries(self, since: float, *, now: float | None = None) -> list[tuple[float, int]]:
        """Credits spent since `since` (Unix seconds), oldest first.

        With `now` (the wall clock), entries stamped after it (written before the clock was
        set back) are first clamped to `now`, in the database too: they then count for one
        window from now, not until the clock catches up with them, which would make every
        start wait on them again.

        Raises:
            sqlite3.Error: with `now`, the clamp could not be written (disk full, locked).
        """
        if now is not None:
            with self.transaction() as conn:
                conn.execute("UPDATE credit_ledger SET ts = ? WHERE ts > ?", (now, now))
        return [
            (float(ts), int(credits))
            for ts, credits in self.conn.execute(
                "SELECT ts, credits FROM credit_ledger WHERE ts >= ? ORDER BY ts", (since,)
            )
        ]

    def quote_ages(self) -> dict[str, float]:
        """fetched_at of every stored quote, for scheduling the next sweep."""
        return dict(self.conn.execute("SELECT symbol, fetched_at FROM quotes"))
