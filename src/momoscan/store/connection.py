"""Opening the database (WAL, busy timeout, a sentence for a file that cannot be used), its
transactions and read snapshots, meta, and the schema's migration: `StoreBase`, which every
topic's mixin builds on.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from .schema import _sqlite_utils

if TYPE_CHECKING:
    import sqlite_utils


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


class StoreBase:
    """One connection to the cache: opening, transactions, meta. `Store` composes it with the
    topics' mixins. Use it from the thread that opened it."""

    def __init__(self, path: Path | str, *, create: bool = True):
        self.path = Path(path)
        # The universe's members without a name or listing (UniverseMixin), read on first use.
        self._unnamed: set[str] | None = None
        # Each symbol's (ISO day, high of the day) as this connection last wrote it (HighsMixin).
        self._high_floors: dict[str, tuple[str, float]] = {}
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

    def __enter__(self) -> Self:
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
        # The migrations are looked up on the package, where schema.py's are re-exported, at
        # each open (as on the one module the store was): a test stands in an older schema by
        # setting momoscan.store.MIGRATIONS and SCHEMA_VERSION.
        from .. import store

        current = self.schema_version()
        if current > store.SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer momoscan (schema {current}, this one knows "
                f"{store.SCHEMA_VERSION}); upgrade momoscan or point --db at another file"
            )
        for version in range(current + 1, store.SCHEMA_VERSION + 1):
            with self.transaction():
                # Read again under the write lock: another momoscan opening the same new file
                # at the same moment (serve's tabs, a cron run) may have migrated it meanwhile,
                # and running a migration twice fails ('table meta already exists').
                if self.schema_version() >= version:
                    continue
                store.MIGRATIONS[version - 1](self.db)
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

    def put_meta(self, key: str, value: str) -> None:
        """Inside a transaction: set `key` in `meta` (`set_meta` opens a transaction of its
        own)."""
        self._set_meta(key, value)

    # -- reads -------------------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query and return each row as a dict keyed by column name."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
