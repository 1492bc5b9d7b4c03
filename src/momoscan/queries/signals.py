"""What the outcome job (engine/outcomes.py) reads: the events, halts and filings signals are
derived from, and the stored prices their outcomes are measured on (`quote_history`: one price
a symbol a bucket, the latest seen in it, keyed by the bucket's start)."""

from __future__ import annotations

from datetime import date

from ..models import AlertEvent
from ..store import Store
from .alerts import _event


def events_since(store: Store, since: float) -> list[AlertEvent]:
    """Alert events (the scanner's and the rules') at or after `since` (Unix seconds),
    oldest first."""
    return [
        _event(r)
        for r in store.rows("SELECT * FROM alert_events WHERE at >= ? ORDER BY at, id", (since,))
    ]


def halts_since(store: Store, since: float) -> list[tuple[str, float, str, float | None]]:
    """Halts that began at or after `since` (Unix seconds): (symbol, halted_at, reason,
    resume_trade_at or None), oldest first."""
    return [
        (str(s), float(at), str(reason), None if resume is None else float(resume))
        for s, at, reason, resume in store.conn.execute(
            "SELECT symbol, halted_at, reason, resume_trade_at FROM halts "
            "WHERE halted_at >= ? ORDER BY halted_at",
            (since,),
        )
    ]


def _has_table(store: Store, name: str) -> bool:
    return (
        store.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        is not None
    )


def filings_since(store: Store, since: float) -> list[tuple[str, float, str, str, str]]:
    """SEC filings mapped to a symbol accepted at or after `since` (Unix seconds): (symbol,
    accepted_at, form, kind, accession), oldest first; none while the database has no
    `filings` table (an older momoscan's)."""
    if not _has_table(store, "filings"):
        return []
    return [
        (str(s), float(at), str(form), str(kind or "other"), str(acc))
        for s, at, form, kind, acc in store.conn.execute(
            "SELECT symbol, accepted_at, form, kind, accession FROM filings "
            "WHERE accepted_at >= ? AND symbol != '' ORDER BY accepted_at",
            (since,),
        )
    ]


def price_before(store: Store, symbol: str, at: float, since: float) -> tuple[float, float] | None:
    """The newest stored price of `symbol` in a bucket starting at or before `at` and after
    `since` (Unix seconds): (price, bucket start), None when there is none."""
    row = store.conn.execute(
        "SELECT price, ts FROM quote_history WHERE symbol = ? AND ts <= ? AND ts > ? "
        "ORDER BY ts DESC LIMIT 1",
        (symbol, at, since),
    ).fetchone()
    return (float(row[0]), float(row[1])) if row else None


def price_samples(store: Store, symbol: str, start: float, end: float) -> list[tuple[float, float]]:
    """Stored prices of `symbol` in buckets starting within [start, end) (Unix seconds):
    (bucket start, price), oldest first."""
    return [
        (float(ts), float(price))
        for ts, price in store.conn.execute(
            "SELECT ts, price FROM quote_history WHERE symbol = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts",
            (symbol, start, end),
        )
    ]


def leader_flow(store: Store, symbol: str, day: date) -> tuple[int, int] | None:
    """(calls, puts) of `symbol` in the newest daily options leaders up to `day`, None when
    it is in none."""
    row = store.conn.execute(
        "SELECT calls, puts FROM option_leaders WHERE underlying = ? AND day <= ? "
        "ORDER BY day DESC LIMIT 1",
        (symbol, day.isoformat()),
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None
