"""Each name's usual intraday volume (its "profile"), for RVol at the time of day (rvol.py), and
the writer's in-memory caches that the quote writes read.

A profile is the median, over a name's earlier full sessions (up to `rvol.PROFILE_SESSIONS`,
as far back as `quote_history` keeps them), of its regular-session volume by each 5 minutes
from the open, where at least `rvol.MIN_SESSIONS` of them say: a session says at a grid point
when it has a sample there or samples on both sides at most `rvol.MAX_GAP_MINUTES` apart
(linear between them). A history sample is the latest quote of its 5-minute bucket, taken to
be the session's volume at the bucket's end (the stream's and the demo's samples are; a
poll's is up to five minutes earlier, which reads its usual volume a little low).

`refresh_volume_profiles` builds them (once a session: engine/profiles.py) into the
`volume_profiles` table and this connection's cache; the quote writes (store/quotes.py) read
the cache, loaded from the table on first use, never one query a quote. numpy is imported when
profiles are built (the collector's engine has it loaded already).
"""

from __future__ import annotations

import sqlite3
import warnings
from array import array
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from .. import market_hours as mh
from .. import rvol
from .connection import StoreBase

#: A sample up to this long after a session's close (its first after-hours bucket) holds the
#: session's final volume.
_AFTER_CLOSE = 1800

if TYPE_CHECKING:
    import numpy as np


class RvolCache:
    """What the quote writes of one connection read: the profiles (symbol -> grid of usual
    volumes, see rvol.Profile) and the trading day they were built for, the stream's recent
    volumes (the 5-minute window), and a session clock."""

    __slots__ = ("clock", "day", "profiles", "recent")

    def __init__(self) -> None:
        self.day: str | None = None
        self.profiles: dict[str, rvol.Profile] | None = None
        self.recent = rvol.RecentVolumes()
        self.clock = rvol.SessionClock()


class ProfilesMixin(StoreBase):
    """Volume profiles: built from `quote_history`, kept in `volume_profiles` and in memory."""

    _rvol_cache: RvolCache | None = None

    @property
    def rvol_cache(self) -> RvolCache:
        """This connection's cache, the profiles loaded from the table on first use."""
        cache = self._rvol_cache
        if cache is None:
            cache = self._rvol_cache = RvolCache()
        if cache.profiles is None:
            cache.day, cache.profiles = self._read_profiles()
        return cache

    def _read_profiles(self) -> tuple[str | None, dict[str, rvol.Profile]]:
        try:
            rows = self.conn.execute("SELECT symbol, day, volumes FROM volume_profiles").fetchall()
        except sqlite3.OperationalError:  # a database migrated by an older momoscan's reader
            return None, {}
        out: dict[str, rvol.Profile] = {}
        day = None
        for symbol, built_for, blob in rows:
            values = array("f")
            values.frombytes(blob)
            if len(values) == rvol.GRID_POINTS:
                out[symbol] = values
                day = built_for
        return day, out

    def volume_profiles_day(self) -> str | None:
        """The trading day (ISO) the stored profiles were built for, None when none are."""
        row = self.conn.execute("SELECT MAX(day) FROM volume_profiles").fetchone()
        return None if row is None else row[0]

    def profile(self, symbol: str) -> rvol.Profile | None:
        """`symbol`'s profile as this connection holds it (None: the curve serves it)."""
        profiles = self.rvol_cache.profiles
        return None if profiles is None else profiles.get(symbol)

    def refresh_volume_profiles(self, day: date) -> int:
        """Build every name's profile from the earlier full sessions before trading day `day`
        in `quote_history` on this connection's thread (tests; the engine builds them in a
        worker process: `build_volume_profiles`), and store them (`put_volume_profiles`).
        Returns how many names have one."""
        sessions = earlier_sessions(day)
        return self.put_volume_profiles(day, len(sessions), _blobs(_build(self.conn, sessions)))

    def put_volume_profiles(
        self, day: date, sessions: int, rows: Sequence[tuple[str, bytes]]
    ) -> int:
        """Replace the stored profiles with `rows` (symbol, float32 grid as bytes) built for
        trading day `day` from `sessions` earlier sessions, in one transaction, and this
        connection's cache with them. Returns how many names have one."""
        key = day.isoformat()
        with self.transaction() as conn:
            conn.execute("DELETE FROM volume_profiles")
            conn.executemany(
                "INSERT INTO volume_profiles (symbol, day, sessions, volumes) VALUES (?, ?, ?, ?)",
                [(symbol, key, sessions, blob) for symbol, blob in rows],
            )
        cache = self._rvol_cache
        if cache is None:
            cache = self._rvol_cache = RvolCache()
        cache.day, cache.profiles = self._read_profiles()
        return len(cache.profiles)


