"""The watchlist, and the alert rules' state and what fired."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .connection import StoreBase


class WatchMixin(StoreBase):
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

    def alert_event_keys(self, rules: Sequence[str]) -> dict[tuple[str, str], str]:
        """For event-like rules (alerts.py): the event each (rule, symbol) last fired for,
        for the given rule keys."""
        out: dict[tuple[str, str], str] = {}
        for i in range(0, len(rules), 500):
            chunk = rules[i : i + 500]
            marks = ",".join("?" for _ in chunk)
            for rule, symbol, event in self.conn.execute(
                f"SELECT rule, symbol, event FROM alert_state WHERE rule IN ({marks}) "
                "AND event IS NOT NULL",
                chunk,
            ):
                out[(rule, symbol)] = event
        return out

    def set_alert_events(self, events: Sequence[tuple[str, str, str]]) -> None:
        """Inside a transaction, after `record_alerts` wrote their state rows: (event, rule,
        symbol), the event each fired for."""
        self.conn.executemany(
            "UPDATE alert_state SET event = ? WHERE rule = ? AND symbol = ?", list(events)
        )

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
