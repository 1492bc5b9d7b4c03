"""The SQLite cache: schema, migrations and every write.

One writer (the engine, from a single worker thread), any number of readers (the TUI, the headless
printer), WAL mode so readers never wait for the writer and only ever see committed state. Each
refresh step (a universe load, a quote batch, an options day, a chain) is one transaction: kill
the process at any moment and the database holds the last complete state, never half a batch.

sqlite-utils builds the schema and serves simple reads; the hot write paths (thousands of quotes
a sweep, 30,000 contracts a chain) use prepared statements with `executemany`, several times
faster than row-by-row upserts.

By topic (`Store` is composed here from one mixin a topic, and every name callers import is
re-exported, so `from momoscan.store import Store, StoreError` reads as before):

- `schema`: the migrations, `MIGRATIONS`, `SCHEMA_VERSION`, `OUTSIDE_TEXT`, sqlite-utils' import.
- `connection`: `StoreError`, opening (WAL, busy timeout, the open errors), transactions and
  snapshots, meta, migrating: `StoreBase`, which every mixin builds on.
- `universe`: the universe's tickers.
- `quotes`: quote batches and their history, stream ticks, movers, the credit ledger.
- `options`: per-underlying volumes, chains' contracts, the daily leaders.
- `runs`: refresh runs, the process that owns each, and the abandoned ones.
- `watch`: the watchlist, alert state and events.
- `halts`: trading halts and Rule 201 restrictions.
- `filings`: SEC filings of universe companies and the SEC's ticker map.
- `fundamentals`: float and shares outstanding (SEC company facts), short interest and short
  sale volume (FINRA).
- `highs`: each name's high of the day and its count of new highs (written with the quotes:
  `QuotesMixin` builds on `HighsMixin`).
- `signals`: signals momoscan raised and their outcomes (signals.py).
- `requests`: what viewers ask of the collector, and `data_version`.
- `housekeeping`: forgetting after a clock goes back, and retention.
"""

from __future__ import annotations

from .connection import LOCK_WAIT, StoreBase, StoreError
from .connection import _open_error as _open_error
from .connection import _use_wal as _use_wal
from .filings import FILINGS_SEEN_AT, FilingsMixin
from .fundamentals import SHORT_INTEREST_SETTLEMENT, SHORT_VOLUME_DAY, FundamentalsMixin
from .halts import HALTS_SEEN_AT, HaltsMixin
from .housekeeping import DAILY_RETENTION_DAYS, HousekeepingMixin
from .options import OptionsMixin
from .quotes import HISTORY_BUCKET_EXTENDED, HISTORY_BUCKET_OPEN, QuotesMixin
from .requests import RequestsMixin
from .runs import ABANDONED_UNOWNED_AFTER, RunOwner, RunsMixin, RunSummary
from .runs import _process_alive as _process_alive
from .schema import MIGRATIONS, OUTSIDE_TEXT, SCHEMA_VERSION
from .schema import _migration_1 as _migration_1
from .schema import _migration_2 as _migration_2
from .schema import _migration_3 as _migration_3
from .schema import _migration_4 as _migration_4
from .schema import _migration_clean_text as _migration_clean_text
from .schema import _migration_collector_requests as _migration_collector_requests
from .schema import _migration_day_highs as _migration_day_highs
from .schema import _migration_filings as _migration_filings
from .schema import _migration_halts as _migration_halts
from .schema import _migration_run_owners as _migration_run_owners
from .schema import _migration_signals as _migration_signals
from .schema import _sqlite_utils as _sqlite_utils
from .signals import SignalsMixin
from .universe import UniverseMixin
from .watch import WatchMixin


class Store(
    QuotesMixin,
    UniverseMixin,
    OptionsMixin,
    RunsMixin,
    WatchMixin,
    HaltsMixin,
    FilingsMixin,
    SignalsMixin,
    FundamentalsMixin,
    RequestsMixin,
    HousekeepingMixin,
    StoreBase,
):
    """One connection to the cache. Use it from the thread that opened it."""


__all__ = [
    "ABANDONED_UNOWNED_AFTER",
    "DAILY_RETENTION_DAYS",
    "FILINGS_SEEN_AT",
    "HALTS_SEEN_AT",
    "HISTORY_BUCKET_EXTENDED",
    "HISTORY_BUCKET_OPEN",
    "LOCK_WAIT",
    "MIGRATIONS",
    "OUTSIDE_TEXT",
    "SCHEMA_VERSION",
    "SHORT_INTEREST_SETTLEMENT",
    "SHORT_VOLUME_DAY",
    "RunOwner",
    "RunSummary",
    "Store",
    "StoreError",
]