def build_volume_profiles(
    path: str, sessions: Sequence[tuple[float, float]]
) -> list[tuple[str, bytes]]:
    """Every name's profile (symbol, float32 grid as bytes) from the history of `sessions`
    ((open, close) Unix seconds, `earlier_sessions`) in the database at `path`, read on a
    read-only connection of its own: for a worker process (2 s of numpy and SQLite at 8,000
    names and four sessions of 5-minute samples, which in a thread would make the event loop
    stutter). Raises sqlite3.Error when the file cannot be read."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _blobs(_build(conn, sessions))
    finally:
        conn.close()


def _blobs(built: dict[str, array[float]]) -> list[tuple[str, bytes]]:
    return [(symbol, values.tobytes()) for symbol, values in built.items()]


def earlier_sessions(day: date) -> list[tuple[float, float]]:
    """(open, close) Unix seconds of the full sessions before `day`, newest first."""
    out = []
    for d in reversed(mh.trading_days_before(day, rvol.PROFILE_SESSIONS * 2)):
        if mh.early_close(d) is not None:
            continue
        _, opened, closed, _ = mh.session_bounds(d)
        out.append((opened.timestamp(), closed.timestamp()))
        if len(out) == rvol.PROFILE_SESSIONS:
            break
    return out


def _build(
    conn: sqlite3.Connection, sessions: Sequence[tuple[float, float]]
) -> dict[str, array[float]]:
    """symbol -> float32 grid of its usual session volume (see the module's docstring)."""
    import numpy as np

    if not sessions:
        return {}
    # One pass over the history, SQLite joining each name's (seconds from the first open,
    # volume) pairs into one text: 8,000 rows to Python rather than millions (a row each took
    # 10 s for 8,000 names and four sessions; this takes about a tenth of that).
    ordered = sorted(sessions)
    base = int(ordered[0][0])
    end = int(ordered[-1][1]) + _AFTER_CLOSE
    names: list[str] = []
    texts: list[str] = []
    for symbol, text in conn.execute(
        "SELECT symbol, group_concat((ts - ?1) || ',' || volume) FROM quote_history "
        "WHERE ts >= ?1 AND ts < ?2 AND volume IS NOT NULL GROUP BY symbol",
        (base, end),
    ):
        names.append(symbol)
        texts.append(text)
    if not names:
        return {}
    counts = np.fromiter((t.count(",") // 2 + 1 for t in texts), dtype=np.int64, count=len(texts))
    numbers = np.fromstring(",".join(texts), dtype=np.float64, sep=",")
    del texts
    offset, volume = numbers[0::2], numbers[1::2]
    ids = np.repeat(np.arange(len(names)), counts)
    opens = np.array([o - base for o, _ in ordered])
    closes = np.array([c - base for _, c in ordered])
    session = np.searchsorted(opens, offset, side="right") - 1
    # Regular-session buckets, and the first after-hours one: a quote after the close carries
    # the session's final volume (the grid's last point). Anything else (pre-market, later
    # after hours, a half day between the sessions) is left out.
    inside = (session >= 0) & (offset < closes[np.maximum(session, 0)] + _AFTER_CLOSE)
    ids, session, offset, volume = ids[inside], session[inside], offset[inside], volume[inside]
    point = np.minimum(
        (offset - opens[session]) // (rvol.GRID_MINUTES * 60) + 1, rvol.GRID_POINTS - 1
    )
    n, k = len(names), rvol.GRID_POINTS
    grids = np.full((len(ordered), n, k), np.nan)
    grids[session, ids, point.astype(np.int64)] = volume
    present = np.zeros((len(ordered), n), dtype=bool)
    present[session, ids] = True
    for s in range(len(ordered)):
        grid = grids[s]
        grid[present[s], 0] = 0.0  # the open: nothing traded yet
        grids[s] = _fill(grid, rvol.MAX_GAP_MINUTES // rvol.GRID_MINUTES)
    known = np.sum(~np.isnan(grids), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, as meant
        usual = np.nanmedian(grids, axis=0)
    usual[known < rvol.MIN_SESSIONS] = np.nan
    keep = np.any(~np.isnan(usual[:, 1:]), axis=1)
    out: dict[str, array[float]] = {}
    for i in np.flatnonzero(keep).tolist():
        values = array("f")
        values.frombytes(usual[i].astype(np.float32).tobytes())
        out[names[i]] = values
    return out


def _fill(grid: np.ndarray, max_gap: int) -> np.ndarray:
    """Each row's NaN points linear between its known neighbours at most `max_gap` points
    apart; a row's volume never falls along the grid (a later sample below an earlier one,
    a provider's correction, is left unknown)."""
    import numpy as np

    g = grid
    n, k = g.shape
    cols = np.arange(k)
    known = ~np.isnan(g)
    prev_idx = np.where(known, cols, -1)
    prev_idx = np.maximum.accumulate(prev_idx, axis=1)
    next_idx = np.where(known, cols, k)
    next_idx = np.minimum.accumulate(next_idx[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(n)[:, None]
    ok = (prev_idx >= 0) & (next_idx < k) & (next_idx - prev_idx <= max_gap) & ~known
    p = np.clip(prev_idx, 0, k - 1)
    q = np.clip(next_idx, 0, k - 1)
    lo, hi = g[rows, p], g[rows, q]
    span = np.maximum(q - p, 1)
    filled = lo + (hi - lo) * (cols - p) / span
    out: np.ndarray = np.where(ok & (hi >= lo), filled, g)
    return out
