"""Trading halts and Rule 201 short-sale restrictions: what each poll of the halts feed and the
daily restriction list says, and the restrictions momoscan finds by the rule in its own quotes.

A halt is one row an event, keyed (symbol, halt day, halt time) as the feed knows it (a symbol
halted twice in a day is two rows); a poll updates its reason and resumption in place (the feed
changes them: T1 -> T2 -> T3) and never deletes one. `meta['halts_seen_at']` is the latest
poll's time: an unresolved halt whose `last_seen` is older has left the feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..halts import Halt, ShortSaleRestriction
from .connection import StoreBase

#: meta key: the market clock's Unix seconds of the latest halts poll stored.
HALTS_SEEN_AT = "halts_seen_at"

_HALT_FIELDS = "reason, market, name, resume_quote_at, resume_trade_at, threshold"


_HaltRow = tuple[str, str, float, str, str, str, float | None, float | None, float | None]


def _halt_row(h: Halt) -> _HaltRow:
    return (
        h.symbol,
        h.halt_day.isoformat(),
        float(h.halted_at),
        h.reason,
        h.market,
        h.name,
        h.resume_quote_at,
        h.resume_trade_at,
        h.threshold,
    )


class HaltsMixin(StoreBase):
    def store_halts(self, halts: Sequence[Halt], *, seen_at: float) -> int:
        """One poll of the halts feed, in one transaction: each halt inserted or updated in
        place (reason, market, name, resumption times, threshold), its `last_seen` set to
        `seen_at` (the market clock's Unix seconds), and the poll's time kept. A halt the
        feed names twice is stored once (the last one wins). Returns how many halts are new
        or changed."""
        rows = {(r[0], r[1], r[2]): r for r in map(_halt_row, halts)}
        with self.transaction() as conn:
            before: dict[tuple[str, str, float], tuple[object, ...]] = {}
            symbols = sorted({key[0] for key in rows})
            for i in range(0, len(symbols), 500):
                chunk = symbols[i : i + 500]
                marks = ",".join("?" for _ in chunk)
                for symbol, day, at, *fields in conn.execute(
                    f"SELECT symbol, halt_day, halted_at, {_HALT_FIELDS} FROM halts "
                    f"WHERE symbol IN ({marks})",
                    chunk,
                ):
                    before[(symbol, day, at)] = tuple(fields)
            changed = sum(1 for key, row in rows.items() if before.get(key) != row[3:])
            conn.executemany(
                "INSERT INTO halts (symbol, halt_day, halted_at, reason, market, name, "
                "resume_quote_at, resume_trade_at, threshold, first_seen, last_seen) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) "
                "ON CONFLICT (symbol, halt_day, halted_at) DO UPDATE SET "
                "reason = excluded.reason, market = excluded.market, name = excluded.name, "
                "resume_quote_at = excluded.resume_quote_at, "
                "resume_trade_at = excluded.resume_trade_at, threshold = excluded.threshold, "
                "last_seen = excluded.last_seen",
                [(*row, seen_at) for row in rows.values()],
            )
            self._set_meta(HALTS_SEEN_AT, repr(float(seen_at)))
        return changed

    def store_restrictions(
        self, restrictions: Sequence[ShortSaleRestriction], *, seen_at: float
    ) -> int:
        """Rule 201 restrictions, in one transaction. One from the list ("list") replaces
        what an earlier read of the list said of the same symbol and trigger day (a file
        grows and is corrected during the day); one found by the rule ("rule") is kept as
        first found (once a name and day). `seen_at`: Unix seconds. Returns how many rows
        were added."""
        listed = [r for r in restrictions if r.source != "rule"]
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO ssr (symbol, trigger_day, source, triggered_at, name, "
                "seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (r.symbol, r.trigger_day.isoformat(), r.source, r.triggered_at, r.name, seen_at)
                    for r in restrictions
                ],
            )
            added = conn.total_changes - before
            conn.executemany(
                "UPDATE ssr SET triggered_at = ?, name = ?, seen_at = ? "
                "WHERE symbol = ? AND trigger_day = ? AND source = ?",
                [
                    (r.triggered_at, r.name, seen_at, r.symbol, r.trigger_day.isoformat(), r.source)
                    for r in listed
                ],
            )
        return added

    def rule_restricted(self, day: date) -> set[str]:
        """Symbols momoscan's own quotes found restricted by the rule on `day` (ET)."""
        return {
            row[0]
            for row in self.conn.execute(
                "SELECT symbol FROM ssr WHERE trigger_day = ? AND source = 'rule'",
                (day.isoformat(),),
            )
        }
