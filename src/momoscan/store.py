"""The SQLite cache: schema, migrations and every write.

One writer (the engine, from a single worker thread), any number of readers (the TUI, the headless
printer), WAL mode so readers never wait for the writer and only ever see committed state. Each
refresh step (a universe load, a quote batch, an options day, a chain) is one transaction: kill
the process at any moment and the database holds the last complete state, never half a batch.

sqlite-utils builds the schema and serves simple reads; the hot write paths (thousands of quotes
a sweep, 30,000 contracts a chain) use prepared statements with `executemany`, several times
faster than row-by-row upserts.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import leaders as leader_rules
from ._lean import import_without
from .models import (
    Leader,
    MoverRow,
    OptionChain,
    Quote,
    SymbolError,
    Ticker,
    UnderlyingVolume,
)

if TYPE_CHECKING:
    import sqlite_utils


_SQLITE_UTILS_LOCK = threading.Lock()


def _sqlite_utils() -> ModuleType:
    """sqlite-utils, imported when a schema is created or migrated (a new database file, or one
    from an older momoscan), never for an open of a current one: with its click and pluggy, it
    is 60 ms of every start otherwise.

    It imports pandas and numpy at import time whenever they are installed (for its DataFrame
    helpers, which momoscan never calls): 0.2-0.4 s and 35 MB. It works without them, so they
    are hidden while it imports. The hiding is process-wide: a run first opens its database
    in `runtime.check_db_mode`, before any other of its threads starts work (and after numpy
    is imported for the scheduler, so only pandas is hidden then); the lock keeps two stores
    opened at once on different threads from seeing a half-imported module."""
    with _SQLITE_UTILS_LOCK:
        return import_without("sqlite_utils", hidden=("pandas", "numpy"))


#: Intraday history resolution: one sample per symbol per bucket, the latest wins. Five minutes
#: in the regular session, thirty outside it: about 97 rows a symbol a day, which keeps a day
#: of 8,000 symbols under 30 MB (bench/pipeline.py measures it).
HISTORY_BUCKET_OPEN = 300
HISTORY_BUCKET_EXTENDED = 1800
#: Per-underlying volumes and daily leaders are kept this long (the history screen and trends).
DAILY_RETENTION_DAYS = 366


class StoreError(Exception):
    """The database cannot be used (newer schema, not a momoscan database, unreadable,
    read-only, locked). `str()` is the one sentence the user sees, saying what to do."""


#: How long opening waits for another program's write lock before saying the file is locked.
LOCK_WAIT = 3.0


def _open_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """The sentence for a database that cannot be opened for writing."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return StoreError(
            f"{path} is read-only (or its directory is): make both writable, or point --db "
            "(or [store] path) at another file"
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            f"{path} is locked by another program (an open sqlite3 shell, a backup?): close "
            "it, or point --db (or [store] path) at another file"
        )
    if "unable to open" in text:
        return StoreError(
            f"{path} cannot be opened ({exc}): check that the file and its directory exist "
            "and are writable"
        )
    return StoreError(f"{path} is not a usable momoscan database ({exc})")


# ---------------------------------------------------------------------------------------------
# Schema and migrations. Each migration takes the database from version N-1 to N, in one
# transaction; never edit one that has shipped, add the next.


