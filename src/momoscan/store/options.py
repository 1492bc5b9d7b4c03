"""Options: per-underlying volumes by day and source, one underlying's traded contracts, and
the daily leaders."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from datetime import date

from .. import leaders as leader_rules
from ..models import Leader, OptionChain, UnderlyingVolume
from .connection import StoreBase


class OptionsMixin(StoreBase):
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
