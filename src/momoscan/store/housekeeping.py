"""Housekeeping: forgetting what a simulated clock started again has not reached yet, and
dropping what is past its retention."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

from .connection import StoreBase

#: Per-underlying volumes and daily leaders are kept this long (the history screen and trends).
DAILY_RETENTION_DAYS = 366


class HousekeepingMixin(StoreBase):
    def forget_after(self, at: float, today: date) -> int:
        """Drop what was stamped after `at` (Unix seconds, by the market clock): quotes and
        their history, Cboe chains and their contracts; and every day from `today` on of
        OCC's files and the leaders (OCC publishes a day after it); the alerts that fired
        after `at`, and the rules' state from them (a rule that fired at a later time is armed
        again); the halts first seen or begun after `at`, the restrictions triggered after
        it, the highs of the day made after it, and FINRA's short volume from `today` on and
        short interest settled after it. For a simulated clock started again from an earlier
        time. Returns the rows dropped."""
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
            # Halts and restrictions the later clock saw (first_seen: the market clock's).
            dropped += conn.execute(
                "DELETE FROM halts WHERE first_seen > ? OR halted_at > ?", (at, at)
            ).rowcount
            dropped += conn.execute(
                "DELETE FROM ssr WHERE trigger_day > ? OR triggered_at > ?",
                (key, at),
            ).rowcount
            # A high of the day made later: the name's next price starts its day afresh (and
            # the connection's floors under the stored highs go: HighsMixin).
            dropped += conn.execute("DELETE FROM day_highs WHERE at > ?", (at,)).rowcount
            self._high_floors.clear()
            # FINRA's files of days the clock has not reached (short volume: today's is
            # posted at 18:00 ET), and the newest dates kept of them, read again.
            dropped += conn.execute("DELETE FROM short_volume WHERE day >= ?", (key,)).rowcount
            dropped += conn.execute(
                "DELETE FROM short_interest WHERE settlement > ?", (key,)
            ).rowcount
            conn.execute(
                "DELETE FROM meta WHERE key IN ('short_volume_day', 'short_interest_settlement')"
            )
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
