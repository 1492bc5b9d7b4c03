"""Quotes: a poll's batch (with its history, refused symbols, the run's counters and the
credits it took), the stream's ticks, /market_movers rows, and the credit ledger.

Each write sets the quote's three relative volumes (rvol.py): `rvol` at the time of day,
`rvol_day` the whole day's, `rvol_5m` the last five minutes' (names the stream carries). Their
usual volumes come from this connection's cache (store/profiles.py): a poll's are computed
here, a tick's and a movers row's are bound as parts (the profile's figure, or the curve's
share for SQLite to multiply by the stored average volume)."""

from __future__ import annotations

from collections.abc import Sequence

from .. import rvol
from ..models import MoverRow, Quote, SymbolError
from .highs import HighsMixin, quote_highs, tick_highs, upsert_highs
from .profiles import ProfilesMixin, RvolCache
from .universe import UniverseMixin

#: Intraday history resolution: one sample per symbol per bucket, the latest wins. Five minutes
#: in the regular session, thirty outside it: about 97 rows a symbol a day, which keeps a day
#: of 8,000 symbols under 30 MB (bench/pipeline.py measures it).
HISTORY_BUCKET_OPEN = 300
HISTORY_BUCKET_EXTENDED = 1800


#: A tick's or movers row's relative volumes as bound: (the time-of-day usual from the
#: profile or None, the curve's share or None before the open, the 5-minute window's shares
#: or None, its usual from the profile or None, its curve share or None).
RvolParts = tuple[float | None, float | None, float | None, float | None, float | None]
_NO_PARTS: RvolParts = (None, None, None, None, None)

#: SQL of the three figures from the bound parts (a: usual, b: share, c: 5-minute shares,
#: d: its usual, e: its share) and the volume the row now holds.
_RVOL_SET = (
    "rvol = CAST({volume} AS REAL) / NULLIF(COALESCE({a}, avg_volume * {b}), 0), "
    "rvol_day = CAST({volume} AS REAL) / NULLIF(avg_volume, 0), "
    "rvol_5m = {c} / NULLIF(COALESCE({d}, avg_volume * {e}), 0)"
)

_TICK_RVOL = _RVOL_SET.format(
    volume="COALESCE(?3, volume)", a="?7", b="?8", c="?9", d="?10", e="?11"
)
_MOVERS_RVOL = _RVOL_SET.format(
    volume="COALESCE(?6, volume)", a="?10", b="?11", c="?12", d="?13", e="?14"
)


#: A quote time's session facts (`_facts`): minutes since the open for RVol (None before
#: it), the curve's share by then, whether it is in the regular session, a full session.
Facts = tuple[float | None, float, bool, bool]


def _facts(clock: rvol.SessionClock, at: float) -> Facts:
    minutes = rvol.minutes_at(at, clock)
    share = 0.0 if minutes is None else rvol.volume_share_by(clock.curve_minutes(minutes))
    return minutes, share, clock.in_session(at), clock.full


def _parts(
    cache: RvolCache,
    facts: dict[float, Facts],
    symbol: str,
    volume: int | None,
    at: float,
    *,
    remember: bool,
) -> RvolParts:
    """The parts of a tick's or movers row's figures (`RvolParts`), with `facts` the batch's
    session facts by time (filled as met: a batch's rows share a few times); with `remember`,
    its volume joins the stream's recent volumes for later windows."""
    known = facts.get(at)
    if known is None:
        known = facts[at] = _facts(cache.clock, at)
    minutes, share, in_session, full = known
    if minutes is None:
        return _NO_PARTS
    profiles = cache.profiles
    profile = profiles.get(symbol) if profiles else None
    usual = rvol.usual_by(profile, minutes) if profile is not None and full else None
    if volume is None or not in_session:
        return usual, share, None, None, None
    clock, recent = cache.clock, cache.recent
    traded = usual5 = share5 = None
    window = rvol.window_5m(volume, at, recent.before(symbol, at), clock)
    if window is not None:
        start, end, traded = window
        usual5, share5 = rvol.window_parts(start, end, profile, clock)
    if remember:
        recent.add(symbol, at, volume)
    return usual, share, traded, usual5, share5


