"""Float, shares outstanding, short interest and short sale volume: what the SEC company facts
and FINRA's files say, one row a symbol (floats), a symbol and settlement date (short
interest) or a symbol and trade date (short volume). Unknown figures are NULL, never 0.
Dates are ISO `YYYY-MM-DD`; `fetched_at` Unix seconds (the wall clock of the fetch).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from ..fundamentals import FloatFigure, ShortInterest, ShortVolume
from .connection import StoreBase

#: meta keys: the newest settlement date of short interest stored, and the newest trade date
#: of short volume stored (ISO), so a restart does not fetch them again.
SHORT_INTEREST_SETTLEMENT = "short_interest_settlement"
SHORT_VOLUME_DAY = "short_volume_day"
#: Days of history kept before the newest file's date: short volume (a file a trading day, a
#: row a listed name) for two months, short interest (two files a month) for a year.
SHORT_VOLUME_KEEP_DAYS = 62
SHORT_INTEREST_KEEP_DAYS = 400


def _before(newest: str, days: int) -> str:
    return (date.fromisoformat(newest) - timedelta(days=days)).isoformat()


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


class FundamentalsMixin(StoreBase):
    def store_floats(self, figures: Sequence[FloatFigure]) -> int:
        """Companies' figures, in one transaction, each replacing what was stored of its
        symbol. Returns how many were written."""
        rows = [
            (
                f.symbol,
                f.cik,
                _positive(f.shares_outstanding),
                None if f.shares_as_of is None else f.shares_as_of.isoformat(),
                _positive(f.public_float_usd),
                None if f.float_as_of is None else f.float_as_of.isoformat(),
                _positive(f.float_shares),
                f.float_basis,
                f.fetched_at,
            )
            for f in figures
        ]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO floats (symbol, cik, shares_outstanding, shares_as_of, "
                "public_float_usd, float_as_of, float_shares, float_basis, fetched_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def store_short_interest(self, rows: Sequence[ShortInterest]) -> int:
        """One settlement's short interest, in one transaction (a revised row replaces the
        one before), and the newest settlement stored; settlements more than
        `SHORT_INTEREST_KEEP_DAYS` before the newest are forgotten. Returns how many rows were
        written."""
        values = [
            (
                r.symbol,
                r.settlement.isoformat(),
                r.short_shares,
                r.previous_shares,
                r.avg_daily_volume,
                r.days_to_cover,
            )
            for r in rows
        ]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO short_interest (symbol, settlement, short_shares, "
                "previous_shares, avg_daily_volume, days_to_cover) VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )
            newest = max((r.settlement.isoformat() for r in rows), default="")
            if newest > (self.get_meta(SHORT_INTEREST_SETTLEMENT) or ""):
                self._set_meta(SHORT_INTEREST_SETTLEMENT, newest)
                conn.execute(
                    "DELETE FROM short_interest WHERE settlement < ?",
                    (_before(newest, SHORT_INTEREST_KEEP_DAYS),),
                )
        return len(values)

    def store_short_volume(self, rows: Sequence[ShortVolume]) -> int:
        """One trade date's short sale volume, in one transaction, and the newest trade date
        stored; days more than `SHORT_VOLUME_KEEP_DAYS` before the newest are forgotten.
        Returns how many rows were written."""
        values = [(r.symbol, r.day.isoformat(), r.short_volume, r.total_volume) for r in rows]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO short_volume (symbol, day, short_volume, total_volume) "
                "VALUES (?, ?, ?, ?)",
                values,
            )
            newest = max((r.day.isoformat() for r in rows), default="")
            if newest > (self.get_meta(SHORT_VOLUME_DAY) or ""):
                self._set_meta(SHORT_VOLUME_DAY, newest)
                conn.execute(
                    "DELETE FROM short_volume WHERE day < ?",
                    (_before(newest, SHORT_VOLUME_KEEP_DAYS),),
                )
        return len(values)
