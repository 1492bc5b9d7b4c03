"""Signals and their outcomes (signals.py): each signal once per (kind, symbol, at), and what
followed it at each horizon, written by the collector's outcome job (engine/outcomes.py)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

from ..signals import Outcome, Signal
from .connection import StoreBase


def _signal(row: Sequence[object]) -> Signal:
    sid, kind, symbol, day, at, price, price_at, direction, source, detail = row
    return Signal(
        kind=str(kind),
        symbol=str(symbol),
        at=float(at),  # type: ignore[arg-type]
        day=date.fromisoformat(str(day)),
        price=None if price is None else float(price),  # type: ignore[arg-type]
        direction=int(direction),  # type: ignore[call-overload]
        price_at=None if price_at is None else float(price_at),  # type: ignore[arg-type]
        source=str(source),
        detail=str(detail),
        id=int(sid),  # type: ignore[call-overload]
    )


_COLUMNS = "id, kind, symbol, day, at, price, price_at, direction, source, detail"


class SignalsMixin(StoreBase):
    def record_signals(self, signals: Sequence[Signal]) -> int:
        """Inside a transaction: store `signals`, each once per (kind, symbol, at) (one
        already there is left as it is). Returns how many are new."""
        before = self.conn.total_changes
        self.conn.executemany(
            "INSERT OR IGNORE INTO signals (kind, symbol, day, at, price, price_at, direction, "
            "source, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    s.kind,
                    s.symbol,
                    s.day.isoformat(),
                    s.at,
                    s.price,
                    s.price_at,
                    1 if s.direction >= 0 else -1,
                    s.source,
                    s.detail,
                )
                for s in signals
            ],
        )
        return self.conn.total_changes - before

    def signal_keys(self, kinds: Collection[str], day: date) -> set[tuple[str, str]]:
        """The (kind, symbol) pairs of `kinds` already signalled on trading day `day`."""
        kinds = list(kinds)
        if not kinds:
            return set()
        marks = ",".join("?" for _ in kinds)
        return {
            (str(k), str(s))
            for k, s in self.conn.execute(
                f"SELECT kind, symbol FROM signals WHERE day = ? AND kind IN ({marks})",
                (day.isoformat(), *kinds),
            )
        }

    def open_signals(self, since: float) -> list[Signal]:
        """Signals at or after `since` (Unix seconds) whose outcomes are not final yet,
        oldest first."""
        return [
            _signal(r)
            for r in self.conn.execute(
                f"SELECT {_COLUMNS} FROM signals WHERE final = 0 AND at >= ? ORDER BY at, id",
                (since,),
            )
        ]

    def signals_of_day(self, day: date) -> list[Signal]:
        """The signals of trading day `day`, newest first."""
        return [
            _signal(r)
            for r in self.conn.execute(
                f"SELECT {_COLUMNS} FROM signals WHERE day = ? ORDER BY at DESC, id DESC",
                (day.isoformat(),),
            )
        ]

    def store_outcomes(self, outcomes: Sequence[Outcome], final: Collection[int]) -> None:
        """Inside a transaction: each outcome replaces its (signal, horizon)'s, and the
        signals `final` are marked done (never measured again)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO signal_outcomes (signal_id, horizon, status, move_pct, "
            "price, price_at, age) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (o.signal_id, o.horizon, o.status, o.move_pct, o.price, o.price_at, o.age)
                for o in outcomes
            ],
        )
        self.conn.executemany("UPDATE signals SET final = 1 WHERE id = ?", [(i,) for i in final])