class QuotesMixin(HighsMixin, UniverseMixin, ProfilesMixin):
    """Quote writes (a universe mixin too: a batch fills in the names its universe lacks; a
    highs one: a batch moves the highs of the day; and a profiles one: the usual volumes)."""

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
        now = int(fetched_at)
        cache = self.rvol_cache
        clock, profiles, recent = cache.clock, cache.profiles or {}, cache.recent
        # A batch's quotes mostly share a few times: each time's session facts once.
        times: dict[float, Facts] = {}
        rows = []
        history = []
        for q in quotes:
            ts = now if q.quote_ts is None else q.quote_ts
            at = times.get(ts)
            if at is None:
                at = times[ts] = _facts(clock, ts)
            minutes, share, in_session, full = at
            volume, avg = q.volume, q.avg_volume
            by_time = day = in_5m = None
            if volume is not None:
                if avg:
                    day = volume / avg
                if minutes is not None:
                    profile = profiles.get(q.symbol)
                    usual = rvol.usual_by(profile, minutes) if profile and full else None
                    if usual is None and avg:
                        usual = avg * share
                    if usual:
                        by_time = volume / usual
                    if in_session and q.symbol in recent:
                        before = recent.before(q.symbol, ts)
                        in_5m = rvol.rvol_5m(volume, ts, before, avg, profile, clock=clock)
            # Tuples spelled out: attribute loads on the Struct build them in about a third of
            # the time an attrgetter's call and a tuple concatenation take.
            rows.append(
                (q.symbol, q.price, q.open, q.high, q.low, q.prev_close, q.change_pct, volume,
                 avg, q.market_open, q.quote_ts, q.source, q.extended, q.regular_price,
                 q.regular_change_pct, fetched_at, by_time, day, in_5m)
            )  # fmt: skip
            # The bucket by the quote's own time: a quote of the session after its close (its
            # last minute's) is the session's last sample, not an after-hours one.
            size = HISTORY_BUCKET_OPEN if in_session else HISTORY_BUCKET_EXTENDED
            history.append((q.symbol, ts - ts % size, q.price, volume))
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
            conn.executemany(
                "INSERT INTO quotes (symbol, price, open, high, low, prev_close, change_pct, "
                "volume, avg_volume, market_open, quote_ts, source, extended, regular_price, "
                "regular_change_pct, fetched_at, rvol, rvol_day, rvol_5m) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                "?16, ?17, ?18, ?19) "
                "ON CONFLICT (symbol) DO UPDATE SET price = excluded.price, "
                "open = excluded.open, high = excluded.high, low = excluded.low, "
                "prev_close = excluded.prev_close, change_pct = excluded.change_pct, "
                "volume = excluded.volume, avg_volume = excluded.avg_volume, "
                "rvol = excluded.rvol, rvol_day = excluded.rvol_day, "
                "rvol_5m = excluded.rvol_5m, market_open = excluded.market_open, "
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
        cache = self.rvol_cache
        facts: dict[float, Facts] = {}
        rows = [
            (price, change, volume, ts, fetched_at, symbol,
             *_parts(cache, facts, symbol, volume, ts, remember=True))
            for symbol, price, change, volume, ts in ticks
        ]  # fmt: skip
        history = [
            (symbol, ts - ts % HISTORY_BUCKET_OPEN, price, volume)
            for symbol, price, _, volume, ts in ticks
        ]
        highs = self._new_highs(tick_highs(ticks))
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "UPDATE quotes SET price = ?1, change_pct = COALESCE(?2, change_pct), "
                "volume = COALESCE(?3, volume), " + _TICK_RVOL + ", "
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
        cache = self.rvol_cache
        facts: dict[float, Facts] = {}
        with self.transaction() as conn:
            for r in rows:
                stamp = r.quote_ts
                cursor = conn.execute(
                    "UPDATE quotes SET price = ?1, high = COALESCE(?2, high), "
                    "low = COALESCE(?3, low), prev_close = ?4, change_pct = ?5, "
                    "volume = COALESCE(?6, volume), " + _MOVERS_RVOL + ", market_open = 1, "
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
                        *_parts(
                            cache,
                            facts,
                            r.symbol,
                            r.volume,
                            fetched_at if stamp is None else stamp,
                            remember=False,
                        ),
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
