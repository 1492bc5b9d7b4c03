"""The schema and its migrations. Each migration takes the database from version N-1 to N, in one
transaction; never edit one that has shipped, add the next.

sqlite-utils builds the schema: it is imported here, when a schema is created or migrated, and
never for an open of a current one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

from .._lean import import_without

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
    from ..sanitize import clean

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


def _migration_halts(db: sqlite_utils.Database) -> None:
    # Trading halts as Nasdaq Trader's feed says them, one row an event: a halt is known by
    # (symbol, halt day, halt time), and its reason and resumption change in place between
    # polls (store/halts.py). first_seen/last_seen are the market clock's Unix seconds of the
    # first and latest poll that held it. Rule 201 restrictions, one row a trigger day and
    # source ('list': Nasdaq Trader's daily file; 'rule': momoscan saw the 10% fall itself).
    # Their outside text (names, markets, codes) is cleaned by the parser, as every outside
    # text since the cleaning migration: not listed in OUTSIDE_TEXT, which that migration
    # walks on databases where these tables do not exist yet.
    db.executescript(
        """
        CREATE TABLE halts (
            symbol TEXT NOT NULL,
            halt_day TEXT NOT NULL,
            halted_at REAL NOT NULL,
            reason TEXT NOT NULL,
            market TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            resume_quote_at REAL,
            resume_trade_at REAL,
            threshold REAL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (symbol, halt_day, halted_at)
        ) WITHOUT ROWID;
        CREATE INDEX halts_day ON halts (halt_day);
        CREATE INDEX halts_resume ON halts (resume_trade_at);
        CREATE TABLE ssr (
            symbol TEXT NOT NULL,
            trigger_day TEXT NOT NULL,
            source TEXT NOT NULL,
            triggered_at REAL,
            name TEXT NOT NULL DEFAULT '',
            seen_at REAL NOT NULL,
            PRIMARY KEY (symbol, trigger_day, source)
        ) WITHOUT ROWID;
        CREATE INDEX ssr_day ON ssr (trigger_day);
        """
    )


def _migration_day_highs(db: sqlite_utils.Database) -> None:
    # Each name's high of the regular session (store/highs.py): one row a symbol, holding its
    # latest session day (US/Eastern); a price of a later day starts the row afresh. And the
    # event an event-like alert rule (new_high, halt, resume, ssr) last fired for, beside its
    # state row (alerts.py): the same new high or halt never fires twice, across processes.
    db.executescript(
        """
        CREATE TABLE day_highs (
            symbol TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            high REAL NOT NULL,
            count INTEGER NOT NULL,
            at REAL NOT NULL
        ) WITHOUT ROWID;
        ALTER TABLE alert_state ADD COLUMN event TEXT;
        """
    )


def _migration_fundamentals(db: sqlite_utils.Database) -> None:
    # Float and short interest (store/fundamentals.py): one row a symbol of what SEC's company
    # facts say (shares outstanding and public float, each with its as-of date, and the float
    # as a share count the engine estimated, with its basis); FINRA's short interest a symbol
    # and settlement date; FINRA's consolidated short sale volume a symbol and trade date.
    # Unknown figures are NULL, never 0; dates ISO YYYY-MM-DD.
    db.executescript(
        """
        CREATE TABLE floats (
            symbol TEXT PRIMARY KEY,
            cik INTEGER,
            shares_outstanding INTEGER,
            shares_as_of TEXT,
            public_float_usd REAL,
            float_as_of TEXT,
            float_shares INTEGER,
            float_basis TEXT,
            fetched_at REAL
        );
        CREATE TABLE short_interest (
            symbol TEXT NOT NULL,
            settlement TEXT NOT NULL,
            short_shares INTEGER,
            previous_shares INTEGER,
            avg_daily_volume INTEGER,
            days_to_cover REAL,
            PRIMARY KEY (symbol, settlement)
        ) WITHOUT ROWID;
        CREATE TABLE short_volume (
            symbol TEXT NOT NULL,
            day TEXT NOT NULL,
            short_volume REAL,
            total_volume REAL,
            PRIMARY KEY (symbol, day)
        ) WITHOUT ROWID;
        """
    )


def _migration_signals(db: sqlite_utils.Database) -> None:
    # Every signal momoscan raised (signals.py), once per (kind, symbol, at), and what followed
    # it at each horizon (engine/outcomes.py): the records beside the signals read these.
    # `final` is set once no horizon is pending any more (the job never looks at it again).
    db.executescript(
        """
        CREATE TABLE signals (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            symbol TEXT NOT NULL,
            day TEXT NOT NULL,
            at REAL NOT NULL,
            price REAL,
            price_at REAL,
            direction INTEGER NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '',
            final INTEGER NOT NULL DEFAULT 0,
            UNIQUE (kind, symbol, at)
        );
        CREATE INDEX signals_day ON signals (day, kind);
        CREATE INDEX signals_open ON signals (at) WHERE final = 0;
        CREATE TABLE signal_outcomes (
            signal_id INTEGER NOT NULL,
            horizon TEXT NOT NULL,
            status TEXT NOT NULL,
            move_pct REAL,
            price REAL,
            price_at REAL,
            age REAL,
            PRIMARY KEY (signal_id, horizon)
        ) WITHOUT ROWID;
        """
    )


def _migration_filings(db: sqlite_utils.Database) -> None:
    # SEC EDGAR (store/filings.py): the SEC's ticker map as last read whole (one row a ticker
    # as the SEC writes it, BRK-B), and the filings of universe companies, one row an
    # accession; items comma-joined ("2.02,9.01"), accepted_at Unix seconds. Outside text is
    # cleaned by the parser.
    db.executescript(
        """
        CREATE TABLE sec_tickers (
            ticker TEXT PRIMARY KEY,
            cik INTEGER NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            exchange TEXT NOT NULL DEFAULT '',
            fetched_at REAL
        ) WITHOUT ROWID;
        CREATE INDEX sec_tickers_cik ON sec_tickers (cik);
        CREATE TABLE filings (
            accession TEXT PRIMARY KEY,
            cik INTEGER NOT NULL,
            symbol TEXT NOT NULL DEFAULT '',
            form TEXT NOT NULL,
            items TEXT NOT NULL DEFAULT '',
            accepted_at REAL NOT NULL,
            company TEXT NOT NULL DEFAULT '',
            url TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT 'other'
        ) WITHOUT ROWID;
        CREATE INDEX filings_accepted ON filings (accepted_at);
        CREATE INDEX filings_cik ON filings (cik, accepted_at);
        """
    )


def _migration_rvol(db: sqlite_utils.Database) -> None:
    # RVol as traders mean it (rvol.py): quotes.rvol is now at the time of day; the whole-day
    # figure (volume / average daily volume) moves to rvol_day, and the stream's hot set gets
    # a 5-minute figure. volume_profiles: each name's usual regular-session volume by each
    # 5 minutes from the open (store/profiles.py), rebuilt once a session from quote_history;
    # `volumes` is float32 in native byte order, NaN where history says nothing.
    db.executescript(
        """
        ALTER TABLE quotes ADD COLUMN rvol_day REAL;
        ALTER TABLE quotes ADD COLUMN rvol_5m REAL;
        UPDATE quotes SET rvol_day = rvol;
        CREATE TABLE volume_profiles (
            symbol TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            sessions INTEGER NOT NULL,
            volumes BLOB NOT NULL
        ) WITHOUT ROWID;
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
    _migration_halts,
    _migration_day_highs,
    _migration_fundamentals,
    _migration_filings,
    _migration_rvol,
    _migration_signals,
]
SCHEMA_VERSION = len(MIGRATIONS)