def _migration_1(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("tickers").create(
        {
            "symbol": str,
            "name": str,
            "exchange": str,
            "mic": str,
            "cap_tier": str,
            "sector": str,
            "category": str,
            "source": str,
            "updated_at": float,
        },
        pk="symbol",
        not_null={"symbol", "name"},
    )
    db.table("tickers").create_index(["cap_tier"])
    db.table("quotes").create(
        {
            "symbol": str,
            "price": float,
            "open": float,
            "high": float,
            "low": float,
            "prev_close": float,
            "change_pct": float,
            "volume": int,
            "avg_volume": int,
            "rvol": float,
            "market_open": int,
            "quote_ts": int,
            "fetched_at": float,
        },
        pk="symbol",
        not_null={"symbol", "price", "fetched_at"},
    )
    db.table("symbol_errors").create(
        {"symbol": str, "code": int, "message": str, "at": float, "count": int},
        pk="symbol",
    )
    db.table("refresh_runs").create(
        {
            "id": int,
            "kind": str,
            "mode": str,
            "started_at": float,
            "finished_at": float,
            "status": str,
            "symbols": int,
            "quotes": int,
            "credits_used": int,
            "errors": int,
            "message": str,
        },
        pk="id",
    )
    # Big, append-mostly tables: WITHOUT ROWID stores each row once, in key order, which
    # roughly halves their size against a rowid table with a separate primary-key index.
    # option_contracts is keyed (day, underlying, contract): a chain is read and replaced by
    # (day, underlying), a prefix of the key, so it needs no second index.
    # (Not `quotes`: its upserts come in sweep order, which a rowid table keeps together on
    # few pages; keyed by symbol, each batch would dirty pages all over the table.)
    db.executescript(
        """
        CREATE TABLE quote_history (
            symbol TEXT NOT NULL,
            ts INTEGER NOT NULL,
            price REAL NOT NULL,
            volume INTEGER,
            PRIMARY KEY (symbol, ts)
        ) WITHOUT ROWID;
        CREATE TABLE option_underlyings (
            day TEXT NOT NULL,
            source TEXT NOT NULL,
            underlying TEXT NOT NULL,
            total INTEGER NOT NULL,
            calls INTEGER NOT NULL,
            puts INTEGER NOT NULL,
            as_of REAL,
            PRIMARY KEY (day, source, underlying)
        ) WITHOUT ROWID;
        CREATE TABLE option_contracts (
            day TEXT NOT NULL,
            contract TEXT NOT NULL,
            underlying TEXT NOT NULL,
            expiry TEXT NOT NULL,
            strike REAL NOT NULL,
            right TEXT NOT NULL,
            volume INTEGER NOT NULL,
            open_interest INTEGER NOT NULL,
            iv REAL,
            last REAL,
            last_trade INTEGER,
            PRIMARY KEY (day, underlying, contract)
        ) WITHOUT ROWID;
        CREATE TABLE option_leaders (
            day TEXT NOT NULL,
            rank INTEGER NOT NULL,
            underlying TEXT NOT NULL,
            total INTEGER NOT NULL,
            calls INTEGER NOT NULL,
            puts INTEGER NOT NULL,
            is_new INTEGER NOT NULL,
            streak INTEGER NOT NULL,
            rank_change INTEGER,
            volume_ratio REAL,
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (day, rank)
        ) WITHOUT ROWID;
        """
    )


def _migration_2(db: sqlite_utils.Database) -> None:
    # The Twelve Data credits each request took, with when: a run that starts while a previous
    # run's credits still count (cron, a restart) must not spend them again.
    db.executescript(
        """
        CREATE TABLE credit_ledger (
            ts REAL NOT NULL,
            credits INTEGER NOT NULL
        );
        CREATE INDEX credit_ledger_ts ON credit_ledger (ts);
        """
    )


def _migration_3(db: sqlite_utils.Database) -> None:
    # Where each quote came from (a /quote poll or the price stream), and whether its price is
    # a pre-market or after-hours one, with the last regular session's price and change beside
    # it (Twelve Data's extended_* fields, asked for with prepost).
    db.executescript(
        """
        ALTER TABLE quotes ADD COLUMN source TEXT NOT NULL DEFAULT 'poll';
        ALTER TABLE quotes ADD COLUMN extended INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE quotes ADD COLUMN regular_price REAL;
        ALTER TABLE quotes ADD COLUMN regular_change_pct REAL;
        """
    )


def _migration_4(db: sqlite_utils.Database) -> None:
    # The watchlist lives here, edited in the app; the config's list only seeds it. A removed
    # symbol keeps its row (removed_at set), so the seed never brings it back.
    # The alert rules' state (a row: the rule fired for the symbol and has not re-armed yet),
    # kept here so that a cron job running --once fires once per crossing too; and what fired.
    db.executescript(
        """
        CREATE TABLE watchlist (
            symbol TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            origin TEXT NOT NULL,
            added_at REAL NOT NULL,
            removed_at REAL
        );
        CREATE TABLE alert_state (
            rule TEXT NOT NULL,
            symbol TEXT NOT NULL,
            fired_at REAL NOT NULL,
            PRIMARY KEY (rule, symbol)
        ) WITHOUT ROWID;
        CREATE TABLE alert_events (
            id INTEGER PRIMARY KEY,
            day TEXT NOT NULL,
            at REAL NOT NULL,
            rule TEXT NOT NULL,
            name TEXT NOT NULL,
            symbol TEXT NOT NULL,
            message TEXT NOT NULL,
            price REAL,
            change_pct REAL,
            rvol REAL,
            options_share REAL
        );
        CREATE INDEX alert_events_day ON alert_events (day, at);
        """
    )


#: Columns holding outside text (names, exchanges, a server's messages) that are not keys.
OUTSIDE_TEXT: dict[str, tuple[str, ...]] = {
    "tickers": ("name", "exchange", "mic", "sector", "category"),
    "symbol_errors": ("message",),
    "refresh_runs": ("message",),
    "alert_events": ("name", "message"),
}


def _migration_clean_text(db: sqlite_utils.Database) -> None:
    # Outside text is cleaned where it is parsed (sanitize.clean) since this version; what an
    # older version stored (a company name holding OSC 52, say) is cleaned once here.
    from .sanitize import clean

    def cleaned(text: str | None) -> str | None:
        return clean(text) if isinstance(text, str) else text

    db.conn.create_function("momoscan_clean", 1, cleaned, deterministic=True)
    for table, columns in OUTSIDE_TEXT.items():
        for column in columns:
            db.execute(
                f"UPDATE {table} SET {column} = momoscan_clean({column}) "
                f"WHERE {column} != momoscan_clean({column})"
            )


def _migration_run_owners(db: sqlite_utils.Database) -> None:
    # Which process runs a refresh (host, pid, and a token of the process, as a pid is reused:
    # one container's momoscan is pid 1 after every restart), so that the next start can close
    # the runs a killed process left 'running' while leaving those of live processes alone.
    # The partial index keeps that look-up to the few running rows of a year of runs.
    for column, kind in (("host", "TEXT"), ("pid", "INTEGER"), ("token", "TEXT")):
        db.execute(f"ALTER TABLE refresh_runs ADD COLUMN {column} {kind}")
    db.execute(
        "CREATE INDEX refresh_runs_running ON refresh_runs (status) WHERE status = 'running'"
    )


def _migration_collector_requests(db: sqlite_utils.Database) -> None:
    # What viewers ask of the collector (refresh now, watchlist edits), and its answers: one
    # process collects for a database, the others read it and ask here (see collector.py).
    db.executescript(
        """
        CREATE TABLE collector_requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            arg TEXT NOT NULL DEFAULT '',
            made_at REAL NOT NULL,
            taken_at REAL,
            answered_at REAL,
            ok INTEGER,
            answer TEXT
        );
        CREATE INDEX collector_requests_open ON collector_requests (taken_at, id);
        """
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_clean_text,
    _migration_run_owners,
    _migration_collector_requests,
]
SCHEMA_VERSION = len(MIGRATIONS)


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    kind: str
    mode: str
    started_at: float
    finished_at: float | None
    status: str
    symbols: int
    quotes: int
    credits_used: int
    errors: int
    message: str


#: A run from before owners were recorded (schema 6) is closed as abandoned once this old.
ABANDONED_UNOWNED_AFTER = 86400.0

_TOKENS: dict[int, str] = {}


@dataclass(frozen=True, slots=True)
class RunOwner:
    """The process a refresh run belongs to: host name, pid, and a random token drawn once
    per process (a pid alone is reused, by a restarted container's pid 1 for one)."""

    host: str
    pid: int
    token: str

    @classmethod
    def this_process(cls) -> RunOwner:
        pid = os.getpid()
        # Keyed by pid: a forked child draws its own.
        token = _TOKENS.setdefault(pid, secrets.token_hex(8))
        return cls(socket.gethostname(), pid, token)


def _process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (another user's counts)."""
    if pid <= 0:
        return True  # not a pid momoscan wrote: say alive, leave the run alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # PermissionError: it exists, under another user
    return True


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode, waiting up to LOCK_WAIT seconds for the lock it needs.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once rather than through the busy handler while another connection holds any
    lock on it: momoscans opening one new file at the same moment (serve's tabs, a cron run
    beside the app) failed 19 times in 320 opens (8 at a time) without the wait.
    """
    deadline = time.monotonic() + LOCK_WAIT
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            conn.execute("PRAGMA journal_mode = wal")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Store:
    """One connection to the cache. Use it from the thread that opened it."""

    def __init__(self, path: Path | str, *, create: bool = True):
        self.path = Path(path)
        self._unnamed: set[str] | None = None
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreError(f"no database at {self.path}: run a refresh first")
        try:
            # Autocommit mode: transactions are explicit (`transaction()`), never implicit.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=LOCK_WAIT)
            self.conn = conn
            self._db: sqlite_utils.Database | None = None
            conn.execute(f"PRAGMA busy_timeout = {int(LOCK_WAIT * 1000)}")
            _use_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a crash loses no commit
            # Checkpoint every ~16 MB of WAL rather than 4 MB: a sweep of 8,000 quotes writes a
            # few MB, and each checkpoint costs a sweep several milliseconds.
            conn.execute("PRAGMA wal_autocheckpoint = 4000")
            self._migrate()
            # A read-only or locked file is said now, in a sentence, rather than at the first
            # write of a refresh: take the write lock once, and give it back.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('opened', '') "
                "ON CONFLICT (key) DO UPDATE SET value = value"
            )
            conn.execute("ROLLBACK")
            # Once open, writers wait their turn (another momoscan's long transaction).
            conn.execute("PRAGMA busy_timeout = 30000")
        except sqlite3.Error as exc:
            with contextlib.suppress(Exception):
                self.conn.close()
            raise _open_error(self.path, exc) from None

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: all or nothing."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            # Also after a failed COMMIT (a full disk): SQLite may leave the transaction open,
            # and every later BEGIN would fail with "cannot start a transaction within a
            # transaction" long after the disk has room again.
            if self.conn.in_transaction:
                # A rollback that fails too leaves the first error to tell; the engine then
                # opens the database afresh (StoreThread.reopen).
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        self.conn.execute("BEGIN DEFERRED")
        try:
            yield self.conn
        finally:
            self.conn.execute("COMMIT")

    @property
    def db(self) -> sqlite_utils.Database:
        """The connection as a `sqlite_utils.Database` (schema work; imported on first use)."""
        if self._db is None:
            self._db = _sqlite_utils().Database(self.conn)
        return self._db

    def schema_version(self) -> int:
        meta = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if meta is None:
            return 0
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer momoscan (schema {current}, this one knows "
                f"{SCHEMA_VERSION}); upgrade momoscan or point --db at another file"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                # Read again under the write lock: another momoscan opening the same new file
                # at the same moment (serve's tabs, a cron run) may have migrated it meanwhile,
                # and running a migration twice fails ('table meta already exists').
                if self.schema_version() >= version:
                    continue
                MIGRATIONS[version - 1](self.db)
                self._set_meta("schema_version", str(version))

    # -- meta --------------------------------------------------------------------------------

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._set_meta(key, value)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    # -- universe ----------------------------------------------------------------------------

    def replace_universe(
        self, tickers: Sequence[Ticker], *, source: str, as_of: date, fetched_at: float
    ) -> None:
        """Swap the whole universe in one transaction, with where and when it came from."""
        self._unnamed = None
        with self.transaction() as conn:
            conn.execute("DELETE FROM tickers")
            conn.executemany(
                "INSERT OR REPLACE INTO tickers (symbol, name, exchange, mic, cap_tier, sector, "
                "category, source, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        t.symbol,
                        t.name,
                        t.exchange,
                        t.mic,
                        t.cap_tier,
                        t.sector,
                        t.category,
                        source,
                        fetched_at,
                    )
                    for t in tickers
                ],
            )
            conn.execute("DELETE FROM quotes WHERE symbol NOT IN (SELECT symbol FROM tickers)")
            self._set_meta("universe_source", source)
            self._set_meta("universe_date", as_of.isoformat())
            self._set_meta("universe_size", str(len(tickers)))
            self._set_meta("universe_fetched_at", repr(fetched_at))

    def universe_symbols(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT symbol FROM tickers ORDER BY symbol")]

    # -- quotes ------------------------------------------------------------------------------

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
        (at `credits_at`), in one transaction."""
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

    def _unnamed_symbols(self) -> set[str]:
        """Universe members still without a name, exchange or MIC (kept in memory: usually
        none, and the quote path must not look every symbol up)."""
        if self._unnamed is None:
            self._unnamed = {
                row[0]
                for row in self.conn.execute(
                    "SELECT symbol FROM tickers WHERE name = '' OR name = symbol "
                    "OR COALESCE(mic, '') = '' OR COALESCE(exchange, '') = ''"
                )
            }
        return self._unnamed

    def store_stream_ticks(
        self, ticks: Sequence[tuple[str, float, float | None, int | None, int]], fetched_at: float
    ) -> int:
        """The stream's latest trade per symbol, (symbol, price, % change from the previous
        close, day volume in shares or None, the trade's Unix seconds), onto stored quotes in
        one transaction: a tick never creates a quote (its previous close, average volume and
        listing come from a poll), and an older tick never overwrites a newer quote. Returns
        how many quotes moved."""
        rows = [
            (price, change, volume, ts, fetched_at, symbol)
            for symbol, price, change, volume, ts in ticks
        ]
        history = [
            (symbol, ts - ts % HISTORY_BUCKET_OPEN, price, volume)
            for symbol, price, _, volume, ts in ticks
        ]
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

    # -- the watchlist -----------------------------------------------------------------------

    def seed_watchlist(self, symbols: Sequence[str], *, at: float) -> int:
        """Add the config's symbols the database has never held (a symbol removed in the app
        stays removed). Returns how many were added."""
        with self.transaction() as conn:
            before = conn.total_changes
            for symbol in symbols:
                conn.execute(
                    "INSERT OR IGNORE INTO watchlist (symbol, position, origin, added_at) "
                    "VALUES (?, (SELECT COALESCE(MAX(position), 0) + 1 FROM watchlist), "
                    "'config', ?)",
                    (symbol, at),
                )
            return conn.total_changes - before

    def watchlist(self) -> list[str]:
        """The watchlist, in the order its symbols were added."""
        return [
            row[0]
            for row in self.conn.execute(
                "SELECT symbol FROM watchlist WHERE removed_at IS NULL ORDER BY position"
            )
        ]

    def watch(self, symbol: str, *, at: float) -> bool:
        """Add `symbol` (at the end). False when it is already on the watchlist."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT removed_at FROM watchlist WHERE symbol = ?", (symbol,)
            ).fetchone()
            if row is not None and row[0] is None:
                return False
            conn.execute(
                "INSERT INTO watchlist (symbol, position, origin, added_at) "
                "VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM watchlist), 'app', ?2) "
                "ON CONFLICT (symbol) DO UPDATE SET removed_at = NULL, added_at = ?2, "
                "position = (SELECT COALESCE(MAX(position), 0) + 1 FROM watchlist)",
                (symbol, at),
            )
            return True

    def unwatch(self, symbol: str, *, at: float) -> bool:
        """Remove `symbol`, for good (the config's seed does not bring it back). False when
        it was not on the watchlist."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE watchlist SET removed_at = ? WHERE symbol = ? AND removed_at IS NULL",
                (at, symbol),
            )
            return cursor.rowcount > 0

    # -- alerts ------------------------------------------------------------------------------
    # The evaluation reads, decides and writes in one transaction (alerts.evaluate), so two
    # processes on one database (the app and a cron job) never fire the same crossing twice:
    # these helpers run inside it and open none of their own.

    def alert_states(self, rules: Sequence[str]) -> set[tuple[str, str]]:
        """(rule, symbol) pairs that have fired and not re-armed, for the given rule keys."""
        out: set[tuple[str, str]] = set()
        for i in range(0, len(rules), 500):
            chunk = rules[i : i + 500]
            marks = ",".join("?" for _ in chunk)
            out.update(
                self.conn.execute(
                    f"SELECT rule, symbol FROM alert_state WHERE rule IN ({marks})", chunk
                ).fetchall()
            )
        return out

    def record_alerts(
        self,
        fired: Sequence[tuple[str, str, str, str, float, str, Any, Any, Any, Any]],
        rearmed: Sequence[tuple[str, str]],
    ) -> None:
        """Inside a transaction: `fired` as (day, rule, name, symbol, at, message, price,
        change_pct, rvol, options_share), each now disarmed; `rearmed` (rule, symbol) armed."""
        self.conn.executemany(
            "DELETE FROM alert_state WHERE rule = ? AND symbol = ?", list(rearmed)
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO alert_state (rule, symbol, fired_at) VALUES (?, ?, ?)",
            [(rule, symbol, at) for _, rule, _, symbol, at, *_ in fired],
        )
        self.record_events(fired)

    def record_events(
        self, fired: Sequence[tuple[str, str, str, str, float, str, Any, Any, Any, Any]]
    ) -> None:
        """Inside a transaction: alert events that keep no rule state (the scanner's own
        entries), as (day, rule, name, symbol, at, message, price, change_pct, rvol,
        options_share)."""
        self.conn.executemany(
            "INSERT INTO alert_events (day, rule, name, symbol, at, message, price, "
            "change_pct, rvol, options_share) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            list(fired),
        )

    def put_meta(self, key: str, value: str) -> None:
        """Inside a transaction: set `key` in `meta` (`set_meta` opens a transaction of its
        own)."""
        self._set_meta(key, value)

    # -- the collector and its viewers -------------------------------------------------------

    def post_request(self, kind: str, arg: str = "", *, at: float) -> int:
        """A viewer's request to the collector (`kind`: "refresh", "watch", "unwatch"); its id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO collector_requests (kind, arg, made_at) VALUES (?, ?, ?)",
                (kind, arg, at),
            )
        return int(cursor.lastrowid or 0)

    def take_requests(self, *, at: float, max_age: float = 60.0) -> list[tuple[int, str, str]]:
        """The collector takes the requests not taken yet, oldest first, as (id, kind, arg);
        those older than `max_age` seconds (their viewer has given up) are answered as
        expired instead. Answered requests older than a day are deleted."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE collector_requests SET taken_at = ?, answered_at = ?, ok = 0, "
                "answer = 'expired' WHERE taken_at IS NULL AND made_at < ?",
                (at, at, at - max_age),
            )
            rows = conn.execute(
                "SELECT id, kind, arg FROM collector_requests WHERE taken_at IS NULL ORDER BY id"
            ).fetchall()
            if rows:
                conn.execute(
                    "UPDATE collector_requests SET taken_at = ? WHERE taken_at IS NULL", (at,)
                )
            conn.execute("DELETE FROM collector_requests WHERE made_at < ?", (at - 86_400.0,))
        return [(int(i), str(k), str(a)) for i, k, a in rows]

    def answer_request(self, request_id: int, ok: bool, answer: str, *, at: float) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE collector_requests SET answered_at = ?, ok = ?, answer = ? WHERE id = ?",
                (at, int(ok), answer, request_id),
            )

    def request_answer(self, request_id: int) -> tuple[bool, str] | None:
        """(ok, answer) once the collector has answered request `request_id`, else None."""
        row = self.conn.execute(
            "SELECT ok, answer FROM collector_requests WHERE id = ? AND answered_at IS NOT NULL",
            (request_id,),
        ).fetchone()
        return None if row is None else (bool(row[0]), str(row[1] or ""))

    def data_version(self) -> int:
        """SQLite's `PRAGMA data_version`: changes when another connection commits."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- refresh runs ------------------------------------------------------------------------

    def start_run(
        self,
        kind: str,
        mode: str,
        *,
        symbols: int = 0,
        at: float | None = None,
        owner: RunOwner | None = None,
    ) -> int:
        """A new run, `running`, owned by `owner` (this process by default); the runs that
        processes gone since left `running` are closed as `abandoned` in the same transaction
        (see `close_abandoned_runs`). Returns the run's id.

        Raises:
            sqlite3.Error: the database cannot be written (disk full, locked).
        """
        stamp = time.time() if at is None else at
        me = owner or RunOwner.this_process()
        with self.transaction() as conn:
            self._close_abandoned(conn, stamp, me)
            cursor = conn.execute(
                "INSERT INTO refresh_runs (kind, mode, started_at, status, symbols, quotes, "
                "credits_used, errors, message, host, pid, token) "
                "VALUES (?, ?, ?, 'running', ?, 0, 0, 0, '', ?, ?, ?)",
                (kind, mode, stamp, symbols, me.host, me.pid, me.token),
            )
            return int(cursor.lastrowid or 0)

    def close_abandoned_runs(self, *, at: float, owner: RunOwner | None = None) -> list[int]:
        """Close as `abandoned` the runs left `running` by a process that is gone; returns
        their ids. `at` (Unix seconds) becomes their `finished_at`.

        Several processes may share one database, so a run is closed only when its owner is
        known to be gone: on this host, no process has its pid any more, or the pid is this
        process's own but the token is not (a pid reused, as a container's pid 1 is). Runs of
        other hosts are left alone (nothing here can tell whether they live); runs from
        before owners were recorded are closed once a day old (no cycle lasts a day).
        """
        with self.transaction() as conn:
            return self._close_abandoned(conn, at, owner or RunOwner.this_process())

    def _close_abandoned(self, conn: sqlite3.Connection, at: float, me: RunOwner) -> list[int]:
        gone: list[tuple[int, str]] = []
        for run_id, host, pid, token, started in conn.execute(
            "SELECT id, host, pid, token, started_at FROM refresh_runs WHERE status = 'running'"
        ).fetchall():
            if host is None:
                if started < at - ABANDONED_UNOWNED_AFTER:
                    gone.append((run_id, "its process is unknown and it started a day ago"))
                continue
            if host != me.host or pid is None:
                continue
            if pid == me.pid:
                if token == me.token:
                    continue  # this process's own run, still going
            elif _process_alive(int(pid)):
                continue
            gone.append((run_id, f"its process (pid {pid} on {host}) ended before it finished"))
        conn.executemany(
            "UPDATE refresh_runs SET status = 'abandoned', finished_at = ?, message = ? "
            "WHERE id = ? AND status = 'running'",
            [(at, f"abandoned: {why}", run_id) for run_id, why in gone],
        )
        return [run_id for run_id, _ in gone]

    def finish_run(
        self,
        run_id: int,
        status: str,
        message: str = "",
        *,
        symbols: int | None = None,
        at: float | None = None,
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE refresh_runs SET status = ?, message = ?, finished_at = ?, "
                "symbols = COALESCE(?, symbols) WHERE id = ?",
                (status, message, time.time() if at is None else at, symbols, run_id),
            )

    # -- options -----------------------------------------------------------------------------

    def store_option_day(self, day: date, source: str, volumes: Iterable[UnderlyingVolume]) -> int:
        """Replace one day's per-underlying volumes from one source. Returns the row count."""
        return self.store_option_rows(
            day, source, [(v.underlying, v.total, v.calls, v.puts) for v in volumes]
        )

    def store_option_rows(
        self, day: date, source: str, volumes: Iterable[tuple[str, int, int, int]]
    ) -> int:
        """`store_option_day` from (underlying, total, calls, puts) rows, in contracts."""
        key = day.isoformat()
        now = time.time()
        rows = [(key, source, u, total, calls, puts, now) for u, total, calls, puts in volumes]
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM option_underlyings WHERE day = ? AND source = ?", (key, source)
            )
            conn.executemany(
                "INSERT INTO option_underlyings (day, source, underlying, total, calls, puts, "
                "as_of) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def store_chain(self, day: date, chain: OptionChain, volume: UnderlyingVolume) -> None:
        """One underlying's traded contracts for the day and its aggregate, in one transaction.

        Only contracts that traded today are kept: the drill-down is about where the volume
        went, and a big chain's untraded far strikes (a third of SPX's) would cost a third of
        the write time and of the disk for nothing shown.
        """
        key = day.isoformat()
        # Straight from the chain's columns: no per-contract object on this path.
        iso = {d: d.isoformat() for d in set(chain.expiries)}
        rows = itertools.compress(
            zip(
                itertools.repeat(key),
                chain.symbols,
                itertools.repeat(chain.underlying),
                [iso[d] for d in chain.expiries],
                chain.strikes,
                chain.rights,
                chain.volumes,
                chain.open_interest,
                chain.ivs,
                chain.lasts,
                chain.last_trades,
            ),
            chain.volumes,
        )
        as_of = chain.as_of.timestamp() if chain.as_of else time.time()
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM option_contracts WHERE day = ? AND underlying = ?",
                (key, chain.underlying),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO option_contracts (day, contract, underlying, expiry, "
                "strike, right, volume, open_interest, iv, last, last_trade) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute(
                "INSERT OR REPLACE INTO option_underlyings (day, source, underlying, total, "
                "calls, puts, as_of) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    volume.source,
                    volume.underlying,
                    volume.total,
                    volume.calls,
                    volume.puts,
                    as_of,
                ),
            )

    def option_days(self, source: str) -> list[date]:
        return [
            date.fromisoformat(row[0])
            for row in self.conn.execute(
                "SELECT DISTINCT day FROM option_underlyings WHERE source = ? ORDER BY day",
                (source,),
            )
        ]

    def daily_volumes(
        self, days: Sequence[date], source: str = "occ"
    ) -> dict[date, dict[str, tuple[int, int, int]]]:
        """{day: {underlying: (total, calls, puts)}} for the given days that have data."""
        return leader_rules.daily_volumes(self.conn, days, source)

    def store_leaders(self, day: date, leaders: Sequence[Leader]) -> None:
        key = day.isoformat()
        with self.transaction() as conn:
            conn.execute("DELETE FROM option_leaders WHERE day = ?", (key,))
            conn.executemany(
                "INSERT INTO option_leaders (day, rank, underlying, total, calls, puts, is_new, "
                "streak, rank_change, volume_ratio, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        key,
                        x.rank,
                        x.underlying,
                        x.total,
                        x.calls,
                        x.puts,
                        int(x.is_new),
                        x.streak,
                        x.rank_change,
                        x.volume_ratio,
                        x.reason,
                    )
                    for x in leaders
                ],
            )

    # -- housekeeping ------------------------------------------------------------------------

    def forget_after(self, at: float, today: date) -> int:
        """Drop what was stamped after `at` (Unix seconds, by the market clock): quotes and
        their history, Cboe chains and their contracts; and every day from `today` on of
        OCC's files and the leaders (OCC publishes a day after it); the alerts that fired
        after `at`, and the rules' state from them (a rule that fired at a later time is armed
        again). For a simulated clock started again from an earlier time. Returns the rows
        dropped."""
        key = today.isoformat()
        with self.transaction() as conn:
            dropped = conn.execute("DELETE FROM quotes WHERE quote_ts > ?", (at,)).rowcount
            dropped += conn.execute("DELETE FROM quote_history WHERE ts > ?", (at,)).rowcount
            gone = conn.execute(
                "SELECT day, underlying FROM option_underlyings WHERE source = 'cboe' "
                "AND (as_of > ? OR day > ?)",
                (at, key),
            ).fetchall()
            conn.executemany("DELETE FROM option_contracts WHERE day = ? AND underlying = ?", gone)
            conn.executemany(
                "DELETE FROM option_underlyings WHERE source = 'cboe' AND day = ? "
                "AND underlying = ?",
                gone,
            )
            dropped += len(gone)
            dropped += conn.execute(
                "DELETE FROM option_underlyings WHERE source = 'occ' AND day >= ?", (key,)
            ).rowcount
            dropped += conn.execute("DELETE FROM option_leaders WHERE day >= ?", (key,)).rowcount
            dropped += conn.execute("DELETE FROM alert_events WHERE at > ?", (at,)).rowcount
            dropped += conn.execute("DELETE FROM alert_state WHERE fired_at > ?", (at,)).rowcount
        return dropped

    def prune(self, today: date, *, history_days: int, contract_days: int) -> None:
        """Drop what is past its retention. Each table in its own short transaction."""
        history_cutoff = datetime.combine(today - timedelta(days=history_days), datetime.min.time())
        contract_cutoff = (today - timedelta(days=contract_days - 1)).isoformat()
        daily_cutoff = (today - timedelta(days=DAILY_RETENTION_DAYS)).isoformat()
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM quote_history WHERE ts < ?", (int(history_cutoff.timestamp()),)
            )
        with self.transaction() as conn:
            conn.execute("DELETE FROM option_contracts WHERE day < ?", (contract_cutoff,))
        with self.transaction() as conn:
            conn.execute("DELETE FROM option_underlyings WHERE day < ?", (daily_cutoff,))
            conn.execute("DELETE FROM option_leaders WHERE day < ?", (daily_cutoff,))
            conn.execute(
                "DELETE FROM refresh_runs WHERE started_at < ?",
                (time.time() - DAILY_RETENTION_DAYS * 86400,),
            )
            conn.execute("DELETE FROM credit_ledger WHERE ts < ?", (time.time() - 3 * 86400,))
            conn.execute("DELETE FROM alert_events WHERE day < ?", (daily_cutoff,))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query and return each row as a dict keyed by column name."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
